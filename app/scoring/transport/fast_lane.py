"""The scoring fast lane: HTTP/1.1 for the two scoring routes' common case; everything else is aiohttp's.

Every connection starts here. The lane serves a request itself when it is

- `POST /score` (an entry script with run_batch, AML_CORS_ORIGINS unset) or
  `POST /v2/models/{model}[/versions/{version}]/infer`, with a plain path (no query, escapes or dot
  segments),
- HTTP/1.1 with one decimal Content-Length, no Transfer-Encoding, Content-Encoding, Expect or Upgrade,
  and a head in RFC 9112's syntax within aiohttp's limits (each field line printable, its name a token;
  a bare LF, obs-fold, a space before the colon, a control character or a tab is not the common case).

Which requests those are, and their answers, are the protocols' (`ProtocolUnit.lane_match` in
scoring/core/exchange.py): the lane frames bytes, asks each protocol whether a head is its own, hands
the request to scoring/core/serving.py -- the same handlers, error mapping and bookkeeping as
aiohttp's routes -- and writes the answer, so the pipeline, the budgets, the errors and their bodies,
the ids, the metrics and the log line are the same code. The first request that is anything else -- another route or method, a
chunked or compressed body, a head that is malformed, oversized or not the common case -- is handed,
with every byte of the connection from that request's first byte on, to aiohttp's own protocol, which
serves the connection from then on: rare features, and every answer to a malformed request, stay
aiohttp's (and its strict parser's).

Why: aiohttp's web layer (request and response objects, router, middleware chain, StreamReader) costs
about 55-65 us per request per core (bench/RESULTS.md, "aiohttp floor", 2026-12-01), more than all of
a one-row binary request's own work; the lane's head parsing and answer writing cost a few microseconds.

A connection answers one request at a time, in order: bytes of a pipelined next request wait in the
buffer (reading pauses beyond _MAX_AHEAD, and while written answers wait to drain). A request whose
body was not read (it was refused first) is skipped when it is all here, else the connection closes,
as aiohttp does with lingering_time=0.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import cast

from aiohttp.http import SERVER_SOFTWARE
from aiohttp.web_protocol import RequestHandler
from multidict import CIMultiDict, CIMultiDictProxy

from scoring.core.admission import Reservation
from scoring.core.body import overloaded, too_large
from scoring.core.errors import BadRequest, RequestTimeout
from scoring.core.exchange import Answer, Exchange, ProtocolUnit
from scoring.core.pipeline import Pipeline
from scoring.observability.logs import RequestLog
from scoring.transport.connections import Connections, LaneFactory
from scoring.transport.observer import Observer

log = logging.getLogger("scoring")

# A head not complete at this size is aiohttp's to answer, as is one with a line longer than aiohttp's
# own limits (max_line_size and max_field_size 8,190 bytes, max_headers 128 in aiohttp 3.14's
# web_protocol.py), or with more fields.
_MAX_HEAD = 16 << 10
_MAX_LINE = 8190
_MAX_FIELDS = 128
# Bytes of pipelined requests held while one is answered; beyond this, reading pauses.
_MAX_AHEAD = 256 << 10
# A Content-Length of more digits than this is aiohttp's to refuse (it is far past any MAX_BODY_BYTES).
_MAX_LENGTH_DIGITS = 18

_REQUEST_LINE = re.compile(rb"POST (/[!$&'()*+,\-./0-9:;=@A-Z_a-z~]*) HTTP/1\.1")
# RFC 9112: field-line = field-name ":" OWS field-value OWS, lines ended by CRLF; field-name is a token.
# A line that is not printable (a control character, a CR or LF outside a CRLF, or a HTAB, which is
# legal but rare) or a name that is not a token goes to aiohttp's parser.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_OWS = " \t"
_CONNECTION_TOKENS = frozenset(("close", "keep-alive"))
# Fields aiohttp refuses to see twice (aiohttp 3.14 http_parser.SINGLETON_HEADERS, December 2026): a
# head repeating one is aiohttp's to refuse, as is an HTTP/1.1 head without exactly one Host.
_SINGLETONS = frozenset(
    (
        "content-length",
        "content-location",
        "content-range",
        "content-type",
        "etag",
        "host",
        "max-forwards",
        "server",
        "transfer-encoding",
        "user-agent",
    )
)
# Fields whose presence makes the request aiohttp's (framing or semantics the lane does not implement).
_NOT_THE_LANES = frozenset(("transfer-encoding", "content-encoding", "expect", "upgrade"))


class _Request:
    """A request head the lane serves (a plain class: a frozen dataclass's __init__ cost 6 % of a
    one-row request in a profile, 2026-12)."""

    __slots__ = ("close", "exchange", "length", "path")

    def __init__(self, path: str, length: int, close: bool, exchange: Exchange) -> None:
        self.path = path
        self.length = length
        self.close = close  # the client sent Connection: close
        self.exchange = exchange  # the request as its protocol serves it (route, handler, headers)


@dataclass(frozen=True, slots=True)
class LaneContext:
    """What every lane connection of this process shares, decided at start."""

    pipeline: Pipeline
    observer: Observer
    connections: Connections
    # The protocols, each once (scoring/transport/server.py): each says which POSTs are its own.
    routes: tuple[ProtocolUnit, ...]
    outbox: _Outbox = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "outbox", _Outbox(self.observer.request_log))


class _Outbox:
    """The answers of one event-loop turn, sent together at its end, after their log lines (written in
    one call): a request's line still goes out before its answer, at one system call per turn instead
    of one per request. Answers of one connection keep their order (one list, sent in order)."""

    __slots__ = ("_answers", "_request_log", "_scheduled")

    def __init__(self, request_log: RequestLog | None) -> None:
        self._request_log = request_log
        self._answers: list[tuple[asyncio.Transport, bytes | None, bool]] = []
        self._scheduled = False

    def send(self, transport: asyncio.Transport, data: bytes | None, close: bool) -> None:
        """data: the answer (None: none, only the close); close: the connection closes after it."""
        self._answers.append((transport, data, close))
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        if self._request_log is not None:
            self._request_log.flush()
        answers, self._answers = self._answers, []
        for transport, data, close in answers:
            try:
                if data is not None and not transport.is_closing():
                    transport.write(data)
            except Exception:  # nothing may leave the connection without its next request being read
                log.exception("could not write an answer")
                close = True
            if close:
                transport.close()


def lane_factory(context: LaneContext) -> LaneFactory:
    """For scoring.transport.connections.ReusePortSite: a new connection's protocol, given aiohttp's factory."""

    def factory(aiohttp_protocol: Callable[[], RequestHandler]) -> asyncio.Protocol:
        return FastLane(context, aiohttp_protocol)

    return factory


_SINGLETON, _NOT_LANE, _CONNECTION = 1, 2, 3
# A field name -> (a token?, lowercased, what it is to the lane): a memo, bounded, since a client
# inventing names must not grow it. One lookup a field instead of a token check, a lower() and set
# tests: a regular expression per line cost about 1 us a header (2026-12).
_NAMES: dict[str, tuple[bool, str, int]] = {}
_NAMES_SIZE = 512


def _name_kind(name: str) -> tuple[bool, str, int]:
    lower = name.lower()
    if lower in _SINGLETONS:
        kind = _SINGLETON
    elif lower in _NOT_THE_LANES:
        kind = _NOT_LANE
    elif lower == "connection":
        kind = _CONNECTION
    else:
        kind = 0
    known = (_TOKEN.fullmatch(name) is not None, lower, kind)
    if len(_NAMES) < _NAMES_SIZE:
        _NAMES[name] = known
    return known


def parse_head(head: bytes, routes: Sequence[ProtocolUnit]) -> _Request | None:
    """The request the lane serves, or None for aiohttp's. `head`: up to its blank line, exclusive;
    routes: the protocols' lane routes, asked in turn whether the request is theirs."""
    parsed = _parse_fields(head)
    return None if parsed is None else _match(parsed, routes)


