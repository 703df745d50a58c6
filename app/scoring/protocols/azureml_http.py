"""aiohttp glue between the Azure ML routes (scoring.protocols.azureml) and Azure ML's contract
(scoring.protocols.azureml_contract): request ids and their 431, Azure ML's error body on every Azure ML route,
and /score for an entry script served without batching (every call style Azure ML supports).

The Open Inference Protocol routes (/v2/...) keep their own error shape and ids: the middleware
leaves them alone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import CIMultiDict, CIMultiDictProxy

from scoring.core.errors import BadRequest, DeadlineExceeded, ServiceError
from scoring.core.pipeline import Pipeline
from scoring.model.entry import InterruptibleCall
from scoring.model.script_contract import RunContract, RunStyle, app_root
from scoring.protocols import azureml_contract as contract
from scoring.protocols.azureml_contract import Answer, Swagger

log = logging.getLogger("scoring")

# Set on every request of an Azure ML route: the x-request-id it was answered with ("" for none), so
# the Observer adds no id of its own.
IDS_KEY = web.RequestKey("azureml_ids", str)
# Werkzeug's RequestEntityTooLarge description.
TOO_LARGE = "The data value transmitted exceeds the capacity limit."


@dataclass(frozen=True)
class AzureML:
    """What the Azure ML routes need beyond the pipeline, decided once at start."""

    run: RunContract
    # Azure ML's documents (None when azureml-inference-server-http is not installed: then
    # /swagger.json serves this server's own OpenAPI document).
    swagger: Swagger | None
    # SCORING_TIMEOUT_MS when set (Azure ML's limit and 500 answer); else this server's SCORING_TIMEOUT_S.
    timeout_ms: int | None
    # x-ms-server-version on every answer of a matched route (None: not sent).
    server_version: str | None = None
    # AML_CORS_ORIGINS (None: unset, no CORS headers).
    cors: contract.Cors | None = None


AZUREML = web.AppKey("azureml", AzureML)


def setup(run: RunContract, env: Mapping[str, str], cwd: Path) -> AzureML:
    root = contract.server_root()
    swagger = contract.build_swagger(run.run, env, root, app_root(env, cwd)) if root is not None else None
    timeout_ms = contract.scoring_timeout_ms(env) if env.get("SCORING_TIMEOUT_MS", "").strip() else None
    server_version = contract.server_version(env, contract.installed_server_version())
    cors = contract.cors(env)
    if cors is not None:
        log.info("CORS enabled for AML_CORS_ORIGINS=%s", env["AML_CORS_ORIGINS"])
    elif env.get("AML_CORS_ORIGINS"):
        # aml_blueprint.setup logs the same and serves without CORS.
        log.warning("AML_CORS_ORIGINS is set but flask-cors is not installed: CORS stays off, as on Azure ML")
    return AzureML(run, swagger, timeout_ms, server_version, cors)


def setup_app(app: web.Application, run: RunContract) -> None:
    app[AZUREML] = setup(run, os.environ, Path.cwd())


def to_response(answer: Answer) -> web.Response:
    return web.Response(status=answer.status, body=answer.body, headers=CIMultiDict(answer.headers))


def _raw_query(request: web.Request) -> str:
    return request.raw_path.partition("?")[2]


# The resources of Azure ML's routes, recorded when they are registered (register_routes): a request
# is Azure ML's when its route is one of them, or when no route matched (Azure ML is the server's
# default protocol, so a 404 or 405 is answered as Azure ML's server answers it). No path is inspected.
OWNED = web.AppKey("azureml_resources", frozenset)


def register_routes(app: web.Application, routes: web.RouteTableDef) -> None:
    """Adds Azure ML's routes and records them as Azure ML's, for this module's middleware."""
    added = app.add_routes(routes)
    app[OWNED] = frozenset(route.resource for route in added if route.resource is not None)


def _is_azureml(request: web.Request) -> bool:
    match_info = request.match_info
    if match_info.http_exception is not None:  # no route matched: the default protocol's answer
        return True
    return match_info.route.resource in request.app.get(OWNED, frozenset())


