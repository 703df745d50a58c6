"""What a transport hands a protocol and gets back: transport-neutral, so a transport knows no
protocol and a protocol no transport.

A protocol (scoring/protocols/) is one `ProtocolUnit`: its routes (`Route`: method, path template,
handler), its request ids and the headers every one of its answers carries (`begin` / `finish`), and
its error shape (`error_answer` for every typed error, `internal_error` for the 500 fallback). A
transport turns the bytes of a request into an `Exchange`, hands it to `Serving.serve`
(scoring/core/serving.py), which runs the handler and maps what it raises through the protocol, and
writes `Answer.status`, `.headers` and `.body` as they are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from multidict import CIMultiDictProxy

from scoring.core.admission import Reservation
from scoring.core.errors import ServiceError

# Reads the request's body under the reservation (the transport's framing, the core's budget rules).
ReadBody = Callable[[Reservation], Awaitable[bytes]]


@dataclass(slots=True)
class Answer:
    status: int
    body: bytes
    headers: list[tuple[str, str]]
    close: bool = False  # the connection closes after this answer
    reason: str | None = None  # scoring_rejected_total's label, for a refusal


class Peer(Protocol):
    """Where a request came in, for the rare handler that hands it on (Azure ML's @rawhttp run())."""

    @property
    def scheme(self) -> str: ...

    @property
    def host(self) -> str: ...

    @property
    def remote(self) -> str | None: ...

    def server(self) -> tuple[str, int]: ...


async def _no_body(reservation: Reservation) -> bytes:
    return b""


class Exchange:
    """One request, as every transport gives it: method, path, raw query, headers, the route's
    parameters, and how to read the body. `route` (the matched route's template, the metrics label),
    `request_id` (set by the protocol's `begin`) and `rows` (set by the handler) are what the
    bookkeeping records. A plain slotted class: a dataclass's __init__ costs more a request."""

    __slots__ = (
        "handler",
        "headers",
        "method",
        "params",
        "path",
        "peer",
        "query",
        "read_body",
        "request_id",
        "route",
        "rows",
        "state",
        "unit",
    )

    def __init__(
        self,
        unit: ProtocolUnit,
        handler: Handler,
        route: str,
        method: str,
        path: str,
        headers: CIMultiDictProxy[str],
        *,
        query: str = "",
        params: Mapping[str, str] | None = None,
        read_body: ReadBody = _no_body,
        peer: Peer | None = None,
    ) -> None:
        self.unit = unit
        self.handler = handler
        self.route = route
        self.method = method
        self.path = path
        self.headers = headers
        self.query = query
        self.params = params
        self.read_body = read_body
        self.peer = peer
        self.request_id = ""
        self.rows = 0
        self.state: Any = None  # the protocol's own, between begin and finish (Azure ML's ids)


Handler = Callable[[Exchange], Awaitable[Answer]]


@dataclass(frozen=True, slots=True)
class Route:
    """One of a protocol's routes: aiohttp's path template syntax ({name} is one segment)."""

    method: str
    path: str
    handler: Handler


class ProtocolUnit(Protocol):
    """A protocol, registered once (scoring/transport/server.py `protocols`)."""

    def routes(self) -> Sequence[Route]:
        """Every route of the protocol, served by every transport that serves the path."""
        ...

    def begin(self, exchange: Exchange) -> Answer | None:
        """Before the handler: sets exchange.request_id; an Answer refuses the request at once."""
        ...

    def error_answer(self, error: ServiceError) -> Answer:
        """A typed error as this protocol's error answer (with the error's headers, close, reason)."""
        ...

    def internal_error(self) -> Answer:
        """The answer to a handler that failed unexpectedly (the traceback goes to the log)."""
        ...

    def finish(self, exchange: Exchange, answer: Answer) -> None:
        """After the handler, on every answer of a route of this protocol: its ids and headers."""
        ...

    def unmatched(self, status: int, allow: str | None) -> Answer:
        """The default protocol's answer to a request no route matched: 404, or 405 with `Allow`."""
        ...

    def lane_match(self, raw_path: bytes, headers: CIMultiDictProxy[str]) -> Exchange | None:
        """The POST request, when it is this protocol's to serve on a transport's own path (the fast
        lane); None: not ours (another protocol's, or one the transport must hand to aiohttp)."""
        ...

    def openapi(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """This protocol's OpenAPI 3 paths and component schemas (scoring/protocols/swagger.py composes them)."""
        ...
