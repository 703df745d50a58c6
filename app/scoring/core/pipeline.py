"""The one request pipeline both protocols share: gate, admit, read, decode, submit, await, deadline.

Protocol modules (scoring/protocols/) turn a transport-neutral request (scoring/core/exchange.py) into
calls here and the result into their answer; everything between -- readiness and auth, the byte and
row budgets, the body read under them (the transport's `Exchange.read_body`), decoding it off the
event loop when it is large, the batcher, the scoring deadline -- happens here, once, in this order.
Failures are raised as typed errors (scoring.core.errors); each protocol maps them to its answers in
one place (`ProtocolUnit.error_answer`, called by scoring/core/serving.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from scoring.core.admission import Admission, Reservation
from scoring.core.auth import Authenticator
from scoring.core.body import overloaded
from scoring.core.concurrency import ConcurrencyLimit, process_share
from scoring.core.decode import DecodeError
from scoring.core.errors import BadRequest, DeadlineExceeded, ScoringFailed, ServiceError, Unavailable
from scoring.core.large_json import (
    JSON_TRANSIENT_FACTOR,
    PROCESS_DECODE_BYTES,
    STRUCTURE_CHECK_BYTES,
    DecodeProcess,
    json_limit,
    too_large_json,
)
from scoring.core.readiness import WorkersReady
from scoring.core.settings import Settings
from scoring.core.threads import name_os_thread
from scoring.model.batching import Batcher, BatchError
from scoring.model.entry import EntryScript
from scoring.observability.metrics import Metrics

if TYPE_CHECKING:  # set only when model data collection is on (scoring/__main__.py)
    from scoring.core.capture import Capture

log = logging.getLogger("scoring")

T = TypeVar("T")

# Many bodies -> one result (or the DecodeError) per body, in order.
DecodeMany = Callable[[list[bytes]], "list[T | DecodeError]"]

# Errors a user's run() raises while parsing what the client sent (the seed's json.loads, the
# ['data'] lookup, np.array of mixed types): the client's fault, so 400 rather than 500.
CLIENT_ERRORS = (ValueError, KeyError, TypeError, IndexError)

# Bodies up to this size are decoded on the event loop (microseconds with orjson); larger ones in the
# decode thread or, past PROCESS_DECODE_BYTES, the decode process (scoring/core/large_json.py), so one
# large or hostile body never stalls the loop or the device thread.
INLINE_DECODE_BYTES = STRUCTURE_CHECK_BYTES


class Pipeline:
    def __init__(self, settings: Settings, entry: EntryScript, metrics: Metrics) -> None:
        self.settings = settings
        self.entry = entry
        self.signature = entry.signature
        self.metrics = metrics
        self.admission = Admission(settings.max_pending_bytes, settings.max_pending_rows)
        # MAX_CONCURRENT_REQUESTS (the pod's, shared by its workers) / MAX_REQUEST_WAIT_TIME_MS: held around
        # every call into the model.
        self.concurrency = ConcurrencyLimit(
            process_share(settings.max_concurrent_requests, settings.workers),
            settings.max_request_wait_s,
            settings.retry_after_s,
        )
        self.auth = Authenticator(settings.keys, settings.auth_enabled)
        # One thread owns the device: init(), run() and every large batch run there, one at a time.
        self.device = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="device", initializer=name_os_thread, initargs=("scoring-device",)
        )
        # Large bodies are decoded here, never on the device thread, so a slow decode delays no batch.
        self.decoder = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="decode", initializer=name_os_thread, initargs=("scoring-decode",)
        )
        # The largest JSON bodies are decoded in a child process, away from this process's GIL.
        self.decode_process = DecodeProcess()
        # The largest JSON body whose decoding transient fits the byte budget.
        self._deadlines = _Deadlines()
        # decode_many -> its coalescer. Any: each value's result type is its key's, which a dict cannot say.
        self._coalescers: dict[object, _Coalescer[Any]] = {}
        self.batcher: Batcher | None = None
        self.ready = False
        # The pod's other workers, when a supervisor runs several: readiness waits for all of them.
        self.workers_ready: WorkersReady | None = None
        self.draining = False
        # Why the model is not loaded yet, once a load attempt failed: /ready says it, so
        # `kubectl describe pod` shows the cause next to the failing readiness probe.
        self.not_ready_reason: str | None = None
        # Model data collection (scoring/core/capture.py): offered every scored request's rows and labels.
        self.capture: Capture | None = None

    # ---- lifecycle ----

    async def start_model(self) -> None:
        """Runs the script's init() on the device thread; the pipeline is ready when it returns."""
        started = time.perf_counter()
        await asyncio.get_running_loop().run_in_executor(self.device, self.entry.init)
        if self.entry.run_batch is not None:
            admission = self.admission
            self.batcher = Batcher(
                self.entry.run_batch,
                self.device,
                self.settings.max_batch_rows,
                self.settings.max_batch_wait_s,
                self.metrics,
                arriving=lambda: admission.arriving,
                on_batch=admission.rate.record,
                inline_rows=self.settings.inline_batch_rows,
            )
            self.batcher.start()
        self.ready = True
        if self.workers_ready is not None:
            self.workers_ready.mark()
        mode = "batched through run_batch" if self.batcher else "unbatched through run()"
        log.info(
            "model ready",
            extra={"event": "ready", "seconds": round(time.perf_counter() - started, 3), "mode": mode},
        )

    def begin_drain(self) -> None:
        """Readiness turns 503 at once; requests already admitted still finish."""
        self.draining = True
        self.ready = False

    async def close(self) -> None:
        if self.batcher is not None:
            await self.batcher.stop()
        self.device.shutdown(wait=False)
        self.decoder.shutdown(wait=False)
        self.decode_process.close()

    @property
    def batched(self) -> bool:
        return self.batcher is not None

    # ---- the stages ----

    def check_ready(self) -> None:
        retry = self.settings.retry_after_s
        if self.draining:
            raise Unavailable("server is shutting down; retry on another replica", retry, close=True)
        if not self.ready:
            raise Unavailable(self.not_ready_reason or "model is still loading; retry shortly", retry, close=True)
        if (reason := self.auth.not_ready_reason()) is not None:
            raise Unavailable(reason, retry, close=True)

    def check_pod_ready(self) -> None:
        """The readiness probe's check: this worker is ready, and so is every other worker of the pod."""
        self.check_ready()
        waiting = self.workers_ready.waiting_for() if self.workers_ready is not None else 0
        if waiting:
            raise Unavailable(
                f"{waiting} of {self.workers_ready.count if self.workers_ready else 0} workers still loading; retry shortly",
                self.settings.retry_after_s,
                close=True,
            )

    def note_not_ready(self, reason: str) -> None:
        self.not_ready_reason = reason

    def gate(self, headers: Mapping[str, str]) -> None:
        """The checks every scoring request passes before its body is read: readiness, then auth."""
        self.check_ready()
        self.auth.check(headers)

    def admitted(self) -> Reservation:
        """The request's share of the budgets, held until it is answered however it ends:
        `with pipeline.admitted() as reservation:` (a Reservation releases itself on exit)."""
        return self.admission.reservation()

    async def decode(
        self,
        reservation: Reservation,
        decode: Callable[[bytes], T],
        body: bytes,
        precheck: Callable[[bytes], None] | None = None,
        decode_many: DecodeMany[T] | None = None,
        *,
        process_decode: Callable[[bytes], T] | None = None,
        json_bytes: int | None = None,
    ) -> T:
        """decode(body) inline when small, else in the decode thread or the decode process; DecodeError
        becomes a 400.

        precheck refuses a body whose structure could not be a valid request before any parser builds
        an object and before the decoding transient (JSON_TRANSIENT_FACTOR times the JSON, measured in
        scoring/core/large_json.py) is reserved; a body whose transient could never fit the budget is
        413. json_bytes: how much of the body is JSON (a v2 binary body's header), default all of it.
        process_decode: the same decode as a picklable callable, run in the decode process for JSON
        over PROCESS_DECODE_BYTES. decode_many, when given, decodes every large body waiting for the
        decode thread in one call (the GPU byte parser's fixed cost, about 2.3 ms a call on an H200,
        is then paid once for all of them); it must return one result or DecodeError per body, in order.
        """
        try:
            if len(body) <= INLINE_DECODE_BYTES:
                return decode(body)
            transient = await self.reserve_json(reservation, body, precheck, json_bytes)
            try:
                json_size = len(body) if json_bytes is None else json_bytes
                if process_decode is not None and json_size > PROCESS_DECODE_BYTES:
                    return await self.decode_process.run(process_decode, body, self.settings.retry_after_s)
                if decode_many is None:
                    return await asyncio.get_running_loop().run_in_executor(self.decoder, decode, body)
                coalescer: _Coalescer[T] | None = self._coalescers.get(decode_many)
                if coalescer is None:
                    coalescer = self._coalescers[decode_many] = _Coalescer(decode_many, self.decoder)
                result: T | DecodeError = await coalescer.submit(body)
                if isinstance(result, DecodeError):
                    try:
                        raise result
                    finally:  # else this frame, in the error's traceback, keeps the error (and the body) in a cycle
                        del result
                return result
            finally:
                reservation.release_bytes(transient)
        except DecodeError as error:
            raise BadRequest(str(error)) from None

    async def reserve_json(
        self,
        reservation: Reservation,
        body: bytes,
        precheck: Callable[[bytes], None] | None,
        json_bytes: int | None = None,
        transient_factor: int = JSON_TRANSIENT_FACTOR,
    ) -> int:
        """What a large JSON body must pass before any parser builds an object: the precheck (400 for a
        body no request could be; DecodeError becomes BadRequest), the JSON size limit (413), then its
        decoding transient reserved (503 when the budget is full). Returns the bytes reserved; the
        caller releases them (reservation.release_bytes) once the objects are gone. transient_factor:
        what a body that passed the precheck may cost per byte (ANY_SHAPE_TRANSIENT_FACTOR without one)."""
        json_size = len(body) if json_bytes is None else json_bytes
        if precheck is not None:  # first: a body no request could be is 400, whatever its size
            try:
                if json_size <= PROCESS_DECODE_BYTES:
                    precheck(body)  # a fraction of a millisecond
                else:  # numpy's compares drop the GIL there; the loop stays free
                    await asyncio.get_running_loop().run_in_executor(self.decoder, precheck, body)
            except DecodeError as error:
                raise BadRequest(str(error)) from None
        limit = json_limit(self.settings.max_pending_bytes, transient_factor)
        if json_size > limit:
            raise too_large_json(json_size, limit, transient_factor)
        transient = transient_factor * json_size
        if not reservation.add_bytes(transient):
            raise overloaded(self.settings.retry_after_s, "pending byte budget")
        return transient

    def admit_rows(self, reservation: Reservation, rows: int) -> None:
        """Reserves the rows, or refuses when they would not finish in time or the row budget is full."""
        s = self.settings
        expected = self.admission.queue_seconds(rows)
        if expected > s.scoring_timeout_s:
            raise Unavailable(
                f"server is overloaded: about {expected:.1f} s of queued work exceeds the {s.scoring_timeout_s:g} s "
                "deadline (SCORING_TIMEOUT_S); retry shortly",
                s.retry_after_s,
                reason="deadline_forecast",
            )
        if not reservation.add_rows(rows):
            raise overloaded(s.retry_after_s, "pending row budget")

    async def score(self, reservation: Reservation, rows: np.ndarray) -> np.ndarray:
        """The labels for these validated rows, through the batcher, within SCORING_TIMEOUT_S."""
        assert self.batcher is not None
        async with self.concurrency.slot():
            self.admit_rows(reservation, rows.shape[0])
            labels = await self._await(self.batcher.submit(rows))
        if self.capture is not None:
            self.capture.offer(rows, labels)
        return labels

    async def run_script(self, text: str) -> object:
        """The seed's path: the script's run(raw_data) on the device thread, one request at a time."""
        try:
            async with self.concurrency.slot():
                future = asyncio.get_running_loop().run_in_executor(self.device, self.entry.run, text)
                return await self._await(future)
        except ServiceError:
            raise
        except CLIENT_ERRORS as exc:
            raise BadRequest(f"the entry script rejected the input: {type(exc).__name__}: {exc}") from None
        except Exception as exc:
            log.error("run() failed: %s: %s", type(exc).__name__, exc)
            raise ScoringFailed(f"the entry script failed: {type(exc).__name__}: {exc}") from None

    async def run_script_rows(self, rows: np.ndarray) -> np.ndarray:
        """Validated rows through a run()-only script, which speaks only the seed's JSON."""
        values = rows.astype(np.float32) / 255.0 if rows.dtype == np.uint8 else rows
        result = await self.run_script(json.dumps({"data": values.tolist()}))
        labels = np.asarray(result, dtype=np.int64).reshape(-1)
        if labels.shape[0] != rows.shape[0]:
            raise ScoringFailed(f"the entry script returned {labels.shape[0]} labels for {rows.shape[0]} rows")
        if self.capture is not None:
            self.capture.offer(rows, labels)
        return labels

    async def _await(self, future: asyncio.Future[T]) -> T:
        """The future's result within SCORING_TIMEOUT_S: at the deadline the future is cancelled (the
        batcher then skips its rows), as asyncio.wait_for would, by a timer shared with the requests
        whose deadlines fall in the same tick (`_Deadlines`)."""
        timeout_s = self.settings.scoring_timeout_s
        group = self._deadlines.add(future, timeout_s)
        try:
            return await future
        except asyncio.CancelledError as cancelled:
            if cancelled.args[:1] != (_EXPIRED,):  # the request itself was cancelled (the client went away)
                raise
            raise DeadlineExceeded(f"scoring did not finish within {timeout_s:g} s (SCORING_TIMEOUT_S)") from None
        except BatchError as exc:
            raise ScoringFailed(f"scoring failed: {exc}") from None
        finally:
            group.discard(future)
            # A failed future holds its error, whose traceback holds this frame: no cycle left for the collector.
            del future


