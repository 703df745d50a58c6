"""Open Inference Protocol (KServe v2) REST routes, with the binary tensor data extension.

One input tensor and one output tensor, named and typed by the entry script's signature (for the
default model: `input`, FP32 values in [0, 1] or UINT8 pixels, shape [n, 784]; `label`, INT64 [n]).
Binary input is the fast path: the bytes after the JSON header become an array without copying or
parsing. Every request is parsed and validated here, before it is admitted to a batch: a bad tensor
is this request's 400 and never reaches the model. Errors use the protocol's {"error": "..."} form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import orjson
from multidict import CIMultiDictProxy

from scoring.core.decode import DecodeError, min_row_bytes
from scoring.core.encoding import labels_json
from scoring.core.errors import NotFound, ServiceError
from scoring.core.exchange import Answer, Exchange, Route
from scoring.core.large_json import STRUCTURE_CHECK_BYTES, punctuation
from scoring.core.pipeline import Pipeline
from scoring.core.request_ids import request_id
from scoring.model.signature import DATATYPES, Signature
from scoring.protocols import swagger as openapi

# The one model version this server serves (the Open Inference Protocol lets a server hold several).
MODEL_VERSION = "1"
HEADER_LENGTH = "Inference-Header-Content-Length"
# Nested "data" deeper than a tensor of rank 2 is refused before numpy walks it.
_MAX_DEPTH = 64


class InferError(DecodeError):
    """A malformed inference request; the message names the field."""


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs microseconds a request
class InferRequest:
    rows: np.ndarray  # validated (n, row_length) float32 or uint8
    binary_output: bool
    request_id: str | None


def _field(obj: object, name: str, kind: type, where: str) -> Any:  # JSON values are untyped; callers narrow
    if not isinstance(obj, dict) or name not in obj:
        raise InferError(f'{where} lacks "{name}"')
    value = obj[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InferError(f'{where}."{name}" must be {kind.__name__}, got {type(value).__name__}')
    return value


def _check_values(array: np.ndarray, datatype: str) -> np.ndarray:
    if datatype == "FP32" and not np.isfinite(array).all():
        raise InferError("input contains NaN or Infinity; expected finite numbers")
    return array


def _depth(data: list[Any]) -> int:
    depth = 1
    value: Any = data
    while isinstance(value, list) and value and isinstance(value[0], list):
        depth += 1
        value = value[0]
        if depth > _MAX_DEPTH:
            break
    return depth


def _from_json_data(data: list[Any], datatype: str, rows: int, row_length: int) -> np.ndarray:
    if _depth(data) > 2:
        raise InferError(f'"data" must be numbers, flat or nested [n][{row_length}]; it is nested deeper')
    try:
        values = np.asarray(data, dtype=np.float64)
    except (ValueError, TypeError, OverflowError) as exc:
        # OverflowError: an integer such as 10**400 has no float64; it is the client's bad value.
        raise InferError(f'"data" must be numbers (flat or nested [n][{row_length}]): {exc}') from None
    if values.size != rows * row_length:
        raise InferError(
            f'"data" holds {values.size} numbers, but shape [{rows}, {row_length}] needs {rows * row_length}'
        )
    values = values.reshape(rows, row_length)
    if not np.isfinite(values).all():
        raise InferError("input contains NaN or Infinity; expected finite numbers")
    if datatype == "UINT8":
        if values.min() < 0 or values.max() > 255 or not np.array_equal(values, np.round(values)):
            raise InferError("UINT8 input must hold whole numbers from 0 to 255")
        return values.astype(np.uint8)
    return values.astype(np.float32)


def _loads(header: bytes | memoryview) -> Any:  # Any: a JSON document
    try:
        return orjson.loads(header)
    except orjson.JSONDecodeError:
        pass
    # orjson refused (it also refuses nesting past 1,024 instead of recursing): the stdlib words it.
    try:
        return json.loads(bytes(header))
    except RecursionError:
        raise InferError("inference request is not valid JSON: nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InferError(f"inference request is not valid JSON: {exc}") from None


# A valid request has a handful of objects (the request, its tensor, outputs, parameters) and strings
# (their keys and names); the limits leave room for every optional field the protocol defines.
_MAX_OBJECTS = 32
_MAX_QUOTES = 512
# '[' beyond one per row: inputs, shape, data, outputs, and a margin.
_EXTRA_OPENS = 16


def check_infer_structure(json_part: bytes | memoryview, row_length: int) -> None:
    """Refuses, before any object is built, JSON whose punctuation no valid inference request has:
    more '[' than it could hold rows of row_length numbers, or more objects or strings than the
    protocol's fields. `{"inputs":[{"data":[[],[],...]}]}` would otherwise make the parser build a
    list per three bytes (33x the body in memory)."""
    size = len(json_part)
    if size < STRUCTURE_CHECK_BYTES:
        return
    counts = punctuation(json_part)
    most_rows = size // min_row_bytes(row_length) + 1
    if counts.opens > most_rows + _EXTRA_OPENS:
        raise InferError(
            f"request has {counts.opens} '[' but {size} bytes hold at most {most_rows} rows of {row_length} numbers; "
            f"expected data as numbers, flat or nested [n][{row_length}]"
        )
    if counts.objects > _MAX_OBJECTS or counts.quotes > _MAX_QUOTES:
        raise InferError(
            f"request holds {counts.objects} objects and {counts.quotes // 2} strings; an inference request has at "
            f"most {_MAX_OBJECTS} and {_MAX_QUOTES // 2}"
        )


def json_length(body_size: int, header_length: str | None) -> int:
    """How many bytes of the body are JSON: the binary extension's header, else all of it. A header
    length that is not a valid split counts the whole body (parse_infer refuses it anyway)."""
    if header_length is None:
        return body_size
    try:
        split = int(header_length)
    except ValueError:
        return body_size
    return split if 0 <= split <= body_size else body_size


def _precheck(body: bytes, json_bytes: int, row_length: int) -> None:
    check_infer_structure(memoryview(body)[:json_bytes], row_length)


def parse_infer(body: bytes, header_length: str | None, signature: Signature) -> InferRequest:
    """A whole /infer body -> validated rows and the answer's options; raises InferError."""
    row_length = signature.row_length
    if header_length is not None:
        try:
            split = int(header_length)
        except ValueError:
            raise InferError(f"{HEADER_LENGTH} {header_length!r} is not an integer") from None
        if split < 0 or split > len(body):
            raise InferError(f"{HEADER_LENGTH} {split} is outside the body of {len(body)} bytes")
        header, binary = memoryview(body)[:split], memoryview(body)[split:]
    else:
        header, binary = memoryview(body), memoryview(b"")
    request = _loads(header)
    if not isinstance(request, dict):
        raise InferError(f"inference request must be a JSON object, got {type(request).__name__}")
    inputs = _field(request, "inputs", list, "request")
    if len(inputs) != 1:
        raise InferError(f'request has {len(inputs)} inputs; this model takes exactly one, "{signature.input_name}"')
    tensor = inputs[0]
    name = _field(tensor, "name", str, "inputs[0]")
    if name != signature.input_name:
        raise InferError(f'unknown input "{name}"; this model\'s input is "{signature.input_name}"')
    datatype = _field(tensor, "datatype", str, "inputs[0]")
    if datatype not in signature.input_datatypes:
        raise InferError(
            f'inputs[0].datatype "{datatype}" is not supported; use {" or ".join(signature.input_datatypes)}'
        )
    shape = _field(tensor, "shape", list, "inputs[0]")
    if (
        len(shape) != 2
        or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape)
        or shape[1] != row_length
        or shape[0] < 1
    ):
        raise InferError(f"inputs[0].shape {shape} is not [n, {row_length}] with n >= 1")
    rows = int(shape[0])
    parameters = tensor.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InferError("inputs[0].parameters must be an object")
    array = _input_array(tensor, parameters, datatype, rows, row_length, binary, len(body))
    return InferRequest(array, _wants_binary(request, signature), _request_id(request))