class _Fields:
    """A head the lane takes, before any protocol is asked: a pure function of the head's bytes, so a
    connection that sends the same head again (a keep-alive client's next request) reuses it."""

    __slots__ = ("close", "headers", "length", "raw_path")

    def __init__(self, raw_path: bytes, headers: CIMultiDictProxy[str], length: int, close: bool) -> None:
        self.raw_path = raw_path
        self.headers = headers  # read-only: shared by the requests that reuse it
        self.length = length
        self.close = close


def _match(fields: _Fields, routes: Sequence[ProtocolUnit]) -> _Request | None:
    for protocol in routes:
        exchange = protocol.lane_match(fields.raw_path, fields.headers)
        if exchange is not None:
            return _Request(exchange.path, fields.length, fields.close, exchange)
    return None


def _parse_fields(head: bytes) -> _Fields | None:
    """parse_head's syntax and hand-over rules.

    A hand parser, not httptools (llhttp): llhttp validates the syntax in C, but the fields must still
    be split, named and checked in Python to build the headers and to hand over exactly what aiohttp
    refuses or treats differently, so llhttp's pass came on top: 0.6 us more per head and 3-6 % more
    loop CPU per one-row request in the full path (bench/head_parse.py, bench/loop_cost.py, 2026-12)."""
    if len(head) > _MAX_LINE and any(len(line) > _MAX_LINE for line in head.split(b"\r\n")):
        return None
    request_line, _, field_lines = head.partition(b"\r\n")
    match = _REQUEST_LINE.fullmatch(request_line)
    if match is None:
        return None
    raw_path = match[1]
    # As aiohttp decodes them: UTF-8, undecodable bytes kept as surrogates (they then fail to match).
    text = field_lines.decode("utf-8", "surrogateescape")
    lines = text.split("\r\n") if text else []
    if len(lines) > _MAX_FIELDS:
        return None
    pairs: list[tuple[str, str]] = []
    singletons: set[str] = set()
    length_text = ""
    connection: list[str] = []
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not line.isprintable():
            return None
        known = _NAMES.get(name)
        if known is None:
            known = _name_kind(name)
        token, lower, kind = known
        if not token:
            return None
        value = value.strip(_OWS)
        if kind:
            if kind == _SINGLETON:
                if lower in singletons:
                    return None
                singletons.add(lower)
                if lower == "content-length":
                    length_text = value
            elif kind == _NOT_LANE:
                return None
            else:
                connection.append(value)
        pairs.append((name, value))
    if "host" not in singletons or "transfer-encoding" in singletons:
        return None
    if not (length_text.isascii() and length_text.isdigit()) or len(length_text) > _MAX_LENGTH_DIGITS:
        return None
    close = False
    if connection:
        tokens = {t.strip(_OWS).lower() for t in ",".join(connection).split(",") if t.strip(_OWS)}
        if not tokens <= _CONNECTION_TOKENS:
            return None
        close = "close" in tokens
    return _Fields(raw_path, CIMultiDictProxy(CIMultiDict(pairs)), int(length_text), close)


