"""The benchmark's short mode runs this server, the baseline and the HTTP floor on CPU and fails on any
wrong answer."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH))

from loadgen import Request, Scenario, http_request, run_scenario  # noqa: E402


def test_short_run_gets_correct_answers_from_both_servers(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "run_bench.py"), "--short", "--log-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    table = [
        line
        for line in done.stdout.splitlines()
        if line.startswith(("| seed-style baseline", "| this server", "| HTTP floor"))
    ]
    # This server and both floors on all four short scenarios, the baseline on its two JSON ones.
    assert len(table) == 14, done.stdout
    for line in table:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        answered_rows_per_s, errors, wrong = float(cells[2].replace(",", "")), cells[6], cells[7]
        assert answered_rows_per_s > 0 and errors == "0" and wrong == "0", line
    assert "fraction of the 2-process floor" in done.stdout


WRONG_SERVER = textwrap.dedent(
    """
    import sys
    from aiohttp import web
    async def score(request):
        await request.read()
        return web.json_response([3])  # always label 3
    app = web.Application()
    app.router.add_post("/score", score)
    app.router.add_get("/", lambda r: web.Response(text="Healthy"))
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
    """
)


def test_load_generator_counts_wrong_answers() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-c", WRONG_SERVER, str(port)])
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        requests = [
            Request(http_request("/score", b'{"data": [[0]]}', "k", "application/json"), 1, np.array([label]))
            for label in (3, 5)
        ]
        result = run_scenario(port, Scenario("wrong", requests, 2, 0.3, 0.05, "json-list"), None, 1)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert result.completed > 0  # the label-3 requests
    assert result.wrong > 0  # the label-5 requests got 3
    assert "wrong labels: got [3], expected [5]" in result.first_problem


@pytest.mark.skipif(
    not os.environ.get("PYTRITON_PYTHON"),
    reason="Triton is carried apart: bench/pack_pytriton.sh, then bench/unpack_pytriton.sh prints PYTRITON_PYTHON",
)
def test_triton_peer_answers_every_short_scenario_correctly(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "run_bench.py"),
            "--short",
            "--servers",
            "this server,NVIDIA Triton (PyTriton)",
            "--log-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| NVIDIA Triton (PyTriton) |")]
    # JSON through the OIP JSON tensor, binary through the binary extension: all four, every answer checked.
    assert len(rows) == 4, done.stdout
    for line in rows:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert float(cells[2].replace(",", "")) > 0 and cells[6] == "0" and cells[7] == "0", line
    assert "x NVIDIA Triton (PyTriton) (rows/s)" in done.stdout
