"""The registered model version's file, fetched from the workspace storage before init() runs.

In the cluster the pod is told which version to load (MODEL_URI, MODEL_SHA256, MODEL_SIZE_BYTES,
recorded by the program when it registered the version) and authenticates with AKS workload identity;
no key or SAS is in the pod. The file is written under a temporary name, its size and sha256 are checked
against the registration, and only then is it renamed into MODEL_DIR, read-only: a half-downloaded or
altered file is never what init() reads. Any failure (missing blob, denied identity, unreachable
storage, wrong size or digest, or init() refusing the file) is one log line naming the URI and the
cause; the server stays up with /ready 503 and tries again with capped exponential backoff, so the pod
stays out of the Service until the model really loads.

Without MODEL_URI nothing is fetched: MODEL_DIR is served as it is (local runs, tests).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from azure.core.credentials import AzureNamedKeyCredential
    from azure.core.credentials_async import AsyncTokenCredential

ModelCredential = Literal["workload-identity", "default", "connection-string"]
MODEL_CREDENTIALS: tuple[ModelCredential, ...] = ("workload-identity", "default", "connection-string")


@dataclass(frozen=True)
class ModelSource:
    """The registered model version's file, fetched into model_dir before init() (scoring/model/model_source.py).

    uri: the blob's URL; sha256 and size_bytes: what the program recorded when it registered the version.
    download_dir: a writable view of model_dir (in the pod the same emptyDir, mounted read-write here and
    read-only at MODEL_DIR, so the entry script cannot change what was verified).
    credential: workload-identity in the cluster (the program sets it), default (DefaultAzureCredential:
    `az login` on a laptop), or connection-string (an account key, for the Azurite emulator only).
    """

    uri: str
    sha256: str
    size_bytes: int
    download_dir: Path
    credential: ModelCredential
    # From the workload identity webhook (AZURE_CLIENT_ID / AZURE_TENANT_ID / AZURE_FEDERATED_TOKEN_FILE).
    client_id: str = ""
    tenant_id: str = ""
    token_file: str = ""
    connection_string: str = field(default="", repr=False)


log = logging.getLogger("scoring")

# First retry after about a second, doubling to at most a minute: quick recovery when the role
# assignment or the blob is still propagating, no hammering of storage when the fault is permanent.
RETRY_FIRST_S = 1.0
RETRY_MAX_S = 60.0


class ModelFetchError(RuntimeError):
    """The model file could not be fetched or verified; the message is the cause, for one log line."""


def blob_file_name(uri: str) -> str:
    """The file name the blob gets in MODEL_DIR: the last segment of its path, as Azure ML lays a
    single-file model out under AZUREML_MODEL_DIR."""
    return PurePosixPath(unquote(urlsplit(uri).path)).name


def retry_delay_s(attempt: int, rand: Callable[[], float] = random.random) -> float:
    """Delay before retry `attempt` (0-based): capped doubling, jittered down by up to half so that
    replicas started together do not retry in lockstep."""
    ceiling = min(RETRY_MAX_S, RETRY_FIRST_S * (2.0 ** min(attempt, 16)))
    return ceiling * (0.5 + 0.5 * rand())


def _account_key(connection_string: str, uri: str) -> AzureNamedKeyCredential:
    """The account key of an emulator connection string, checked against the account MODEL_URI names."""
    from azure.core.credentials import AzureNamedKeyCredential

    fields = dict(
        part.split("=", 1) for part in connection_string.split(";") if "=" in part
    )  # AccountKey is base64 and may end in '='; split once
    name, key = fields.get("AccountName", ""), fields.get("AccountKey", "")
    if not name or not key:
        raise ModelFetchError("MODEL_STORAGE_CONNECTION_STRING lacks AccountName or AccountKey")
    parts = urlsplit(uri)
    # Azurite and other IP-style endpoints carry the account as the first path segment.
    account = parts.hostname.split(".")[0] if parts.hostname else ""
    if parts.path.split("/")[1:2] == [name] or account == name:
        return AzureNamedKeyCredential(name, key)
    raise ModelFetchError(f"MODEL_STORAGE_CONNECTION_STRING is for account {name!r}, not the one in the URI")


def build_credential(source: ModelSource) -> AsyncTokenCredential | AzureNamedKeyCredential:
    """The credential MODEL_CREDENTIAL selects. workload-identity (what the program sets) is exactly
    azure-identity's WorkloadIdentityCredential on the webhook's client id, tenant and token file;
    default is DefaultAzureCredential (a developer's `az login`); connection-string is the emulator's
    account key, never set by the program."""
    if source.credential == "workload-identity":
        from azure.identity.aio import WorkloadIdentityCredential

        return WorkloadIdentityCredential(
            tenant_id=source.tenant_id, client_id=source.client_id, token_file_path=source.token_file
        )
    if source.credential == "connection-string":
        return _account_key(source.connection_string, source.uri)
    from azure.identity.aio import DefaultAzureCredential

    return DefaultAzureCredential()


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _already_there(source: ModelSource, target: Path) -> bool:
    """A verified copy from an earlier start of this container (the emptyDir outlives restarts)."""
    try:
        return target.stat().st_size == source.size_bytes and _sha256_of(target) == source.sha256
    except OSError:
        return False


def _cause(exc: Exception) -> str:
    """A short, specific cause for the log line (the SDK's own messages run to many lines)."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    if isinstance(exc, ModelFetchError):
        return str(exc)
    code = getattr(exc, "error_code", None) or ""
    status = getattr(exc, "status_code", None)
    http = f"HTTP {status} {code}".strip() if status else ""
    if isinstance(exc, ResourceNotFoundError):
        return f"blob not found ({http}): the registered version's file is not in the container"
    if isinstance(exc, ClientAuthenticationError) and status is None:
        # Raised by the credential itself: no token, so storage was never asked.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"no token for storage ({type(exc).__name__}: {first})"
    if isinstance(exc, HttpResponseError) and status in (401, 403):
        return (
            f"access denied ({http}): the pod's identity needs Storage Blob Data Reader on the models "
            "container (a new role assignment can take minutes to apply)"
        )
    if isinstance(exc, HttpResponseError):
        return f"storage answered {http or type(exc).__name__}"
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return f"storage unreachable ({type(exc).__name__}: {str(exc).strip().splitlines()[0]})"
    if isinstance(exc, OSError):
        return f"cannot write the model file ({type(exc).__name__}: {exc})"
    return f"{type(exc).__name__}: {exc}"


async def fetch_model(source: ModelSource, model_dir: Path) -> Path:
    """Downloads the blob into source.download_dir under a temporary name, checks its size and sha256,
    then renames it into place read-only; returns the path the entry script sees (under model_dir).
    Raises ModelFetchError or the SDK's exception on any failure, leaving nothing at the final name."""
    name = blob_file_name(source.uri)
    target = source.download_dir / name
    visible = model_dir / name
    # Hashing a large file takes a while: off the event loop, which keeps answering liveness.
    if not await asyncio.to_thread(_already_there, source, target):
        await _download(source, target)
    if not visible.is_file():
        raise ModelFetchError(
            f"downloaded to {target} but {visible} does not show it: MODEL_DOWNLOAD_DIR must be a writable "
            "view of the MODEL_DIR volume"
        )
    return visible


async def _download(source: ModelSource, target: Path) -> None:
    from azure.storage.blob.aio import BlobClient

    source.download_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    credential = build_credential(source)
    try:
        async with BlobClient.from_blob_url(source.uri, credential=credential) as blob:
            downloader = await blob.download_blob()
            if downloader.size != source.size_bytes:
                raise ModelFetchError(
                    f"blob is {downloader.size} bytes, the registered version has {source.size_bytes} "
                    "(a truncated or different upload)"
                )
            digest = hashlib.sha256()
            received = 0
            with partial.open("wb") as file:
                async for chunk in downloader.chunks():
                    file.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                file.flush()
                os.fsync(file.fileno())
        if received != source.size_bytes:
            raise ModelFetchError(f"received {received} of {source.size_bytes} bytes")
        if digest.hexdigest() != source.sha256:
            raise ModelFetchError(
                f"sha256 {digest.hexdigest()} does not match the registered {source.sha256} "
                "(the blob changed after registration, or is corrupt)"
            )
        partial.chmod(0o444)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
        close = getattr(credential, "close", None)
        if close is not None:
            await close()


async def fetch_then_start(
    source: ModelSource | None,
    model_dir: Path,
    start: Callable[[], Awaitable[None]],
    report: Callable[[str], None] | None = None,
) -> None:
    """Without a source, start() (the entry script's init) as before. With one, fetch and verify the
    file, then start(); on any failure log one line naming the URI and the cause, back off and try again,
    until it succeeds or the task is cancelled (SIGTERM). /ready is 503 all that time, and `report` gets
    the same line for /ready's body."""
    if source is None:
        await start()
        return
    attempt = 0
    while True:
        began = time.perf_counter()
        stage = "fetch"
        try:
            path = await fetch_model(source, model_dir)
            log.info(
                "model %s fetched to %s (%d bytes, sha256 verified) in %.2f s",
                source.uri,
                path,
                source.size_bytes,
                time.perf_counter() - began,
            )
            stage = "init"
            await start()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every failure, the entry script's included, keeps the pod not ready
            delay = retry_delay_s(attempt)
            cause = _cause(exc) if stage == "fetch" else f"init() failed on it: {type(exc).__name__}: {exc}"
            if report is not None:  # before the log line, so a reader who saw the line finds it on /ready
                report(f"model {source.uri} not loaded: {cause}; retrying")
            log.error("model %s not loaded: %s; retrying in %.1f s (attempt %d)", source.uri, cause, delay, attempt + 1)
            attempt += 1
            await asyncio.sleep(delay)
