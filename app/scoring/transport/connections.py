"""The listening socket and the connections on it: SO_REUSEPORT for one process per core, the open-file
limit raised to its hard limit, and headroom kept so the probes always connect.

Every connection starts on the scoring fast lane (scoring/transport/fast_lane.py) unless FAST_LANE=false; one the
lane hands over is served by aiohttp's protocol from then on. Both kinds are counted against the cap.

Idle and header timeouts (IDLE_TIMEOUT_S): on aiohttp's connections, its keep-alive timer, which since
aiohttp 3.14 runs from the moment a connection opens and is not reset by incoming bytes; on the lane's,
`sweep_idle`, with the same rule. So a connection that sends nothing, or trickles its request head, is
closed when the timeout expires, as is an idle keep-alive one.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections.abc import Callable
from typing import Protocol

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from scoring.observability.metrics import Metrics

log = logging.getLogger("scoring")

# File descriptors kept free beyond the connection cap: the metrics port, model files, the GPU
# driver, log files, and the probe that must still be accepted when clients hold everything else.
FD_HEADROOM = 64


def raise_open_file_limit() -> int:
    """Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the connections to allow."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit from %d to %d: %s", soft, hard, exc)
    limit = soft if soft != resource.RLIM_INFINITY else 1 << 20
    return max(16, limit - FD_HEADROOM)


class LaneConnection(Protocol):
    """What the connection bookkeeping needs from a fast-lane connection."""

    @property
    def waiting_since(self) -> float | None:
        """time.monotonic() since which it waits for a request head; None while it answers one."""
        ...

    def close(self) -> None: ...


class Connections:
    """Tracks which connections have a request in progress, closes idle ones when at the cap, and
    closes the fast lane's idle and trickling ones (aiohttp times out its own)."""

    def __init__(self, cap: int, metrics: Metrics, idle_timeout_s: float = 15.0) -> None:
        self.cap = cap
        self.idle_timeout_s = idle_timeout_s
        self._metrics = metrics
        # id() of each aiohttp handler with a request in progress (RequestHandler has __slots__, no weak references).
        self._busy: set[int] = set()
        # The fast lane's open connections, oldest first (a dict keeps insertion order).
        self._lanes: dict[LaneConnection, None] = {}

    def started(self, protocol: RequestHandler | None) -> None:
        if protocol is not None:
            self._busy.add(id(protocol))

    def finished(self, protocol: RequestHandler | None) -> None:
        if protocol is not None:
            self._busy.discard(id(protocol))

    def lane_opened(self, lane: LaneConnection) -> None:
        self._lanes[lane] = None

    def lane_closed(self, lane: LaneConnection) -> None:
        """The lane's connection closed, or was handed to aiohttp (which counts it from then on)."""
        self._lanes.pop(lane, None)

    def make_room(self, server: web.Server) -> None:
        """Called as a connection is accepted: at the cap, the oldest idle connection is closed."""
        if len(self._lanes) + len(server.connections) < self.cap:
            return
        # aiohttp keeps a closed connection listed until its handler task ends: count open ones only.
        live = [h for h in server.connections if h.transport is not None and not h.transport.is_closing()]
        if len(self._lanes) + len(live) < self.cap:
            return
        for lane in self._lanes:  # oldest first; every connection starts on the lane
            if lane.waiting_since is not None:
                self._close_lane(lane, "fd_headroom")
                return
        for handler in live:
            if id(handler) not in self._busy:
                handler.force_close()
                self._metrics.connections_closed.labels("fd_headroom").inc()
                return

    def sweep_idle(self) -> None:
        """Closes the lane's connections that have waited IDLE_TIMEOUT_S for a complete request head."""
        deadline = time.monotonic() - self.idle_timeout_s
        expired = [lane for lane in self._lanes if (since := lane.waiting_since) is not None and since < deadline]
        for lane in expired:
            self._close_lane(lane, "idle")

    async def sweep_forever(self) -> None:
        """Runs for the process's life: `sweep_idle` a few times per timeout (at most once a second)."""
        interval = min(1.0, self.idle_timeout_s / 4)
        while True:
            await asyncio.sleep(interval)
            self.sweep_idle()

    def close_lanes(self) -> None:
        """At shutdown, after the drain: the lane's connections close (aiohttp closes its own)."""
        for lane in list(self._lanes):
            lane.close()
        self._lanes.clear()

    def _close_lane(self, lane: LaneConnection, reason: str) -> None:
        self._lanes.pop(lane, None)
        lane.close()
        self._metrics.connections_closed.labels(reason).inc()


# Given the factory of aiohttp's protocol, the protocol a new connection starts with (the fast lane's).
LaneFactory = Callable[[Callable[[], RequestHandler]], asyncio.Protocol]


class ReusePortSite(web.BaseSite):
    """A TCP site whose protocol factory keeps FD headroom, optionally with SO_REUSEPORT, and starts
    each connection on the fast lane when one is given."""

    __slots__ = ("_connections", "_host", "_lane", "_port", "_reuse_port")

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        connections: Connections,
        *,
        reuse_port: bool,
        lane: LaneFactory | None = None,
        backlog: int = 1024,
    ) -> None:
        super().__init__(runner, backlog=backlog)
        self._host = host
        self._port = port
        self._connections = connections
        self._reuse_port = reuse_port
        self._lane = lane

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        connections = self._connections
        lane = self._lane

        def factory() -> asyncio.Protocol:
            connections.make_room(server)
            return server() if lane is None else lane(server)

        self._server = await asyncio.get_running_loop().create_server(
            factory, self._host, self._port, backlog=self._backlog, reuse_address=True, reuse_port=self._reuse_port
        )
