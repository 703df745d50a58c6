"""`python3 -m scoring` (from app/): read the settings, listen, load the model, serve, drain.

With WORKERS > 1 (default: the CPUs this process may use) this process is a small supervisor: it
starts WORKERS serving processes that share the port through SO_REUSEPORT, each with its own device
context, forwards SIGTERM to them and exits with the first failure; metrics are aggregated across them
(scoring.observability.metrics). With WORKERS=1 it serves itself.

The port opens before init() runs so liveness (GET /) answers during a long model load while
readiness stays 503; on SIGTERM readiness turns 503 at once, admitted requests finish (at most
DRAIN_SECONDS), then the process exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, cast

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from scoring.core.runtime import freeze_startup_objects, tune_for_serving
from scoring.core.settings import Settings, SettingsError, load_settings, workers_from_env
from scoring.model.model_source import fetch_then_start
from scoring.observability import logs
from scoring.observability.metrics import MULTIPROC_ENV

if TYPE_CHECKING:
    from scoring.core.pipeline import Pipeline
    from scoring.observability.metrics import Metrics

log = logging.getLogger("scoring")

# Set by the supervisor for its workers: which one this is (worker 0 also serves the metrics port).
WORKER_INDEX_ENV = "SCORING_WORKER_INDEX"
# The supervisor's folder where each worker marks itself ready (scoring/core/readiness.py), and how many.
READY_DIR_ENV = "SCORING_READY_DIR"
WORKER_COUNT_ENV = "SCORING_WORKER_COUNT"

# What an admitted request still gets once the drain is over, before aiohttp cancels its handler.
# aiohttp's own default is 60 s, longer than any pod's grace period; a client that stalled its upload
# through the whole drain must not hold the process past DRAIN_SECONDS.
_AFTER_DRAIN_GRACE_S = 0.5


def _export_for_entry_script(settings: Settings) -> None:
    # The entry script reads its own environment, as on Azure ML (which sets AZUREML_MODEL_DIR):
    # hand it the values the server resolved, so aliases and the detected device agree.
    os.environ["AZUREML_MODEL_DIR"] = str(settings.model_dir)
    os.environ["MODEL_DIR"] = str(settings.model_dir)
    os.environ["DEVICE"] = settings.device
    os.environ["MAX_BATCH_ROWS"] = str(settings.max_batch_rows)
    # amlserver.merge_configuration sets HTTP_X_MS_SERVER_VERSION for the script too (what
    # x-ms-server-version carries); imported here, not above: the supervisor never needs it.
    from scoring.protocols.azureml_contract import installed_server_version, server_version

    version = server_version(os.environ, installed_server_version())
    if version:
        os.environ["HTTP_X_MS_SERVER_VERSION"] = version


async def serve(settings: Settings, worker: int | None) -> int:
    # Imported here, after the settings were accepted: these and the entry script take a while (torch,
    # when the script imports it, seconds), and a misconfigured pod should say what is wrong at once.
    from scoring.core.pipeline import Pipeline
    from scoring.model.entry import EntryScriptError, load_entry_script
    from scoring.observability.metrics import Metrics
    from scoring.transport.connections import Connections, ReusePortSite, raise_open_file_limit
    from scoring.transport.fast_lane import LaneContext, lane_factory
    from scoring.transport.observer import Observer
    from scoring.transport.server import build_app, build_metrics_app, lane_routes

    try:
        entry = load_entry_script(settings.entry_script)
    except EntryScriptError as exc:
        log.error("%s", exc, extra={"event": "start_failed"})
        return 1
    metrics = Metrics()
    pipeline = Pipeline(settings, entry, metrics)
    ready_dir = os.environ.get(READY_DIR_ENV, "")
    if worker is not None and ready_dir:
        from scoring.core.readiness import WorkersReady

        pipeline.workers_ready = WorkersReady(Path(ready_dir), int(os.environ.get(WORKER_COUNT_ENV, "1")), worker)
    connections = Connections(raise_open_file_limit(), metrics, settings.idle_timeout_s)
    request_log = logs.RequestLog() if settings.log_requests else None
    tracer = None
    if settings.telemetry is not None:
        # Imported only when on: OpenTelemetry and the exporter cost start-up time and memory otherwise.
        from scoring.observability.tracing import RequestTracer

        tracer = RequestTracer(settings.telemetry, worker)
    observer = Observer(metrics, connections, request_log, tracer, settings.deployment)
    background = _start_auth_versions_capture(settings, pipeline, metrics)
    # lingering_time=0: after refusing a request (401/408/413/503) close the connection at once
    # instead of reading and discarding the rest of an upload for up to 10 s. keepalive_timeout is
    # also the header timeout (scoring/transport/connections.py). auto_decompress=False: scoring/core/body.py
    # inflates Content-Encoding itself, counting every inflated byte against the budget.
    app = build_app(pipeline, observer, settings.model_name)
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        lingering_time=0,
        keepalive_timeout=settings.idle_timeout_s,
        auto_decompress=False,
        shutdown_timeout=_AFTER_DRAIN_GRACE_S,
    )
    await runner.setup()
    shared = worker is not None
    lane = None
    if settings.fast_lane:
        lane = lane_factory(LaneContext(pipeline, observer, connections, lane_routes(app)))
    site = ReusePortSite(runner, settings.host, settings.port, connections, reuse_port=shared, lane=lane)
    await site.start()
    metrics_runner: web.AppRunner | None = None
    if not worker:  # the only process, or worker 0
        metrics_runner = web.AppRunner(
            build_metrics_app(metrics, pipeline, observer),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=_AFTER_DRAIN_GRACE_S,
        )
        await metrics_runner.setup()
        await web.TCPSite(metrics_runner, settings.host, settings.metrics_port).start()
    log.info(
        "listening",
        extra={
            "event": "listening",
            "port": settings.port,
            "metrics_port": settings.metrics_port if metrics_runner else None,
            "auth": settings.auth_enabled,
            "telemetry": settings.telemetry is not None,
            "worker": worker,
            "pid": os.getpid(),
        },
    )

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # With MODEL_URI, the registered model version is fetched and verified first (retried until it loads).

    async def start_model() -> None:
        await pipeline.start_model()
        freeze_startup_objects()  # torch and the model live as long as the process

    model = loop.create_task(
        fetch_then_start(settings.model_source, settings.model_dir, start_model, pipeline.note_not_ready)
    )
    stopper = loop.create_task(stop.wait())
    gauges = loop.create_task(observer.publish_gauges(pipeline), name="gauges")
    sweeper = loop.create_task(connections.sweep_forever(), name="idle-sweep")
    await asyncio.wait({model, stopper}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if model.done() and (error := model.exception()) is not None:
        log.error("entry script init() failed: %s: %s", type(error).__name__, error, extra={"event": "start_failed"})
        code = 1
    else:
        await stopper
        log.info("SIGTERM: draining", extra={"event": "draining", "deadline_s": settings.drain_seconds})
        pipeline.begin_drain()
        until = time.monotonic() + settings.drain_seconds
        while observer.in_flight > 0 and time.monotonic() < until:
            await asyncio.sleep(0.02)
        if observer.in_flight:
            log.warning("drain deadline reached", extra={"event": "drain_deadline", "in_flight": observer.in_flight})
    model.cancel()
    connections.close_lanes()
    await runner.cleanup()
    gauges.cancel()
    sweeper.cancel()
    if metrics_runner is not None:
        await metrics_runner.cleanup()
    await pipeline.close()
    await _stop_background(background, pipeline)
    if tracer is not None:  # after the drain: every admitted request's span is queued by now
        await tracer.close()
    log.info("stopped", extra={"event": "stopped", "code": code})
    return code


def _start_auth_versions_capture(settings: Settings, pipeline: Pipeline, metrics: Metrics) -> list[asyncio.Task[None]]:
    """Token verification's key refresh, the deployment info metric and model data collection (issue 23):
    each only where settings turn it on, each a background task that never blocks a request."""
    from scoring.core.auth import Authenticator
    from scoring.core.tokens import TokenVerifier
    from scoring.observability.deployment import publish_deployment
    from scoring.observability.metrics import multiprocess

    tasks: list[asyncio.Task[None]] = []
    registry = None if multiprocess() else metrics.registry
    publish_deployment(registry, settings.deployment)
    if settings.tokens is not None:
        verifier = TokenVerifier(settings.tokens)
        pipeline.auth = Authenticator(settings.keys, settings.auth_enabled, settings.auth_mode, verifier)
        tasks.append(asyncio.get_running_loop().create_task(verifier.refresh_forever(), name="jwks"))
    if settings.capture is not None:
        from scoring.core.capture import Capture

        deployment = settings.deployment
        pipeline.capture = Capture(
            settings.capture,
            model=deployment.model if deployment and deployment.model else settings.model_name,
            version=deployment.version if deployment and deployment.version else "unversioned",
            deployment=deployment.name if deployment else "",
            registry=registry,
        )
        tasks.append(asyncio.get_running_loop().create_task(pipeline.capture.run(), name="capture"))
    return tasks


async def _stop_background(tasks: list[asyncio.Task[None]], pipeline: Pipeline) -> None:
    for task in tasks:
        task.cancel()
    if pipeline.capture is not None:  # after the drain: every admitted request's sample is buffered
        await pipeline.capture.close()


def supervise(settings: Settings, env: Mapping[str, str]) -> int:
    """Starts settings.workers serving processes on the shared port and waits for them."""
    metrics_dir = tempfile.mkdtemp(prefix="scoring-metrics-", dir="/tmp")
    ready_dir = tempfile.mkdtemp(prefix="scoring-ready-", dir="/tmp")
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for index in range(settings.workers):
        child_env = {
            **env,
            "WORKERS": "1",
            WORKER_INDEX_ENV: str(index),
            MULTIPROC_ENV: metrics_dir,
            READY_DIR_ENV: ready_dir,
            WORKER_COUNT_ENV: str(settings.workers),
        }
        children.append(subprocess.Popen([sys.executable, "-m", "scoring"], env=child_env))
        if index == 0 and settings.model_source is not None:
            # The first worker fetches the registered model; the others start once it is in place and
            # find it there (model_source skips a verified file) instead of downloading it again.
            _wait_ready(settings, children[0], lambda: stopping)
    log.info(
        "supervising", extra={"event": "supervising", "workers": settings.workers, "pids": [c.pid for c in children]}
    )
    code = 0
    try:
        dead: set[int] = set()
        while any(child.poll() is None for child in children):
            for child in children:
                status = child.poll()
                if status is not None and child.pid not in dead:
                    # Its live gauges (in flight, pending) must stop counting toward the pod's totals.
                    dead.add(child.pid)
                    _mark_dead(child.pid, metrics_dir)
                if status is not None and status != 0 and not stopping:
                    # One worker failed (bad entry script, init() failure): the pod must not half-serve.
                    code = code or status
                    forward(signal.SIGTERM, None)
            time.sleep(0.1)
        for child in children:
            code = code or (child.returncode or 0)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
        shutil.rmtree(ready_dir, ignore_errors=True)
    return code


def _mark_dead(pid: int, metrics_dir: str) -> None:
    from prometheus_client import multiprocess

    # mark_process_dead(pid, path) carries no annotations; it removes the pid's live-gauge files.
    mark = cast("Callable[[int, str], None]", multiprocess.mark_process_dead)
    mark(pid, metrics_dir)


def _wait_ready(settings: Settings, child: subprocess.Popen[bytes], stopping: Callable[[], bool]) -> None:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    url = f"http://{host}:{settings.port}/ready"
    while child.poll() is None and not stopping():
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)


class _DropMalformedHttp(logging.Filter):
    """aiohttp logs some malformed requests from a client with a traceback; those are answered 400
    and are the client's problem, so keep them out of the server's error log."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, HttpProcessingError)


def main() -> int:
    logs.configure()
    logging.getLogger("aiohttp.server").addFilter(_DropMalformedHttp())
    worker_raw = os.environ.get(WORKER_INDEX_ENV, "")
    worker = int(worker_raw) if worker_raw.isdigit() else None
    try:
        if worker is None and workers_from_env(os.environ) > 1:
            # The supervisor never touches the device, so it does not import torch to detect one; the
            # settings are still checked here, so a misconfigured pod fails at once with the message.
            return supervise(load_settings(os.environ, lambda: "cpu"), os.environ)
        settings = load_settings(os.environ)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _export_for_entry_script(settings)
    # The GIL switch interval and the garbage collector's thresholds (scoring/core/runtime.py says why).
    tune_for_serving()
    try:
        import uvloop  # a faster event loop where installed (it is in the image)
    except ImportError:
        return asyncio.run(serve(settings, worker))
    return uvloop.run(serve(settings, worker))


if __name__ == "__main__":
    sys.exit(main())
