"""`python3 -m scoring` (from app/): read the settings, listen, load the model, serve, drain.

The port opens before init() runs so liveness (GET /) answers during a long model load while
readiness stays 503; on SIGTERM readiness turns 503 at once, admitted requests finish (at most
DRAIN_SECONDS), then the process exits 0.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import sys
import time
from typing import TYPE_CHECKING, TypedDict

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from scoring.model_source import fetch_then_start
from scoring.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from scoring.server import ScoringServer

log = logging.getLogger("scoring")


def _export_for_entry_script(settings: Settings) -> None:
    # The entry script reads its own environment, as on Azure ML (which sets AZUREML_MODEL_DIR):
    # hand it the values the server resolved, so aliases and the detected device agree.
    os.environ["AZUREML_MODEL_DIR"] = str(settings.model_dir)
    os.environ["MODEL_DIR"] = str(settings.model_dir)
    os.environ["DEVICE"] = settings.device
    os.environ["MAX_BATCH_ROWS"] = str(settings.max_batch_rows)


async def _drain(server: ScoringServer, deadline_s: float) -> None:
    server.begin_drain()
    until = time.monotonic() + deadline_s
    while server.in_flight > 0 and time.monotonic() < until:
        await asyncio.sleep(0.02)
    if server.in_flight:
        log.warning("drain deadline of %.0f s reached with %d requests in flight", deadline_s, server.in_flight)


# What an admitted request still gets once the drain is over, before aiohttp cancels its handler.
# aiohttp's own default is 60 s, longer than any pod's grace period; a client that stalled its upload
# through the whole drain must not hold the process past DRAIN_SECONDS.
_AFTER_DRAIN_GRACE_S = 0.5


class _ShutdownTimeout(TypedDict, total=False):
    """Keyword arguments for AppRunner or TCPSite: shutdown_timeout, or none where the other takes it."""

    shutdown_timeout: float


def _shutdown_timeout_options(timeout_s: float) -> tuple[_ShutdownTimeout, _ShutdownTimeout]:
    """(AppRunner kwargs, TCPSite kwargs) carrying `timeout_s`: aiohttp 3.9 moved the shutdown
    timeout from TCPSite to AppRunner; Debian's 3.8 and the image's 3.13 are both served."""
    if "shutdown_timeout" in inspect.signature(web.AppRunner.__init__).parameters:
        return {"shutdown_timeout": timeout_s}, {}
    return {}, {"shutdown_timeout": timeout_s}


async def serve(settings: Settings) -> int:
    # Imported here, after the settings were accepted: these pull in torch (seconds), and a
    # misconfigured pod should say what is wrong at once.
    from scoring.entry import EntryScriptError, load_entry_script
    from scoring.server import ScoringServer

    try:
        entry = load_entry_script(settings.entry_script)
    except EntryScriptError as exc:
        log.error("%s", exc)
        return 1
    server = ScoringServer(settings, entry)
    # lingering_time=0: after refusing a request (401/408/413/503) close the connection at once
    # instead of reading and discarding the rest of an upload for up to 10 s.
    runner_options, site_options = _shutdown_timeout_options(_AFTER_DRAIN_GRACE_S)
    runner = web.AppRunner(
        server.build_app(), access_log=None, handle_signals=False, lingering_time=0, **runner_options
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, backlog=1024, **site_options)
    await site.start()
    log.info("listening on %s:%d (auth %s)", settings.host, settings.port, "on" if settings.auth_enabled else "OFF")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # With MODEL_URI, the registered model version is fetched and verified first (retried until it loads).
    model = loop.create_task(fetch_then_start(settings.model_source, settings.model_dir, server.start_model))
    stopper = loop.create_task(stop.wait())
    await asyncio.wait({model, stopper}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if model.done() and (error := model.exception()) is not None:
        log.error("entry script init() failed: %s: %s", type(error).__name__, error)
        code = 1
    else:
        await stopper
        log.info("SIGTERM: draining (at most %.0f s)", settings.drain_seconds)
        await _drain(server, settings.drain_seconds)
    model.cancel()
    await runner.cleanup()
    await server.close()
    log.info("stopped")
    return code


class _DropMalformedHttp(logging.Filter):
    """aiohttp before 3.9 logs every malformed request from a client as an ERROR with a traceback;
    those are answered 400 and are the client's problem, so keep them out of the server's error log."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, HttpProcessingError)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("aiohttp.server").addFilter(_DropMalformedHttp())
    try:
        settings = load_settings(os.environ)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _export_for_entry_script(settings)
    # The event loop (reading bodies) and the device thread (decoding, scoring) share the GIL. With
    # the default 5 ms switch interval the device thread waits whole intervals for it under load;
    # 0.5 ms measured 4.73x -> 5.71x the baseline's rows/s for JSON at 64 clients on the H100
    # (bench/RESULTS.md).
    sys.setswitchinterval(0.0005)
    try:
        import uvloop  # a faster event loop where installed (it is in the image)
    except ImportError:
        pass
    else:
        # uvloop/__init__.py imports __version__ from here without exporting it (not in __all__).
        from uvloop._version import __version__ as uvloop_version

        log.info("using uvloop %s", uvloop_version)
        return uvloop.run(serve(settings))
    return asyncio.run(serve(settings))


if __name__ == "__main__":
    sys.exit(main())
