"""The dynamic batcher: many requests, one call of the entry script's run_batch.

Handlers hand over raw request bytes (JSON /score bodies) or a function that builds the array in the
device thread (KServe tensors) and await a future. One asyncio task collects whatever is queued, up to MAX_BATCH_ROWS, waiting up to
MAX_BATCH_WAIT_MS only while admitted bodies are still arriving (so a lone client never waits), and
runs the batch on the single device thread: the JSON bodies are decoded there together with
decode_scoring_bodies (on the GPU when DEVICE is cuda), valid rows are concatenated, run_batch is
called once per input dtype, and each request gets exactly its own labels, in order. A bad body
fails only its own request. The event loop never parses JSON or touches tensors.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from scoring.admission import Admission
from scoring.decode import DecodeError, decode_scoring_bodies
from scoring.entry import RunBatch
from scoring.metrics import Metrics

ROW_LENGTH = 784
# Seed-format rows are about 16 KB of JSON text (784 numbers such as 0.3294117748737335); the batch
# and admission budgets count a JSON body as this many bytes per row until it is decoded.
JSON_BYTES_PER_ROW = 16_000

Prepare = Callable[[], np.ndarray]


def json_row_estimate(body_size: int) -> int:
    return max(1, -(-body_size // JSON_BYTES_PER_ROW))


class BatchError(RuntimeError):
    """run_batch failed or broke its contract; every request of that batch gets a 500 naming it."""


@dataclass
class _Job:
    future: asyncio.Future[np.ndarray]
    cost_rows: int
    enqueued_at: float
    body: bytes | None = None
    prepare: Prepare | None = None


class Batcher:
    def __init__(
        self,
        run_batch: RunBatch,
        executor: ThreadPoolExecutor,
        device: str,
        max_batch_rows: int,
        max_wait_s: float,
        admission: Admission,
        metrics: Metrics,
    ) -> None:
        self._run_batch = run_batch
        self._executor = executor
        self._device = device
        self._max_rows = max_batch_rows
        self._max_wait_s = max_wait_s
        self._admission = admission
        self._metrics = metrics
        self._queue: collections.deque[_Job] = collections.deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._serve(), name="batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for job in self._queue:
            if not job.future.done():
                job.future.set_exception(BatchError("the server is shutting down"))
        self._queue.clear()

    def submit_json(self, body: bytes) -> asyncio.Future[np.ndarray]:
        """A /score body, decoded later in the device thread together with its batch."""
        return self._submit(_Job(self._new_future(), json_row_estimate(len(body)), time.perf_counter(), body=body))

    def submit_prepared(self, cost_rows: int, prepare: Prepare) -> asyncio.Future[np.ndarray]:
        """An array built in the device thread (e.g. a KServe JSON tensor); prepare may raise ValueError."""
        return self._submit(_Job(self._new_future(), cost_rows, time.perf_counter(), prepare=prepare))

    def _new_future(self) -> asyncio.Future[np.ndarray]:
        return asyncio.get_running_loop().create_future()

    def _submit(self, job: _Job) -> asyncio.Future[np.ndarray]:
        self._queue.append(job)
        self._metrics.queue_depth.set(len(self._queue))
        self._wakeup.set()
        return job.future

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect()
            if not batch:
                continue
            started = time.perf_counter()
            for job in batch:
                self._metrics.queue_seconds.observe(started - job.enqueued_at)
            try:
                results = await loop.run_in_executor(self._executor, self._process, batch)
            except Exception as exc:  # the worker itself failed: answer every request, keep serving
                results = [BatchError(f"batch failed: {type(exc).__name__}: {exc}")] * len(batch)
            self._metrics.device_seconds.observe(time.perf_counter() - started)
            for job, result in zip(batch, results):
                if job.future.done():  # the handler gave up (deadline or client gone)
                    continue
                if isinstance(result, BaseException):
                    job.future.set_exception(result)
                else:
                    job.future.set_result(result)

    async def _collect(self) -> list[_Job]:
        while not self._queue:
            self._wakeup.clear()
            await self._wakeup.wait()
        batch: list[_Job] = []
        rows = 0
        deadline = time.perf_counter() + self._max_wait_s
        while rows < self._max_rows:
            if self._queue:
                job = self._queue[0]
                if batch and rows + job.cost_rows > self._max_rows:
                    break
                self._queue.popleft()
                if job.future.done():  # cancelled while queued: skip its work entirely
                    continue
                batch.append(job)
                rows += job.cost_rows
                continue
            remaining = deadline - time.perf_counter()
            if self._admission.arriving == 0 or remaining <= 0:
                break
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                break
        self._metrics.queue_depth.set(len(self._queue))
        return batch

    # ---- everything below runs in the device thread ----

    def _process(self, batch: Sequence[_Job]) -> list[np.ndarray | BaseException]:
        results: list[np.ndarray | BaseException] = [BatchError("not scored")] * len(batch)
        arrays: list[np.ndarray | None] = [None] * len(batch)
        json_positions = [i for i, job in enumerate(batch) if job.body is not None]
        if json_positions:
            bodies = [batch[i].body or b"" for i in json_positions]
            for i, decoded in zip(json_positions, decode_scoring_bodies(bodies, ROW_LENGTH, self._device)):
                if isinstance(decoded, DecodeError):
                    results[i] = decoded
                else:
                    arrays[i] = decoded
        for i, job in enumerate(batch):
            if job.prepare is not None:
                try:
                    arrays[i] = job.prepare()
                except ValueError as exc:
                    results[i] = exc
        # One run_batch per input dtype: the predictor scales uint8 pixels itself, and converting
        # them here would quadruple the bytes copied to the device.
        for dtype in (np.float32, np.uint8):
            members = [i for i, a in enumerate(arrays) if a is not None and a.dtype == dtype]
            if members:
                self._score_group(members, arrays, results)
        return results

    def _score_group(
        self, members: list[int], arrays: list[np.ndarray | None], results: list[np.ndarray | BaseException]
    ) -> None:
        parts = [arrays[i] for i in members]
        valid = [p for p in parts if p is not None]
        counts = [p.shape[0] for p in valid]
        rows = valid[0] if len(valid) == 1 else np.concatenate(valid)
        try:
            labels = np.asarray(self._run_batch(rows))
        except Exception as exc:
            error = BatchError(f"run_batch failed: {type(exc).__name__}: {exc}")
            for i in members:
                results[i] = error
            return
        if labels.shape != (rows.shape[0],):
            error = BatchError(
                f"run_batch returned labels of shape {labels.shape} for {rows.shape[0]} rows; expected one label per row"
            )
            for i in members:
                results[i] = error
            return
        self._metrics.batch_rows.observe(rows.shape[0])
        self._metrics.rows_scored.inc(rows.shape[0])
        offsets = np.cumsum([0, *counts])
        for position, i in enumerate(members):
            results[i] = labels[offsets[position] : offsets[position + 1]]
