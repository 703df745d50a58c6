"""The sample client against the real server: it prints expected vs predicted and the accuracy."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from conftest import APP_DIR, PRIMARY_KEY, Server

sys.path.insert(0, str(APP_DIR))
import client


def run_client(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(APP_DIR / "client.py"), *args], capture_output=True, text=True, timeout=120
    )


def test_client_holds_out_exactly_what_training_held_out(heldout: tuple[np.ndarray, np.ndarray]) -> None:
    rows, labels = heldout
    samples = client.heldout_digits(client.digits_dir())
    assert len(samples) == len(rows)
    assert np.array_equal(np.array([row for row, _ in samples], dtype=np.float32), rows)
    assert [label for _, label in samples] == labels.tolist()


def test_client_reports_accuracy_of_heldout_digits(server: Server) -> None:
    result = run_client(
        "--uri", f"http://127.0.0.1:{server.port}/score", "--key", PRIMARY_KEY, "--count", "300", "--seed", "1"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert sum(line.startswith("label: ") for line in lines) == 300
    correct, total = lines[-1].split()[1].split("/")
    assert int(total) == 300 and int(correct) / 300 >= 0.95, lines[-1]


def test_client_says_why_a_wrong_key_failed(server: Server) -> None:
    result = run_client("--uri", f"http://127.0.0.1:{server.port}/score", "--key", "wrong", "--count", "1")
    assert result.returncode != 0
    assert "401" in result.stderr and "invalid key" in result.stderr