# The cancel message of a future whose deadline passed (a request cancelled otherwise has none).
_EXPIRED = "scoring deadline"
# Deadlines are kept to this granularity: a request may get up to one tick more than its deadline.
_DEADLINE_TICK_S = 0.01


class _Deadlines:
    """One loop timer per tick of deadlines instead of one per request: a timer costs about 1.5 us to
    start and cancel (uvloop, 2026-12), joining a tick's group a set insertion. Used only from the
    event loop."""

    def __init__(self) -> None:
        self._groups: dict[int, set[asyncio.Future[Any]]] = {}

    def add(self, future: asyncio.Future[Any], timeout_s: float) -> set[asyncio.Future[Any]]:
        """The group the future joins, whose timer cancels it at its deadline (rounded up to a tick);
        the caller discards it from the group once it is done."""
        loop = asyncio.get_running_loop()
        tick = math.ceil((loop.time() + timeout_s) / _DEADLINE_TICK_S)
        group = self._groups.get(tick)
        if group is None:
            group = self._groups[tick] = set()
            loop.call_at(tick * _DEADLINE_TICK_S, self._expire, tick)
        group.add(future)
        return group

    def _expire(self, tick: int) -> None:
        for future in self._groups.pop(tick, ()):
            future.cancel(_EXPIRED)


