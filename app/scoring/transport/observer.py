"""The request bookkeeping a transport holds: scoring/core/serving.py's (in-flight count, metrics, one
JSON log line, telemetry, the same for every transport) plus the open connections an aiohttp request
keeps busy, so an idle-connection sweep never closes one that is being answered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scoring.core.serving import Serving
from scoring.observability.deployment import ModelDeployment
from scoring.observability.logs import RequestLog
from scoring.observability.metrics import Metrics
from scoring.transport.connections import Connections

if TYPE_CHECKING:  # imported only where telemetry is on (scoring/__main__.py): it pulls in OpenTelemetry
    from scoring.observability.tracing import RequestTracer


class Observer(Serving):
    def __init__(
        self,
        metrics: Metrics,
        connections: Connections,
        request_log: RequestLog | None,
        tracer: RequestTracer | None = None,
        deployment: ModelDeployment | None = None,
    ) -> None:
        super().__init__(metrics, request_log, tracer, deployment)
        self.connections = connections
