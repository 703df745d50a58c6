"""The listening socket and the connections on it: SO_REUSEPORT for one process per core, the open-file
limit raised to its hard limit, and headroom kept so the probes always connect.

Idle and header timeouts are aiohttp's keep-alive timer (IDLE_TIMEOUT_S): since aiohttp 3.14 it runs
from the moment a connection opens and is not reset by incoming bytes, so a connection that sends
nothing, or trickles its request head, is closed when it expires, as is an idle keep-alive one.
"""

from __future__ import annotations

import asyncio
import logging
import resource

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from scoring.metrics import Metrics

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


class Connections:
    """Tracks which connections have a request in progress, and closes idle ones when at the cap."""

    def __init__(self, cap: int, metrics: Metrics) -> None:
        self.cap = cap
        self._metrics = metrics
        # id() of each handler with a request in progress (RequestHandler has __slots__, no weak references).
        self._busy: set[int] = set()

    def started(self, protocol: RequestHandler | None) -> None:
        if protocol is not None:
            self._busy.add(id(protocol))

    def finished(self, protocol: RequestHandler | None) -> None:
        if protocol is not None:
            self._busy.discard(id(protocol))

    def make_room(self, server: web.Server) -> None:
        """Called as a connection is accepted: at the cap, the oldest idle connection is closed."""
        # aiohttp keeps a closed connection listed until its handler task ends: count open ones only.
        live = [h for h in server.connections if h.transport is not None and not h.transport.is_closing()]
        if len(live) < self.cap:
            return
        for handler in live:  # oldest first
            if id(handler) not in self._busy:
                handler.force_close()
                self._metrics.connections_closed.labels("fd_headroom").inc()
                return


class ReusePortSite(web.BaseSite):
    """A TCP site whose protocol factory keeps FD headroom, optionally with SO_REUSEPORT."""

    __slots__ = ("_connections", "_host", "_port", "_reuse_port")

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        connections: Connections,
        *,
        reuse_port: bool,
        backlog: int = 1024,
    ) -> None:
        super().__init__(runner, backlog=backlog)
        self._host = host
        self._port = port
        self._connections = connections
        self._reuse_port = reuse_port

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        connections = self._connections

        def factory() -> RequestHandler:
            connections.make_room(server)
            return server()

        self._server = await asyncio.get_running_loop().create_server(
            factory, self._host, self._port, backlog=self._backlog, reuse_address=True, reuse_port=self._reuse_port
        )
