"""The dynamic batcher: many requests' arrays, one call of the entry script's run_batch.

It knows arrays only: no JSON, no HTTP, no row length. The pipeline submits a decoded, validated
array (n, ...) and awaits its labels. One asyncio task collects whatever is queued, up to
MAX_BATCH_ROWS, waiting up to MAX_BATCH_WAIT_MS only while admitted bodies are still arriving (so a
lone client never waits), concatenates arrays of the same dtype and row shape, and calls run_batch
once per group. Small batches run on the event loop itself (a thread hand-off costs more than the
model); larger ones on the single device thread. Each request gets exactly its own labels.

A batch that fails is retried split in halves, down to single requests, so only the request that
makes run_batch fail gets the 500; every other request of the batch is answered.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from scoring.observability.metrics import Metrics

log = logging.getLogger("scoring")

RunBatch = Callable[[np.ndarray], object]


class BatchError(RuntimeError):
    """run_batch failed or broke its contract for this request's rows."""


@dataclass(slots=True)
class _Job:
    future: asyncio.Future[np.ndarray]
    rows: np.ndarray
    enqueued_at: float


class Batcher:
    def __init__(
        self,
        run_batch: RunBatch,
        executor: Executor,
        max_batch_rows: int,
        max_wait_s: float,
        metrics: Metrics,
        arriving: Callable[[], int] = lambda: 0,
        on_batch: Callable[[int, float], None] = lambda rows, seconds: None,
        inline_rows: int = 0,
    ) -> None:
        self._run_batch = run_batch
        self._executor = executor
        self._max_rows = max_batch_rows
        self._max_wait_s = max_wait_s
        self._metrics = metrics
        self._arriving = arriving
        self._on_batch = on_batch
        self._inline_rows = inline_rows
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

    def submit(self, rows: np.ndarray) -> asyncio.Future[np.ndarray]:
        """rows: a validated (n, ...) array; the future gets n labels, or a BatchError."""
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self._queue.append(_Job(future, rows, time.perf_counter()))
        self._wakeup.set()
        return future

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect()
            if not batch:
                continue
            started = time.perf_counter()
            queue_wait = self._metrics.queue_wait
            for job in batch:
                queue_wait(started - job.enqueued_at)
            rows = sum(job.rows.shape[0] for job in batch)
            try:
                if rows <= self._inline_rows:
                    results = self._process(batch)
                else:
                    results = await loop.run_in_executor(self._executor, self._process, batch)
            except Exception as exc:  # the worker itself failed: answer every request, keep serving
                results = [BatchError(f"batch failed: {type(exc).__name__}: {exc}")] * len(batch)
            elapsed = time.perf_counter() - started
            self._metrics.device_seconds.observe(elapsed)
            self._on_batch(rows, elapsed)
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
                if batch and rows + job.rows.shape[0] > self._max_rows:
                    break
                self._queue.popleft()
                if job.future.done():  # cancelled while queued: skip its work entirely
                    continue
                batch.append(job)
                rows += job.rows.shape[0]
                continue
            remaining = deadline - time.perf_counter()
            if self._arriving() == 0 or remaining <= 0:
                break
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                break
        self._metrics.queue_depth.set(len(self._queue))
        return batch

    # ---- below: the device thread (or the event loop, for small batches) ----

    def _process(self, batch: Sequence[_Job]) -> list[np.ndarray | BaseException]:
        results: list[np.ndarray | BaseException] = [BatchError("not scored")] * len(batch)
        groups: dict[tuple[np.dtype[np.generic], tuple[int, ...]], list[int]] = {}
        for i, job in enumerate(batch):
            groups.setdefault((job.rows.dtype, job.rows.shape[1:]), []).append(i)
        # One run_batch per input dtype: the predictor scales uint8 pixels itself, and converting
        # them here would quadruple the bytes copied to the device.
        for members in groups.values():
            self._score(members, [batch[i].rows for i in members], results)
        return results

    def _score(self, members: list[int], parts: list[np.ndarray], results: list[np.ndarray | BaseException]) -> None:
        rows = parts[0] if len(parts) == 1 else np.concatenate(parts)
        try:
            labels = self._call(rows)
        except BatchError as error:
            if len(members) > 1:
                # Isolate the culprit: each half is scored on its own, so innocent requests succeed.
                half = len(members) // 2
                self._score(members[:half], parts[:half], results)
                self._score(members[half:], parts[half:], results)
                return
            results[members[0]] = error
            return
        self._metrics.batch_rows.observe(rows.shape[0])
        self._metrics.rows_scored.inc(rows.shape[0])
        start = 0
        for i, part in zip(members, parts):
            end = start + part.shape[0]
            results[i] = labels[start:end]
            start = end

    def _call(self, rows: np.ndarray) -> np.ndarray:
        try:
            labels = np.asarray(self._run_batch(rows))
        except Exception as exc:
            log.error("run_batch failed on %d rows: %s: %s", rows.shape[0], type(exc).__name__, exc)
            raise BatchError(f"run_batch failed: {type(exc).__name__}: {exc}") from None
        if labels.shape != (rows.shape[0],):
            raise BatchError(
                f"run_batch returned labels of shape {labels.shape} for {rows.shape[0]} rows; expected one label per row"
            )
        return labels
