"""The Azure ML inference server's protocol, as one unit: its routes (GET / liveness, GET /ready,
GET/POST/OPTIONS /score, GET /swagger.json, GET /openapi.json), its request ids and their 431, the
headers every answer of its routes carries (x-ms-server-version, CORS), its error body
{"message": ...} for every refusal, and its OpenAPI paths. It is the server's default protocol: a
request no route matched gets its 404 or 405.

A /score request becomes a pipeline call (what run() would get on Azure ML -> validated rows) and the
labels become the seed's JSON list. A script without run_batch is served by
scoring.protocols.azureml_http exactly as Azure ML serves it (scoring.protocols.azureml_contract has
the rules). Transports call these handlers through scoring/core/serving.py; nothing here knows one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import cache, partial
from typing import Any

import numpy as np
from multidict import CIMultiDictProxy

from scoring.core.admission import Reservation
from scoring.core.decode import DecodeError, check_structure, decode_scoring_bodies, decode_scoring_body
from scoring.core.encoding import labels_json
from scoring.core.errors import BadRequest, ServiceError
from scoring.core.exchange import Answer, Exchange, Route
from scoring.core.pipeline import Pipeline
from scoring.protocols import azureml_contract as contract
from scoring.protocols import azureml_http
from scoring.protocols import swagger as openapi

_JSON = ("Content-Type", "application/json")
_TEXT = ("Content-Type", "text/plain; charset=utf-8")
_ERROR_SCHEMA = "AzureMLError"


def _answer(answer: contract.Answer, close: bool = False, reason: str | None = None) -> Answer:
    return Answer(answer.status, answer.body, list(answer.headers), close, reason)


@cache
def _decoder(row_length: int, device: str) -> Callable[[bytes], np.ndarray]:
    """The seed's body -> validated float32 rows (the GPU byte parser for large bodies on CUDA)."""

    def decode(raw: bytes) -> np.ndarray:
        (result,) = decode_scoring_bodies([raw], row_length, device)
        if isinstance(result, DecodeError):
            try:
                raise result
            finally:  # else this frame, in the error's traceback, keeps the error (and the body) in a cycle
                del result
        return result

    return decode


@cache
def _many_decoder(row_length: int, device: str) -> Callable[[list[bytes]], list[np.ndarray | DecodeError]]:
    """Several large bodies at once: one GPU byte-parser call for all of them on CUDA. The pipeline ran
    check_structure on each of them already (it is their precheck)."""
    return partial(decode_scoring_bodies, row_length=row_length, device=device, structure_checked=True)


async def score_batched(pipeline: Pipeline, exchange: Exchange) -> Answer:
    """A /score request (GET or POST) through the batcher: the labels' JSON with Azure ML's headers;
    raises ServiceError. The rows decode from what run() would get on Azure ML (any Content-Type;
    GET: the query as JSON)."""
    pipeline.gate(exchange.headers)
    with pipeline.admitted() as reservation:
        payload = await _payload(exchange, reservation)
        row_length = pipeline.signature.row_length
        device = pipeline.settings.device
        try:
            rows = await pipeline.decode(
                reservation,
                _decoder(row_length, device),
                payload,
                partial(check_structure, row_length=row_length),
                _many_decoder(row_length, device),
                process_decode=partial(decode_scoring_body, row_length=row_length),
            )
        except BadRequest:
            azureml_http.check_utf8(payload)  # Azure ML's own 400 for a body that is not UTF-8
            raise
        del payload  # the decoded rows are all that is held from here on
        exchange.rows = rows.shape[0]
        started = time.perf_counter()
        labels = await pipeline.score(reservation, rows)
    headers = list(azureml_http.scored_headers(started).items())
    headers.append(_JSON)
    return Answer(200, labels_json(labels), headers)


async def _payload(exchange: Exchange, reservation: Reservation) -> bytes:
    """The bytes the seed's batched decoder reads: what an undecorated run() would get (GET: the query
    as JSON text; POST: the body whatever its Content-Type, empty for form types)."""
    body = await exchange.read_body(reservation)
    if exchange.method == "GET":
        return azureml_http.json_string(exchange, body).encode()
    return contract.request_data(body, exchange.headers.get("Content-Type"))


