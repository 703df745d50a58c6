"""What operators rely on: request ids, one JSON log line per request, metrics on their own port and
summed across worker processes, and the deadline forecast refusing work that could not finish in time."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from conftest import FIXTURES, PRIMARY_KEY, MakeServer, Server, seed_body

UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def log_lines(server: Server) -> list[dict[str, object]]:
    lines = []
    for line in server.log().splitlines():
        # Worker processes share the log file; skip anything that is not one whole JSON line.
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            lines.append(parsed)
    return lines


def test_request_ids_are_echoed_or_generated_and_logged(server: Server, heldout: tuple[np.ndarray, np.ndarray]) -> None:
    body = seed_body(heldout[0][:1])
    given = server.request("POST", "/score", body, headers={"x-request-id": "req-abc-1"})
    assert given.status == 200 and given.header("x-request-id") == "req-abc-1"
    # Azure ML's rules: x-request-id is the client's or a new UUID4; the client request id is echoed.
    azure = server.request("POST", "/score", body, headers={"x-ms-client-request-id": "ms-42"})
    assert azure.header("x-ms-client-request-id") == "ms-42" and azure.header("x-ms-request-id") == "ms-42"
    assert UUID4.fullmatch(azure.header("x-request-id") or "")
    fresh = server.request("GET", "/", key=None).header("x-request-id") or ""
    assert UUID4.fullmatch(fresh)
    refused = server.request("POST", "/score", body, key="wrong", headers={"x-request-id": "bad-key-7"})
    assert refused.status == 401 and refused.header("x-request-id") == "bad-key-7"

    lines = {line.get("request_id"): line for line in log_lines(server) if line.get("event") == "request"}
    logged = lines["req-abc-1"]
    assert (logged["method"], logged["route"], logged["status"], logged["rows"]) == ("POST", "/score", 200, 1)
    assert isinstance(logged["ms"], float)
    assert lines["bad-key-7"]["status"] == 401
    assert lines[azure.header("x-request-id")]["status"] == 200  # logged with the id it was answered with
    events = {line.get("event") for line in log_lines(server)}
    assert {"listening", "ready"} <= events
    text = server.log()
    assert PRIMARY_KEY not in text and "0.329411" not in text  # never the key, never the body


def test_workers_share_the_port_and_metrics_are_summed(
    make_server: MakeServer, heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    # A long deadline: on a loaded 2-core machine the deadline forecast must not refuse these 40.
    server = make_server({"WORKERS": "2", "SCORING_TIMEOUT_S": "120"})
    # Each new connection may reach either worker, and a worker still importing torch has not bound
    # the shared port yet (so /ready answers from one worker prove nothing about the other): traffic
    # starts once both workers logged that their model is ready.
    deadline = time.monotonic() + 120
    while sum(line.get("event") == "ready" for line in log_lines(server)) < 2:
        assert time.monotonic() < deadline, "both workers never became ready"
        time.sleep(0.1)
    rows, labels = heldout
    body = seed_body(rows[:4])
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: server.request("POST", "/score", body), range(40)))
    refused = [(r.status, r.body[:200]) for r in replies if r.status != 200]
    assert refused == []
    assert all(r.json() == replies[0].json() for r in replies)
    assert np.mean(np.array(replies[0].json()) == labels[:4]) >= 0.75
    workers = {line.get("pid") for line in log_lines(server) if line.get("event") == "listening"}
    assert len(workers) == 2
    # Counted in whichever process answered, reported once for the pod.
    assert server.metric("scoring_requests_total", 'route="/score",status="200"') == 40
    assert server.metric("scoring_rows_total") == 160
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(30) == 0


def test_work_that_cannot_finish_in_time_is_refused_at_once(
    make_server: MakeServer, heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    # One batch of 8 rows takes 1 s, the deadline is 1.9 s: the forecast admits one request at a time
    # (two would need 2 s), which then has 0.9 s to spare. With a margin of less than a batch (a
    # 0.2 s batch and a 1 s deadline admit four, the last finishing at 0.8 s plus queueing) a loaded
    # machine delays admitted work past its deadline and it ends in 504.
    server = make_server(
        {
            "ENTRY_SCRIPT": str(FIXTURES / "slow_batch_score.py"),
            "SLOW_BATCH_S": "1",
            "SCORING_TIMEOUT_S": "1.9",
            "MAX_BATCH_ROWS": "8",
            "INLINE_BATCH_ROWS": "0",
        }
    )
    body = seed_body(heldout[0][:8])
    assert server.request("POST", "/score", body).status == 200  # measures the rate: about 8 rows/s
    with ThreadPoolExecutor(32) as pool:
        replies = list(pool.map(lambda _: server.request("POST", "/score", body), range(64)))
    statuses = [r.status for r in replies]
    refused = [r for r in replies if r.status == 503]
    assert refused, statuses
    assert all("SCORING_TIMEOUT_S" in r.json()["message"] and r.header("Retry-After") for r in refused)
    # Admitted work finished within its deadline: nothing timed out.
    assert set(statuses) <= {200, 503}, statuses


def test_default_workers_follow_the_cpu_quota_as_well_as_the_cpu_set(tmp_path: Path) -> None:
    from scoring.core.settings import _available_cpus

    cpu_max = tmp_path / "cpu.max"
    in_set = len(os.sched_getaffinity(0))
    cpu_max.write_text("200000 100000\n")  # limits.cpu: 2
    assert _available_cpus(cpu_max) == min(2, in_set)
    cpu_max.write_text("50000 100000\n")  # limits.cpu: 500m still gets one process
    assert _available_cpus(cpu_max) == 1
    cpu_max.write_text("max 100000\n")
    assert _available_cpus(cpu_max) == in_set
    assert _available_cpus(tmp_path / "absent") == in_set
