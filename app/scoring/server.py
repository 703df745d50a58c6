"""The HTTP layer: routes, auth, admission, timeouts and readiness around the entry script.

Compatible with the Azure ML inference server the seed used (GET / -> Healthy, POST /score,
/swagger.json, port 5001) plus /ready, /metrics and the KServe v2 routes (kserve.py). The server
knows HTTP only: bodies go to the batcher as raw bytes (or to the script's run() when it has no
run_batch), and the model is reached only through the entry script.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from aiohttp import web
from aiohttp.typedefs import Handler

from scoring.admission import Admission, Reservation
from scoring.auth import Authenticator
from scoring.batching import Batcher, BatchError, json_row_estimate
from scoring.body import BodyRejected, read_body
from scoring.decode import DecodeError, available_decoders
from scoring.encoding import labels_json, result_json
from scoring.entry import EntryScript
from scoring.errors import first_refusal, json_error, json_errors
from scoring.metrics import Metrics
from scoring.settings import Settings
from scoring.swagger import openapi_document

log = logging.getLogger("scoring")

# Errors a user's run() raises while parsing what the client sent (the seed's json.loads, the
# ['data'] lookup, np.array of mixed types): the client's fault, so 400 rather than 500.
CLIENT_ERRORS = (ValueError, KeyError, TypeError, IndexError)


class ScoringServer:
    def __init__(self, settings: Settings, entry: EntryScript) -> None:
        self.settings = settings
        self.entry = entry
        self.metrics = Metrics()
        self.admission = Admission(settings.max_pending_bytes, settings.max_pending_rows)
        self.auth = Authenticator(settings.keys, settings.auth_enabled)
        # One thread owns the device: init(), run() and every batch run there, one at a time.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="device")
        self.batcher: Batcher | None = None
        self.ready = False
        self.draining = False
        self.in_flight = 0
        self._swagger = json.dumps(openapi_document(settings)).encode()

    # ---- lifecycle ----

    async def start_model(self) -> None:
        """Runs the script's init() on the device thread; the server is ready when it returns."""
        started = time.perf_counter()
        await asyncio.get_running_loop().run_in_executor(self.executor, self.entry.init)
        if self.entry.run_batch is not None:
            self.batcher = Batcher(
                self.entry.run_batch,
                self.executor,
                self.settings.device,
                self.settings.max_batch_rows,
                self.settings.max_batch_wait_s,
                self.admission,
                self.metrics,
            )
            self.batcher.start()
        self.ready = True
        mode = (
            f"batched through run_batch, JSON decoded by {' then '.join(available_decoders(self.settings.device))}"
            if self.batcher
            else "unbatched through run()"
        )
        log.info("model ready in %.1f s on %s, %s", time.perf_counter() - started, self.settings.device, mode)

    def begin_drain(self) -> None:
        """Readiness turns 503 at once; requests already admitted still finish."""
        self.draining = True
        self.ready = False

    async def close(self) -> None:
        if self.batcher is not None:
            await self.batcher.stop()
        self.executor.shutdown(wait=False)

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=self.settings.max_body_bytes, middlewares=[self._observe, json_errors])
        app.router.add_get("/", self.liveness)
        app.router.add_get("/ready", self.readiness)
        app.router.add_post("/score", self.score)
        app.router.add_get("/swagger.json", self.swagger)
        app.router.add_get("/metrics", self.metrics_text)
        from scoring.kserve import KServeRoutes  # kserve.py builds on this module's gate()

        KServeRoutes(self).register(app.router)
        return app

    # ---- shared request plumbing ----

    @web.middleware
    async def _observe(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        started = time.perf_counter()
        self.in_flight += 1
        self.metrics.in_flight.inc()
        status = "499"  # stays so when the client goes away and aiohttp cancels the handler
        try:
            response = await handler(request)
            status = str(response.status)
            return response
        except web.HTTPException as exc:
            status = str(exc.status)
            raise
        finally:
            self.in_flight -= 1
            self.metrics.in_flight.dec()
            self.metrics.requests.labels(route, status).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)

    def unavailable(self) -> web.Response | None:
        retry = {"Retry-After": str(self.settings.retry_after_s)}
        if self.draining:
            return json_error(503, "server is shutting down; retry on another replica", retry, close=True)
        if not self.ready:
            return json_error(503, "model is still loading; retry shortly", retry, close=True)
        return None

    def gate(self, request: web.Request) -> web.Response | None:
        """The checks every scoring request passes before its body is read: readiness, then auth."""
        refusal = first_refusal(self.unavailable(), self.auth.reject(request))
        if refusal is not None:
            self.metrics.rejected.labels("unavailable" if refusal.status == 503 else "unauthorized").inc()
        return refusal

    async def admit_and_read(self, request: web.Request, reservation: Reservation) -> bytes | web.Response:
        """The whole body, or the refusal (408/413/503 ...) that answers the request instead."""
        try:
            return await read_body(
                request,
                reservation,
                self.settings.max_body_bytes,
                self.settings.body_read_timeout_s,
                self.settings.retry_after_s,
            )
        except BodyRejected as rejected:
            self.metrics.rejected.labels(rejected.reason).inc()
            return rejected.response
        finally:
            self.metrics.pending_bytes.set(self.admission.bytes)

    def overloaded(self) -> web.Response:
        self.metrics.rejected.labels("overloaded").inc()
        return json_error(
            503,
            "server is at capacity (pending row budget full); retry shortly",
            {"Retry-After": str(self.settings.retry_after_s)},
        )

    def deadline_passed(self) -> web.Response:
        self.metrics.rejected.labels("deadline").inc()
        return json_error(
            504, f"scoring did not finish within {self.settings.scoring_timeout_s:g} s (SCORING_TIMEOUT_S)"
        )

    async def await_labels(self, future: asyncio.Future[np.ndarray]) -> np.ndarray | web.Response:
        """The batch's answer for one request, or the error response that replaces it."""
        try:
            return await asyncio.wait_for(future, self.settings.scoring_timeout_s)
        except TimeoutError:
            return self.deadline_passed()
        except DecodeError as exc:
            return json_error(400, str(exc))
        except ValueError as exc:
            return json_error(400, str(exc))
        except BatchError as exc:
            log.error("%s", exc)
            return json_error(500, f"scoring failed: {exc}")

    # ---- routes ----

    async def liveness(self, request: web.Request) -> web.Response:
        return web.Response(text="Healthy")

    async def readiness(self, request: web.Request) -> web.Response:
        refusal = self.unavailable()
        return refusal if refusal is not None else web.Response(text="Ready")

    async def swagger(self, request: web.Request) -> web.Response:
        return web.Response(body=self._swagger, content_type="application/json")

    async def metrics_text(self, request: web.Request) -> web.Response:
        self.metrics.pending_bytes.set(self.admission.bytes)
        self.metrics.pending_rows.set(self.admission.rows)
        return web.Response(body=self.metrics.render(), headers={"Content-Type": self.metrics.content_type})

    async def score(self, request: web.Request) -> web.Response:
        refusal = self.gate(request)
        if refusal is not None:
            return refusal
        declared = request.headers.get("Content-Type")
        if declared is not None and not _is_json(request.content_type):
            return json_error(
                415, f"Content-Type {declared!r} is not supported; send Content-Type: application/json", close=True
            )
        reservation = self.admission.reservation()
        try:
            body = await self.admit_and_read(request, reservation)
            if isinstance(body, web.Response):
                return body
            if self.batcher is None:
                return await self._score_unbatched(body)
            if not reservation.add_rows(json_row_estimate(len(body))):
                return self.overloaded()
            outcome = await self.await_labels(self.batcher.submit_json(body))
            if isinstance(outcome, web.Response):
                return outcome
            return web.Response(body=labels_json(outcome), content_type="application/json")
        finally:
            reservation.release()

    async def _score_unbatched(self, body: bytes) -> web.Response:
        """The seed's path: the script's run(raw_data) on the device thread, one request at a time."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return json_error(400, f"body is not valid UTF-8 text: {exc.reason} at byte {exc.start}")
        run = asyncio.get_running_loop().run_in_executor(self.executor, self.entry.run, text)
        try:
            result = await asyncio.wait_for(run, self.settings.scoring_timeout_s)
        except TimeoutError:
            return self.deadline_passed()
        except CLIENT_ERRORS as exc:
            return json_error(400, f"the entry script rejected the input: {type(exc).__name__}: {exc}")
        except Exception as exc:
            log.exception("run() failed")
            return json_error(500, f"the entry script failed: {type(exc).__name__}: {exc}")
        try:
            payload = result_json(result)
        except (TypeError, ValueError) as exc:
            return json_error(500, f"the entry script's result is not JSON: {exc}")
        return web.Response(body=payload, content_type="application/json")


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")
