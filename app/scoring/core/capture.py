"""Model data collection: a sampled share of what the model saw and answered, written to a container in
the workspace's storage for monitoring and retraining (Azure ML's `collect_model_data`). Off unless
CAPTURE_URL is set (scoring/core/capture_settings.py).

Format (docs/model-data.md): one JSON object per line, in block blobs named
`<model>/<version>/YYYY/MM/DD/HH/<uuid>.jsonl` (UTC hour of the samples; one blob per process per flush):
`{"time", "model", "version", "deployment", "rows", "inputs", "outputs", "truncated"}`. Inputs are the
validated rows the model scored (both protocols, both transports: the hook is in the pipeline, after
decoding), outputs what it answered. No header is ever read here, so keys and tokens cannot be written.

Never in a request's way: `offer` is synchronous and bounded (a sampling draw; for a kept sample one
orjson call and a deque append); uploads run in a background task. When the buffer is full, or an upload
fails, samples are dropped and counted in `scoring_capture_samples_total{outcome=...}`; a request is never
delayed or failed by the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
from prometheus_client import CollectorRegistry, Counter

from scoring.core.capture_settings import CaptureSettings

if TYPE_CHECKING:
    from azure.storage.blob.aio import ContainerClient

log = logging.getLogger("scoring")

# The smallest a JSON number takes with its separator ("0,"): rows whose values cannot fit the cap are
# left out without serialising them first.
_MIN_JSON_BYTES_PER_VALUE = 2
# Flush early once this many samples wait, so one blob stays a few MiB at most.
FLUSH_SAMPLES = 500
# One upload's limit, retries included, and the final flush's at shutdown: a slow or dead store costs
# samples, never the pod's termination grace period.
UPLOAD_TIMEOUT_S = 15.0
CLOSE_TIMEOUT_S = 5.0


def blob_name(model: str, version: str, at: float) -> str:
    hour = datetime.datetime.fromtimestamp(at, datetime.UTC).strftime("%Y/%m/%d/%H")
    return f"{model}/{version}/{hour}/{uuid.uuid4()}.jsonl"


def _iso(at: float) -> str:
    return datetime.datetime.fromtimestamp(at, datetime.UTC).isoformat(timespec="milliseconds")


class Capture:
    def __init__(
        self,
        settings: CaptureSettings,
        model: str,
        version: str,
        deployment: str,
        registry: CollectorRegistry | None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.model = model
        self.version = version
        self.deployment = deployment
        self._rand = rand
        self._buffer: deque[tuple[float, bytes]] = deque()
        self._wake = asyncio.Event()
        self._client: ContainerClient | None = None
        self.samples = Counter(
            "scoring_capture_samples",
            "Model data collection samples, by outcome: written, dropped_buffer_full, dropped_store_error",
            ["outcome"],
            registry=registry,
        )
        self.truncated = Counter(
            "scoring_capture_truncated",
            "Samples whose inputs were left out because they exceeded CAPTURE_MAX_BYTES",
            registry=registry,
        )
        self._written = self.samples.labels("written")
        self._full = self.samples.labels("dropped_buffer_full")
        self._failed = self.samples.labels("dropped_store_error")

    # ---- the request side: synchronous, bounded ----

    def offer(self, inputs: np.ndarray | str, outputs: object) -> None:
        """One scored request's inputs and outputs; kept with probability sample_rate."""
        settings = self.settings
        if self._rand() >= settings.sample_rate:
            return
        if len(self._buffer) >= settings.buffer_samples:
            self._full.inc()
            return
        now = time.time()
        rows = int(inputs.shape[0]) if isinstance(inputs, np.ndarray) and inputs.ndim > 0 else 1
        record: dict[str, Any] = {
            "time": _iso(now),
            "model": self.model,
            "version": self.version,
            "deployment": self.deployment,
            "rows": rows,
            "inputs": None,
            "outputs": outputs,
            "truncated": False,
        }
        size = inputs.size * _MIN_JSON_BYTES_PER_VALUE if isinstance(inputs, np.ndarray) else len(inputs)
        fits = size <= settings.max_sample_bytes
        if fits:
            record["inputs"] = inputs
        line = self._dump(record)
        if line is not None and fits and len(line) > settings.max_sample_bytes:
            fits = False
            record["inputs"] = None
            line = self._dump(record)
        if not fits:
            record["truncated"] = True
            self.truncated.inc()
            line = self._dump(record)
            if line is not None and len(line) > settings.max_sample_bytes:
                record["outputs"] = None
                line = self._dump(record)
        if line is None:
            return
        self._buffer.append((now, line))
        if len(self._buffer) >= FLUSH_SAMPLES:
            self._wake.set()

    @staticmethod
    def _dump(record: dict[str, Any]) -> bytes | None:
        try:
            return orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # an entry script's output orjson cannot write: keep the sample without it
            record["outputs"] = None
            try:
                return orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE)
            except TypeError:
                return None

    # ---- the background side ----

    def _container(self) -> ContainerClient:
        if self._client is None:
            from azure.storage.blob.aio import ContainerClient

            # The SDK logs every request's headers at INFO: one line per flush is not worth the noise.
            logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
            self._client = ContainerClient.from_container_url(
                self.settings.container_url,
                credential=_credential(self.settings),
                # Few, quick retries: a sample that cannot be written soon is dropped, not queued for long.
                retry_total=2,
                connection_timeout=5,
                read_timeout=20,
            )
        return self._client

    async def flush(self) -> None:
        """Writes every buffered sample: one blob per UTC hour present; a failed write drops its samples."""
        if not self._buffer:
            return
        taken = list(self._buffer)
        self._buffer.clear()
        hours: dict[str, list[bytes]] = {}
        for at, line in taken:
            hour = datetime.datetime.fromtimestamp(at, datetime.UTC).strftime("%Y%m%d%H")
            hours.setdefault(hour, []).append(line)
        for lines in hours.values():
            first = next(at for at, line in taken if line is lines[0])
            name = blob_name(self.model, self.version, first)
            try:
                upload = self._container().upload_blob(name, b"".join(lines), overwrite=False)
                await asyncio.wait_for(upload, UPLOAD_TIMEOUT_S)
                self._written.inc(len(lines))
            except asyncio.CancelledError:  # shutdown's limit reached: these are lost, and counted
                self._failed.inc(len(lines))
                raise
            except Exception as exc:
                self._failed.inc(len(lines))
                log.warning(
                    "model data collection: %d sample(s) dropped, the store refused them: %s",
                    len(lines),
                    type(exc).__name__,
                    extra={"event": "capture_dropped", "samples": len(lines)},
                )

    async def run(self) -> None:
        """Runs for the process's life: flushes every flush_interval_s, or sooner when the buffer fills."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.flush_interval_s)
            self._wake.clear()
            await self.flush()

    async def close(self) -> None:
        """After the drain: what is buffered is written once more, then the client closes."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), CLOSE_TIMEOUT_S)
        if self._client is not None:
            await self._client.close()


def _credential(settings: CaptureSettings) -> Any:
    """The credential CAPTURE_CREDENTIAL selects (the model fetch's choices, scoring/model_source.py)."""
    if settings.credential == "workload-identity":
        from azure.identity.aio import WorkloadIdentityCredential

        return WorkloadIdentityCredential(
            tenant_id=settings.tenant_id, client_id=settings.client_id, token_file_path=settings.token_file
        )
    if settings.credential == "connection-string":
        from azure.core.credentials import AzureNamedKeyCredential

        fields = dict(part.split("=", 1) for part in settings.connection_string.split(";") if "=" in part)
        return AzureNamedKeyCredential(fields.get("AccountName", ""), fields.get("AccountKey", ""))
    from azure.identity.aio import DefaultAzureCredential

    return DefaultAzureCredential()
