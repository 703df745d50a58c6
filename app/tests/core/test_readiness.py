"""A pod with several workers is ready only when every worker is (issue 24): each worker marks itself
in the supervisor's folder, and each worker's readiness answer waits for all the marks."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import FIXTURES, MakeServer, Server

from scoring.core.readiness import WorkersReady


def test_ready_only_when_every_worker_marked(tmp_path: Path) -> None:
    first, second = WorkersReady(tmp_path, 2, 0), WorkersReady(tmp_path, 2, 1)
    assert first.waiting_for() == 2
    first.mark()
    assert first.waiting_for() == 1 and second.waiting_for() == 1
    second.mark()
    assert first.waiting_for() == 0 and second.waiting_for() == 0


def test_a_missing_folder_is_not_ready(tmp_path: Path) -> None:
    assert WorkersReady(tmp_path / "gone", 2, 0).waiting_for() == 2


def test_a_pod_is_not_ready_while_one_worker_still_loads(make_server: MakeServer, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    server = make_server(
        {"WORKERS": "2", "ENTRY_SCRIPT": str(FIXTURES / "gated_init_score.py"), "INIT_GATE": str(gate)},
        wait_ready=False,
    )
    # Worker 0 is loaded (it scores), worker 1 waits at the gate: every readiness answer is 503,
    # whichever worker a new connection reaches.
    deadline = time.monotonic() + 60
    while server.request("GET", "/", key=None).status != 200 or not _scored(server):
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.1)
    for path in ("/ready", "/v2/health/ready"):
        replies = [server.request("GET", path, key=None) for _ in range(20)]
        assert {r.status for r in replies} == {503}, path
        # Worker 1 says it is loading; worker 0, loaded, says whom it waits for.
        assert any("1 of 2 workers still loading" in r.body.decode() for r in replies), path
    gate.touch()
    while server.request("GET", "/ready", key=None).status != 200:
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.1)
    assert all(server.request("GET", "/v2/health/ready", key=None).status == 200 for _ in range(10))


def _scored(server: Server) -> bool:
    """Some worker answers a scoring request (worker 0 has loaded)."""
    try:
        return (
            server.request("POST", "/score", b'{"data": [[' + b",".join([b"0"] * 784) + b"]]}", timeout=5).status == 200
        )
    except OSError:
        return False


@pytest.mark.parametrize("path", ["/ready", "/v2/health/ready"])
def test_two_workers_answer_ready_once_both_loaded(make_server: MakeServer, path: str) -> None:
    server = make_server({"WORKERS": "2"})
    # Each new connection may reach either worker (SO_REUSEPORT): all of them say ready, and the
    # supervisor's folder holds both marks.
    assert all(server.request("GET", path, key=None).status == 200 for _ in range(20))
    folders = list(Path("/tmp").glob("scoring-ready-*"))
    assert any(sorted(p.name for p in folder.iterdir()) == ["0", "1"] for folder in folders)
