"""Where the optional request telemetry goes, as settings: a plain dataclass, so that reading the
settings never imports OpenTelemetry (tracing.py does, and is imported only when telemetry is on)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Telemetry:
    """Where the optional request telemetry goes (scoring/observability/tracing.py): one OpenTelemetry server span per
    request, exported to Application Insights as a request item. None in Settings: off, nothing imported.

    connection_string: Application Insights' (InstrumentationKey=...;IngestionEndpoint=...), a secret: never
    in repr, a log line or an error message. sample_ratio: the share of requests sent (Application Insights'
    own sampler, so its counts extrapolate). service_name: the service.name resource attribute, which
    Application Insights shows as the cloud role (Azure ML's server uses SERVICE_NAME the same way).
    """

    connection_string: str = field(repr=False)
    sample_ratio: float = 1.0
    service_name: str = "ML service"
