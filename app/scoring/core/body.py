"""Reading a request body under the admission budget, the size limit and the read timeout.

The declared Content-Length is checked against the size limit and the free budget before a byte of
the body is read; then bytes are reserved as they arrive, so a stalled upload holds only what it
sent. A Content-Encoding body (gzip, deflate, br) is inflated here, in bounded steps, and every
inflated byte is counted against the same limit and budget: a 64 KiB gzip bomb is refused at
MAX_BODY_BYTES instead of inflating past the pod's memory. (aiohttp's own decompression is off:
it would inflate before anything could count.) Refusals close the connection rather than drain an
upload nobody will use.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Iterator
from typing import Any

from aiohttp import ClientPayloadError, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from scoring.core.admission import Reservation
from scoring.core.errors import BadRequest, RequestTimeout, TooLarge, Unavailable, UnsupportedMedia

# Largest piece inflated (and reserved) in one step.
_INFLATE_STEP = 1 << 20


class _Inflater:
    """Bounded incremental decompression: `feed` yields pieces of at most `step` bytes."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._brotli: Any = None  # brotli ships no type information
        self._zlib: zlib._Decompress | None = None
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS)
        else:  # br, checked by _inflater_for
            import brotli  # type: ignore[import-untyped]

            self._brotli = brotli.Decompressor()

    def feed(self, data: bytes, step: int) -> Iterator[bytes]:
        """The inflated bytes of `data`, one piece at a time: the caller counts each piece before the
        next is produced, so a bomb stops at the limit instead of inflating in full first."""
        if self._zlib is None:
            yield from self._feed_brotli(data, step)
            return
        try:
            yield self._zlib.decompress(data, step)
            while self._zlib.unconsumed_tail:
                yield self._zlib.decompress(self._zlib.unconsumed_tail, step)
        except zlib.error:
            raise self.invalid() from None

    def _feed_brotli(self, data: bytes, step: int) -> Iterator[bytes]:
        import brotli

        decompressor = self._brotli
        try:
            yield decompressor.process(data, output_buffer_limit=step)
            while not decompressor.can_accept_more_data():
                yield decompressor.process(b"", output_buffer_limit=step)
        except brotli.error:
            raise self.invalid() from None

    def finish(self) -> None:
        if self._zlib is not None and not self._zlib.eof:
            raise self.invalid()
        if self._brotli is not None and not self._brotli.is_finished():
            raise self.invalid()

    def invalid(self) -> BadRequest:
        return BadRequest(
            f"request body is not valid {self.encoding} data (Content-Encoding: {self.encoding})", close=True
        )


def _inflater_for(header: str) -> _Inflater | None:
    encoding = header.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip", "deflate"):
        return _Inflater(encoding)
    if encoding == "br":
        try:
            import brotli  # noqa: F401  (optional: aiohttp's brotli extra)
        except ImportError:
            pass
        else:
            return _Inflater(encoding)
    raise UnsupportedMedia(
        f"Content-Encoding {header!r} is not supported; send gzip, deflate or an uncompressed body", close=True
    )


def too_large(size: int | str, limit: int) -> TooLarge:
    return TooLarge(f"request body of {size} bytes exceeds the limit of {limit} bytes (MAX_BODY_BYTES)", close=True)


def overloaded(retry_after_s: int, what: str = "pending request budget") -> Unavailable:
    return Unavailable(
        f"server is at capacity ({what} full); retry shortly", retry_after_s, reason="overloaded", close=True
    )


async def read_body(
    request: web.Request, reservation: Reservation, max_bytes: int, timeout_s: float, retry_after_s: int
) -> bytes:
    length = request.content_length
    if length is not None and length > max_bytes:
        raise too_large(length, max_bytes)
    inflater = _inflater_for(request.headers.get("Content-Encoding", ""))
    if length is not None and not reservation.fits(length):
        raise overloaded(retry_after_s)
    reservation.set_arriving(True)
    try:
        reading = _read(request, reservation, inflater, max_bytes, retry_after_s)
        if request.content.is_eof():
            # The whole body came with the head (every small request): nothing can stall, so no timer.
            return await reading
        return await asyncio.wait_for(reading, timeout_s)
    except TimeoutError:
        raise RequestTimeout(
            f"request body not received within {timeout_s:g} s (BODY_READ_TIMEOUT_S)", close=True
        ) from None
    except RequestPayloadError as exc:
        raise BadRequest(f"request body could not be read: {exc}", close=True) from None
    except (ConnectionError, OSError, ValueError, HttpProcessingError, ClientPayloadError) as exc:
        # aiohttp reports a cut-off upload as a connection or payload error; the client is gone, but
        # answering keeps the bookkeeping (and the logs) uniform.
        raise BadRequest(f"request body was cut off: {exc}", close=True) from None
    finally:
        reservation.set_arriving(False)


async def _read(
    request: web.Request, reservation: Reservation, inflater: _Inflater | None, max_bytes: int, retry_after_s: int
) -> bytes:
    parts: list[bytes] = []
    size = 0
    received = 0

    def hold(piece: bytes) -> None:
        nonlocal size
        if not piece:
            return
        size += len(piece)
        if size > max_bytes:
            raise too_large(f"more than {max_bytes}", max_bytes)
        if not reservation.add_bytes(len(piece)):
            raise overloaded(retry_after_s)
        parts.append(piece)

    content = request.content
    while True:
        chunk = await content.readany()
        if not chunk:
            break
        received += len(chunk)
        if received > max_bytes:
            raise too_large(f"more than {max_bytes}", max_bytes)
        if inflater is None:
            hold(chunk)
            continue
        # The compressed bytes are held while they inflate; once inflated only the output counts.
        if not reservation.add_bytes(len(chunk)):
            raise overloaded(retry_after_s)
        for piece in inflater.feed(chunk, _INFLATE_STEP):
            hold(piece)
            # A 64 KiB gzip chunk can inflate to the whole MAX_BODY_BYTES: give the loop (and the
            # probes) a turn between steps rather than inflating it all in one go.
            await asyncio.sleep(0)
        reservation.release_bytes(len(chunk))
    if inflater is not None:
        inflater.finish()
    if len(parts) == 1:
        return parts[0]
    return b"".join(parts)