_STATUS_LINES = {status.value: f"HTTP/1.1 {status.value} {status.phrase}\r\n" for status in HTTPStatus}
# (whole second, the Date and Server field lines every answer ends with): formatted once a second.
_trailer: tuple[int, str] = (-1, "")


def _date_and_server() -> str:
    global _trailer
    now = int(time.time())
    second, text = _trailer
    if now != second:
        text = f"Date: {formatdate(now, usegmt=True)}\r\nServer: {SERVER_SOFTWARE}\r\n"
        _trailer = (now, text)
    return text


def _response(status: int, body: bytes, headers: list[tuple[str, str]], close: bool) -> bytes:
    """An answer's bytes, with the headers aiohttp's own answers carry (Content-Length, Date, Server)."""
    head = "".join(
        [
            _STATUS_LINES.get(status) or f"HTTP/1.1 {status} \r\n",
            *[f"{name}: {value}\r\n" for name, value in headers],
            f"Content-Length: {len(body)}\r\n",
            _date_and_server(),
            "Connection: close\r\n\r\n" if close else "\r\n",
        ]
    )
    # surrogateescape: an echoed client id goes back byte for byte, as it came.
    return head.encode("utf-8", "surrogateescape") + body


class _BodyWait:
    """The rest of a body that did not come with its head: bytes are reserved as they arrive."""

    __slots__ = ("_missing", "_parts", "_reservation", "_retry_after_s", "future")

    def __init__(self, missing: int, reservation: Reservation, retry_after_s: int) -> None:
        self.future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._missing = missing
        self._parts: list[bytes] = []
        self._reservation = reservation
        self._retry_after_s = retry_after_s

    def start(self, received: bytes) -> None:
        self._hold(received)

    def feed(self, data: bytes) -> bytes:
        """Takes what belongs to the body; returns the rest (a pipelined next request)."""
        if self.future.done():  # complete (or refused); its request has not resumed yet
            return data
        taken = data[: self._missing]
        self._hold(taken)
        return data[len(taken) :]

    def _hold(self, piece: bytes) -> None:
        if not piece:
            return
        if not self._reservation.add_bytes(len(piece)):
            self.future.set_exception(overloaded(self._retry_after_s))
            return
        self._parts.append(piece)
        self._missing -= len(piece)
        if self._missing == 0:
            self.future.set_result(b"".join(self._parts))

    def fail(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)