class _Coalescer[T]:
    """Feeds the decode thread whole groups: while one decode_many call runs, the bodies that arrive
    wait together and go in the next call. Used only from the event loop."""

    def __init__(self, decode_many: DecodeMany[T], executor: ThreadPoolExecutor) -> None:
        self._decode_many = decode_many
        self._executor = executor
        self._waiting: list[tuple[bytes, asyncio.Future[T | DecodeError]]] = []
        self._running = False

    def submit(self, body: bytes) -> asyncio.Future[T | DecodeError]:
        future: asyncio.Future[T | DecodeError] = asyncio.get_running_loop().create_future()
        self._waiting.append((body, future))
        if not self._running:
            self._start()
        return future

    def _start(self) -> None:
        # Bodies whose request was cancelled while waiting (client gone, deadline) are not decoded.
        group = [(body, future) for body, future in self._waiting if not future.done()]
        self._waiting = []
        if not group:
            self._running = False
            return
        self._running = True
        loop = asyncio.get_running_loop()
        call = loop.run_in_executor(self._executor, self._decode_group, [body for body, _ in group])
        call.add_done_callback(lambda done: self._finished(done, [future for _, future in group]))

    def _decode_group(self, bodies: list[bytes]) -> list[T | DecodeError | Exception]:
        """In the decode thread. Should decode_many itself fail, each body is retried alone, so the
        failure stays with the body that causes it."""
        try:
            return list(self._decode_many(bodies))
        except Exception:
            if len(bodies) == 1:
                raise
        results: list[T | DecodeError | Exception] = []
        for body in bodies:
            try:
                results.extend(self._decode_many([body]))
            except Exception as error:
                results.append(error)
        return results

    def _finished(
        self,
        call: asyncio.Future[list[T | DecodeError | Exception]],
        futures: list[asyncio.Future[T | DecodeError]],
    ) -> None:
        failed: BaseException | None = asyncio.CancelledError() if call.cancelled() else call.exception()
        results = call.result() if failed is None else [failed] * len(futures)
        for future, result in zip(futures, results):
            if future.done():
                continue
            if isinstance(result, BaseException) and not isinstance(result, DecodeError):
                future.set_exception(result)
            else:
                future.set_result(result)
        self._start()
