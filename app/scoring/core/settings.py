"""Every environment variable the server reads, parsed once, with errors that name the variable,
the value and the fix. Nothing else in the package reads os.environ (score.py, the user's code,
reads its own variables, as Azure ML entry scripts do)."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from scoring.core.capture_settings import CaptureSettings, capture_from_env
from scoring.core.tokens import AUTH_MODES, AuthMode, TokenSettings, valid_jwks_uri
from scoring.model.model_source import MODEL_CREDENTIALS, ModelCredential, ModelSource
from scoring.observability.deployment import ModelDeployment, deployment_from_env
from scoring.observability.telemetry import Telemetry

# app/ (the folder holding scoring/, score.py and model/): relative defaults resolve against it so
# `python3 -m scoring` works from app/ and the tests work from the repository root.
APP_DIR = Path(__file__).resolve().parents[2]


class SettingsError(ValueError):
    """A variable is missing or malformed; the message says which and how to fix it."""


_WORKLOAD_IDENTITY_ENV = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE")


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    model_dir: Path
    entry_script: Path
    model_name: str
    auth_enabled: bool
    # Keys are bytes so the comparison in auth.py is hmac.compare_digest over bytes, never str.
    keys: tuple[bytes, ...]
    device: str
    max_body_bytes: int
    max_batch_rows: int
    max_batch_wait_s: float
    max_pending_rows: int
    max_pending_bytes: int
    body_read_timeout_s: float
    scoring_timeout_s: float
    drain_seconds: float
    retry_after_s: int
    # None: serve model_dir as it is (local runs, tests); else fetch the registered version into it first.
    model_source: ModelSource | None = None
    # The Prometheus port (never the public one): the Kubernetes side scrapes this constant.
    metrics_port: int = 9102
    # A connection without a complete request head for this long (idle, silent or trickling) is closed.
    idle_timeout_s: float = 15.0
    # Batches of at most this many rows run on the event loop, without a hand-off to the device thread.
    inline_batch_rows: int = 16
    # Serving processes sharing the port (SO_REUSEPORT), each with its own device context.
    workers: int = 1
    # One JSON log line per request.
    log_requests: bool = True
    # The scoring routes' common case served by scoring/transport/fast_lane.py (False: aiohttp serves everything).
    fast_lane: bool = True
    # None: no request telemetry (the default); else where scoring/observability/tracing.py sends it.
    telemetry: Telemetry | None = None
    # Requests scored at once (0: no limit) and how long the next may wait for a slot (scoring/core/concurrency.py).
    max_concurrent_requests: int = 0
    max_request_wait_s: float = 0.5
    # What a bearer credential may be (scoring/core/tokens.py); tokens: set unless auth_mode is keys.
    auth_mode: AuthMode = "keys"
    tokens: TokenSettings | None = None
    # Which model deployment (version slot) this process is; None: not named (local runs).
    deployment: ModelDeployment | None = None
    # Sampled request capture to storage (scoring/core/capture.py); None: off (the default).
    capture: CaptureSettings | None = None


def _first(env: Mapping[str, str], *names: str) -> tuple[str, str] | None:
    """The first of names that is set and non-empty, with its value."""
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return name, value
    return None


def _int(env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number; set it to an integer such as {default}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise SettingsError(f"{name}={value} is out of range; it must be {bound}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float, minimum: float, scale: float = 1.0) -> float:
    """A non-negative duration; `scale` converts the variable's unit (e.g. ms) to seconds."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(
            f"{name}={raw!r} is not a number; set it to a duration such as {default / scale:g}"
        ) from None
    if not math.isfinite(value) or value < minimum:
        raise SettingsError(f"{name}={raw} is out of range; it must be a finite number of at least {minimum:g}")
    return value * scale


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean; use true or false")


def _path(env: Mapping[str, str], names: tuple[str, ...], default: Path) -> Path:
    """Relative paths resolve against the current directory when they exist there, else against app/."""
    found = _first(env, *names)
    path = Path(found[1]) if found else default
    if path.is_absolute():
        return path
    return path.resolve() if path.exists() else APP_DIR / path


