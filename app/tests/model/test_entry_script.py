"""A seed-style entry script with only init()/run() dropped in through ENTRY_SCRIPT: served
unbatched, errors from the user's code mapped to 400/500, deadlines to 504."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, MakeServer, Server, seed_body


@pytest.fixture(scope="module")
def seed_server(make_server: MakeServer) -> Server:
    return make_server({"ENTRY_SCRIPT": str(FIXTURES / "seed_numpy_score.py"), "FAIL_ON_ALL_ZERO_ROW": "1"})


def test_drop_in_script_scores_heldout_digits(seed_server: Server, heldout: tuple[np.ndarray, np.ndarray]) -> None:
    rows, labels = heldout
    reply = seed_server.score(rows[::4])
    assert reply.status == 200
    accuracy = float(np.mean(np.array(reply.json()) == labels[::4]))
    assert accuracy >= 0.95, accuracy
    # Unbatched: the batch histogram stays empty, rows are not counted by the batcher.
    assert seed_server.metric("scoring_batch_rows_count") == 0


def test_user_parsing_errors_are_400_naming_them(seed_server: Server) -> None:
    missing = seed_server.request("POST", "/score", b'{"rows": [[0]]}')
    # The exception's type is named, never its text (which may hold secrets; Azure ML sends neither).
    assert (
        missing.status == 400 and "KeyError" in missing.json()["message"] and "'data'" not in missing.json()["message"]
    )
    assert missing.header("x-ms-run-function-failed") == "False"
    malformed = seed_server.request("POST", "/score", b'{"data": [[0, 1')
    assert malformed.status == 400 and "JSONDecodeError" in malformed.json()["message"]
    wrong_shape = seed_server.request("POST", "/score", json.dumps({"data": [[0.5] * 10]}).encode())
    assert wrong_shape.status == 400 and "ValueError" in wrong_shape.json()["message"]
    not_utf8 = seed_server.request("POST", "/score", b'{"data": "\xff\xfe"}')
    assert not_utf8.status == 400 and "UTF-8" in not_utf8.json()["message"]


def test_model_failure_in_run_is_500_json_and_the_server_keeps_serving(
    seed_server: Server, heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    failed = seed_server.score(np.zeros((1, 784), dtype=np.float32))
    assert failed.status == 500
    # Azure ML's answer: its fixed message, never the exception's text.
    assert failed.json() == {"message": "An unexpected error occurred in scoring script. Check the logs for more info."}
    assert failed.header("x-ms-run-function-failed") == "True"
    assert seed_server.score(heldout[0][:3]).status == 200


def test_kserve_infer_works_through_run_too(seed_server: Server, heldout: tuple[np.ndarray, np.ndarray]) -> None:
    rows, labels = heldout
    pixels = np.round(rows[:16] * 255).astype(np.uint8)
    request = {"inputs": [{"name": "input", "datatype": "UINT8", "shape": [16, 784], "data": pixels.tolist()}]}
    reply = seed_server.request("POST", "/v2/models/mnist/infer", json.dumps(request).encode())
    assert reply.status == 200, reply.body
    predicted = reply.json()["outputs"][0]["data"]
    assert np.mean(np.array(predicted) == labels[:16]) >= 0.8


def test_a_script_without_torch_is_served_without_loading_torch(
    seed_server: Server, heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    # torch costs seconds of CPU and hundreds of MB per process; a server whose entry script never
    # imports it (and whose device is set) must not load it, even after answering both protocols.
    rows = heldout[0]
    assert seed_server.score(rows[:100]).status == 200  # over 64 KiB: the batch decoder's size
    pixels = np.round(rows[:2] * 255).astype(np.uint8)
    request = {"inputs": [{"name": "input", "datatype": "UINT8", "shape": [2, 784], "data": pixels.tolist()}]}
    assert seed_server.request("POST", "/v2/models/mnist/infer", json.dumps(request).encode()).status == 200
    assert seed_server.request("GET", "/v2/models/mnist").status == 200
    assert seed_server.request("GET", "/swagger.json", key=None).status == 200
    mapped = Path(f"/proc/{seed_server.process.pid}/maps").read_text()
    torch_files = sorted({line.split()[-1] for line in mapped.splitlines() if "/torch/" in line})
    assert torch_files == [], torch_files


def test_scoring_deadline_is_504_json(make_server: MakeServer, heldout: tuple[np.ndarray, np.ndarray]) -> None:
    slow: Server = make_server(
        {"ENTRY_SCRIPT": str(FIXTURES / "slow_score.py"), "SLOW_RUN_S": "1.5", "SCORING_TIMEOUT_S": "0.3"}
    )
    reply = slow.request("POST", "/score", seed_body(heldout[0][:1]))
    assert reply.status == 504
    assert "SCORING_TIMEOUT_S" in reply.json()["message"]
    assert slow.request("GET", "/ready", key=None).status == 200