def error_answer(error: ServiceError) -> Answer:
    """A typed error as Azure ML's error answer, with the error's own headers (Retry-After, ...)."""
    answer = contract.error_answer(error.status, error.message)
    return answer.with_headers(*error.headers.items())


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Azure ML's before/after-request hooks and error handlers, for every route but /v2's."""
    if not _is_azureml(request):
        return await handler(request)
    request[IDS_KEY] = ""  # Azure ML's ids only, or none (routing errors carry none)
    matched = request.match_info.http_exception is None
    ids: tuple[tuple[str, str], ...] = ()
    if matched:
        found, refusal = contract.request_ids(JoinedHeaders(request.headers))
        ids = found.headers()
        request[IDS_KEY] = found.request_id
        if refusal is not None:
            return _after_request(request, _with(to_response(refusal), ids))
    try:
        response = await handler(request)
    except ServiceError as error:
        request["reason"] = error.reason
        response = to_response(error_answer(error))
        if error.close:
            response.force_close()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status in (404, 405):
            response = to_response(contract.routing_error(exc.status))
            if "Allow" in exc.headers:  # HTTP's own requirement on a 405 (Azure ML sends none)
                response.headers["Allow"] = exc.headers["Allow"]
        elif exc.status == 413:
            response = to_response(contract.error_answer(413, TOO_LARGE))
            response.force_close()
        else:
            response = to_response(contract.error_answer(exc.status, exc.text or exc.reason))
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        response = to_response(contract.error_answer(500, contract.INTERNAL_ERROR))
    response = _with(response, ids)
    return _after_request(request, response) if matched else response


class JoinedHeaders(Mapping[str, str]):
    """The request's headers as contract.lower_headers() gives them (case-insensitive names, a repeated
    header's values joined with ","), looked up per name: the request-id rules read four headers, so
    copying every header into a dict first cost more than the rules themselves."""

    __slots__ = ("_headers",)

    def __init__(self, headers: CIMultiDictProxy[str]) -> None:
        self._headers = headers

    def __getitem__(self, name: str) -> str:
        values = self._headers.getall(name)  # KeyError when absent, as a dict's
        return values[0] if len(values) == 1 else ",".join(values)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name.lower() for name in self._headers))

    def __len__(self) -> int:
        return len({name.lower() for name in self._headers})


def _with(response: web.StreamResponse, ids: tuple[tuple[str, str], ...]) -> web.StreamResponse:
    for name, value in ids:
        response.headers[name] = value
    return response


def _after_request(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """The blueprint's other after-request hooks (a route Azure ML matched, as the ids): routes.py's
    x-ms-server-version and flask-cors's headers when AML_CORS_ORIGINS is set."""
    state = request.app.get(AZUREML)
    if state is None:
        return response
    if state.server_version:
        response.headers.add(contract.SERVER_VERSION_HEADER, state.server_version)
    if state.cors is not None:
        for name, value in state.cors.headers(request.method, request.headers.items(), tuple(response.headers.items())):
            response.headers.add(name, value)
    return response


# ---- the routes' answers ----


def health() -> web.Response:
    return to_response(contract.health_answer())


def default_options() -> web.Response:
    """OPTIONS on GET / and GET /swagger.json, as Flask answers it for them."""
    return to_response(contract.flask_options_answer(("GET",)))


def swagger(request: web.Request, own_document: bytes) -> web.Response:
    state = request.app[AZUREML]
    if state.swagger is None:
        return web.Response(body=own_document, content_type="application/json")
    version = dict(reversed(contract.query_pairs(_raw_query(request)))).get("version")
    return to_response(state.swagger.answer(version))


def json_string(request: web.Request, body: bytes) -> str:
    """The text an undecorated run() would get for this request (GET: the query as JSON)."""
    return contract.json_string_input(request.method, _raw_query(request), body, request.headers.get("Content-Type"))


def _server(request: web.Request) -> tuple[str, int]:
    sockname = request.transport.get_extra_info("sockname") if request.transport is not None else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        return str(sockname[0]), int(sockname[1])
    return "localhost", 80


def _inputs(request: web.Request, run: RunContract, body: bytes) -> dict[str, object] | Answer:
    if run.style is RunStyle.RAWHTTP:
        flask_request = contract.flask_request(
            request.method,
            request.raw_path,
            request.headers.items(),
            body,
            scheme=request.scheme,
            server=_server(request),
            remote_addr=request.remote,
        )
        return {run.input_name: flask_request}
    try:
        return contract.run_inputs(run, request.method, _raw_query(request), body, request.headers.get("Content-Type"))
    except contract.InputError as refused:
        return refused.answer()
    except contract.UnsupportedMethod:
        return unsupported_method(request.method)


