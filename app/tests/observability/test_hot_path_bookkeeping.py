"""The per-request bookkeeping the hot path defers or groups (scoring/observability/metrics.py,
scoring/observability/logs.py): what a scrape or a log reader sees is what one update per request
would have given, in the same order."""

from __future__ import annotations

import asyncio
import io
import json
import re

from scoring.observability.logs import RequestLog
from scoring.observability.metrics import Metrics

# prometheus_client writes each child's creation time (`_created`); two registries never share those.
_CREATED = re.compile(r"^\w+_created\{?.*$", re.MULTILINE)

# Latencies on, between and beyond the bucket bounds, and zero.
SECONDS = [0.0, 0.0004, 0.0005, 0.0006, 0.001, 0.0123, 0.1, 0.25, 0.26, 29.9, 30.0, 31.0, 1e6]


# A histogram's _sum: added up before it is written, so it may differ from one-by-one additions in the
# last bits of the float; compared to 9 significant digits.
_SUM = re.compile(r"^(\w+_sum\{?.*\}? )(\S+)$", re.MULTILINE)


def exposition(metrics: Metrics) -> str:
    text = _CREATED.sub("", metrics.render().decode())
    return _SUM.sub(lambda m: f"{m[1]}{float(m[2]):.9g}", text)


def test_folded_requests_render_what_one_observe_per_request_gives() -> None:
    folded, direct = Metrics(), Metrics()

    async def serve() -> None:
        for i, seconds in enumerate(SECONDS):
            route = ("/score", "/v2/models/{model}/infer")[i % 2]
            status = (200, 503)[i % 3 == 0]
            folded.request_done(route, status, seconds)
            folded.queue_wait(seconds)
            direct.requests.labels(route, str(status)).inc()
            direct.latency.labels(route).observe(seconds)
            direct.queue_seconds.observe(seconds)
        # Within the loop turn the updates are held; render() writes them first.
        assert exposition(folded) == exposition(direct)
        await asyncio.sleep(0)  # and the turn's end writes them too
        folded.request_done("/score", 200, 0.002)
        direct.requests.labels("/score", "200").inc()
        direct.latency.labels("/score").observe(0.002)
        await asyncio.sleep(0)
        assert exposition(folded) == exposition(direct)

    asyncio.run(serve())
    assert 'scoring_requests_total{route="/score",status="200"}' in exposition(folded)


def test_held_request_lines_come_out_in_order_before_the_next_line() -> None:
    stream = io.StringIO()
    log = RequestLog(stream)
    log.write(1_700_000_000.0, {"request_id": "a"}, held=True)
    log.write(1_700_000_000.5, {"request_id": "b"}, held=True)
    assert stream.getvalue() == ""  # held until flush (the lane's answers of the turn go out after it)
    log.write(1_700_000_001.0, {"request_id": "c"})  # a line written at once follows the held ones
    log.write(1_700_000_002.0, {"request_id": "d"}, held=True)
    log.flush()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["request_id"] for line in lines] == ["a", "b", "c", "d"]
    assert list(lines[0]) == ["time", "level", "logger", "message", "event", "request_id"]
    assert lines[0]["time"] == "2023-11-14T22:13:20.000+00:00"
    assert (lines[1]["logger"], lines[1]["event"]) == ("scoring.access", "request")
