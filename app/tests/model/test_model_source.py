"""The registered model version fetched from storage at start, against Azurite, the real Azure Storage
emulator (the npm package pinned in package.json, started here on loopback with a temporary folder).

The real server downloads the blob MODEL_URI names, checks its size and sha256 against the
registration, and serves its labels; a missing blob, a denied identity, a wrong digest, a truncated
upload and a wrong-shaped file each keep /ready at 503 with one log line naming the URI and the cause,
retried with backoff, and never leave a file at the name init() reads. Workload identity cannot run
offline: the credential the cluster's configuration selects is checked to be azure-identity's
WorkloadIdentityCredential on the webhook's values. Azurite's documented development account is used
here only (node_modules/azurite/README.md, "Default Storage Account", Azurite 3.37.0, read 2026-12-01).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import time
from pathlib import Path

import numpy as np
import pytest
from azure.identity.aio import DefaultAzureCredential, WorkloadIdentityCredential
from azurite import CONTAINER, DEV_ACCOUNT, DEV_KEY, Azurite, azurite_fixture  # noqa: F401  (the emulator fixture)
from conftest import APP_DIR, MakeServer, Server, launch

from scoring.core.settings import SettingsError, load_settings
from scoring.model.model import PARAMETER_SHAPES, WEIGHTS_FILE
from scoring.model.model_source import (
    RETRY_MAX_S,
    ModelFetchError,
    ModelSource,
    blob_file_name,
    build_credential,
    fetch_model,
    retry_delay_s,
)

WEIGHTS = (APP_DIR / "model" / WEIGHTS_FILE).read_bytes()
WEIGHTS_SHA256 = hashlib.sha256(WEIGHTS).hexdigest()


def model_env(
    azurite: Azurite, blob: str, model_dir: Path, expected: bytes = WEIGHTS, key: str = DEV_KEY
) -> dict[str, str]:
    """What the Deployment gives a pod, with the emulator's account key instead of workload identity."""
    return {
        "MODEL_URI": azurite.url(blob),
        "MODEL_SHA256": hashlib.sha256(expected).hexdigest(),
        "MODEL_SIZE_BYTES": str(len(expected)),
        "MODEL_STORAGE_CONNECTION_STRING": azurite.connection_string(key),
        "MODEL_DIR": str(model_dir),
    }


def wait_for_log(server: Server, text: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = server.log()
        if text in log:
            return log
        assert server.process.poll() is None, f"server exited with {server.process.returncode}; log:\n{log}"
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in the log within {timeout} s; log:\n{server.log()}")


def failure_lines(log: str, uri: str) -> list[str]:
    return [line for line in log.splitlines() if f"model {uri} not loaded: " in line]


def assert_not_ready_and_nothing_served(server: Server, model_dir: Path, cause: str = "") -> None:
    ready = server.request("GET", "/ready", key=None)
    assert ready.status == 503 and ready.header("Retry-After") is not None
    # Once an attempt failed, /ready names the URI and the cause, as the log line does.
    message = ready.json().get("message") or ready.json().get("error")
    assert " not loaded: " in message and cause in message, message
    assert server.request("GET", "/", key=None).status == 200  # alive, so Kubernetes does not kill it
    assert not (model_dir / WEIGHTS_FILE).exists(), "an unverified file reached the name init() reads"
    assert not list(model_dir.glob(".*.partial")), "a partial download was left behind"


def wrong_shaped_weights() -> bytes:
    arrays = {name: np.zeros(shape, dtype=np.float32) for name, shape in PARAMETER_SHAPES.items()}
    arrays["fc1.weight"] = np.zeros((10, 784), dtype=np.float32)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]  # numpy's stubs want a str key for **kwds
    return buffer.getvalue()


# ---- the real server against the emulator ----


