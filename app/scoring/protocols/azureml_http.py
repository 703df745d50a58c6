"""Azure ML's contract on the transport-neutral request path: the protocol's state decided at start,
its request-id headers read as Azure ML reads them, and /score for an entry script served without
batching (every call style Azure ML supports: run(raw_data), run(data, request_headers), @rawhttp,
inference-schema). No transport is known here: a request is an `Exchange`
(scoring/core/exchange.py), an answer an `Answer`; scoring.protocols.azureml_contract has the rules.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from multidict import CIMultiDictProxy

from scoring.core.admission import Reservation
from scoring.core.errors import BadRequest, DeadlineExceeded, ServiceError
from scoring.core.exchange import Exchange
from scoring.core.large_json import ANY_SHAPE_TRANSIENT_FACTOR
from scoring.core.pipeline import INLINE_DECODE_BYTES, Pipeline
from scoring.model.entry import InterruptibleCall
from scoring.model.script_contract import RunContract, RunStyle, app_root
from scoring.protocols import azureml_contract as contract
from scoring.protocols.azureml_contract import Answer, Swagger

log = logging.getLogger("scoring")


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


def json_string(exchange: Exchange, body: bytes) -> str:
    """The text an undecorated run() would get for this request (GET: the query as JSON)."""
    return contract.json_string_input(exchange.method, exchange.query, body, exchange.headers.get("Content-Type"))


def raw_path(exchange: Exchange) -> str:
    return f"{exchange.path}?{exchange.query}" if exchange.query else exchange.path


def _inputs(exchange: Exchange, run: RunContract, body: bytes) -> dict[str, object] | Answer:
    if run.style is RunStyle.RAWHTTP:
        peer = exchange.peer
        flask_request = contract.flask_request(
            exchange.method,
            raw_path(exchange),
            exchange.headers.items(),
            body,
            scheme="http" if peer is None else peer.scheme,
            server=("localhost", 80) if peer is None else peer.server(),
            remote_addr=None if peer is None else peer.remote,
        )
        return {run.input_name: flask_request}
    try:
        return contract.run_inputs(run, exchange.method, exchange.query, body, exchange.headers.get("Content-Type"))
    except contract.InputError as refused:
        return refused.answer()
    except contract.UnsupportedMethod:
        return unsupported_method(exchange.method)


def unsupported_method(method: str) -> Answer:
    """/score by a method run() does not take (without @rawhttp): OPTIONS is 200 with an empty body,
    anything else (HEAD) handle_score's 405."""
    return contract.options_answer() if method == "OPTIONS" else contract.error_answer(405, "Method not allowed")


def _timed(run: RunContract, inputs: Mapping[str, object], headers: Mapping[str, str]) -> tuple[object, float]:
    started = time.perf_counter()
    result = run.call(inputs, headers)
    return result, (time.perf_counter() - started) * 1e3


async def score_unbatched(exchange: Exchange, pipeline: Pipeline, state: AzureML) -> Answer:
    """/score (GET, POST, OPTIONS) for a script served as Azure ML serves it: one run() per request."""
    run = state.run
    if run.style is not RunStyle.RAWHTTP and exchange.method not in ("GET", "POST"):
        # Answered without run() (and so without the key: a CORS preflight carries none).
        return unsupported_method(exchange.method)
    pipeline.gate(exchange.headers)  # readiness, then this server's bearer key (DELIBERATE)
    with pipeline.admitted() as reservation:
        body = await exchange.read_body(reservation)
        transient = 0
        if run.style is not RunStyle.RAWHTTP and exchange.method == "POST":
            # What run() (or inference-schema, for it) parses as JSON: held to the batched path's
            # structural precheck, JSON size limit and decoding budget before anything parses it.
            payload = contract.request_data(body, exchange.headers.get("Content-Type"))
            transient = await _reserve_json(pipeline, reservation, payload)
        try:
            if transient:  # inference-schema's json.loads of a large body: not on the event loop
                loop = asyncio.get_running_loop()
                inputs = await loop.run_in_executor(pipeline.decoder, _inputs, exchange, run, body)
            else:
                inputs = _inputs(exchange, run, body)
            if isinstance(inputs, Answer):
                return inputs
            headers = contract.request_headers(exchange.headers.items()) if run.wants_headers else {}
            return await _call(pipeline, state, inputs, headers)
        finally:
            reservation.release_bytes(transient)


async def _reserve_json(pipeline: Pipeline, reservation: Reservation, payload: bytes) -> int:
    """What a body run() (or inference-schema) will parse costs, reserved before anything parses it: the
    JSON size limit (413) and the decoding transient (503 when the budget is full). Returns the bytes
    reserved (0 for a body too small to matter).

    No structural precheck: the batched path's (check_structure) knows its input is rows of numbers, but
    here the user's run() gives the JSON its meaning, and objects, strings or rows of any length are
    valid input. So the reservation is what any shape may cost (ANY_SHAPE_TRANSIENT_FACTOR, measured in
    scoring/core/large_json.py), which bounds a worker's memory for every body, hostile ones included."""
    if len(payload) <= INLINE_DECODE_BYTES:
        return 0
    return await pipeline.reserve_json(reservation, payload, None, transient_factor=ANY_SHAPE_TRANSIENT_FACTOR)


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


def check_utf8(payload: bytes) -> None:
    """Azure ML's 400 for a body that is not UTF-8 (checked only once the decoder refused it)."""
    try:
        str(payload, "utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"Input cannot be decoded as UTF-8: {exc}") from None
