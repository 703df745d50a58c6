"""The pipeline's decode stage: small bodies inline, large ones in the decode thread, and large bodies
that wait together decoded in one decode_many call, each request still getting only its own result."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from scoring.core.admission import Reservation
from scoring.core.decode import DecodeError
from scoring.core.errors import BadRequest
from scoring.core.pipeline import INLINE_DECODE_BYTES, Pipeline
from scoring.core.settings import load_settings
from scoring.model.entry import load_entry_script
from scoring.observability.metrics import Metrics

APP = Path(__file__).resolve().parents[2]
LARGE = INLINE_DECODE_BYTES + 1


def make_pipeline() -> Pipeline:
    settings = load_settings(
        {"SCORING_PRIMARY_KEY": "k", "ENTRY_SCRIPT": str(APP / "score.py"), "MODEL_DIR": str(APP / "model")},
        detect_device=lambda: "cpu",
    )
    return Pipeline(settings, load_entry_script(settings.entry_script), Metrics())


def one(body: bytes) -> int:
    raise AssertionError("large bodies go to decode_many when it is given")


class Recorder:
    """decode_many that records its calls, holding the first until released so others queue behind it."""

    def __init__(self) -> None:
        self.calls: list[list[bytes]] = []
        self.release = threading.Event()

    def __call__(self, bodies: list[bytes]) -> list[int | DecodeError]:
        self.calls.append(bodies)
        if len(self.calls) == 1:
            self.release.wait(5)
        if any(body.startswith(b"boom") for body in bodies):
            raise RuntimeError("the decoder broke")
        return [DecodeError("not a batch") if body.startswith(b"bad") else len(body) for body in bodies]


def body(tag: bytes, extra: int = 0) -> bytes:
    return tag + b" " * (LARGE + extra - len(tag))


async def decode_all(pipeline: Pipeline, recorder: Recorder, bodies: list[bytes]) -> list[object]:
    async def decode(raw: bytes) -> object:
        reservation: Reservation = pipeline.admitted()
        with reservation:
            try:
                return await pipeline.decode(reservation, one, raw, decode_many=recorder)
            except (BadRequest, RuntimeError) as error:
                return error

    first = asyncio.ensure_future(decode(bodies[0]))
    while not recorder.calls:  # the first call is running (held) in the decode thread
        await asyncio.sleep(0.001)
    rest = [asyncio.ensure_future(decode(raw)) for raw in bodies[1:]]
    await asyncio.sleep(0.01)
    recorder.release.set()
    return [await first, *[await task for task in rest]]


def test_bodies_waiting_for_the_decode_thread_are_decoded_in_one_call() -> None:
    pipeline, recorder = make_pipeline(), Recorder()
    bodies = [body(b"a"), body(b"b", 1), body(b"bad"), body(b"c", 3)]
    results = asyncio.run(decode_all(pipeline, recorder, bodies))
    # The first body alone (nothing else was waiting), then the three that queued behind it, together.
    assert [len(call) for call in recorder.calls] == [1, 3]
    assert results[0] == LARGE and results[1] == LARGE + 1 and results[3] == LARGE + 3
    # The bad body is its own 400; its neighbours in the call are answered.
    assert isinstance(results[2], BadRequest) and "not a batch" in str(results[2])
    # Every transient the large bodies reserved was given back.
    assert pipeline.admission.bytes == 0


def test_a_failing_call_is_retried_body_by_body_so_only_the_culprit_fails() -> None:
    pipeline, recorder = make_pipeline(), Recorder()
    bodies = [body(b"a"), body(b"b"), body(b"boom"), body(b"c")]
    results = asyncio.run(decode_all(pipeline, recorder, bodies))
    assert results[0] == LARGE and results[1] == LARGE and results[3] == LARGE
    assert isinstance(results[2], RuntimeError)
    # The group of three failed, then each of its bodies was decoded alone.
    assert [len(call) for call in recorder.calls] == [1, 3, 1, 1, 1]


def test_small_bodies_are_decoded_inline_without_the_thread() -> None:
    pipeline = make_pipeline()

    async def main() -> int:
        reservation = pipeline.admitted()
        with reservation:
            return await pipeline.decode(reservation, len, b"x" * 10, decode_many=Recorder())

    assert asyncio.run(main()) == 10


def test_a_lone_bad_large_body_is_a_400() -> None:
    pipeline, recorder = make_pipeline(), Recorder()
    recorder.release.set()

    async def main() -> object:
        reservation = pipeline.admitted()
        with reservation:
            try:
                return await pipeline.decode(reservation, one, body(b"bad"), decode_many=recorder)
            except BadRequest as error:
                return error

    assert isinstance(asyncio.run(main()), BadRequest)