class FastLane(asyncio.Protocol):
    """One connection: serves the lane's requests, hands the connection to aiohttp at the first other."""

    def __init__(self, context: LaneContext, aiohttp_protocol: Callable[[], RequestHandler]) -> None:
        self._context = context
        self._aiohttp_protocol = aiohttp_protocol
        self._transport: asyncio.Transport | None = None
        # Received bytes; those before _start are consumed. An offset, not a slice per request: a client
        # pipelining many requests would otherwise have the rest of its bytes copied once per request.
        self._buffer = b""
        self._start = 0
        # How far the buffer was searched for the end of the next head: a head trickled in many reads
        # is searched once over, not once per read.
        self._scanned = 0
        self._request: _Request | None = None  # the request being answered
        # The last head parsed and its fields: a keep-alive client sends the same head request after
        # request (parsing it cost about 5 us of a one-row request's 45, 2026-12).
        self._last_head = b""
        self._last_fields: _Fields | None = None
        self._body_read = False
        self._body: _BodyWait | None = None
        self._task: asyncio.Task[None] | None = None
        self._paused = False  # reading paused by _update_reading
        self._write_paused = False  # the transport's write buffer is over its high-water mark
        self._closed = False  # closed, or handed to aiohttp: the connection is no longer this lane's
        self.waiting_since: float | None = None

    # ---- asyncio.Protocol ----

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport implements asyncio.Transport without deriving from it.
        self._transport = cast(asyncio.Transport, transport)
        self.waiting_since = time.monotonic()
        self._context.connections.lane_opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._context.connections.lane_closed(self)
        if self._body is not None:
            self._body.fail(BadRequest("request body was cut off: the connection closed", close=True))
        # An answer in progress still completes (its rows are scored); writing it is skipped.

    def data_received(self, data: bytes) -> None:
        if self._body is not None:
            data = self._body.feed(data)
            if not data:
                return
        if not self._buffer:
            self._buffer = data
            self._scanned = 0
        else:
            self._buffer = self._buffer[self._start :] + data
            self._scanned = max(self._scanned - self._start, 0)
            self._start = 0
        if self._request is not None:
            self._update_reading()
            return
        self._next()

    def pause_writing(self) -> None:
        # A client that sends requests but does not read its answers: no new request starts (and
        # reading pauses) until the answers already written drain, so they cannot pile up here.
        self._write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._update_reading()
        if self._request is None and self._unconsumed():
            asyncio.get_running_loop().call_soon(self._next)

    def _update_reading(self) -> None:
        """Reading pauses while answers wait to drain, or while bytes of pipelined requests beyond
        _MAX_AHEAD wait for the current one; never while the current request's body is awaited."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        held = self._request is not None and self._unconsumed() > _MAX_AHEAD
        pause = self._body is None and (self._write_paused or held)
        if pause != self._paused:
            self._paused = pause
            if pause:
                transport.pause_reading()
            else:
                transport.resume_reading()

    def close(self) -> None:
        """Closes the connection (idle, at the cap, or at shutdown); an answer in progress is cancelled."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self._transport is not None:
            self._transport.close()

    # ---- requests ----

    def _next(self) -> None:
        """At a request boundary: start the next request, wait for its head, or hand over."""
        if self._closed or self._request is not None or self._write_paused:
            return  # resume_writing calls again
        buffer, start = self._buffer, self._start
        # Only bytes not searched yet (and the 3 before them, where an end may have begun).
        since = max(start, self._scanned - 3)
        end = buffer.find(b"\r\n\r\n", since)
        if end < 0:
            self._scanned = len(buffer)
            # Too long for a head, or ended the lenient way (a bare LF): aiohttp's parser decides.
            if (
                len(buffer) - start > _MAX_HEAD
                or buffer.find(b"\n\n", since) >= 0
                or buffer.find(b"\n\r\n", since) >= 0
            ):
                self._hand_over()
            return
        context = self._context
        head = buffer[start:end]
        if head == self._last_head:  # the previous request's head again: its fields as they were
            fields: _Fields | None = self._last_fields
        else:
            fields = _parse_fields(head)
            if fields is not None:
                self._last_head, self._last_fields = head, fields
        # The protocols are asked every time (readiness and request ids are per request).
        request = None if fields is None else _match(fields, context.routes)
        if request is None or (request.close and len(buffer) > end + 4 + request.length):
            # Bytes after a request that closes the connection are aiohttp's to refuse.
            self._hand_over()
            return
        self._consume(end + 4 - start)
        self._request = request
        self._body_read = False
        self.waiting_since = None
        # Eager: the request runs at once, up to its first real wait (the batcher), without a loop turn.
        self._task = asyncio.Task(self._serve(request), loop=asyncio.get_running_loop(), eager_start=True)

    def _hand_over(self) -> None:
        """This connection is aiohttp's from now on, starting with every byte not yet consumed."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        self._closed = True
        context = self._context
        context.connections.lane_closed(self)
        context.observer.metrics.lane_handovers.inc()
        protocol = self._aiohttp_protocol()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if self._paused:  # aiohttp's protocol manages reading from here on
            self._paused = False
            transport.resume_reading()
        rest = self._take(self._unconsumed())
        if rest:
            protocol.data_received(rest)

    def _unconsumed(self) -> int:
        return len(self._buffer) - self._start

    def _consume(self, count: int) -> None:
        self._start += count
        if self._start >= len(self._buffer):
            self._buffer, self._start, self._scanned = b"", 0, 0

    def _take(self, count: int) -> bytes:
        """The next `count` unconsumed bytes (no copy when they are the whole buffer)."""
        buffer, start = self._buffer, self._start
        piece = buffer if start == 0 and count == len(buffer) else buffer[start : start + count]
        self._consume(count)
        return piece

    async def _read_body(self, reservation: Reservation) -> bytes:
        """The request's body under the reservation, the size limit and the read timeout (scoring.core.body's
        rules for a body without Content-Encoding)."""
        request = self._request
        assert request is not None
        settings = self._context.pipeline.settings
        length = request.length
        if length > settings.max_body_bytes:
            raise too_large(length, settings.max_body_bytes)
        if not reservation.fits(length):
            raise overloaded(settings.retry_after_s)
        self._body_read = True
        if self._unconsumed() >= length:  # the whole body came with the head (every small request)
            if not reservation.add_bytes(length):
                raise overloaded(settings.retry_after_s)
            return self._take(length)
        waiter = _BodyWait(length, reservation, settings.retry_after_s)
        received = self._take(self._unconsumed())
        reservation.set_arriving(True)
        timer = asyncio.get_running_loop().call_later(
            settings.body_read_timeout_s,
            waiter.fail,
            RequestTimeout(
                f"request body not received within {settings.body_read_timeout_s:g} s (BODY_READ_TIMEOUT_S)",
                close=True,
            ),
        )
        try:
            self._body = waiter
            waiter.start(received)
            self._update_reading()
            return await waiter.future
        finally:
            self._body = None
            timer.cancel()
            reservation.set_arriving(False)
            # A failed wait's error holds this frame (its traceback) and the waiter's future holds the
            # error: without this the cycle, and the body parts received, would wait for the collector.
            del waiter

    async def _serve(self, request: _Request) -> None:
        exchange = request.exchange
        exchange.read_body = self._read_body
        answer: Answer | None = None
        try:
            # The protocol answers, refusals and failures included, and the request is recorded
            # (scoring/core/serving.py), its log line held until the turn's answers are sent (_Outbox),
            # which writes it before them: a client that got its answer finds its log line. The lane
            # only writes the bytes.
            answer = await self._context.observer.serve(exchange, held=True)
        except Exception:  # a bug in a protocol's hooks: no answer can be trusted, so none is written
            log.exception("unhandled error on POST %s", request.path)
        data: bytes | None = None
        if answer is None:
            close = True
        else:
            close = answer.close or request.close or not self._skip_unread_body()
            try:
                data = _response(answer.status, answer.body, answer.headers, close)
            except Exception:  # nothing may leave the connection without its next request being read
                log.exception("could not write the answer to POST %s", request.path)
                close = True
        transport = self._transport
        if transport is not None:
            # The answer goes out at the end of this loop turn, with the others of the turn.
            self._context.outbox.send(transport, None if self._closed else data, close)
        self._done(close)

    def _skip_unread_body(self) -> bool:
        """Whether the connection can go on: the body was read, or it is all here and is dropped."""
        request = self._request
        if self._body_read or request is None:
            return True
        if self._unconsumed() >= request.length:
            self._consume(request.length)
            return True
        return False

    def _done(self, close: bool) -> None:
        self._request = None
        self._task = None
        transport = self._transport
        if transport is None:
            return
        if close or self._closed:
            self._closed = True  # the outbox closes the transport once the answer is written
            return
        self.waiting_since = time.monotonic()
        self._update_reading()
        if self._unconsumed():  # a pipelined request: started from the loop, not from inside this task
            asyncio.get_running_loop().call_soon(self._next)