def workers_from_env(env: Mapping[str, str]) -> int:
    """WORKERS alone, read before the rest (the supervisor decides on it without importing torch)."""
    return _int(env, "WORKERS", _available_cpus(), 1, 256)


def _available_cpus(cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """The CPUs this process may use, at least 1: its CPU set (sched_getaffinity), capped by the cgroup's
    CPU quota. A pod with `limits.cpu: 2` on a 16-core node keeps all 16 in its CPU set unless the
    kubelet's static CPU manager pins it; the quota is what says 2 (one process per CPU it may use)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota visible: the CPU set decides
    return max(1, cpus)


def _default_device() -> str:
    # Imported here so parsing the other settings (and their errors) never waits for torch.
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _device(env: Mapping[str, str], detect: Callable[[], str]) -> str:
    raw = env.get("DEVICE", "").strip().lower()
    if not raw:
        return detect()
    if raw == "cpu" or raw == "cuda" or (raw.startswith("cuda:") and raw[5:].isdigit()):
        return raw
    raise SettingsError(f"DEVICE={raw!r} is not a device; use cpu, cuda or cuda:<index>")


def _keys(env: Mapping[str, str], auth_enabled: bool) -> tuple[bytes, ...]:
    keys: list[bytes] = []
    for name in ("SCORING_PRIMARY_KEY", "SCORING_SECONDARY_KEY"):
        value = env.get(name, "")
        if not value:
            continue
        if value != value.strip() or any(ord(ch) < 0x21 or ord(ch) > 0x7E for ch in value):
            # A key that cannot travel in an HTTP header would lock every client out silently.
            raise SettingsError(
                f"{name} must be printable ASCII without spaces (it travels in the Authorization header)"
            )
        keys.append(value.encode("ascii"))
    if auth_enabled and not keys:
        raise SettingsError(
            "AUTH_ENABLED is true but no key is configured: set SCORING_PRIMARY_KEY (and optionally "
            "SCORING_SECONDARY_KEY), or set AUTH_ENABLED=false to serve without authentication"
        )
    return tuple(keys)


def _model_source(env: Mapping[str, str], model_dir: Path) -> ModelSource | None:
    """MODEL_URI and what verifies it; None when MODEL_URI is unset (the folder is served as it is)."""
    uri = env.get("MODEL_URI", "").strip()
    if not uri:
        return None
    connection_string = env.get("MODEL_STORAGE_CONNECTION_STRING", "").strip()
    raw_credential = env.get("MODEL_CREDENTIAL", "").strip().lower()
    credential: ModelCredential
    if not raw_credential:
        credential = "connection-string" if connection_string else "default"
    elif raw_credential in MODEL_CREDENTIALS:
        credential = next(c for c in MODEL_CREDENTIALS if c == raw_credential)
    else:
        raise SettingsError(f"MODEL_CREDENTIAL={raw_credential!r} is not one of {', '.join(MODEL_CREDENTIALS)}")
    parts = urlsplit(uri)
    # Bearer tokens travel only over TLS; plain http is for the emulator on loopback, with its account key.
    schemes = ("https", "http") if credential == "connection-string" else ("https",)
    if parts.scheme not in schemes or not parts.netloc or parts.path.count("/") < 2 or parts.path.endswith("/"):
        raise SettingsError(
            f"MODEL_URI={uri!r} is not a blob URL: use {schemes[0]}://<account>.blob.core.windows.net/<container>/<path>"
        )
    sha256 = env.get("MODEL_SHA256", "").strip().lower()
    if len(sha256) != 64 or any(ch not in "0123456789abcdef" for ch in sha256):
        raise SettingsError(
            f"MODEL_SHA256={sha256!r} is not a sha256 hex digest: set it to the digest recorded when the model "
            "version was registered (`pulumi stack output modelSha256`), so nothing unverified is served"
        )
    size_raw = env.get("MODEL_SIZE_BYTES", "").strip()
    if not size_raw.isdigit():
        raise SettingsError(
            f"MODEL_SIZE_BYTES={size_raw!r} is not a byte count: set it to the registered file's size "
            "(`pulumi stack output modelSizeBytes`)"
        )
    if credential == "connection-string" and not connection_string:
        raise SettingsError("MODEL_CREDENTIAL=connection-string needs MODEL_STORAGE_CONNECTION_STRING (emulator only)")
    missing = [name for name in _WORKLOAD_IDENTITY_ENV if not env.get(name, "").strip()]
    if credential == "workload-identity" and missing:
        raise SettingsError(
            f"MODEL_CREDENTIAL=workload-identity but {', '.join(missing)} unset: the workload identity webhook sets "
            "them only for pods labelled azure.workload.identity/use=true whose service account carries the "
            "azure.workload.identity/client-id annotation"
        )
    return ModelSource(
        uri=uri,
        sha256=sha256,
        size_bytes=int(size_raw),
        download_dir=_path(env, ("MODEL_DOWNLOAD_DIR",), model_dir),
        credential=credential,
        client_id=env.get("AZURE_CLIENT_ID", "").strip(),
        tenant_id=env.get("AZURE_TENANT_ID", "").strip(),
        token_file=env.get("AZURE_FEDERATED_TOKEN_FILE", "").strip(),
        connection_string=connection_string,
    )


# Azure ML 1.5.1's check of AML_APP_INSIGHTS_KEY (amlserver.py check_valid_uuid), case-insensitive.
_INSTRUMENTATION_KEY = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z", re.I)
# What azure-monitor-opentelemetry-exporter 1.0.0b40 accepts (_connection_string_parser.py): lowercase only.
_EXPORTER_KEY = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _connection_string_problem(connection_string: str) -> str | None:
    """Why the exporter would refuse the connection string, or None. Never quotes it: it is a secret."""
    fields: dict[str, str] = {}
    for pair in connection_string.split(";"):
        # The exporter splits each pair on every "=" and fails on anything but exactly one.
        name, equals, value = pair.partition("=")
        if not equals or "=" in value or not name.strip():
            return "is not a list of name=value pairs separated by ';'"
        fields[name.strip().lower()] = value.strip()
    if not _EXPORTER_KEY.match(fields.get("instrumentationkey", "")):
        return "has no InstrumentationKey that is a lowercase UUID"
    if fields.get("authorization", "ikey").lower() != "ikey":
        return "names an Authorization other than ikey (the only one this exporter supports)"
    endpoint = fields.get("ingestionendpoint")
    if endpoint is not None:
        parts = urlsplit(endpoint)
        # Plain http would send the instrumentation key in clear: only to a local test endpoint.
        loopback = parts.hostname in _LOOPBACK
        if not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
            return "has an IngestionEndpoint that is not an https:// URL (plain http only to a loopback address)"
    return None


def _telemetry(env: Mapping[str, str]) -> Telemetry | None:
    """Request telemetry: on with APPLICATIONINSIGHTS_CONNECTION_STRING (the name the Azure Monitor exporter
    and the Azure Monitor OpenTelemetry distro read), or, as on Azure ML, with AML_APP_INSIGHTS_ENABLED=true
    and an AML_APP_INSIGHTS_KEY; AML_APP_INSIGHTS_ENABLED=false turns it off whatever else is set."""
    connection_string = env.get("APPLICATIONINSIGHTS_CONNECTION_STRING", "").strip()
    key = env.get("AML_APP_INSIGHTS_KEY", "").strip()
    # Azure ML's server is off unless AML_APP_INSIGHTS_ENABLED is true; a connection string is this
    # server's own switch, so it turns telemetry on by itself.
    enabled = _bool(env, "AML_APP_INSIGHTS_ENABLED", bool(connection_string))
    ratio_raw = env.get("APP_INSIGHTS_SAMPLE_RATIO", "").strip()
    try:
        sample_ratio = float(ratio_raw) if ratio_raw else 1.0
    except ValueError:
        sample_ratio = math.nan
    if not 0.0 < sample_ratio <= 1.0:  # NaN fails too
        raise SettingsError(
            f"APP_INSIGHTS_SAMPLE_RATIO={ratio_raw!r} is not a share of requests; use a number above 0 and at most 1"
        )
    if not enabled:
        return None
    if not connection_string:
        if not key:
            raise SettingsError(
                "AML_APP_INSIGHTS_ENABLED is true but neither APPLICATIONINSIGHTS_CONNECTION_STRING nor "
                "AML_APP_INSIGHTS_KEY is set: set the Application Insights connection string, or "
                "AML_APP_INSIGHTS_ENABLED=false"
            )
        if not _INSTRUMENTATION_KEY.match(key):
            # Azure ML's server disables telemetry here with a printed note; a pod should say so and stop.
            raise SettingsError(
                "AML_APP_INSIGHTS_KEY is not an Application Insights instrumentation key (a UUID); "
                "prefer APPLICATIONINSIGHTS_CONNECTION_STRING, which also names the regional endpoint"
            )
        # As Azure ML 1.5.1 builds it (server/appinsights_client.py); no endpoint: the global one.
        connection_string = f"InstrumentationKey={key.lower()}"
    problem = _connection_string_problem(connection_string)
    if problem is not None:
        raise SettingsError(
            f"APPLICATIONINSIGHTS_CONNECTION_STRING {problem} (its value is not shown: it is a secret); copy it "
            "from the Application Insights resource's Overview page, or unset it to turn telemetry off"
        )
    service_name = env.get("SERVICE_NAME", "").strip() or "ML service"
    return Telemetry(connection_string=connection_string, sample_ratio=sample_ratio, service_name=service_name)


def _scoring_timeout_s(env: Mapping[str, str]) -> float:
    """Every request's scoring deadline: SCORING_TIMEOUT_S, else Azure ML's SCORING_TIMEOUT_MS (the stack's
    scoringTimeoutMs; above 0, as 0 or less means "no limit" only to Azure ML's run()), else 30 s."""
    if env.get("SCORING_TIMEOUT_S", "").strip() or not env.get("SCORING_TIMEOUT_MS", "").strip():
        return _seconds(env, "SCORING_TIMEOUT_S", 30.0, 0.001)
    ms = _seconds(env, "SCORING_TIMEOUT_MS", 30.0, 0.0, scale=0.001)
    return ms if ms > 0 else 30.0


def _auth_mode(env: Mapping[str, str]) -> AuthMode:
    raw = env.get("AUTH_MODE", "").strip().lower() or "keys"
    for mode in AUTH_MODES:
        if raw == mode:
            return mode
    raise SettingsError(f"AUTH_MODE={raw!r} is not one of {', '.join(AUTH_MODES)}")


def _tokens(env: Mapping[str, str], mode: AuthMode) -> TokenSettings | None:
    """TOKEN_ISSUERS and TOKEN_AUDIENCES (comma-separated) and TOKEN_JWKS_URI, required unless AUTH_MODE=keys."""
    if mode == "keys":
        return None
    issuers = tuple(part.strip() for part in env.get("TOKEN_ISSUERS", "").split(",") if part.strip())
    audiences = tuple(part.strip() for part in env.get("TOKEN_AUDIENCES", "").split(",") if part.strip())
    jwks_uri = env.get("TOKEN_JWKS_URI", "").strip()
    if not issuers or not audiences:
        raise SettingsError(
            f"AUTH_MODE={mode} needs TOKEN_ISSUERS and TOKEN_AUDIENCES (comma-separated): the tenant's issuer "
            "(https://login.microsoftonline.com/<tenant>/v2.0) and the app registration's audience"
        )
    if not valid_jwks_uri(jwks_uri):
        raise SettingsError(
            f"TOKEN_JWKS_URI={jwks_uri!r} is not an https URL: use https://login.microsoftonline.com/<tenant>/"
            "discovery/v2.0/keys (plain http only to a loopback test issuer)"
        )
    return TokenSettings(issuers=issuers, audiences=audiences, jwks_uri=jwks_uri)


def _parsed[T](parse: Callable[[Mapping[str, str]], T], env: Mapping[str, str]) -> T:
    """A section parsed by its own module, whose ValueError (naming variable, value and fix) becomes ours."""
    try:
        return parse(env)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def load_settings(env: Mapping[str, str], detect_device: Callable[[], str] = _default_device) -> Settings:
    """Parses env; raises SettingsError naming the first bad variable."""
    auth_enabled = _bool(env, "AUTH_ENABLED", True)
    auth_mode = _auth_mode(env)
    # Tokens only: no key is needed (and any key set is ignored, never accepted).
    keys = () if auth_mode == "tokens" else _keys(env, auth_enabled)
    model_name = env.get("MODEL_NAME", "").strip() or "mnist"
    if not all(ch.isalnum() or ch in "-_." for ch in model_name):
        raise SettingsError(
            f"MODEL_NAME={model_name!r} may hold only letters, digits, '-', '_' and '.' (it is a URL segment)"
        )
    max_batch_rows = _int(env, "MAX_BATCH_ROWS", 4096, 1, 1 << 20)
    max_body_bytes = _int(env, "MAX_BODY_BYTES", 64 << 20, 1024)
    model_dir = _path(env, ("MODEL_DIR", "AZUREML_MODEL_DIR"), Path("model"))
    settings = Settings(
        host=env.get("HOST", "").strip() or "0.0.0.0",
        port=_int(env, "PORT", 5001, 0, 65535),
        model_dir=model_dir,
        entry_script=_path(env, ("ENTRY_SCRIPT", "AZUREML_ENTRY_SCRIPT"), Path("score.py")),
        model_name=model_name,
        auth_enabled=auth_enabled,
        keys=keys,
        device=_device(env, detect_device),
        max_body_bytes=max_body_bytes,
        max_batch_rows=max_batch_rows,
        max_batch_wait_s=_seconds(env, "MAX_BATCH_WAIT_MS", 0.002, 0.0, scale=0.001),
        max_pending_rows=_int(env, "MAX_PENDING_ROWS", 16 * max_batch_rows, 1),
        max_pending_bytes=_int(env, "MAX_PENDING_BYTES", 4 * max_body_bytes, 1024),
        body_read_timeout_s=_seconds(env, "BODY_READ_TIMEOUT_S", 30.0, 0.001),
        scoring_timeout_s=_scoring_timeout_s(env),
        drain_seconds=_seconds(env, "DRAIN_SECONDS", 20.0, 0.0),
        retry_after_s=_int(env, "RETRY_AFTER_S", 1, 0, 3600),
        model_source=_model_source(env, model_dir),
        metrics_port=_int(env, "METRICS_PORT", 9102, 0, 65535),
        idle_timeout_s=_seconds(env, "IDLE_TIMEOUT_S", 15.0, 0.001),
        inline_batch_rows=_int(env, "INLINE_BATCH_ROWS", 16, 0),
        workers=workers_from_env(env),
        log_requests=_bool(env, "LOG_REQUESTS", True),
        fast_lane=_bool(env, "FAST_LANE", True),
        telemetry=_telemetry(env),
        max_concurrent_requests=_int(env, "MAX_CONCURRENT_REQUESTS", 0, 0, 1 << 20),
        max_request_wait_s=_seconds(env, "MAX_REQUEST_WAIT_TIME_MS", 0.5, 0.0, scale=0.001),
        auth_mode=auth_mode,
        tokens=_tokens(env, auth_mode) if auth_enabled else None,
        deployment=_parsed(deployment_from_env, env),
        capture=_parsed(capture_from_env, env),
    )
    if settings.max_pending_bytes < settings.max_body_bytes:
        raise SettingsError(
            f"MAX_PENDING_BYTES={settings.max_pending_bytes} is below MAX_BODY_BYTES={settings.max_body_bytes}: "
            "a request of the allowed size could never be admitted; raise MAX_PENDING_BYTES"
        )
    return settings
