"""What a transport hands a protocol and gets back, for the requests a transport frames itself (the
fast lane): transport-neutral, so a transport knows no protocol and a protocol no transport.

A protocol module offers `LaneRoutes`: given a request's raw path and headers it says whether the
request is one of its own (and what it is called in metrics and logs), and answers it. Everything a
client sees -- the body and error shapes, the request ids, the protocol's headers -- is decided by
the protocol; the transport writes `Answer.status`, `.headers` and `.body` as they are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from multidict import CIMultiDictProxy

from scoring.core.admission import Reservation

# Reads the request's body under the reservation (the transport's framing, the core's budget rules).
ReadBody = Callable[[Reservation], Awaitable[bytes]]
NoteRows = Callable[[int], None]


@dataclass(slots=True)
class Answer:
    status: int
    body: bytes
    headers: list[tuple[str, str]]
    close: bool = False  # the connection closes after this answer
    reason: str | None = None  # scoring_rejected_total's label, for a refusal


@dataclass(slots=True)
class Matched:
    """A request a protocol serves: its route (the metrics label), the id its answer and log line
    carry, and how to answer it."""

    route: str
    request_id: str
    answer: Callable[[ReadBody, NoteRows], Awaitable[Answer]]


class LaneRoutes(Protocol):
    def match(self, raw_path: bytes, headers: CIMultiDictProxy[str]) -> Matched | None:
        """The request, when it is this protocol's to answer on a transport's own path; None: not ours
        (another protocol's, or one the transport must hand to aiohttp)."""
        ...
