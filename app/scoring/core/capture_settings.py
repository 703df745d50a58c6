"""The model data collection's environment (scoring/core/capture.py), parsed once: off unless CAPTURE_URL is set.

CAPTURE_URL: the container's URL (https://<account>.blob.core.windows.net/<container>); CAPTURE_SAMPLE_RATE:
the share of scored requests kept, in (0, 1]; CAPTURE_MAX_BYTES: one sample's cap (its inputs are left out,
and the sample marked truncated, above it); CAPTURE_CREDENTIAL: workload-identity (what the program sets),
default (a developer's `az login`) or connection-string (CAPTURE_STORAGE_CONNECTION_STRING: Azurite only).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

CaptureCredential = Literal["workload-identity", "default", "connection-string"]
_CREDENTIALS: tuple[CaptureCredential, ...] = ("workload-identity", "default", "connection-string")


@dataclass(frozen=True)
class CaptureSettings:
    container_url: str
    sample_rate: float
    max_sample_bytes: int
    credential: CaptureCredential
    # Samples held in memory awaiting upload; beyond it new samples are dropped (and counted).
    buffer_samples: int = 2000
    # How often buffered samples are written (one blob per process per flush).
    flush_interval_s: float = 10.0
    client_id: str = ""
    tenant_id: str = ""
    token_file: str = ""
    connection_string: str = field(default="", repr=False)


def capture_from_env(env: Mapping[str, str]) -> CaptureSettings | None:
    url = env.get("CAPTURE_URL", "").strip().rstrip("/")
    if not url:
        return None
    connection_string = env.get("CAPTURE_STORAGE_CONNECTION_STRING", "").strip()
    raw = env.get("CAPTURE_CREDENTIAL", "").strip().lower() or (
        "connection-string" if connection_string else "workload-identity"
    )
    credential = next((c for c in _CREDENTIALS if c == raw), None)
    if credential is None:
        raise ValueError(f"CAPTURE_CREDENTIAL={raw!r} is not one of {', '.join(_CREDENTIALS)}")
    parts = urlsplit(url)
    schemes = ("https", "http") if credential == "connection-string" else ("https",)
    if parts.scheme not in schemes or not parts.netloc or parts.path.strip("/") == "":
        raise ValueError(
            f"CAPTURE_URL={url!r} is not a container URL: use https://<account>.blob.core.windows.net/<container>"
        )
    rate_raw = env.get("CAPTURE_SAMPLE_RATE", "").strip() or "1"
    try:
        rate = float(rate_raw)
    except ValueError:
        rate = math.nan
    if not 0.0 < rate <= 1.0:
        raise ValueError(f"CAPTURE_SAMPLE_RATE={rate_raw!r} is not a share of requests; use a number in (0, 1]")
    size_raw = env.get("CAPTURE_MAX_BYTES", "").strip() or str(256 << 10)
    if not size_raw.isdigit() or not 1024 <= int(size_raw) <= (4 << 20):
        raise ValueError(f"CAPTURE_MAX_BYTES={size_raw!r} must be a byte count between 1024 and 4194304")
    if credential == "connection-string" and not connection_string:
        raise ValueError("CAPTURE_CREDENTIAL=connection-string needs CAPTURE_STORAGE_CONNECTION_STRING (emulator only)")
    return CaptureSettings(
        container_url=url,
        sample_rate=rate,
        max_sample_bytes=int(size_raw),
        credential=credential,
        client_id=env.get("AZURE_CLIENT_ID", "").strip(),
        tenant_id=env.get("AZURE_TENANT_ID", "").strip(),
        token_file=env.get("AZURE_FEDERATED_TOKEN_FILE", "").strip(),
        connection_string=connection_string,
    )