def test_downloads_the_registered_version_and_serves_its_labels(
    azurite: Azurite, server: Server, heldout: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    azurite.upload("mnist-mlp/1/mnist_mlp.npz", WEIGHTS)
    model_dir = tmp_path / "model"
    began = time.monotonic()
    fetched = launch(tmp_path, model_env(azurite, "mnist-mlp/1/mnist_mlp.npz", model_dir))
    with_download = time.monotonic() - began
    try:
        rows, labels = heldout[0][:20], heldout[1][:20]
        reply = fetched.score(rows)
        assert reply.status == 200, reply.body
        # The same labels as the server that reads the repository's weights, and right on held-out digits.
        assert reply.json() == server.score(rows).json()
        assert np.mean(np.array(reply.json()) == labels) >= 0.9
        served = model_dir / WEIGHTS_FILE
        assert served.read_bytes() == WEIGHTS
        assert served.stat().st_mode & 0o777 == 0o444, "the verified file must be read-only"
        assert not list(model_dir.glob(".*.partial"))
        assert "sha256 verified" in fetched.log() and azurite.url("mnist-mlp/1/mnist_mlp.npz") in fetched.log()
    finally:
        fetched.stop()
    began = time.monotonic()
    local = launch(tmp_path, {"MODEL_DIR": str(APP_DIR / "model")})
    without = time.monotonic() - began
    local.stop()
    # The note's measurement: start to /ready 200 with the download from Azurite, and from a local folder.
    fetch_s = re.search(r"sha256 verified\) in ([0-9.]+) s", fetched.log())
    assert fetch_s is not None
    print(
        f"\ntime to ready: {with_download:.2f} s fetching {len(WEIGHTS)} bytes from Azurite "
        f"(the fetch itself {fetch_s.group(1)} s), {without:.2f} s from a local folder"
    )


def test_a_missing_blob_keeps_the_pod_not_ready_until_it_appears(
    azurite: Azurite, make_server: MakeServer, tmp_path: Path
) -> None:
    blob = "mnist-mlp/2/mnist_mlp.npz"
    model_dir = tmp_path / "model"
    pending = make_server(model_env(azurite, blob, model_dir), wait_ready=False)
    uri = azurite.url(blob)
    log = wait_for_log(pending, f"model {uri} not loaded: blob not found (HTTP 404 BlobNotFound)")
    assert_not_ready_and_nothing_served(pending, model_dir)
    wait_for_log(pending, "(attempt 2)")  # retried with backoff
    azurite.upload(blob, WEIGHTS)
    deadline = time.monotonic() + 30
    while pending.request("GET", "/ready", key=None).status != 200:
        assert time.monotonic() < deadline, f"not ready after the blob appeared; log:\n{pending.log()}"
        time.sleep(0.2)
    assert len(failure_lines(log, uri)) >= 1
    assert pending.score(np.zeros((1, 784), dtype=np.float32)).status == 200


@pytest.mark.parametrize(
    ("case", "stored", "expected_log"),
    [
        ("wrong-digest", WEIGHTS[:-1] + bytes([WEIGHTS[-1] ^ 1]), f"does not match the registered {WEIGHTS_SHA256}"),
        (
            "truncated",
            WEIGHTS[: len(WEIGHTS) // 2],
            f"blob is {len(WEIGHTS) // 2} bytes, the registered version has {len(WEIGHTS)}",
        ),
    ],
)
def test_a_corrupt_or_truncated_blob_is_never_served(
    azurite: Azurite, make_server: MakeServer, tmp_path: Path, case: str, stored: bytes, expected_log: str
) -> None:
    blob = f"mnist-mlp/{case}/mnist_mlp.npz"
    azurite.upload(blob, stored)
    model_dir = tmp_path / "model"
    pending = make_server(model_env(azurite, blob, model_dir), wait_ready=False)
    log = wait_for_log(pending, "(attempt 2)")
    lines = failure_lines(log, azurite.url(blob))
    assert lines and all(expected_log in line for line in lines), log
    assert_not_ready_and_nothing_served(pending, model_dir, expected_log)


def test_a_denied_identity_keeps_the_pod_not_ready(azurite: Azurite, make_server: MakeServer, tmp_path: Path) -> None:
    blob = "mnist-mlp/denied/mnist_mlp.npz"
    azurite.upload(blob, WEIGHTS)
    model_dir = tmp_path / "model"
    wrong_key = DEV_KEY[:-4] + "AAA="
    pending = make_server(model_env(azurite, blob, model_dir, key=wrong_key), wait_ready=False)
    wait_for_log(pending, f"model {azurite.url(blob)} not loaded: access denied (HTTP 403")
    assert_not_ready_and_nothing_served(pending, model_dir)


def test_a_wrong_shaped_model_keeps_the_pod_not_ready(
    azurite: Azurite, make_server: MakeServer, tmp_path: Path
) -> None:
    blob = "mnist-mlp/shape/mnist_mlp.npz"
    weights = wrong_shaped_weights()
    azurite.upload(blob, weights)
    model_dir = tmp_path / "model"
    pending = make_server(model_env(azurite, blob, model_dir, expected=weights), wait_ready=False)
    log = wait_for_log(pending, "(attempt 2)")
    lines = failure_lines(log, azurite.url(blob))
    assert lines and all("init() failed on it: ValueError" in line and "(10, 784)" in line for line in lines), log
    assert pending.request("GET", "/ready", key=None).status == 503
    assert pending.process.poll() is None


# ---- the fetch itself, in process ----


def source_for(azurite: Azurite, blob: str, model_dir: Path, expected: bytes = WEIGHTS) -> ModelSource:
    env = model_env(azurite, blob, model_dir, expected) | {"SCORING_PRIMARY_KEY": "k"}
    source = load_settings(env, detect_device=lambda: "cpu").model_source
    assert source is not None
    return source


def test_a_verified_copy_from_an_earlier_start_is_reused_and_a_corrupt_one_replaced(
    azurite: Azurite, tmp_path: Path
) -> None:
    blob = "mnist-mlp/reuse/mnist_mlp.npz"
    azurite.upload(blob, WEIGHTS)
    source = source_for(azurite, blob, tmp_path)
    assert asyncio.run(fetch_model(source, tmp_path)).read_bytes() == WEIGHTS
    azurite.delete(blob)
    # A container restart in the same pod finds the emptyDir's verified file: no download needed.
    assert asyncio.run(fetch_model(source, tmp_path)).read_bytes() == WEIGHTS
    target = tmp_path / WEIGHTS_FILE
    target.chmod(0o644)
    target.write_bytes(b"garbage")
    with pytest.raises(Exception, match="BlobNotFound"):
        asyncio.run(fetch_model(source, tmp_path))
    azurite.upload(blob, WEIGHTS)
    assert asyncio.run(fetch_model(source, tmp_path)).read_bytes() == WEIGHTS


def test_the_download_view_must_show_in_model_dir(azurite: Azurite, tmp_path: Path) -> None:
    blob = "mnist-mlp/view/mnist_mlp.npz"
    azurite.upload(blob, WEIGHTS)
    env = model_env(azurite, blob, tmp_path / "model") | {
        "MODEL_DOWNLOAD_DIR": str(tmp_path / "elsewhere"),
        "SCORING_PRIMARY_KEY": "k",
    }
    source = load_settings(env, detect_device=lambda: "cpu").model_source
    assert source is not None
    with pytest.raises(ModelFetchError, match="MODEL_DOWNLOAD_DIR must be a writable view"):
        asyncio.run(fetch_model(source, tmp_path / "model"))


# ---- configuration and credentials ----

CLUSTER_ENV = {
    "MODEL_URI": "https://gpuinfstx7k2q9.blob.core.windows.net/models/mnist-mlp/3/mnist_mlp.npz",
    "MODEL_SHA256": WEIGHTS_SHA256,
    "MODEL_SIZE_BYTES": str(len(WEIGHTS)),
    "MODEL_CREDENTIAL": "workload-identity",
    "MODEL_DIR": "/var/azureml-app/model",
    "MODEL_DOWNLOAD_DIR": "/var/azureml-app/model-download",
    # What the workload identity webhook injects into a labelled pod of the annotated service account.
    "AZURE_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
    "AZURE_TENANT_ID": "tenant-0000",
    "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.com/",
}


def test_in_the_cluster_the_credential_is_workload_identity_on_the_webhooks_values(tmp_path: Path) -> None:
    token = tmp_path / "azure-identity-token"
    token.write_text("projected-service-account-jwt")
    env = CLUSTER_ENV | {"AZURE_FEDERATED_TOKEN_FILE": str(token), "SCORING_PRIMARY_KEY": "k"}
    source = load_settings(env, detect_device=lambda: "cpu").model_source
    assert source is not None and source.credential == "workload-identity"
    assert source.download_dir == Path("/var/azureml-app/model-download")

    async def inspect() -> None:
        credential = build_credential(source)
        assert isinstance(credential, WorkloadIdentityCredential)
        # azure-identity 1.27.0 internals: the assertion it exchanges is the projected token file's content,
        # for the webhook's client and tenant (no key, no secret).
        assert credential._func() == "projected-service-account-jwt"
        assert (credential._client._client_id, credential._client._tenant_id) == (
            CLUSTER_ENV["AZURE_CLIENT_ID"],
            CLUSTER_ENV["AZURE_TENANT_ID"],
        )
        await credential.close()

    asyncio.run(inspect())


def test_workload_identity_without_the_webhooks_variables_is_refused_naming_them() -> None:
    with pytest.raises(SettingsError, match=r"AZURE_FEDERATED_TOKEN_FILE unset.*azure\.workload\.identity/use=true"):
        load_settings(CLUSTER_ENV | {"SCORING_PRIMARY_KEY": "k"}, detect_device=lambda: "cpu")


def test_a_laptop_uses_the_developer_credential_and_no_uri_means_no_download() -> None:
    env = {k: v for k, v in CLUSTER_ENV.items() if not k.startswith(("AZURE_", "MODEL_CREDENTIAL"))}
    source = load_settings(env | {"SCORING_PRIMARY_KEY": "k"}, detect_device=lambda: "cpu").model_source
    assert source is not None and source.credential == "default"

    async def inspect() -> None:
        credential = build_credential(source)
        assert isinstance(credential, DefaultAzureCredential)
        await credential.close()

    asyncio.run(inspect())
    local = load_settings({"SCORING_PRIMARY_KEY": "k"}, detect_device=lambda: "cpu")
    assert local.model_source is None


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"MODEL_SHA256": "abc"}, "MODEL_SHA256='abc' is not a sha256 hex digest"),
        ({"MODEL_SIZE_BYTES": ""}, "MODEL_SIZE_BYTES='' is not a byte count"),
        ({"MODEL_URI": "http://acct.blob.core.windows.net/models/m.npz"}, "is not a blob URL: use https://"),
        ({"MODEL_URI": "https://acct.blob.core.windows.net/models/"}, "is not a blob URL"),
        ({"MODEL_CREDENTIAL": "sas"}, "MODEL_CREDENTIAL='sas' is not one of"),
        ({"MODEL_CREDENTIAL": "connection-string"}, "needs MODEL_STORAGE_CONNECTION_STRING"),
    ],
)
def test_model_settings_errors_name_the_variable(override: dict[str, str], message: str) -> None:
    env = CLUSTER_ENV | {"AZURE_FEDERATED_TOKEN_FILE": "/t", "SCORING_PRIMARY_KEY": "k"} | override
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(env, detect_device=lambda: "cpu")


