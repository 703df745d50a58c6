"""Prometheus metrics on a per-app registry (never the process-global one), so two apps in one
process (as in tests) do not collide and /metrics shows only this server's series."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Latency buckets from 0.5 ms (a single binary row) to 30 s (the default scoring deadline).
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "scoring_requests",
            "HTTP requests answered, by route template and status code",
            ["route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "scoring_request_seconds",
            "Time from request start to response, by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.rows_scored = Counter("scoring_rows", "Rows scored by the model", registry=r)
        self.in_flight = Gauge("scoring_in_flight_requests", "Requests being handled now", registry=r)
        self.rejected = Counter(
            "scoring_rejected", "Requests refused before scoring, by reason", ["reason"], registry=r
        )
        self.batch_rows = Histogram("scoring_batch_rows", "Rows per run_batch call", buckets=ROW_BUCKETS, registry=r)
        self.queue_depth = Gauge("scoring_queue_depth", "Requests waiting for the device thread", registry=r)
        self.queue_seconds = Histogram(
            "scoring_queue_seconds", "Time a request waited in the batch queue", buckets=LATENCY_BUCKETS, registry=r
        )
        self.device_seconds = Histogram(
            "scoring_device_seconds",
            "Time per batch in the device thread (decode + run_batch)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.pending_bytes = Gauge("scoring_pending_bytes", "Request bytes reserved by admitted requests", registry=r)
        self.pending_rows = Gauge("scoring_pending_rows", "Rows reserved by admitted requests", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
