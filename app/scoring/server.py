"""Assembles the public application: the two protocol modules' routes, the typed state they read, and
one middleware that observes every request (request id, in-flight count, metrics, one JSON log line)
and maps typed errors to JSON (Azure ML's routes map theirs in scoring.azureml_http's middleware). No route logic lives here; /metrics is served on its own port.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import TYPE_CHECKING

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from scoring import azureml, azureml_http, v2
from scoring.azureml_contract import analyze_run
from scoring.connections import Connections
from scoring.errors import json_errors
from scoring.keys import MODEL_NAME, PIPELINE, SWAGGER
from scoring.logs import RequestLog
from scoring.metrics import GAUGE_SAMPLE_S, Metrics
from scoring.pipeline import Pipeline
from scoring.swagger import openapi_document

if TYPE_CHECKING:  # imported only where telemetry is on (scoring/__main__.py): it pulls in OpenTelemetry
    from scoring.tracing import RequestTracer

log = logging.getLogger("scoring")

# Accepted from the client (Azure ML's and the common spelling), else generated; always answered.
REQUEST_ID_HEADERS = ("x-request-id", "x-ms-client-request-id")
_MAX_REQUEST_ID = 128


def _request_id(request: web.Request) -> str:
    for name in REQUEST_ID_HEADERS:
        given = request.headers.get(name)
        # Only printable ASCII travels back in a header and into the log unchanged.
        if given and len(given) <= _MAX_REQUEST_ID and given.isascii() and given.isprintable():
            return given
    return uuid.uuid4().hex


class Observer:
    """Per-request bookkeeping shared by all routes, and the in-flight count the drain waits on."""

    def __init__(
        self,
        metrics: Metrics,
        connections: Connections,
        request_log: RequestLog | None,
        tracer: RequestTracer | None = None,
    ) -> None:
        self.metrics = metrics
        self.connections = connections
        # None when LOG_REQUESTS=false.
        self.request_log = request_log
        # None unless request telemetry is on (scoring/tracing.py).
        self.tracer = tracer
        self.in_flight = 0

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 499  # stays so when the client goes away and aiohttp cancels the handler
        request_id: str | None = None
        protocol = request.protocol
        self.in_flight += 1
        self.connections.started(protocol)
        try:
            response = await json_errors(request, handler)
            status = response.status
            if not azureml_http.answered_ids(request):  # Azure ML's routes carry Azure ML's ids
                request_id = _request_id(request)
                response.headers["x-request-id"] = request_id
            return response
        finally:
            self.in_flight -= 1
            self.connections.finished(protocol)
            elapsed = time.perf_counter() - started
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else "unmatched"
            metrics = self.metrics
            metrics.request_done(route, status, elapsed)
            reason = request.get("reason")
            if isinstance(reason, str):
                metrics.rejected.labels(reason).inc()
            if self.request_log is not None or self.tracer is not None:
                self._report(request, route, status, elapsed, request_id)

    def _report(self, request: web.Request, route: str, status: int, elapsed: float, request_id: str | None) -> None:
        """The request's log line and its telemetry, each when on."""
        logged_id = azureml_http.logged_id(request) or request_id or _request_id(request)
        if self.request_log is not None:
            self.request_log.write(
                time.time(),
                {
                    "method": request.method,
                    "route": route,
                    "status": status,
                    "ms": round(elapsed * 1e3, 3),
                    "rows": request.get("rows", 0),
                    "request_id": logged_id,
                },
            )
        if self.tracer is not None:  # optional request telemetry (scoring/tracing.py)
            self.tracer.record(request, route, status, elapsed, logged_id)

    def sample_gauges(self, pipeline: Pipeline) -> None:
        admission = pipeline.admission
        self.metrics.sample_gauges(self.in_flight, admission.bytes, admission.rows)

    async def publish_gauges(self, pipeline: Pipeline) -> None:
        """Runs for the process's life: its gauges, once a second (scoring.metrics says why not per request)."""
        while True:
            self.sample_gauges(pipeline)
            await asyncio.sleep(GAUGE_SAMPLE_S)


def build_app(pipeline: Pipeline, observer: Observer, model_name: str) -> web.Application:
    settings = pipeline.settings
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[observer.middleware, azureml_http.middleware],
    )
    app[PIPELINE] = pipeline
    app[MODEL_NAME] = model_name
    app[SWAGGER] = orjson.dumps(openapi_document(settings, pipeline.signature))
    azureml_http.setup_app(app, analyze_run(pipeline.entry.run))
    app.add_routes(azureml.routes)
    app.add_routes(v2.routes)
    return app


def build_metrics_app(metrics: Metrics, pipeline: Pipeline, observer: Observer) -> web.Application:
    """The metrics port's application: GET /metrics only (scraped from inside the cluster)."""

    async def metrics_text(request: web.Request) -> web.Response:
        observer.sample_gauges(pipeline)
        return web.Response(body=metrics.render(), headers={"Content-Type": metrics.content_type})

    app = web.Application()
    app.router.add_get("/metrics", metrics_text)
    return app
