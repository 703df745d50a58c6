"""Model data collection (scoring/core/capture.py) against Azurite, the real Azure Storage emulator (the npm
devDependency, started on a free port with a temporary folder by test_model_source's fixture).

The real server, with capture on, writes the rows it scored and the labels it answered as JSON lines under
`<model>/<version>/YYYY/MM/DD/HH/<uuid>.jsonl`; neither keys nor tokens reach the store; an oversized
request is recorded without its inputs, marked truncated; and with the store unreachable every request
still answers 200 while the dropped samples are counted. Sampling and the bounded buffer are checked on
the Capture class itself with a seeded draw.
"""

from __future__ import annotations

import datetime
import json
import re
import time
from collections.abc import Callable

import numpy as np
import pytest
from azure.storage.blob import BlobServiceClient
from azurite import DEV_ACCOUNT, Azurite, azurite_fixture  # noqa: F401  (the emulator fixture)
from conftest import PRIMARY_KEY, SECONDARY_KEY, MakeServer, Server, free_port
from prometheus_client import CollectorRegistry

from scoring.core.capture import Capture
from scoring.core.capture_settings import CaptureSettings, capture_from_env

CAPTURE_CONTAINER = "model-data"
BLOB = re.compile(r"mnist-mlp/3/\d{4}/\d{2}/\d{2}/\d{2}/[0-9a-f-]{36}\.jsonl\Z")


def capture_env(emulator: Azurite, **overrides: str) -> dict[str, str]:
    return {
        "CAPTURE_URL": f"http://127.0.0.1:{emulator.port}/{DEV_ACCOUNT}/{CAPTURE_CONTAINER}",
        "CAPTURE_STORAGE_CONNECTION_STRING": emulator.connection_string(),
        "CAPTURE_SAMPLE_RATE": "1",
        "CAPTURE_MAX_BYTES": "65536",
        "MODEL_DEPLOYMENT": "current",
        "REGISTERED_MODEL_NAME": "mnist-mlp",
        "REGISTERED_MODEL_VERSION": "3",
        **overrides,
    }


def captured(emulator: Azurite) -> dict[str, list[dict[str, object]]]:
    with BlobServiceClient.from_connection_string(emulator.connection_string()) as service:
        container = service.get_container_client(CAPTURE_CONTAINER)
        return {
            blob.name: [json.loads(line) for line in container.download_blob(blob.name).readall().splitlines()]
            for blob in container.list_blobs()
        }


@pytest.fixture(scope="module")
def store(azurite: Azurite) -> Azurite:
    with BlobServiceClient.from_connection_string(azurite.connection_string()) as service:
        service.create_container(CAPTURE_CONTAINER)
    return azurite


def test_scored_rows_and_labels_land_partitioned_by_model_version_and_hour(
    make_server: MakeServer, store: Azurite
) -> None:
    server = make_server(capture_env(store))
    rows = np.random.default_rng(1).random((3, 784), dtype=np.float32)
    big = np.ones((200, 784), dtype=np.float32)  # ~150 KB of JSON: over the 64 KiB cap
    replies = [
        server.score(rows, key=PRIMARY_KEY),
        server.score(rows, key=SECONDARY_KEY),
        server.score(big, key=PRIMARY_KEY),
    ]
    v2_row = [0.5] * 784
    v2_body = {"inputs": [{"name": "input", "shape": [1, 784], "datatype": "FP32", "data": v2_row}]}
    v2 = server.request("POST", "/v2/models/mnist/infer", json.dumps(v2_body).encode(), key=PRIMARY_KEY)
    assert [reply.status for reply in [*replies, v2]] == [200, 200, 200, 200]
    server.stop()  # a stopping server writes what it buffered
    blobs = wait_for(lambda: captured(store), lambda found: sum(len(v) for v in found.values()) >= 4)
    assert all(BLOB.match(name) for name in blobs), list(blobs)
    hour = datetime.datetime.now(datetime.UTC).strftime("%Y/%m/%d/%H")
    previous = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)).strftime("%Y/%m/%d/%H")
    assert all(hour in name or previous in name for name in blobs)
    samples = [sample for lines in blobs.values() for sample in lines]
    small = [s for s in samples if s["rows"] == 3]
    assert len(small) == 2
    for sample in small:
        assert sample["model"] == "mnist-mlp" and sample["version"] == "3" and sample["deployment"] == "current"
        assert np.allclose(np.array(sample["inputs"], dtype=np.float32), rows)
        assert sample["outputs"] == replies[0].json() and sample["truncated"] is False
    (from_v2,) = [s for s in samples if s["rows"] == 1]
    assert from_v2["inputs"] == [v2_row] and from_v2["outputs"] == v2.json()["outputs"][0]["data"]
    (truncated,) = [s for s in samples if s["rows"] == 200]
    assert truncated["truncated"] is True and truncated["inputs"] is None
    assert truncated["outputs"] == replies[2].json()
    everything = json.dumps(blobs)
    assert PRIMARY_KEY not in everything and SECONDARY_KEY not in everything
    assert "Authorization" not in everything and "Bearer" not in everything


