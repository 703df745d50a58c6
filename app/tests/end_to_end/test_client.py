"""The sample client against the real server: it prints expected vs predicted and the accuracy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from conftest import APP_DIR, PRIMARY_KEY, Server, run_client

sys.path.insert(0, str(APP_DIR))
import client

# Pulumi's marker for a secret value in a state file (sdk/go/common/resource/sig: Secret).
SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"


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


def pulumi_cli_dir() -> Path:
    """The pinned Pulumi CLI (scripts/pulumi-cli.sh builds it once per version; scripts/test.sh first)."""
    from_env = os.environ.get("PULUMI_CLI_DIR")
    if from_env and (Path(from_env) / "pulumi").exists():
        return Path(from_env)
    built = subprocess.run(
        ["bash", "-c", "source scripts/pulumi-cli.sh && ensure_pulumi_cli"],
        cwd=APP_DIR.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(built.stdout.strip())


def test_client_reads_uri_and_key_from_a_real_pulumi_stack(server: Server, tmp_path: Path) -> None:
    """`python3 app/client.py` with no arguments, in a project whose stack state the real CLI holds."""
    project, state, home = tmp_path / "project", tmp_path / "state", tmp_path / "pulumi-home"
    for folder in (project, state, home):
        folder.mkdir()
    shutil.copy(APP_DIR.parent / "Pulumi.yaml", project)
    shutil.copy(APP_DIR.parent / "Pulumi.dev.yaml", project)
    env = {
        **os.environ,
        "PATH": f"{pulumi_cli_dir()}{os.pathsep}{os.environ['PATH']}",
        "PULUMI_HOME": str(home),
        "PULUMI_BACKEND_URL": f"file://{state}",
        "PULUMI_CONFIG_PASSPHRASE": "client-test",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    }

    def pulumi(*args: str) -> str:
        done = subprocess.run(
            ["pulumi", *args, "--non-interactive"], cwd=project, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    pulumi("stack", "init", "dev")
    # The state a `pulumi up` leaves: the stack's outputs, the key a secret (the CLI encrypts what it imports).
    exported = json.loads(pulumi("stack", "export"))
    exported["deployment"]["resources"] = [
        {
            "urn": "urn:pulumi:dev::gpu-inference-aks::pulumi:pulumi:Stack::gpu-inference-aks-dev",
            "custom": False,
            "type": "pulumi:pulumi:Stack",
            "outputs": {
                "scoringUri": f"http://127.0.0.1:{server.port}/score",
                "primaryKey": {
                    SECRET_SIGNATURE: "1b47061264138c4ac30d75fd1eb44270",
                    "plaintext": json.dumps(PRIMARY_KEY),
                },
            },
        }
    ]
    (tmp_path / "state.json").write_text(json.dumps(exported))
    pulumi("stack", "import", "--file", str(tmp_path / "state.json"))
    assert PRIMARY_KEY not in "".join(p.read_text() for p in state.rglob("*.json")), "the key is stored in clear"

    result = subprocess.run(
        [sys.executable, str(APP_DIR / "client.py"), "--count", "20", "--seed", "3"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert sum(line.startswith("label: ") for line in lines) == 20
    correct, total = lines[-1].split()[1].split("/")
    assert int(total) == 20 and int(correct) >= 18, lines[-1]
