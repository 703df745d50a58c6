"""Open Inference Protocol (KServe v2) REST routes, with the binary tensor data extension.

One input tensor and one output tensor, named and typed by the entry script's signature (for the
default model: `input`, FP32 values in [0, 1] or UINT8 pixels, shape [n, 784]; `label`, INT64 [n]).
Binary input is the fast path: the bytes after the JSON header become an array without copying or
parsing. Every request is parsed and validated here, before it is admitted to a batch: a bad tensor
is this request's 400 and never reaches the model. Errors use the protocol's {"error": "..."} form.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import orjson
from aiohttp import web
from multidict import CIMultiDictProxy

from scoring.core.decode import DecodeError, min_row_bytes
from scoring.core.encoding import labels_json
from scoring.core.errors import INTERNAL_ERROR, NotFound, ServiceError, error_body
from scoring.core.exchange import Answer, Matched, NoteRows
from scoring.core.keys import MODEL_NAME, PIPELINE
from scoring.core.large_json import STRUCTURE_CHECK_BYTES, punctuation
from scoring.core.pipeline import Pipeline, ReadBody
from scoring.core.request_ids import request_id
from scoring.model.signature import DATATYPES, Signature

# The one model version this server serves (the Open Inference Protocol lets a server hold several).
MODEL_VERSION = "1"
HEADER_LENGTH = "Inference-Header-Content-Length"
# Nested "data" deeper than a tensor of rank 2 is refused before numpy walks it.
_MAX_DEPTH = 64

log = logging.getLogger("scoring")

routes = web.RouteTableDef()


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


# ---- routes ----


def check_model(served: str, model: str, version: str | None) -> None:
    """A model route's {model} and optional {version} name what this server serves, else 404."""
    if model != served:
        raise NotFound(f'unknown model "{model}"; this server serves "{served}"')
    if version is not None and version != MODEL_VERSION:
        raise NotFound(f'unknown version "{version}" of model "{model}"; this server serves version "{MODEL_VERSION}"')


def _check_model(request: web.Request) -> None:
    check_model(request.app[MODEL_NAME], request.match_info["model"], request.match_info.get("version"))


@routes.get("/v2")
async def server_metadata(request: web.Request) -> web.Response:
    return web.json_response({"name": "scoring", "version": "1.0.0", "extensions": ["binary_tensor_data"]})


@routes.get("/v2/health/live")
async def live(request: web.Request) -> web.Response:
    return web.json_response({"live": True})


@routes.get("/v2/health/ready")
async def ready(request: web.Request) -> web.Response:
    request.app[PIPELINE].check_pod_ready()
    return web.json_response({"ready": True})


async def model_metadata(request: web.Request) -> web.Response:
    pipeline = request.app[PIPELINE]
    pipeline.auth.check(request.headers)
    _check_model(request)
    signature = pipeline.signature
    return web.json_response(
        {
            "name": request.app[MODEL_NAME],
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


async def model_ready(request: web.Request) -> web.Response:
    pipeline = request.app[PIPELINE]
    pipeline.auth.check(request.headers)
    _check_model(request)
    pipeline.check_ready()
    return web.json_response({"name": request.app[MODEL_NAME], "ready": True})


async def infer_answer(
    pipeline: Pipeline,
    served: str,
    target: tuple[str, str | None],
    headers: Mapping[str, str],
    read: ReadBody,
    note_rows: Callable[[int], None],
) -> tuple[bytes, str, dict[str, str]]:
    """One inference request, from the (model, version) its path names, its headers and body, to the
    answer's (body, content type, headers); raises ServiceError. Shared by the aiohttp route below and
    the fast lane (scoring/transport/fast_lane.py)."""
    pipeline.gate(headers)
    check_model(served, *target)
    header_length = headers.get(HEADER_LENGTH)
    signature = pipeline.signature
    with pipeline.admitted() as reservation:
        body = await read(reservation)
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
        note_rows(parsed.rows.shape[0])
        if pipeline.batched:
            labels = await pipeline.score(reservation, parsed.rows)
        else:
            pipeline.admit_rows(reservation, parsed.rows.shape[0])
            labels = await pipeline.run_script_rows(parsed.rows)
    return encode_response(served, signature, parsed, labels)


async def infer(request: web.Request) -> web.Response:
    pipeline: Pipeline = request.app[PIPELINE]

    def note_rows(rows: int) -> None:
        request["rows"] = rows

    payload, content_type, headers = await infer_answer(
        pipeline,
        request.app[MODEL_NAME],
        (request.match_info["model"], request.match_info.get("version")),
        request.headers,
        lambda reservation: pipeline.read(request, reservation),
        note_rows,
    )
    return web.Response(body=payload, content_type=content_type, headers=headers)


# The protocol's model routes take an optional /versions/<v>; metadata advertises one version, so both
# spellings serve it (Open Inference Protocol REST, "Model Metadata" and "Inference").
for _prefix in ("/v2/models/{model}", "/v2/models/{model}/versions/{version}"):
    routes.get(_prefix)(model_metadata)
    routes.get(_prefix + "/ready")(model_ready)
    routes.post(_prefix + "/infer")(infer)


# ---- on a transport's own path (the fast lane) ----

# aiohttp's routes /v2/models/{model}/infer and /v2/models/{model}/versions/{version}/infer; a segment
# that is "." or ".." is aiohttp's (its URL handling resolves dot segments).
_SEGMENT = rb"(?!\.\.?/)([0-9A-Za-z._~!$&'()*+,;=:@\-]+)"
_INFER = re.compile(rb"/v2/models/" + _SEGMENT + rb"(?:/versions/" + _SEGMENT + rb")?/infer")
_INFER_ROUTES = ("/v2/models/{model}/infer", "/v2/models/{model}/versions/{version}/infer")


class V2Lane:
    """POST /v2/models/{model}[/versions/{version}]/infer for the fast lane: the protocol's answer, its
    {"error": ...} refusals and x-request-id, as the aiohttp route and json_errors give them."""

    def __init__(self, pipeline: Pipeline, model_name: str) -> None:
        self.pipeline = pipeline
        self.model_name = model_name

    def match(self, raw_path: bytes, headers: CIMultiDictProxy[str]) -> Matched | None:
        infer = _INFER.fullmatch(raw_path)
        if infer is None:
            return None
        model, version = infer[1].decode("ascii"), infer[2]
        target = (model, None if version is None else version.decode("ascii"))
        answered_id = request_id(headers)
        return Matched(
            _INFER_ROUTES[version is not None], answered_id, partial(self._answer, headers, target, answered_id)
        )

    async def _answer(
        self,
        headers: Mapping[str, str],
        target: tuple[str, str | None],
        answered_id: str,
        read_body: ReadBody,
        note_rows: NoteRows,
    ) -> Answer:
        try:
            body, content_type, extra = await infer_answer(
                self.pipeline, self.model_name, target, headers, read_body, note_rows
            )
            answer = Answer(200, body, [*extra.items(), ("Content-Type", content_type)])
        except ServiceError as error:
            refused = [*error.headers.items(), ("Content-Type", "application/json")]
            answer = Answer(error.status, error_body(error.message), refused, error.close, error.reason)
        except Exception:
            log.exception("unhandled error on POST %s", _INFER_ROUTES[target[1] is not None])
            answer = Answer(500, error_body(INTERNAL_ERROR), [("Content-Type", "application/json")])
        answer.headers.append(("x-request-id", answered_id))
        return answer
