"""Start-up behaviour: refusals with clear messages, aliases, and readiness while the model loads."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Mapping

import numpy as np
from conftest import APP_DIR, FIXTURES, MakeServer, Server, free_port, server_env


def start_and_fail(overrides: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    # Both ports free: a refusal must be the one asked for, never a port another process holds.
    env = server_env({"PORT": str(free_port()), "METRICS_PORT": str(free_port()), **overrides})
    return subprocess.run(
        [sys.executable, "-m", "scoring"], cwd=APP_DIR, env=env, capture_output=True, text=True, timeout=60
    )


def test_refuses_to_start_with_auth_on_and_no_key() -> None:
    result = start_and_fail({"SCORING_PRIMARY_KEY": "", "SCORING_SECONDARY_KEY": ""})
    assert result.returncode == 2
    assert "SCORING_PRIMARY_KEY" in result.stderr and "AUTH_ENABLED" in result.stderr


def test_malformed_settings_are_named() -> None:
    cases = {
        "MAX_BATCH_ROWS": ("lots", "MAX_BATCH_ROWS"),
        "PORT": ("70000", "PORT"),
        "AUTH_ENABLED": ("maybe", "AUTH_ENABLED"),
        "DEVICE": ("tpu", "DEVICE"),
        "MAX_BATCH_WAIT_MS": ("-1", "MAX_BATCH_WAIT_MS"),
        "SCORING_PRIMARY_KEY": ("has space", "SCORING_PRIMARY_KEY"),
    }
    for name, (value, fragment) in cases.items():
        result = start_and_fail({name: value})
        assert result.returncode == 2, (name, result.stderr)
        assert fragment in result.stderr, (name, result.stderr)


def test_missing_entry_script_is_refused_by_path() -> None:
    result = start_and_fail({"ENTRY_SCRIPT": "/nonexistent/score.py"})
    assert result.returncode == 1
    assert "/nonexistent/score.py" in result.stderr and "ENTRY_SCRIPT" in result.stderr


def test_entry_script_without_run_is_refused() -> None:
    result = start_and_fail({"ENTRY_SCRIPT": str(FIXTURES / "no_run_score.py")})
    assert result.returncode == 1
    assert "run()" in result.stderr


def test_entry_script_that_cannot_import_is_refused_with_the_reason() -> None:
    result = start_and_fail({"ENTRY_SCRIPT": str(FIXTURES / "broken_import_score.py")})
    assert result.returncode == 1
    assert "not_an_installed_module" in result.stderr


def test_failing_init_exits_non_zero_with_the_reason() -> None:
    result = start_and_fail({"ENTRY_SCRIPT": str(FIXTURES / "failing_init_score.py")})
    assert result.returncode == 1
    assert "mnist-tf.model.meta" in result.stderr


def test_not_ready_while_init_runs_then_ready(make_server: MakeServer, heldout: tuple[np.ndarray, np.ndarray]) -> None:
    server: Server = make_server(
        {"ENTRY_SCRIPT": str(FIXTURES / "slow_score.py"), "SLOW_INIT_S": "3", "RETRY_AFTER_S": "2"}, wait_ready=False
    )
    assert server.request("GET", "/", key=None).status == 200
    not_ready = server.request("GET", "/ready", key=None)
    assert not_ready.status == 503 and not_ready.header("Retry-After") == "2"
    assert "loading" in not_ready.json()["message"]
    refused = server.score(heldout[0][:1])
    assert refused.status == 503 and refused.header("Retry-After") == "2"
    assert server.request("GET", "/v2/health/ready", key=None).status == 503
    deadline = time.monotonic() + 30
    while server.request("GET", "/ready", key=None).status != 200:
        assert time.monotonic() < deadline, "never became ready"
        time.sleep(0.05)
    assert server.score(heldout[0][:2]).status == 200


def test_azureml_aliases_and_auth_off(make_server: MakeServer, heldout: tuple[np.ndarray, np.ndarray]) -> None:
    server: Server = make_server(
        {
            "AUTH_ENABLED": "false",
            "SCORING_PRIMARY_KEY": "",
            "SCORING_SECONDARY_KEY": "",
            "AZUREML_MODEL_DIR": str(APP_DIR / "model"),
            "AZUREML_ENTRY_SCRIPT": str(FIXTURES / "seed_numpy_score.py"),
        }
    )
    rows, labels = heldout
    reply = server.score(rows[:100], key=None)
    assert reply.status == 200
    assert np.mean(np.array(reply.json()) == labels[:100]) >= 0.9
