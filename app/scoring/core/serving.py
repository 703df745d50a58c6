"""Serving one request, the same for every transport and protocol: the handler runs, what it raises
becomes the protocol's answer (each protocol maps its errors in one place, `ProtocolUnit.error_answer`;
the 500 fallback is written here, once), and the request is recorded once: the in-flight count the
drain waits on, the request metrics, one JSON log line and (when on) its telemetry span.

A transport (the fast lane, aiohttp's adapter in scoring/transport/server.py) builds the `Exchange`,
calls `Serving.serve` and writes the `Answer`: a reader of the logs or dashboards cannot tell which
transport answered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from scoring.core.errors import ServiceError
from scoring.core.exchange import Answer, Exchange
from scoring.core.pipeline import Pipeline
from scoring.core.request_ids import request_id
from scoring.observability.deployment import ModelDeployment
from scoring.observability.logs import RequestLog
from scoring.observability.metrics import GAUGE_SAMPLE_S, Metrics

if TYPE_CHECKING:  # imported only where telemetry is on (scoring/__main__.py): it pulls in OpenTelemetry
    from scoring.observability.tracing import RequestTracer

log = logging.getLogger("scoring")

# The route label of a request no route matched.
UNMATCHED = "unmatched"


class Serving:
    def __init__(
        self,
        metrics: Metrics,
        request_log: RequestLog | None,
        tracer: RequestTracer | None = None,
        deployment: ModelDeployment | None = None,
    ) -> None:
        self.metrics = metrics
        # Headers on every answer (which model deployment answered) and the log line's fields.
        self.answer_headers: list[tuple[str, str]] = deployment.headers() if deployment else []
        self._log_fields: dict[str, str] = deployment.log_fields() if deployment else {}
        # None when LOG_REQUESTS=false.
        self.request_log = request_log
        # None unless request telemetry is on (scoring/observability/tracing.py).
        self.tracer = tracer
        self.in_flight = 0

    async def serve(self, exchange: Exchange, held: bool = False) -> Answer:
        """The request's answer, its protocol's refusals and failures included; recorded however it
        ends (a request cancelled because its client went away is recorded as 499 and re-raised).
        held: the log line waits for the transport's `request_log.flush()`, which the transport calls
        before it sends the answer (the fast lane, once per loop turn for all of the turn's answers)."""
        started = time.perf_counter()
        answer: Answer | None = None
        unit = exchange.unit
        self.in_flight += 1
        try:
            answer = unit.begin(exchange)
            if answer is None:
                try:
                    answer = await exchange.handler(exchange)
                except ServiceError as error:
                    answer = unit.error_answer(error)
                except Exception:
                    # Logged with the traceback for operators; the client learns only that it was not its fault.
                    log.exception("unhandled error on %s %s", exchange.method, exchange.route)
                    answer = unit.internal_error()
            unit.finish(exchange, answer)
            if self.answer_headers:
                answer.headers.extend(self.answer_headers)
            return answer
        finally:
            self.in_flight -= 1
            self._record(exchange, answer, time.perf_counter() - started, held)

    async def serve_unmatched(self, exchange: Exchange, status: int, allow: str | None) -> Answer:
        """A request no route matched: the default protocol's 404 or 405 (no ids: it reached no route)."""
        started = time.perf_counter()
        answer = exchange.unit.unmatched(status, allow)
        answer.headers.extend(self.answer_headers)
        self._record(exchange, answer, time.perf_counter() - started)
        return answer

    def _record(self, exchange: Exchange, answer: Answer | None, elapsed: float, held: bool = False) -> None:
        # 499: cancelled (the client went away, or shutdown) before an answer was made.
        status = 499 if answer is None else answer.status
        reason = None if answer is None else answer.reason
        metrics = self.metrics
        metrics.request_done(exchange.route, status, elapsed)
        if reason is not None:
            metrics.rejected.labels(reason).inc()
        if self.request_log is None and self.tracer is None:
            return
        logged_id = exchange.request_id or request_id(exchange.headers)
        if self.request_log is not None:
            self.request_log.write(
                time.time(),
                {
                    "method": exchange.method,
                    "route": exchange.route,
                    "status": status,
                    "ms": round(elapsed * 1e3, 3),
                    "rows": exchange.rows,
                    "request_id": logged_id,
                    **self._log_fields,
                },
                held,
            )
        if self.tracer is not None:
            peer = exchange.peer
            self.tracer.record(
                exchange.method,
                exchange.route,
                status,
                elapsed,
                logged_id,
                scheme="http" if peer is None else peer.scheme,
                host=exchange.headers.get("Host", "") if peer is None else peer.host,
                path=exchange.path,
                rows=exchange.rows,
                headers=exchange.headers,
            )

    def sample_gauges(self, pipeline: Pipeline) -> None:
        admission = pipeline.admission
        self.metrics.sample_gauges(self.in_flight, admission.bytes, admission.rows)

    async def publish_gauges(self, pipeline: Pipeline) -> None:
        """Runs for the process's life: its gauges, once a second (scoring.observability.metrics says why not per request)."""
        while True:
            self.sample_gauges(pipeline)
            await asyncio.sleep(GAUGE_SAMPLE_S)
