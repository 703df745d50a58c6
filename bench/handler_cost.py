"""What this server's own request path costs per request, without sockets or a model.

A mocked aiohttp request goes through the real application (build_app: middlewares, routes, the
pipeline, the batcher running one-row batches on the event loop) serving bench/null_score.py, whose
run_batch costs nothing; the loop is timed over many requests. The HTTP parsing and socket writes that
bench/aiohttp_floor.py measures are not included, so this is the part of a request the server's own
code decides. `--app DIR` measures another checkout's app/ (e.g. an older commit) the same way, for
a side-by-side ratio in one run; `--profile` prints cProfile's top functions.

    python3 bench/handler_cost.py [--app DIR] [--requests 5000] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import inspect
import io
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


class _NullStream(io.StringIO):
    def write(self, text: str) -> int:
        return len(text)


class _Protocol:
    """The little of aiohttp's RequestHandler a request body's StreamReader calls (flow control)."""

    _reading_paused = False

    def pause_reading(self, **_flags: bool) -> None:
        pass

    def resume_reading(self, **_flags: bool) -> None:
        pass


def _v2_binary_body(pixels: bytes) -> tuple[bytes, str]:
    import json

    header = json.dumps(
        {
            "inputs": [
                {"name": "input", "shape": [1, 784], "datatype": "UINT8", "parameters": {"binary_data_size": 784}}
            ],
            "outputs": [{"name": "label", "parameters": {"binary_data": True}}],
        }
    ).encode()
    return header + pixels, str(len(header))


async def measure(app_dir: Path, requests: int, profile: bool) -> dict[str, float]:
    sys.path.insert(0, str(app_dir))
    os.environ.update(
        SCORING_PRIMARY_KEY="bench-key",
        ENTRY_SCRIPT=str(REPO / "bench" / "null_score.py"),
        MODEL_DIR=str(app_dir / "model"),
        DEVICE="cpu",
        MODEL_NAME="mnist",
    )
    from aiohttp import streams, web
    from aiohttp.test_utils import make_mocked_request
    from multidict import CIMultiDict

    from scoring.core.pipeline import Pipeline
    from scoring.core.settings import load_settings
    from scoring.model.entry import load_entry_script
    from scoring.observability.metrics import Metrics
    from scoring.transport.connections import Connections
    from scoring.transport.observer import Observer
    from scoring.transport.server import build_app

    settings = load_settings(dict(os.environ), detect_device=lambda: "cpu")
    metrics = Metrics()
    pipeline = Pipeline(settings, load_entry_script(settings.entry_script), metrics)
    await pipeline.start_model()
    # The request log goes nowhere; the server still builds every line. Older checkouts took a flag.
    observer_args: list[Any] = [metrics, Connections(1 << 16, metrics)]
    if "request_log" in inspect.signature(Observer).parameters:
        from scoring.observability.logs import RequestLog

        observer_args.append(RequestLog(_NullStream()))
    else:
        import logging

        logging.getLogger("scoring.access").handlers[:] = [logging.StreamHandler(_NullStream())]
        logging.getLogger("scoring.access").propagate = False
        observer_args.append(True)
    app = build_app(pipeline, Observer(*observer_args), "mnist")
    app.freeze()
    await app.startup()
    loop = asyncio.get_running_loop()

    import json

    import numpy as np

    json_body = json.dumps({"data": [(np.arange(784) % 255 / 255.0).astype(np.float32).tolist()]}).encode()
    binary_body, header_length = _v2_binary_body(bytes(range(256)) * 3 + bytes(16))
    cases = {
        "JSON /score, 1 row": ("/score", json_body, {"Content-Type": "application/json"}),
        "v2 binary, 1 row": (
            "/v2/models/mnist/infer",
            binary_body,
            {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": header_length},
        ),
    }

    def request(path: str, body: bytes, extra: dict[str, str]) -> web.Request:
        payload = streams.StreamReader(_Protocol(), 2**16, loop=loop)  # type: ignore[arg-type]
        payload.feed_data(body)
        payload.feed_eof()
        headers = CIMultiDict(
            {"Authorization": "Bearer bench-key", "Content-Length": str(len(body)), "Host": "localhost", **extra}
        )
        return make_mocked_request("POST", path, headers=headers, payload=payload, app=app, loop=loop)

    results: dict[str, float] = {}
    for name, (path, body, extra) in cases.items():
        for _ in range(300):  # warm every cache and the batcher
            answer = await app._handle(request(path, body, extra))
        if answer.status != 200:
            raise SystemExit(f"{name}: status {answer.status}")
        prepared = [request(path, body, extra) for _ in range(requests)]
        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        for item in prepared:
            await app._handle(item)
        if profiler:
            profiler.disable()
        results[name] = (time.perf_counter() - started) / requests * 1e6
        if profiler:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(os.environ.get("PROFILE_SORT", "tottime")).print_stats(25)
            print(f"--- cProfile, {name} ({app_dir})\n{out.getvalue()}")
    await app.cleanup()
    await pipeline.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app", type=Path, default=REPO / "app", help="the app/ folder to measure")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(measure(args.app.resolve(), args.requests, args.profile))
    for name, micros in results.items():
        print(f"{args.app}: {name}: {micros:.1f} us per request (server code only, no sockets, no model)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