def _input_array(
    tensor: dict[str, Any],
    parameters: dict[str, Any],
    datatype: str,
    rows: int,
    row_length: int,
    binary: memoryview,
    body_size: int,
) -> np.ndarray:
    dtype = DATATYPES[datatype]
    if "binary_data_size" in parameters:
        size = parameters["binary_data_size"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InferError("inputs[0].parameters.binary_data_size must be a non-negative integer")
        expected = rows * row_length * dtype.itemsize
        if size != expected:
            raise InferError(
                f"binary_data_size {size} does not match shape [{rows}, {row_length}] of {datatype} ({expected} bytes)"
            )
        if len(binary) != size:
            raise InferError(f"binary data after the JSON header is {len(binary)} bytes; binary_data_size says {size}")
        return _check_values(np.frombuffer(binary, dtype=dtype).reshape(rows, row_length), datatype)
    if len(binary):
        raise InferError(
            f"{len(binary)} bytes follow the JSON header but no input declares parameters.binary_data_size"
        )
    data = tensor.get("data")
    if not isinstance(data, list):
        raise InferError('inputs[0] needs "data" (a list) or parameters.binary_data_size')
    # What the body can hold bounds the rows before any is reserved: a JSON number takes at least two
    # bytes with its comma (binary data is held to binary_data_size exactly). [2**62, 784] ends here.
    if rows * row_length > body_size // 2 + 1:
        raise InferError(
            f"inputs[0].shape [{rows}, {row_length}] needs {rows * row_length} values, "
            f"more than this body of {body_size} bytes holds"
        )
    return _from_json_data(data, datatype, rows, row_length)


def _wants_binary(request: dict[str, Any], signature: Signature) -> bool:
    parameters = request.get("parameters") or {}
    wanted = isinstance(parameters, dict) and parameters.get("binary_data_output") is True
    outputs = request.get("outputs")
    if outputs is None:
        return wanted
    if not isinstance(outputs, list):
        raise InferError('"outputs" must be a list')
    for position, output in enumerate(outputs):
        name = _field(output, "name", str, f"outputs[{position}]")
        if name != signature.output_name:
            raise InferError(f'unknown output "{name}"; this model\'s output is "{signature.output_name}"')
        out_parameters = output.get("parameters") or {}
        if isinstance(out_parameters, dict) and "binary_data" in out_parameters:
            wanted = out_parameters["binary_data"] is True
    return wanted


def _request_id(request: dict[str, Any]) -> str | None:
    value = request.get("id")
    if value is None:
        return None
    if not isinstance(value, str):
        raise InferError('"id" must be a string')
    return value


def encode_response(
    name: str, signature: Signature, parsed: InferRequest, labels: np.ndarray
) -> tuple[bytes, str, dict[str, str]]:
    """(body, content type, headers) of the answer: JSON data, or the binary output extension."""
    count = labels.shape[0]
    head: dict[str, str] = {"model_name": name, "model_version": MODEL_VERSION}
    if parsed.request_id is not None:
        head["id"] = parsed.request_id
    prefix = orjson.dumps(head)[:-1]
    output = (
        orjson.dumps(signature.output_name) + f',"datatype":"{signature.output_datatype}","shape":[{count}]'.encode()
    )
    output = b'"outputs":[{"name":' + output
    if not parsed.binary_output:
        return prefix + b"," + output + b',"data":' + labels_json(labels) + b"}]}", "application/json", {}
    header = prefix + b"," + output + f',"parameters":{{"binary_data_size":{count * 8}}}}}]}}'.encode()
    return header + labels.astype("<i8").tobytes(), "application/octet-stream", {HEADER_LENGTH: str(len(header))}


# ---- the protocol ----

# What aiohttp's json_response sent for the metadata and health answers (json.dumps' spacing, charset).
_JSON_UTF8 = ("Content-Type", "application/json; charset=utf-8")
_JSON = ("Content-Type", "application/json")
_ERROR_SCHEMA = "Error"
# What a client learns about a failure that is not its own (the traceback goes to the log).
INTERNAL_ERROR = "internal server error; the request was not scored (see the server log)"


def error_body(message: str) -> bytes:
    """The protocol's error body, {"error": "..."}."""
    return orjson.dumps({"error": message})


def _json(value: object) -> Answer:
    return Answer(200, json.dumps(value).encode(), [_JSON_UTF8])


def check_model(served: str, model: str, version: str | None) -> None:
    """A model route's {model} and optional {version} name what this server serves, else 404."""
    if model != served:
        raise NotFound(f'unknown model "{model}"; this server serves "{served}"')
    if version is not None and version != MODEL_VERSION:
        raise NotFound(f'unknown version "{version}" of model "{model}"; this server serves version "{MODEL_VERSION}"')


# aiohttp's routes /v2/models/{model}/infer and /v2/models/{model}/versions/{version}/infer; a segment
# that is "." or ".." is aiohttp's (its URL handling resolves dot segments).
_SEGMENT = rb"(?!\.\.?/)([0-9A-Za-z._~!$&'()*+,;=:@\-]+)"
_INFER = re.compile(rb"/v2/models/" + _SEGMENT + rb"(?:/versions/" + _SEGMENT + rb")?/infer")
# The protocol's model routes take an optional /versions/<v>; metadata advertises one version, so both
# spellings serve it (Open Inference Protocol REST, "Model Metadata" and "Inference").
_MODEL = ("/v2/models/{model}", "/v2/models/{model}/versions/{version}")
_INFER_ROUTES = (_MODEL[0] + "/infer", _MODEL[1] + "/infer")


class V2Protocol:
    """The Open Inference Protocol (KServe v2) REST routes over the pipeline
    (scoring.core.exchange.ProtocolUnit): {"error": ...} refusals and x-request-id (the client's
    x-request-id or x-ms-client-request-id, else a new one) on every answer."""

    def __init__(self, pipeline: Pipeline, model_name: str) -> None:
        self.pipeline = pipeline
        self.model_name = model_name

    # ---- routes ----

    def routes(self) -> Sequence[Route]:
        model_routes = [
            route
            for prefix in _MODEL
            for route in (
                Route("GET", prefix, self.model_metadata),
                Route("GET", prefix + "/ready", self.model_ready),
                Route("POST", prefix + "/infer", self.infer),
            )
        ]
        return (
            Route("GET", "/v2", self.server_metadata),
            Route("GET", "/v2/health/live", self.live),
            Route("GET", "/v2/health/ready", self.ready),
            *model_routes,
        )

    async def server_metadata(self, exchange: Exchange) -> Answer:
        return _json({"name": "scoring", "version": "1.0.0", "extensions": ["binary_tensor_data"]})

    async def live(self, exchange: Exchange) -> Answer:
        return _json({"live": True})

    async def ready(self, exchange: Exchange) -> Answer:
        self.pipeline.check_pod_ready()
        return _json({"ready": True})

    def _check_model(self, exchange: Exchange) -> None:
        params = exchange.params
        assert params is not None  # every model route has {model}
        check_model(self.model_name, params["model"], params.get("version"))

    async def model_metadata(self, exchange: Exchange) -> Answer:
        pipeline = self.pipeline
        pipeline.auth.check(exchange.headers)
        self._check_model(exchange)
        signature = pipeline.signature
        return _json(
            {
                "name": self.model_name,
                "versions": [MODEL_VERSION],
                "platform": "pytorch",
                "inputs": [
                    {
                        "name": signature.input_name,
                        "datatype": signature.input_datatypes[0],
                        "shape": [-1, signature.row_length],
                    }
                ],
                "outputs": [{"name": signature.output_name, "datatype": signature.output_datatype, "shape": [-1]}],
                "parameters": {"accepted_input_datatypes": sorted(signature.input_datatypes)},
            }
        )

    async def model_ready(self, exchange: Exchange) -> Answer:
        pipeline = self.pipeline
        pipeline.auth.check(exchange.headers)
        self._check_model(exchange)
        pipeline.check_ready()
        return _json({"name": self.model_name, "ready": True})

    async def infer(self, exchange: Exchange) -> Answer:
        """One inference request: the answer's tensor (JSON, or the binary extension); raises ServiceError."""
        pipeline = self.pipeline
        headers = exchange.headers
        pipeline.gate(headers)
        self._check_model(exchange)
        header_length = headers.get(HEADER_LENGTH)
        signature = pipeline.signature
        with pipeline.admitted() as reservation:
            body = await exchange.read_body(reservation)
            json_bytes = json_length(len(body), header_length)
            decode = partial(parse_infer, header_length=header_length, signature=signature)  # picklable
            parsed = await pipeline.decode(
                reservation,
                decode,
                body,
                partial(_precheck, json_bytes=json_bytes, row_length=signature.row_length),
                process_decode=decode,
                json_bytes=json_bytes,
            )
            exchange.rows = parsed.rows.shape[0]
            if pipeline.batched:
                labels = await pipeline.score(reservation, parsed.rows)
            else:
                pipeline.admit_rows(reservation, parsed.rows.shape[0])
                labels = await pipeline.run_script_rows(parsed.rows)
        payload, content_type, extra = encode_response(self.model_name, signature, parsed, labels)
        answer_headers = list(extra.items())
        answer_headers.append(("Content-Type", content_type))
        return Answer(200, payload, answer_headers)

    # ---- ids and errors, mapped once ----

    def begin(self, exchange: Exchange) -> Answer | None:
        exchange.request_id = request_id(exchange.headers)
        return None

    def finish(self, exchange: Exchange, answer: Answer) -> None:
        answer.headers.append(("x-request-id", exchange.request_id))

    def error_answer(self, error: ServiceError) -> Answer:
        headers = list(error.headers.items())
        headers.append(_JSON)
        return Answer(error.status, error_body(error.message), headers, error.close, error.reason)

    def internal_error(self) -> Answer:
        return Answer(500, error_body(INTERNAL_ERROR), [_JSON])

    def unmatched(self, status: int, allow: str | None) -> Answer:
        """Only when this protocol is the server's default (Azure ML is)."""
        message = "no such route; see /openapi.json" if status == 404 else f"method not allowed; use {allow}"
        answer = Answer(status, error_body(message), [_JSON])
        if allow is not None:
            answer.headers.append(("Allow", allow))
        return answer

    # ---- on a transport's own path (the fast lane) ----

    def lane_match(self, raw_path: bytes, headers: CIMultiDictProxy[str]) -> Exchange | None:
        infer = _INFER.fullmatch(raw_path)
        if infer is None:
            return None
        model, version = infer[1].decode("ascii"), infer[2]
        params = {"model": model} if version is None else {"model": model, "version": version.decode("ascii")}
        route = _INFER_ROUTES[version is not None]
        return Exchange(self, self.infer, route, "POST", raw_path.decode("ascii"), headers, params=params)

    # ---- OpenAPI ----

    def openapi(self) -> tuple[dict[str, Any], dict[str, Any]]:
        settings = self.pipeline.settings
        signature = self.pipeline.signature
        name = self.model_name
        secured = openapi.security(settings)
        auth_errors = openapi.auth_errors(settings, _ERROR_SCHEMA)
        failed = openapi.error
        paths = {
            "/v2": {
                "get": {
                    "summary": "KServe v2 server metadata",
                    "responses": {"200": {"description": "Server metadata"}},
                }
            },
            "/v2/health/live": {
                "get": {"summary": "KServe v2 liveness", "responses": {"200": {"description": "Live"}}}
            },
            "/v2/health/ready": {
                "get": {
                    "summary": "KServe v2 readiness",
                    "responses": {
                        "200": {"description": "Ready"},
                        "503": failed("Loading or shutting down", _ERROR_SCHEMA),
                    },
                }
            },
            f"/v2/models/{name}": {
                "get": {
                    "summary": "KServe v2 model metadata",
                    "security": secured,
                    "responses": {"200": {"description": "Inputs and outputs"}, **auth_errors},
                }
            },
            f"/v2/models/{name}/ready": {
                "get": {
                    "summary": "KServe v2 model readiness",
                    "security": secured,
                    "responses": {
                        "200": {"description": "Ready"},
                        "503": failed("Not ready", _ERROR_SCHEMA),
                        **auth_errors,
                    },
                }
            },
            f"/v2/models/{name}/infer": {
                "post": {
                    "summary": "KServe v2 inference (JSON tensors or the binary tensor data extension)",
                    "security": secured,
                    "parameters": [
                        {
                            "name": HEADER_LENGTH,
                            "in": "header",
                            "required": False,
                            "schema": {"type": "integer"},
                            "description": "Length of the JSON header when binary tensor data follows it",
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/InferRequest"}},
                            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Labels as an INT64 tensor (JSON, or binary after the JSON header)",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InferResponse"}}},
                        },
                        **openapi.scoring_errors(settings, _ERROR_SCHEMA),
                        "404": failed("Unknown model name", _ERROR_SCHEMA),
                    },
                }
            },
        }
        schemas = {
            _ERROR_SCHEMA: {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
            "InferRequest": {
                "type": "object",
                "required": ["inputs"],
                "properties": {
                    "id": {"type": "string"},
                    "parameters": {"type": "object", "properties": {"binary_data_output": {"type": "boolean"}}},
                    "inputs": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["name", "shape", "datatype"],
                            "properties": {
                                "name": {"type": "string", "enum": [signature.input_name]},
                                "shape": {
                                    "type": "array",
                                    "items": {"type": "integer"},
                                    "example": [1, signature.row_length],
                                },
                                "datatype": {"type": "string", "enum": list(signature.input_datatypes)},
                                "parameters": {
                                    "type": "object",
                                    "properties": {"binary_data_size": {"type": "integer"}},
                                },
                                "data": {"type": "array", "items": {}},
                            },
                        },
                    },
                    "outputs": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string", "enum": [signature.output_name]},
                                "parameters": {
                                    "type": "object",
                                    "properties": {"binary_data": {"type": "boolean"}},
                                },
                            },
                        },
                    },
                },
            },
            "InferResponse": {
                "type": "object",
                "properties": {
                    "model_name": {"type": "string"},
                    "model_version": {"type": "string"},
                    "id": {"type": "string"},
                    "outputs": {"type": "array", "items": {"type": "object"}},
                },
            },
        }
        return paths, schemas