def test_retries_back_off_to_a_cap_with_jitter() -> None:
    assert [retry_delay_s(n, rand=lambda: 1.0) for n in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert retry_delay_s(3, rand=lambda: 0.0) == 4.0
    assert retry_delay_s(10_000, rand=lambda: 1.0) == RETRY_MAX_S


def test_the_file_keeps_its_blob_name() -> None:
    assert blob_file_name(CLUSTER_ENV["MODEL_URI"]) == WEIGHTS_FILE
    assert blob_file_name("https://a.blob.core.windows.net/models/m/1/my%20model.npz") == "my model.npz"


def test_the_emulator_key_must_belong_to_the_uris_account(tmp_path: Path) -> None:
    env = {
        "MODEL_URI": "https://otheraccount.blob.core.windows.net/models/mnist-mlp/1/mnist_mlp.npz",
        "MODEL_SHA256": WEIGHTS_SHA256,
        "MODEL_SIZE_BYTES": str(len(WEIGHTS)),
        "MODEL_STORAGE_CONNECTION_STRING": Azurite(1).connection_string(),
        "MODEL_DIR": str(tmp_path),
        "SCORING_PRIMARY_KEY": "k",
    }
    source = load_settings(env, detect_device=lambda: "cpu").model_source
    assert source is not None
    with pytest.raises(ModelFetchError, match="for account 'devstoreaccount1', not the one in the URI"):
        build_credential(source)
