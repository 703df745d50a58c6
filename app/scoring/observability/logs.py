"""Structured logs: one JSON object per line on stderr, for requests and lifecycle events alike.

A record's `extra` fields become keys of its line (event, method, route, status, ms, rows, request_id
...). Request lines never carry the key or the body.

Lifecycle events go through `logging` (JsonFormatter). Request lines, one per request on the hot
path, are written by `RequestLog` in the same shape without a LogRecord: building a record, finding
its caller and formatting it cost about 50 µs a line, as much as decoding a one-row body.
"""

from __future__ import annotations

import datetime
import logging
import sys
from typing import TextIO

import orjson

_STANDARD = set(vars(logging.makeLogRecord({})))


# (whole second, its "YYYY-MM-DDTHH:MM:SS" text): formatting a datetime per line showed in the one-row
# request profile (2026-12); one tuple, so a thread never reads one second's text with another's number.
_second_text: tuple[int, str] = (-1, "")


def _iso_time(created: float) -> str:
    """created (a time.time()) as datetime.isoformat(timespec="milliseconds") in UTC writes it."""
    global _second_text
    second = int(created)
    micros = round((created - second) * 1e6)
    if micros >= 1_000_000:  # rounded up into the next second, as datetime.fromtimestamp rounds
        second, micros = second + 1, 0
    cached_second, text = _second_text
    if cached_second != second:
        text = datetime.datetime.fromtimestamp(second, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second_text = (second, text)
    return f"{text}.{micros // 1000:03d}+00:00"


def _line(created: float, level: str, logger: str, message: str) -> dict[str, object]:
    """The keys every line starts with, in this order; the record's own fields follow."""
    return {
        "time": _iso_time(created),
        "level": level,
        "logger": logger,
        "message": message,
    }


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = _line(record.created, record.levelname.lower(), record.name, record.getMessage())
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class RequestLog:
    """The per-request line, {"time", "level": "info", "logger": "scoring.access", "message": "request",
    "event": "request", ...fields}, as JsonFormatter writes it for the `scoring.access` logger, written
    before the response is sent (so a client that got its answer finds its line).

    A transport that sends its answers in groups (the fast lane, once per event-loop turn) has its
    lines held (`held=True`) and written in one call by `flush` just before those answers: one system
    call per turn instead of one per request (about 2 us each to a file, more to a pipe, 2026-12). A
    line written without `held` goes out at once, after any held ones, so lines keep their order."""

    LOGGER = "scoring.access"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._held: list[bytes] = []

    def write(self, created: float, fields: dict[str, object], held: bool = False) -> None:
        line = {
            "time": _iso_time(created),
            "level": "info",
            "logger": self.LOGGER,
            "message": "request",
            "event": "request",
            **fields,
        }
        data = orjson.dumps(line, default=str, option=orjson.OPT_APPEND_NEWLINE)
        if held:
            self._held.append(data)
            return
        if self._held:
            self._held.append(data)
            self.flush()
            return
        self._emit(data)

    def flush(self) -> None:
        """Writes the held lines."""
        if self._held:
            data = b"".join(self._held)
            self._held.clear()
            self._emit(data)

    def _emit(self, data: bytes) -> None:
        stream = self._stream or sys.stderr
        # Bytes straight to stderr's buffer when it has one: the text layer's decode and encode cost per
        # line too. Every write is flushed whole, so it never interleaves with the logging module's lines.
        binary = getattr(stream, "buffer", None) if self._stream is None else None
        try:
            if binary is not None:
                binary.write(data)
                binary.flush()
            else:
                stream.write(data.decode())
                stream.flush()
        except (OSError, ValueError):  # stderr closed or gone: a lost log line must not fail a request
            pass