def test_an_unreachable_store_never_fails_a_request_and_drops_are_counted(make_server: MakeServer) -> None:
    closed = free_port()  # nothing listens there
    server: Server = make_server(
        {
            "CAPTURE_URL": f"http://127.0.0.1:{closed}/{DEV_ACCOUNT}/{CAPTURE_CONTAINER}",
            "CAPTURE_STORAGE_CONNECTION_STRING": f"AccountName={DEV_ACCOUNT};AccountKey=a2V5",
            "CAPTURE_SAMPLE_RATE": "1",
        }
    )
    rows = np.zeros((1, 784), dtype=np.float32)
    assert [server.score(rows).status for _ in range(20)] == [200] * 20
    dropped = 'outcome="dropped_store_error"'
    counted = wait_for(lambda: server.metric("scoring_capture_samples_total", dropped), lambda n: n >= 20, 60)
    assert counted == 20
    assert server.metric("scoring_capture_samples_total", 'outcome="written"') == 0
    assert "capture_dropped" in server.log()
    assert server.score(rows).status == 200


def wait_for[T](probe: Callable[[], T], done: Callable[[T], bool], seconds: float = 30.0) -> T:
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def settings(**overrides: object) -> CaptureSettings:
    base = capture_from_env({"CAPTURE_URL": "https://acct.blob.core.windows.net/model-data"})
    assert base is not None
    return CaptureSettings(**{**base.__dict__, **overrides})


def test_sampling_keeps_about_the_configured_share() -> None:
    rng = np.random.default_rng(7)
    capture = Capture(
        settings(sample_rate=0.1, buffer_samples=100_000), "m", "1", "current", CollectorRegistry(), rng.random
    )
    for _ in range(10_000):
        capture.offer(np.zeros((1, 4), dtype=np.float32), np.array([1]))
    kept = len(capture._buffer)
    assert 850 <= kept <= 1150, kept  # 10,000 draws at 0.1: mean 1,000, sd 30


def test_a_full_buffer_drops_and_counts_instead_of_growing() -> None:
    registry = CollectorRegistry()
    capture = Capture(settings(buffer_samples=5), "m", "1", "current", registry)
    for _ in range(12):
        capture.offer(np.zeros((1, 4), dtype=np.float32), np.array([1]))
    assert len(capture._buffer) == 5
    assert registry.get_sample_value("scoring_capture_samples_total", {"outcome": "dropped_buffer_full"}) == 7


def test_capture_is_off_by_default_and_refuses_a_plain_http_store_with_identity() -> None:
    assert capture_from_env({}) is None
    with pytest.raises(ValueError, match="CAPTURE_URL"):
        capture_from_env({"CAPTURE_URL": "http://acct.blob.core.windows.net/model-data"})
    with pytest.raises(ValueError, match="CAPTURE_SAMPLE_RATE"):
        capture_from_env({"CAPTURE_URL": "https://acct.blob.core.windows.net/c", "CAPTURE_SAMPLE_RATE": "0"})
