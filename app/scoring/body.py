"""Reading a request body under the admission budget, the size limit and the read timeout.

The decision to admit is made from Content-Length before a byte of the body is read; a chunked
body (no Content-Length) reserves as it arrives and is bounded by MAX_BODY_BYTES all the same.
Refusals close the connection rather than drain an upload nobody will use.
"""

from __future__ import annotations

import asyncio

from aiohttp import ClientPayloadError, web
from aiohttp.http_exceptions import ContentEncodingError, HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from scoring.admission import Reservation
from scoring.errors import json_error


class BodyRejected(Exception):
    """The body was refused; `response` is the answer to send."""

    def __init__(self, response: web.Response, reason: str) -> None:
        super().__init__(reason)
        self.response = response
        self.reason = reason


def _too_large(size: int | str, limit: int) -> BodyRejected:
    return BodyRejected(
        json_error(
            413, f"request body of {size} bytes exceeds the limit of {limit} bytes (MAX_BODY_BYTES)", close=True
        ),
        "too_large",
    )


def _overloaded(retry_after_s: int) -> BodyRejected:
    return BodyRejected(
        json_error(
            503,
            "server is at capacity (pending request budget full); retry shortly",
            {"Retry-After": str(retry_after_s)},
            close=True,
        ),
        "overloaded",
    )


async def read_body(
    request: web.Request, reservation: Reservation, max_bytes: int, timeout_s: float, retry_after_s: int
) -> bytes:
    length = request.content_length
    if length is not None:
        if length > max_bytes:
            raise _too_large(length, max_bytes)
        if not reservation.add_bytes(length):
            raise _overloaded(retry_after_s)
    reservation.set_arriving(True)
    try:
        reader = request.read() if length is not None else _read_chunked(request, reservation, max_bytes, retry_after_s)
        return await asyncio.wait_for(reader, timeout_s)
    except TimeoutError:
        raise BodyRejected(
            json_error(408, f"request body not received within {timeout_s:g} s (BODY_READ_TIMEOUT_S)", close=True),
            "read_timeout",
        ) from None
    except web.HTTPRequestEntityTooLarge:
        raise _too_large("more than the declared", max_bytes) from None
    except RequestPayloadError as exc:
        # aiohttp inflates a Content-Encoding body as it arrives and wraps a decoder failure, so a
        # body that is not the gzip/deflate/br it claims is the client's error, not the server's.
        encoding = request.headers.get("Content-Encoding", "")
        if isinstance(exc.__cause__, ContentEncodingError):
            message = f"request body is not valid {encoding} data (Content-Encoding: {encoding})"
        else:
            message = f"request body could not be read: {exc}"
        raise BodyRejected(json_error(400, message, close=True), "bad_encoding") from None
    except (ConnectionError, OSError, ValueError, HttpProcessingError, ClientPayloadError) as exc:
        # aiohttp reports a cut-off upload as a connection or payload error; the client is gone, but
        # answering keeps the bookkeeping (and the logs) uniform.
        raise BodyRejected(json_error(400, f"request body was cut off: {exc}", close=True), "cut_off") from None
    finally:
        reservation.set_arriving(False)


async def _read_chunked(request: web.Request, reservation: Reservation, max_bytes: int, retry_after_s: int) -> bytes:
    buffer = bytearray()
    while True:
        chunk = await request.content.readany()
        if not chunk:
            return bytes(buffer)
        if len(buffer) + len(chunk) > max_bytes:
            raise _too_large(f"more than {max_bytes}", max_bytes)
        if not reservation.add_bytes(len(chunk)):
            raise _overloaded(retry_after_s)
        buffer += chunk
