"""Optional request telemetry: one OpenTelemetry server span per request, exported to Application
Insights (where it becomes a row of the `requests` table), as Azure ML's inference server sends one per
scoring request when App Insights is on.

Off unless the settings carry a Telemetry (scoring/core/settings.py: APPLICATIONINSIGHTS_CONNECTION_STRING, or
Azure ML's AML_APP_INSIGHTS_ENABLED + AML_APP_INSIGHTS_KEY). Off, this module is not even imported and
the request path pays one `is None` test. On, each finished request (from either HTTP path,
scoring/transport/observer.py) goes to `RequestTracer.record`, which builds the span after the fact (start and
end from the measured latency) and queues it; a BatchSpanProcessor's own thread exports batches, so the
event loop never waits for the network. The drain ends with `close`, which flushes what is queued within a bounded time.

What a span carries: the method and route template, the status, the latency, the rows scored, the
request id the client saw (Azure ML's "Request Id" / "Client Request Id" properties, so the same Log
Analytics queries work on both servers), the URL without its query, and the caller's
W3C `traceparent` when it sent one. Never the key, the body, the query string (a GET /score carries its
input there) or the response: Azure ML's server logs the response by default
(APP_INSIGHTS_LOG_RESPONSE_ENABLED), this one never does.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import threading
import time
from collections.abc import Mapping

from azure.monitor.opentelemetry.exporter import AzureMonitorTraceExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from scoring.observability.telemetry import Telemetry

log = logging.getLogger("scoring")

# Export in batches every 5 s or every 512 spans, whichever comes first (Azure ML's client sends every
# 5 s or 100 items); hold at most 8192 spans while the endpoint is slow, then drop rather than grow.
_EXPORT_DELAY_MS = 5000
_EXPORT_BATCH = 512
_QUEUE_LIMIT = 8192
# One export attempt's network timeout, and how long the drain waits for the last batches: both well
# inside the pod's grace period (preStop + DRAIN_SECONDS + 10 s, components/rollout.ts).
_EXPORT_TIMEOUT_S = 5.0
_FLUSH_TIMEOUT_S = 5.0
# Client-chosen values copied into a span are cut to this length (Azure ML refuses request ids over 100).
_MAX_CLIENT_VALUE = 128
_MAX_PATH = 1024

# The exporter's attribute for the sampling percentage (azure-monitor-opentelemetry-exporter 1.0.0b40,
# _constants.py _SAMPLE_RATE_KEY): the request item's sampleRate, from which Application Insights
# extrapolates counts (itemCount).
_SAMPLE_RATE_ATTRIBUTE = "_MS.sampleRate"

_propagator = TraceContextTextMapPropagator()


def _quiet_exporter_logs() -> None:
    # At INFO the exporter logs every batch ("Transmission succeeded") and azure-core every HTTP
    # request and response; on stderr those would land in ContainerLogV2 once per batch and bill twice.
    for name in ("azure.monitor.opentelemetry.exporter", "azure.core.pipeline.policies.http_logging_policy"):
        logging.getLogger(name).setLevel(logging.WARNING)


class RequestTracer:
    """Turns finished requests into server spans and exports them off the event loop."""

    def __init__(self, telemetry: Telemetry, worker: int | None, exporter: SpanExporter | None = None) -> None:
        _quiet_exporter_logs()
        host = socket.gethostname()  # the pod's name in Kubernetes: Azure ML's "Container Id"
        instance = host if worker is None else f"{host}/{worker}"
        resource = Resource.create({"service.name": telemetry.service_name, "service.instance.id": instance})
        # Sampling is decided in record(), before anything is built: the exporter's ApplicationInsightsSampler
        # hashes the trace id with fixed-width integer objects, measured at 400 us a request on this
        # project's 2-core test machine (2026-12), more than the whole request. A sampled-out request
        # costs one random() here. The decision is per request, not per trace: this server is the
        # first hop its callers' traces have in Application Insights.
        self._sample_ratio = telemetry.sample_ratio
        self._sample_rate = telemetry.sample_ratio * 100
        # No global provider: the server's spans are its own. shutdown_on_exit=False: close() shuts it down
        # within a bound; an atexit flush could hold a stopping pod past its grace period.
        self._provider = TracerProvider(sampler=ALWAYS_ON, resource=resource, shutdown_on_exit=False)
        if exporter is None:
            exporter = AzureMonitorTraceExporter(
                connection_string=telemetry.connection_string,
                tracer_provider=self._provider,
                # A read-only root filesystem, and no retry files to outlive the pod: what fails is dropped.
                disable_offline_storage=True,
                timeout=_EXPORT_TIMEOUT_S,
            )
        self._provider.add_span_processor(
            BatchSpanProcessor(
                exporter,
                max_queue_size=_QUEUE_LIMIT,
                schedule_delay_millis=_EXPORT_DELAY_MS,
                max_export_batch_size=_EXPORT_BATCH,
                export_timeout_millis=_EXPORT_TIMEOUT_S * 1000,
            )
        )
        self._tracer = self._provider.get_tracer("scoring")

    def record(
        self,
        method: str,
        route: str,
        status: int,
        elapsed_s: float,
        request_id: str,
        *,
        scheme: str,
        host: str,
        path: str,
        rows: int,
        headers: Mapping[str, str],
    ) -> None:
        """One finished request as a server span (called once the request is answered, never raises).
        `path` is without the query; `headers` are the request's (case-insensitive)."""
        if self._sample_ratio < 1.0 and random.random() >= self._sample_ratio:
            return
        try:
            end_ns = time.time_ns()
            # Each attribute costs the SDK about 2 us to copy and check: only what a reader of the
            # requests table needs. OpenTelemetry's HTTP semantic conventions (stable since 1.23) are the
            # names the exporter reads for the request item's name ("POST /score"), result code, success
            # and URL; "Request Id" and "Client Request Id" are Azure ML's custom dimensions
            # (azureml-inference-server-http 1.5.1, appinsights_client.py). Its "Container Id" is the
            # resource's service.instance.id here, which Application Insights shows as cloud_RoleInstance.
            attributes: dict[str, AttributeValue] = {
                "http.request.method": method,
                "http.route": route,
                "http.response.status_code": status,
                "url.full": f"{scheme}://{host[:_MAX_CLIENT_VALUE]}{path[:_MAX_PATH]}",
                "scoring.rows": rows,
                "Request Id": request_id,
            }
            if self._sample_ratio < 1.0:
                attributes[_SAMPLE_RATE_ATTRIBUTE] = self._sample_rate
            client_request_id = headers.get("x-ms-client-request-id")
            if client_request_id:
                attributes["Client Request Id"] = client_request_id[:_MAX_CLIENT_VALUE]
            span = self._tracer.start_span(
                f"{method} {route}",
                context=_propagator.extract(headers) if "traceparent" in headers else None,
                kind=SpanKind.SERVER,
                attributes=attributes,
                start_time=end_ns - int(elapsed_s * 1e9),
            )
            if status >= 500:  # server errors only: a 4xx is the client's (OpenTelemetry's HTTP server rule)
                span.set_status(Status(StatusCode.ERROR))
            span.end(end_time=end_ns)
        except Exception:  # telemetry must never fail a request or its log line
            log.exception("request telemetry failed", extra={"event": "telemetry_failed"})

    async def close(self) -> None:
        """Exports what is queued and stops the exporter thread, waiting at most _FLUSH_TIMEOUT_S."""
        # In a daemon thread of its own: the SDK's shutdown blocks, and asyncio's default executor would
        # make the process wait for it at exit even after we stop waiting here.
        done = threading.Event()

        def shut_down() -> None:
            try:
                self._provider.force_flush(int(_FLUSH_TIMEOUT_S * 1000))
                self._provider.shutdown()
            finally:
                done.set()

        threading.Thread(target=shut_down, name="telemetry-shutdown", daemon=True).start()
        until = time.monotonic() + _FLUSH_TIMEOUT_S + 1.0
        while not done.is_set() and time.monotonic() < until:
            await asyncio.sleep(0.02)
        if not done.is_set():
            log.warning("request telemetry not flushed in time", extra={"event": "telemetry_flush_timeout"})
