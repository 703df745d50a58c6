"""A pod with several workers is ready only when every worker is (issue 24): each worker marks itself
in the supervisor's folder, and each worker's readiness answer waits for all the marks."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import MakeServer

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


@pytest.mark.parametrize("path", ["/ready", "/v2/health/ready"])
def test_two_workers_answer_ready_once_both_loaded(make_server: MakeServer, path: str) -> None:
    server = make_server({"WORKERS": "2"})
    # Each new connection may reach either worker (SO_REUSEPORT): all of them say ready, and the
    # supervisor's folder holds both marks.
    assert all(server.request("GET", path, key=None).status == 200 for _ in range(20))
    folders = list(Path("/tmp").glob("scoring-ready-*"))
    assert any(sorted(p.name for p in folder.iterdir()) == ["0", "1"] for folder in folders)