class AzureMLProtocol:
    """Azure ML's routes over the pipeline (scoring.core.exchange.ProtocolUnit)."""

    def __init__(self, pipeline: Pipeline, state: azureml_http.AzureML, own_document: Callable[[], bytes]) -> None:
        self.pipeline = pipeline
        self.state = state
        # This server's own OpenAPI document (scoring/protocols/swagger.py), composed once every
        # protocol is registered.
        self.own_document = own_document

    # ---- routes ----

    def routes(self) -> Sequence[Route]:
        return (
            Route("GET", "/", self.liveness),
            Route("OPTIONS", "/", self.default_options),
            Route("GET", "/ready", self.readiness),
            Route("GET", "/score", self.score),
            Route("POST", "/score", self.score),
            Route("OPTIONS", "/score", self.score),
            Route("GET", "/swagger.json", self.swagger),
            Route("OPTIONS", "/swagger.json", self.default_options),
            Route("GET", "/openapi.json", self.openapi_route),
        )

    async def liveness(self, exchange: Exchange) -> Answer:
        return _answer(contract.health_answer())

    async def default_options(self, exchange: Exchange) -> Answer:
        """Flask's automatic OPTIONS answer on Azure ML's GET routes (a browser's CORS preflight)."""
        return _answer(contract.flask_options_answer(("GET",)))

    async def readiness(self, exchange: Exchange) -> Answer:
        self.pipeline.check_pod_ready()
        return Answer(200, b"Ready", [_TEXT])

    async def swagger(self, exchange: Exchange) -> Answer:
        """Azure ML's document (Swagger 2.0; ?version=3 / 3.1: OpenAPI), or this server's own where
        azureml-inference-server-http is not installed."""
        documents = self.state.swagger
        if documents is None:
            return Answer(200, self.own_document(), [_JSON])
        version = dict(reversed(contract.query_pairs(exchange.query))).get("version")
        return _answer(documents.answer(version))

    async def openapi_route(self, exchange: Exchange) -> Answer:
        """This server's own OpenAPI 3.0.3 document of every route (/swagger.json is Azure ML's)."""
        return Answer(200, self.own_document(), [_JSON])

    async def score(self, exchange: Exchange) -> Answer:
        pipeline = self.pipeline
        if not pipeline.batched:
            # Served exactly as Azure ML serves the script (scoring.protocols.azureml_http).
            answer = await azureml_http.score_unbatched(exchange, pipeline, self.state)
            # Azure ML's ids replace those a run()'s own AMLResponse carried (after_request sets them).
            ids = {name.lower() for name, _ in exchange.state}
            return Answer(answer.status, answer.body, [h for h in answer.headers if h[0].lower() not in ids])
        if exchange.method not in ("GET", "POST"):  # answered without run(), and so without the key
            return _answer(azureml_http.unsupported_method(exchange.method))
        return await score_batched(pipeline, exchange)

    # ---- what every answer of Azure ML's routes carries ----

    def begin(self, exchange: Exchange) -> Answer | None:
        """Azure ML's request ids (routes._init_headers); an over-long one is its 431, without the route."""
        ids, refusal = contract.request_ids(azureml_http.JoinedHeaders(exchange.headers))
        exchange.request_id = ids.request_id
        exchange.state = ids.headers()
        return None if refusal is None else _answer(refusal)

    def finish(self, exchange: Exchange, answer: Answer) -> None:
        """The blueprint's after-request hooks: the ids, x-ms-server-version, flask-cors's headers."""
        headers = answer.headers
        headers.extend(exchange.state)
        state = self.state
        if state.server_version:
            headers.append((contract.SERVER_VERSION_HEADER, state.server_version))
        if state.cors is not None:
            headers.extend(state.cors.headers(exchange.method, exchange.headers.items(), tuple(headers)))

    # ---- errors, mapped once ----

    def error_answer(self, error: ServiceError) -> Answer:
        """A typed error as Azure ML's error answer, with the error's own headers (Retry-After, ...)."""
        answer = contract.error_answer(error.status, error.message).with_headers(*error.headers.items())
        return _answer(answer, error.close, error.reason)

    def internal_error(self) -> Answer:
        return _answer(contract.error_answer(500, contract.INTERNAL_ERROR))

    def unmatched(self, status: int, allow: str | None) -> Answer:
        """Werkzeug's routing errors as create_app answers them; a 405 names the allowed methods, as
        HTTP requires (Azure ML sends no Allow)."""
        answer = _answer(contract.routing_error(status))
        if allow is not None:
            answer.headers.append(("Allow", allow))
        return answer

    # ---- on a transport's own path (the fast lane) ----

    def lane_match(self, raw_path: bytes, headers: CIMultiDictProxy[str]) -> Exchange | None:
        """POST /score while it is batched and CORS is off (an unbatched script and CORS are aiohttp's)."""
        if raw_path != b"/score" or not self.pipeline.batched or self.state.cors is not None:
            return None
        return Exchange(self, self.score, "/score", "POST", "/score", headers)

    # ---- OpenAPI ----

    def openapi(self) -> tuple[dict[str, Any], dict[str, Any]]:
        settings = self.pipeline.settings
        row_length = self.pipeline.signature.row_length
        failed = openapi.error
        paths = {
            "/": {
                "get": {
                    "summary": "Liveness (Azure ML compatible)",
                    "responses": {"200": openapi.text("Alive", "Healthy")},
                }
            },
            "/ready": {
                "get": {
                    "summary": "Readiness: 200 once the model is loaded and warmed up",
                    "responses": {
                        "200": openapi.text("Ready", "Ready"),
                        "503": failed("Loading or shutting down", _ERROR_SCHEMA),
                    },
                }
            },
            "/score": {
                "post": {
                    "summary": "Predict one label per row (the seed's request and response format)",
                    "security": openapi.security(settings),
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ScoringRequest"}}},
                    },
                    "responses": {
                        "200": {
                            "description": "Labels",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/ScoringResponse"}}
                            },
                        },
                        **openapi.scoring_errors(settings, _ERROR_SCHEMA),
                        "415": failed("Content-Encoding is not gzip, deflate or br", _ERROR_SCHEMA),
                    },
                }
            },
            "/swagger.json": {
                "get": {
                    "summary": "Azure ML's Swagger 2.0 document (?version=3 or 3.1: OpenAPI)",
                    "responses": {"200": {"description": "The API document"}},
                }
            },
            "/openapi.json": {
                "get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3 document"}}}
            },
        }
        schemas = {
            _ERROR_SCHEMA: {
                "type": "object",
                "required": ["message"],
                "properties": {"message": {"type": "string"}},
            },
            "ScoringRequest": {
                "type": "object",
                "required": ["data"],
                "properties": {
                    "data": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "array",
                            "minItems": row_length,
                            "maxItems": row_length,
                            "items": {"type": "number"},
                        },
                        "description": f"Rows of {row_length} finite pixel values in [0, 1]",
                    }
                },
            },
            "ScoringResponse": {
                "type": "array",
                "items": {"type": "integer"},
                "description": "One label per row, in order",
            },
        }
        return paths, schemas
