"""What a large JSON body costs to decode, the structural precheck that bounds that cost before any
parser builds an object, and the process where the largest bodies are decoded.

Measured (bench/json_transient.py, tracemalloc peak over the body size, December 2026):

| body shape                                   | orjson | stdlib json |
|----------------------------------------------|-------:|------------:|
| /score rows of integers 0-255                |   14.3 |         3.5 |
| /score or /v2 rows of 3-decimal floats       |   17.3 |         6.5 |
| /v2 flat UINT8 data                          |   14.2 |         3.5 |
| `[0,0,...]`                                  |   16.0 |         5.5 |
| `[[],[],...]` (the attack)                   |   33.3 |        22.5 |
| `[{},{},...]`                                |   36.0 |        25.1 |
| `["a","a",...]`                              |   24.5 |         3.2 |

orjson (tried first) builds a new int per number where the stdlib reuses small ints, so it is the
larger of the two everywhere; the stdlib decides only bodies orjson refused, after orjson's objects
are gone. Containers and strings cost the most per byte, and no valid request holds many of them:
the prechecks refuse a body with more '[' than it can hold rows, or more than a handful of objects
or strings, by counting bytes (numpy, which releases the GIL) before any object exists. What passes
costs at most JSON_TRANSIENT_FACTOR times its size, and that is what admission reserves.

Where it is decoded: orjson and the list-to-array conversion hold the GIL for the whole call (about
20 ms a MiB on a 2-core CI machine), and a thread holding the GIL stalls the serving loop, probes
included. Bodies up to PROCESS_DECODE_BYTES decode in the pipeline's decode thread (a stall of a few
milliseconds); larger ones in a child process of this worker, which holds no GIL of ours. A smaller
JSON limit alone would also bound the stall, but the process costs nothing per request below the
threshold and keeps every valid JSON body the budget admits servable.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from scoring.core.errors import TooLarge, Unavailable

log = logging.getLogger("scoring")

T = TypeVar("T")

# The largest measured transient of a body that passes the prechecks (17.3x, 3-decimal floats with
# orjson), rounded up.
JSON_TRANSIENT_FACTOR = 18
# What any JSON may cost, whatever its shape: the largest measured transient above (`[{},{},...]` with
# orjson, 36.0x). Reserved for a body the server cannot precheck because a user's run() gives it its
# meaning (scoring/protocols/azureml_http.py): objects and strings are valid input there.
ANY_SHAPE_TRANSIENT_FACTOR = 36
# Bodies below this size cannot build enough objects to matter (at most 36x of 64 KiB); the prechecks
# skip them, and they are decoded inline.
STRUCTURE_CHECK_BYTES = 64 << 10
# Above this, a JSON body is decoded in the worker's decode process, not its decode thread.
PROCESS_DECODE_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Punctuation:
    """Counts of the bytes that make a JSON parser build containers and strings."""

    opens: int  # [
    objects: int  # {
    quotes: int  # "
    commas: int  # ,


def punctuation(body: bytes | memoryview) -> Punctuation:
    """One pass of vectorised compares (numpy drops the GIL for them on large arrays)."""
    view = np.frombuffer(body, dtype=np.uint8)
    return Punctuation(
        int(np.count_nonzero(view == 0x5B)),
        int(np.count_nonzero(view == 0x7B)),
        int(np.count_nonzero(view == 0x22)),
        int(np.count_nonzero(view == 0x2C)),
    )


def json_limit(max_pending_bytes: int, factor: int = JSON_TRANSIENT_FACTOR) -> int:
    """The largest JSON body this worker can decode: the body and its transient must fit the byte budget."""
    return max_pending_bytes // (factor + 1)


def too_large_json(size: int, limit: int, factor: int = JSON_TRANSIENT_FACTOR) -> TooLarge:
    return TooLarge(
        f"a JSON body of {size} bytes needs about {factor}x its size to decode; this server decodes "
        f"JSON bodies up to {limit} bytes (MAX_PENDING_BYTES / {factor + 1}): send fewer rows per "
        "request, or use the v2 binary tensor extension",
        close=True,
    )


def _spawned() -> ProcessPoolExecutor:
    # spawn, not fork: the worker has threads (device, decode) and may hold a CUDA context.
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))


class DecodeProcess:
    """One child process per worker that decodes the largest JSON bodies, one at a time; used only
    from the event loop. Started with the first such body (it imports numpy, orjson and the protocol
    modules, about a second), so a worker that never sees one never pays its memory. A child that dies (killed for memory, say) is replaced, and the request that
    was in it gets a 503."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = _spawned()
        return self._pool

    async def run(self, decode: Callable[[bytes], T], body: bytes, retry_after_s: int) -> T:
        """decode(body) in the child; decode must be picklable (a module-level function or a partial)."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor(), decode, body)
        except BrokenProcessPool:
            log.warning("the decode process died; starting another", extra={"event": "decode_process_died"})
            self.close()
            raise Unavailable(
                "server could not decode this body (its decode process stopped); retry shortly", retry_after_s
            ) from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
