"""Per-request bookkeeping for both HTTP paths: the in-flight count the drain waits on, the request
metrics, one JSON log line and (when on) the request's telemetry span.

aiohttp's routes are observed by `Observer.middleware`; the scoring fast lane (scoring/transport/fast_lane.py)
calls `Observer.finished` itself. Both write the same metrics and the same line, so a reader of the
logs or dashboards cannot tell which path answered.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Handler

from scoring.core.errors import json_errors
from scoring.core.pipeline import Pipeline
from scoring.core.request_ids import request_id
from scoring.observability.deployment import ModelDeployment
from scoring.observability.logs import RequestLog
from scoring.observability.metrics import GAUGE_SAMPLE_S, Metrics
from scoring.protocols import azureml_http
from scoring.transport.connections import Connections

if TYPE_CHECKING:  # imported only where telemetry is on (scoring/__main__.py): it pulls in OpenTelemetry
    from scoring.observability.tracing import RequestTracer


class Observer:
    def __init__(
        self,
        metrics: Metrics,
        connections: Connections,
        request_log: RequestLog | None,
        tracer: RequestTracer | None = None,
        deployment: ModelDeployment | None = None,
    ) -> None:
        self.metrics = metrics
        # Headers on every answer of both paths (which model deployment answered) and the log line's fields.
        self.answer_headers: list[tuple[str, str]] = deployment.headers() if deployment else []
        self._log_fields: dict[str, str] = deployment.log_fields() if deployment else {}
        self.connections = connections
        # None when LOG_REQUESTS=false.
        self.request_log = request_log
        # None unless request telemetry is on (scoring/observability/tracing.py).
        self.tracer = tracer
        self.in_flight = 0

    def finished(
        self,
        method: str,
        route: str,
        status: int,
        elapsed: float,
        rows: int,
        request_id: str,
        reason: str | None,
        held: bool = False,
    ) -> None:
        """One answered request: its metrics and log line (telemetry: `traced`, when a tracer is set).
        held: the line waits for the transport's `request_log.flush()` before its answer is sent."""
        metrics = self.metrics
        metrics.request_done(route, status, elapsed)
        if reason is not None:
            metrics.rejected.labels(reason).inc()
        if self.request_log is not None:
            self.request_log.write(
                time.time(),
                {
                    "method": method,
                    "route": route,
                    "status": status,
                    "ms": round(elapsed * 1e3, 3),
                    "rows": rows,
                    "request_id": request_id,
                    **self._log_fields,
                },
                held,
            )

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 499  # stays so when the client goes away and aiohttp cancels the handler
        answered_id: str | None = None
        protocol = request.protocol
        self.in_flight += 1
        self.connections.started(protocol)
        try:
            response = await json_errors(request, handler)
            status = response.status
            if not azureml_http.answered_ids(request):  # Azure ML's routes carry Azure ML's ids
                answered_id = request_id(request.headers)
                response.headers["x-request-id"] = answered_id
            for name, value in self.answer_headers:
                response.headers[name] = value
            return response
        finally:
            self.in_flight -= 1
            self.connections.finished(protocol)
            elapsed = time.perf_counter() - started
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else "unmatched"
            logged_id = ""  # read only by the log line and the span
            if self.request_log is not None or self.tracer is not None:
                logged_id = azureml_http.logged_id(request) or answered_id or request_id(request.headers)
            reason = request.get("reason")
            rows = int(request.get("rows", 0))
            self.finished(request.method, route, status, elapsed, rows, logged_id, reason)
            if self.tracer is not None:
                self.tracer.record(
                    request.method,
                    route,
                    status,
                    elapsed,
                    logged_id,
                    scheme=request.scheme,
                    host=request.host,
                    path=request.path,
                    rows=rows,
                    headers=request.headers,
                )

    def sample_gauges(self, pipeline: Pipeline) -> None:
        admission = pipeline.admission
        self.metrics.sample_gauges(self.in_flight, admission.bytes, admission.rows)

    async def publish_gauges(self, pipeline: Pipeline) -> None:
        """Runs for the process's life: its gauges, once a second (scoring.observability.metrics says why not per request)."""
        while True:
            self.sample_gauges(pipeline)
            await asyncio.sleep(GAUGE_SAMPLE_S)
