"""Prometheus metrics on a per-app registry (never the process-global one), served on their own port
(METRICS_PORT, default 9102) that no public route exposes.

With several worker processes (WORKERS > 1) prometheus_client's multiprocess mode aggregates them:
every process writes its samples to files under PROMETHEUS_MULTIPROC_DIR (a fresh folder under /tmp
the supervisor creates), and the metrics port, served by one process, sums counters and histograms
across all of them; gauges are summed too (in-flight requests, queue depth, pending bytes/rows are
totals over the pod).

Per request the hot path only adds to plain numbers (`request_done`, `queue_wait`): they are folded
into the counter and histogram children once per event-loop turn (`flush`, scheduled by the first
update of a turn, and before every render), so the many requests a batch answers in one turn cost one
update of each child instead of one per request (each update takes a lock, and in multiprocess mode
writes the shared file). A scrape, even one from another worker process, sees every request answered
before the turn it runs in. The gauges of in-flight requests and pending bytes/rows are sampled (`sample_gauges`) once a second
in each process and at every scrape, not written on every request: in multiprocess mode each write
is a locked store to a shared memory-mapped file, and a scrape every 15-30 s reads only the latest.
"""

from __future__ import annotations

import asyncio
import os
from bisect import bisect_left
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

        # (route, status) -> its requests not yet folded into the children; routes are the router's
        # templates, so few.
        self._pending: dict[tuple[str, int], _PendingRequests] = {}
        self._queue_waits = _Folded(self.queue_seconds)
        self._flush_scheduled = False

    def request_done(self, route: str, status: int, seconds: float) -> None:
        pending = self._pending.get((route, status))
        if pending is None:
            pending = self._pending[(route, status)] = _PendingRequests(
                self.requests.labels(route, str(status)), self.latency.labels(route)
            )
        pending.count += 1
        pending.latency.observe(seconds)
        if not self._flush_scheduled:
            self._schedule_flush()

    def queue_wait(self, seconds: float) -> None:
        """One request's wait in the batch queue (scoring_queue_seconds), folded like request_done."""
        self._queue_waits.observe(seconds)
        if not self._flush_scheduled:
            self._schedule_flush()

    def _schedule_flush(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on an event loop (a test, a tool): no turn to wait for
            self.flush()
            return
        self._flush_scheduled = True
        loop.call_soon(self.flush)

    def flush(self) -> None:
        """Writes the updates added up since the last flush to the counter and histogram children."""
        self._flush_scheduled = False
        for pending in self._pending.values():
            if pending.count:
                pending.counter.inc(pending.count)
                pending.count = 0
                pending.latency.flush()
        self._queue_waits.flush()

    def sample_gauges(self, in_flight: int, pending_bytes: int, pending_rows: int) -> None:
        self.in_flight.set(in_flight)
        self.pending_bytes.set(pending_bytes)
        self.pending_rows.set(pending_rows)

    def render(self) -> bytes:
        self.flush()
        if multiprocess():
            from prometheus_client import multiprocess as mp

            registry = CollectorRegistry()
            # MultiProcessCollector(registry) registers itself; its __init__ carries no annotations.
            collect = cast("Callable[[CollectorRegistry], object]", mp.MultiProcessCollector)
            collect(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


class _Folded:
    """Observations of one histogram child, added up until `flush` writes them: the sum and one count
    per bucket, exactly what Histogram.observe would have added one by one (the first bucket whose
    upper bound is at least the value, as prometheus_client 0.26 picks it)."""

    __slots__ = ("_bounds", "_counts", "_histogram", "_total", "_used")

    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram
        self._bounds: list[float] = list(histogram._upper_bounds)  # ends with +Inf, so every value has a bucket
        self._counts = [0] * len(self._bounds)
        self._total = 0.0
        self._used = False

    def observe(self, value: float) -> None:
        self._counts[bisect_left(self._bounds, value)] += 1
        self._total += value
        self._used = True

    def flush(self) -> None:
        if not self._used:
            return
        histogram, counts = self._histogram, self._counts
        histogram._sum.inc(self._total)
        for i, count in enumerate(counts):
            if count:
                histogram._buckets[i].inc(count)
                counts[i] = 0
        self._total = 0.0
        self._used = False


class _PendingRequests:
    __slots__ = ("count", "counter", "latency")

    def __init__(self, counter: Counter, latency: Histogram) -> None:
        self.counter = counter
        self.latency = _Folded(latency)
        self.count = 0
