"""The repo's score.py under the real Azure ML inference server (`azureml-inference-server-http`,
pinned in app/requirements-test.in): the entry script runs unchanged where Azure ML would run it,
and both servers give the same labels for the seed's sample query.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from collections.abc import Iterator

import numpy as np
import pytest
from conftest import APP_DIR, Server, free_port, seed_body, server_env


@pytest.fixture(scope="module")
def azureml_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port, health_port = free_port(), free_port()
    log_path = tmp_path_factory.mktemp("azureml") / "azmlinfsrv.log"
    # What the azmlinfsrv console script runs, from this interpreter (wherever the package is installed).
    command = [
        sys.executable,
        "-c",
        "import sys; from azureml_inference_server_http.amlserver import run; sys.exit(run())",
        "--entry_script",
        str(APP_DIR / "score.py"),
        "--model_dir",
        str(APP_DIR / "model"),
        "--port",
        str(port),
        "--health_port",
        str(health_port),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=APP_DIR, env=server_env({}), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert process.poll() is None, f"azmlinfsrv exited with {process.returncode}:\n{log_path.read_text()}"
            try:
                if get(port, "/").status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError(f"azmlinfsrv not up within 90 s:\n{log_path.read_text()}")
        yield port
    finally:
        process.terminate()
        process.wait(30)


def get(port: int, path: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    return response


def test_azureml_server_runs_score_py_on_the_seed_query(
    azureml_server: int, server: Server, heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    rows, labels = heldout[0][:20], heldout[1][:20]
    conn = http.client.HTTPConnection("127.0.0.1", azureml_server, timeout=30)
    conn.request("POST", "/score", body=seed_body(rows), headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    body = response.read()
    assert response.status == 200, body
    # Azure ML returns run()'s list as JSON, as the seed's sample query read it.
    azureml_labels = json.loads(body)
    assert isinstance(azureml_labels, list) and len(azureml_labels) == 20
    assert (np.asarray(azureml_labels) == labels).mean() >= 0.9
    ours = server.score(rows)
    assert ours.status == 200
    assert ours.json() == azureml_labels
