"""Prometheus metrics on a per-app registry (never the process-global one), served on their own port
(METRICS_PORT, default 9102) that no public route exposes.

With several worker processes (WORKERS > 1) prometheus_client's multiprocess mode aggregates them:
every process writes its samples to files under PROMETHEUS_MULTIPROC_DIR (a fresh folder under /tmp
the supervisor creates), and the metrics port, served by one process, sums counters and histograms
across all of them; gauges are summed too (in-flight requests, queue depth, pending bytes/rows are
totals over the pod).

Per request the hot path updates one cached counter child and one histogram child (`request_done`);
the gauges of in-flight requests and pending bytes/rows are sampled (`sample_gauges`) once a second
in each process and at every scrape, not written on every request: in multiprocess mode each write
is a locked store to a shared memory-mapped file, and a scrape every 15-30 s reads only the latest.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import cast

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Latency buckets from 0.5 ms (a single binary row) to 30 s (the default scoring deadline).
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# How often each process publishes its gauges (a scrape also publishes the scraped process's own).
GAUGE_SAMPLE_S = 1.0


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # In multiprocess mode the values live in the shared files; this registry only names them.
        r = None if multiprocess() else self.registry
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
        self.in_flight = Gauge(
            "scoring_in_flight_requests", "Requests being handled now", registry=r, multiprocess_mode="livesum"
        )
        self.rejected = Counter(
            "scoring_rejected", "Requests refused before scoring, by reason", ["reason"], registry=r
        )
        self.batch_rows = Histogram("scoring_batch_rows", "Rows per run_batch call", buckets=ROW_BUCKETS, registry=r)
        self.queue_depth = Gauge(
            "scoring_queue_depth", "Requests waiting for the device thread", registry=r, multiprocess_mode="livesum"
        )
        self.queue_seconds = Histogram(
            "scoring_queue_seconds", "Time a request waited in the batch queue", buckets=LATENCY_BUCKETS, registry=r
        )
        self.device_seconds = Histogram(
            "scoring_device_seconds",
            "Time per batch in the device thread (decode + run_batch)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.pending_bytes = Gauge(
            "scoring_pending_bytes",
            "Request bytes reserved by admitted requests",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.pending_rows = Gauge(
            "scoring_pending_rows", "Rows reserved by admitted requests", registry=r, multiprocess_mode="livesum"
        )
        self.connections_closed = Counter(
            "scoring_connections_closed",
            "Connections the server closed: idle, header timeout, or to keep file descriptors for probes",
            ["reason"],
            registry=r,
        )
        self.lane_handovers = Counter(
            "scoring_lane_handovers",
            "Connections the scoring fast lane handed to aiohttp at a request it does not serve",
            registry=r,
        )

        # (route, status) -> the labelled children; routes are the router's templates, so few.
        self._request_children: dict[tuple[str, int], tuple[Counter, Histogram]] = {}

    def request_done(self, route: str, status: int, seconds: float) -> None:
        children = self._request_children.get((route, status))
        if children is None:
            children = (self.requests.labels(route, str(status)), self.latency.labels(route))
            self._request_children[(route, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def sample_gauges(self, in_flight: int, pending_bytes: int, pending_rows: int) -> None:
        self.in_flight.set(in_flight)
        self.pending_bytes.set(pending_bytes)
        self.pending_rows.set(pending_rows)

    def render(self) -> bytes:
        if multiprocess():
            from prometheus_client import multiprocess as mp

            registry = CollectorRegistry()
            # MultiProcessCollector(registry) registers itself; its __init__ carries no annotations.
            collect = cast("Callable[[CollectorRegistry], object]", mp.MultiProcessCollector)
            collect(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
