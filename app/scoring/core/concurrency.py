"""The per-replica concurrency limit and queue wait limit of Azure ML's AKS deployments
(`replica_max_concurrent_requests`, `max_request_wait_time`): at most MAX_CONCURRENT_REQUESTS requests
are scored at once; the next ones wait in arrival order, and one that has waited
MAX_REQUEST_WAIT_TIME_MS without a slot is answered 503 with Retry-After, as Azure ML's front end
answers a request that waited too long in its queue.

A request holds its slot from when its input is ready for the model until its labels are back (the
batcher or run()); reading and decoding bodies are bounded by the byte budget (scoring/core/admission.py)
instead. The pods' mean number of requests in flight against this limit is the autoscaler's guard
trigger; CPU utilization leads (docs/autoscaling.md says why).

Used only from the event loop thread, so plain integers and a deque suffice. 0 slots: no limit.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from types import TracebackType

from scoring.core.errors import Unavailable


def process_share(per_pod: int, workers: int) -> int:
    """This process's slots when WORKERS processes share a pod's MAX_CONCURRENT_REQUESTS: the kernel
    spreads connections evenly over them (SO_REUSEPORT), so each holds its share, rounded up (0: no limit)."""
    if per_pod <= 0:
        return 0
    return max(1, -(-per_pod // max(1, workers)))


class ConcurrencyLimit:
    def __init__(self, max_concurrent: int, max_wait_s: float, retry_after_s: int) -> None:
        self.max_concurrent = max_concurrent
        self.max_wait_s = max_wait_s
        self.retry_after_s = retry_after_s
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def slot(self) -> AbstractAsyncContextManager[None]:
        """Holds one of the slots for the body of the `async with`; raises Unavailable (503) when none
        came free within the wait limit. Without a limit, a shared context that does nothing: an
        asynccontextmanager costs an async generator per request (and the loop's registration of it)."""
        if self.max_concurrent <= 0:
            return _NO_LIMIT
        return self._held()

    @asynccontextmanager
    async def _held(self) -> AsyncIterator[None]:
        if self.active < self.max_concurrent and not self._waiters:
            self.active += 1
        else:
            await self._wait()
        try:
            yield
        finally:
            self._release()

    async def _wait(self) -> None:
        if self.max_wait_s <= 0:
            raise self._refusal()
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.max_wait_s)
        except TimeoutError:
            if waiter.done() and not waiter.cancelled():
                return  # granted in the same instant the wait expired: the slot is ours
            waiter.cancel()
            raise self._refusal() from None
        except asyncio.CancelledError:
            # The client went away while waiting; a slot handed over in the meantime goes to the next one.
            if waiter.done() and not waiter.cancelled():
                self._release()
            else:
                waiter.cancel()
            raise
        finally:
            with suppress(ValueError):
                self._waiters.remove(waiter)

    def _release(self) -> None:
        # Hand the slot straight to the oldest live waiter (it never drops to free and back), so
        # a request arriving now cannot overtake one that has waited.
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.active -= 1

    def _refusal(self) -> Unavailable:
        return Unavailable(
            f"server is busy: all {self.max_concurrent} concurrent request slots of this process stayed taken for "
            f"{self.max_wait_s * 1000:g} ms (MAX_CONCURRENT_REQUESTS, MAX_REQUEST_WAIT_TIME_MS); retry shortly",
            self.retry_after_s,
            reason="max_request_wait_time",
        )


class _NoLimit:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        return None


_NO_LIMIT = _NoLimit()
