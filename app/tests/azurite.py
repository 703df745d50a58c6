"""Azurite, the real Azure Storage emulator (the npm devDependency), started on a free loopback port with
a temporary folder: the `azurite` fixture the tests of the model fetch (model/test_model_source.py) and
of model data collection (core/test_capture.py) share. Azurite's documented development account is
used here only (node_modules/azurite/README.md, "Default Storage Account", Azurite 3.37.0, read 2026-12-01).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient
from conftest import APP_DIR, free_port

AZURITE = APP_DIR.parent / "node_modules" / ".bin" / "azurite-blob"
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
CONTAINER = "models"


@dataclass
class Azurite:
    port: int

    def connection_string(self, key: str = DEV_KEY) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={key};"
            f"BlobEndpoint=http://127.0.0.1:{self.port}/{DEV_ACCOUNT};"
        )

    def url(self, blob: str) -> str:
        return f"http://127.0.0.1:{self.port}/{DEV_ACCOUNT}/{CONTAINER}/{blob}"

    def upload(self, blob: str, data: bytes) -> None:
        with BlobServiceClient.from_connection_string(self.connection_string()) as service:
            service.get_blob_client(CONTAINER, blob).upload_blob(data, overwrite=True)

    def delete(self, blob: str) -> None:
        with BlobServiceClient.from_connection_string(self.connection_string()) as service:
            service.get_blob_client(CONTAINER, blob).delete_blob()


@pytest.fixture(scope="module", name="azurite")
def azurite_fixture() -> Iterator[Azurite]:
    assert AZURITE.exists(), f"{AZURITE} is missing: run `npm ci` at the repository root (azurite is a devDependency)"
    location = Path(tempfile.mkdtemp(prefix="azurite-"))
    port = free_port()
    log = (location / "azurite.log").open("wb")
    process = subprocess.Popen(
        [
            str(AZURITE),
            *("--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(location)),
            *("--skipApiVersionCheck", "--loose", "--silent"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    emulator = Azurite(port)
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, f"azurite exited with {process.returncode}"
        try:
            with BlobServiceClient.from_connection_string(emulator.connection_string()) as service:
                service.create_container(CONTAINER)
            break
        except Exception:  # not listening yet (the SDK wraps the refused connection)
            assert time.monotonic() < deadline, "azurite did not answer within 60 s"
            time.sleep(0.2)
    yield emulator
    # Its data is a temporary folder: no need to wait for a graceful close of idle connections.
    process.kill()
    process.wait(10)
    log.close()
    shutil.rmtree(location, ignore_errors=True)