def unsupported_method(method: str) -> Answer:
    """/score by a method run() does not take (without @rawhttp): OPTIONS is 200 with an empty body,
    anything else (HEAD) handle_score's 405."""
    return contract.options_answer() if method == "OPTIONS" else contract.error_answer(405, "Method not allowed")


def _timed(run: RunContract, inputs: Mapping[str, object], headers: Mapping[str, str]) -> tuple[object, float]:
    started = time.perf_counter()
    result = run.call(inputs, headers)
    return result, (time.perf_counter() - started) * 1e3


async def score_unbatched(request: web.Request, pipeline: Pipeline) -> web.Response:
    """/score (GET, POST, OPTIONS) for a script served as Azure ML serves it: one run() per request."""
    state = request.app[AZUREML]
    if state.run.style is not RunStyle.RAWHTTP and request.method not in ("GET", "POST"):
        # Answered without run() (and so without the key: a CORS preflight carries none).
        return to_response(unsupported_method(request.method))
    pipeline.gate(request.headers)  # readiness, then this server's bearer key (DELIBERATE)
    with pipeline.admitted() as reservation:
        body = await pipeline.read(request, reservation)
        inputs = _inputs(request, state.run, body)
        if isinstance(inputs, Answer):
            return to_response(inputs)
        headers = contract.request_headers(request.headers.items()) if state.run.wants_headers else {}
        return to_response(await _call(pipeline, state, inputs, headers))


async def _call(pipeline: Pipeline, state: AzureML, inputs: Mapping[str, object], headers: Mapping[str, str]) -> Answer:
    async with pipeline.concurrency.slot():  # MAX_CONCURRENT_REQUESTS, as on every path into the model
        return await _call_run(pipeline, state, inputs, headers)


async def _call_run(
    pipeline: Pipeline, state: AzureML, inputs: Mapping[str, object], headers: Mapping[str, str]
) -> Answer:
    call = InterruptibleCall(partial(_timed, state.run, inputs, headers))
    future = asyncio.get_running_loop().run_in_executor(pipeline.device, call)
    limit_s = (
        contract.timeout_seconds(state.timeout_ms)
        if state.timeout_ms is not None
        else pipeline.settings.scoring_timeout_s
    )
    try:
        result, elapsed_ms = await asyncio.wait_for(future, limit_s)
    except TimeoutError:
        # Stop run() as Azure ML's SIGALRM does (TimeoutError inside it), so the device thread is free
        # for the next request; native code it is in finishes its call first (app/README.md).
        call.interrupt()
        if state.timeout_ms is not None:
            log.error("run() did not finish within SCORING_TIMEOUT_MS=%d", state.timeout_ms)
            return contract.timeout_answer(state.timeout_ms)
        s = pipeline.settings.scoring_timeout_s
        raise DeadlineExceeded(f"scoring did not finish within {s:g} s (SCORING_TIMEOUT_S)") from None
    except ServiceError:
        raise
    except Exception as exc:
        # Logged with the traceback; the client never sees the exception's text.
        log.error("run() failed", exc_info=exc)
        return contract.exception_answer(exc)
    return contract.result_answer(result, elapsed_ms)


def scored_headers(started: float) -> dict[str, str]:
    """A batched answer's Azure ML headers: x-ms-run-function-failed False and x-ms-run-fn-exec-ms, the
    time from submitting the rows (`started`, a perf_counter value) to their labels."""
    elapsed_ms = (time.perf_counter() - started) * 1e3
    return {contract.RUN_FAILED_HEADER: "False", contract.EXEC_MS_HEADER: contract.exec_ms(elapsed_ms)}


def answered_ids(request: web.Request) -> bool:
    """Whether the middleware answered with Azure ML's ids (the Observer must not add its own)."""
    return IDS_KEY in request


def logged_id(request: web.Request) -> str | None:
    """The x-request-id Azure ML's rules answered this request with (None on the other routes)."""
    return request.get(IDS_KEY) or None


def batched_payload(request: web.Request, body: bytes) -> bytes:
    """The bytes the seed's batched decoder reads: what an undecorated run() would get (GET: the query
    as JSON text; POST: the body whatever its Content-Type, empty for form types)."""
    if request.method == "GET":
        return json_string(request, body).encode()
    return contract.request_data(body, request.headers.get("Content-Type"))


def check_utf8(payload: bytes) -> None:
    """Azure ML's 400 for a body that is not UTF-8 (checked only once the decoder refused it)."""
    try:
        str(payload, "utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"Input cannot be decoded as UTF-8: {exc}") from None
