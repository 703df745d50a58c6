"""The protocols this server speaks, registered once, and aiohttp as one of their transports.

`protocols` lists every protocol unit (scoring/core/exchange.py `ProtocolUnit`); adding a protocol is
its module plus one line there. aiohttp's application serves every route of every protocol through
the same handlers as the fast lane (scoring/transport/fast_lane.py, which takes `lane_routes`): this
module only adapts an aiohttp request to an `Exchange` and the `Answer` back to a web.Response;
scoring/core/serving.py runs the handler, maps its errors through the protocol and records the
request. /metrics is served on its own port.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from multidict import CIMultiDict

from scoring.core.admission import Reservation
from scoring.core.body import read_body
from scoring.core.exchange import Answer, Exchange, ProtocolUnit, Route
from scoring.core.pipeline import Pipeline
from scoring.core.serving import UNMATCHED
from scoring.core.settings import Settings
from scoring.model.script_contract import analyze_run
from scoring.observability.metrics import Metrics
from scoring.protocols import azureml, azureml_http, v2
from scoring.protocols.swagger import OwnDocument
from scoring.transport.observer import Observer

PROTOCOLS = web.AppKey("protocols", tuple[ProtocolUnit, ...])


def protocols(pipeline: Pipeline, model_name: str) -> tuple[ProtocolUnit, ...]:
    """Every protocol of this server, each once. The first is the default: it answers a request that
    matched no route. Each contributes its own paths to the OpenAPI document."""
    document = OwnDocument(pipeline.settings)
    run = analyze_run(pipeline.entry.run)
    registered: tuple[ProtocolUnit, ...] = (
        azureml.AzureMLProtocol(pipeline, azureml_http.setup(run, os.environ, Path.cwd()), document.body),
        v2.V2Protocol(pipeline, model_name),
    )
    document.compose(registered)
    return registered


class _Peer:
    """Where an aiohttp request came in (scoring.core.exchange.Peer), read only when asked."""

    __slots__ = ("_request",)

    def __init__(self, request: web.Request) -> None:
        self._request = request

    @property
    def scheme(self) -> str:
        return self._request.scheme

    @property
    def host(self) -> str:
        return self._request.host

    @property
    def remote(self) -> str | None:
        return self._request.remote

    def server(self) -> tuple[str, int]:
        transport = self._request.transport
        sockname = transport.get_extra_info("sockname") if transport is not None else None
        if isinstance(sockname, tuple) and len(sockname) >= 2:
            return str(sockname[0]), int(sockname[1])
        return "localhost", 80


def _response(answer: Answer) -> web.Response:
    response = web.Response(status=answer.status, body=answer.body, headers=CIMultiDict(answer.headers))
    if answer.close:
        response.force_close()
    return response


def _exchange(protocol: ProtocolUnit, route: Route, request: web.Request, settings: Settings) -> Exchange:
    """The aiohttp request as the neutral request; route.path is its metrics label."""
    path, _, query = request.raw_path.partition("?")

    def read(reservation: Reservation) -> Awaitable[bytes]:
        s = settings
        return read_body(request, reservation, s.max_body_bytes, s.body_read_timeout_s, s.retry_after_s)

    params = request.match_info
    return Exchange(
        protocol,
        route.handler,
        route.path,
        request.method,
        path,
        request.headers,
        query=query,
        params=dict(params) if params else None,
        read_body=read,
        peer=_Peer(request),
    )


def _handler(observer: Observer, protocol: ProtocolUnit, route: Route, settings: Settings) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        return _response(await observer.serve(_exchange(protocol, route, request, settings)))

    return handle


async def _unrouted(exchange: Exchange) -> Answer:
    """The handler of a request no route matched: never called (serve_unmatched answers it)."""
    raise AssertionError(f"no route for {exchange.method} {exchange.path}")


def _middleware(observer: Observer, default: ProtocolUnit, settings: Settings) -> Middleware:
    connections = observer.connections
    no_route = Route("", UNMATCHED, _unrouted)  # the label of every request no route matched

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        protocol = request.protocol
        connections.started(protocol)  # busy: not closed as idle while answered
        try:
            missing = request.match_info.http_exception
            if missing is None:
                return await handler(request)
            # No route matched: the default protocol's 404 or 405.
            exchange = _exchange(default, no_route, request, settings)
            allow = missing.headers.get("Allow") if missing.status == 405 else None
            return _response(await observer.serve_unmatched(exchange, missing.status, allow))
        finally:
            connections.finished(protocol)

    return middleware


def build_app(
    pipeline: Pipeline, observer: Observer, model_name: str, registered: tuple[ProtocolUnit, ...] | None = None
) -> web.Application:
    """aiohttp's application over `registered` (default: this server's `protocols`)."""
    settings = pipeline.settings
    if registered is None:
        registered = protocols(pipeline, model_name)
    app = web.Application(
        client_max_size=settings.max_body_bytes, middlewares=[_middleware(observer, registered[0], settings)]
    )
    app[PROTOCOLS] = registered
    for protocol in registered:
        for route in protocol.routes():
            handler = _handler(observer, protocol, route, settings)
            if route.method == "GET":  # HEAD too, as aiohttp's GET routes
                app.router.add_get(route.path, handler)
            else:
                app.router.add_route(route.method, route.path, handler)
    return app


def lane_routes(app: web.Application) -> tuple[ProtocolUnit, ...]:
    """The protocols, for the fast lane: each is asked whether a POST is its own (`lane_match`) and
    serves it through the same handlers and pipeline as build_app's routes."""
    return app[PROTOCOLS]


def build_metrics_app(metrics: Metrics, pipeline: Pipeline, observer: Observer) -> web.Application:
    """The metrics port's application: GET /metrics only (scraped from inside the cluster)."""

    async def metrics_text(request: web.Request) -> web.Response:
        observer.sample_gauges(pipeline)
        return web.Response(body=metrics.render(), headers={"Content-Type": metrics.content_type})

    app = web.Application()
    app.router.add_get("/metrics", metrics_text)
    return app
