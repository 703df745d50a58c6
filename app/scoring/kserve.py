"""KServe v2 / Open Inference Protocol REST routes, with the binary tensor data extension.

One input tensor `input` (FP32 values in [0, 1] or UINT8 pixels, shape [n, 784]) and one output
tensor `label` (INT64, shape [n]). Binary input is the fast path: the bytes after the JSON header
become an array without copying or parsing, and go to the batcher like a decoded /score body.
Errors use the protocol's {"error": "..."} form.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from aiohttp import web

from scoring.encoding import labels_json
from scoring.errors import first_refusal, json_error

if TYPE_CHECKING:
    from scoring.server import ScoringServer

ROW_LENGTH = 784
INPUT_NAME = "input"
OUTPUT_NAME = "label"
# The one model version this server serves (the Open Inference Protocol lets a server hold several).
MODEL_VERSION = "1"
HEADER_LENGTH = "Inference-Header-Content-Length"
DATATYPES: dict[str, np.dtype[Any]] = {"FP32": np.dtype("<f4"), "UINT8": np.dtype("u1")}
# JSON-tensor requests bigger than this are parsed off the event loop so they cannot stall it.
INLINE_PARSE_BYTES = 64 << 10


class InferError(ValueError):
    """A malformed inference request; the message names the field."""


@dataclass(frozen=True)
class InferRequest:
    rows: int
    # Builds the (rows, 784) array; runs in the device thread and raises ValueError on bad values.
    prepare: Callable[[], np.ndarray]
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


def _from_json_data(data: list[Any], datatype: str, rows: int) -> np.ndarray:
    try:
        values = np.asarray(data, dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise InferError(f'"data" must be numbers (flat or nested [n][784]): {exc}') from None
    if values.size != rows * ROW_LENGTH:
        raise InferError(
            f'"data" holds {values.size} numbers, but shape [{rows}, {ROW_LENGTH}] needs {rows * ROW_LENGTH}'
        )
    values = values.reshape(rows, ROW_LENGTH)
    if not np.isfinite(values).all():
        raise InferError("input contains NaN or Infinity; expected finite numbers")
    if datatype == "UINT8":
        if values.min() < 0 or values.max() > 255 or not np.array_equal(values, np.round(values)):
            raise InferError("UINT8 input must hold whole numbers from 0 to 255")
        return values.astype(np.uint8)
    return values.astype(np.float32)


def parse_infer(body: bytes, header_length: str | None) -> InferRequest:
    if header_length is not None:
        try:
            split = int(header_length)
        except ValueError:
            raise InferError(f"{HEADER_LENGTH} {header_length!r} is not an integer") from None
        if split < 0 or split > len(body):
            raise InferError(f"{HEADER_LENGTH} {split} is outside the body of {len(body)} bytes")
        header, binary = body[:split], memoryview(body)[split:]
    else:
        header, binary = body, memoryview(b"")
    try:
        request = json.loads(header)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InferError(f"inference request is not valid JSON: {exc}") from None
    if not isinstance(request, dict):
        raise InferError(f"inference request must be a JSON object, got {type(request).__name__}")
    inputs = _field(request, "inputs", list, "request")
    if len(inputs) != 1:
        raise InferError(f'request has {len(inputs)} inputs; this model takes exactly one, "{INPUT_NAME}"')
    tensor = inputs[0]
    name = _field(tensor, "name", str, "inputs[0]")
    if name != INPUT_NAME:
        raise InferError(f'unknown input "{name}"; this model\'s input is "{INPUT_NAME}"')
    datatype = _field(tensor, "datatype", str, "inputs[0]")
    if datatype not in DATATYPES:
        raise InferError(f'inputs[0].datatype "{datatype}" is not supported; use FP32 or UINT8')
    shape = _field(tensor, "shape", list, "inputs[0]")
    if (
        len(shape) != 2
        or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape)
        or shape[1] != ROW_LENGTH
        or shape[0] < 1
    ):
        raise InferError(f"inputs[0].shape {shape} is not [n, {ROW_LENGTH}] with n >= 1")
    rows = int(shape[0])
    parameters = tensor.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InferError("inputs[0].parameters must be an object")
    prepare = _prepare_input(tensor, parameters, datatype, rows, binary)
    return InferRequest(rows, prepare, _wants_binary(request), _request_id(request))


def _prepare_input(
    tensor: dict[str, Any], parameters: dict[str, Any], datatype: str, rows: int, binary: memoryview
) -> Callable[[], np.ndarray]:
    dtype = DATATYPES[datatype]
    if "binary_data_size" in parameters:
        size = parameters["binary_data_size"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InferError("inputs[0].parameters.binary_data_size must be a non-negative integer")
        expected = rows * ROW_LENGTH * dtype.itemsize
        if size != expected:
            raise InferError(
                f"binary_data_size {size} does not match shape [{rows}, {ROW_LENGTH}] of {datatype} ({expected} bytes)"
            )
        if len(binary) != size:
            raise InferError(f"binary data after the JSON header is {len(binary)} bytes; binary_data_size says {size}")
        array = np.frombuffer(binary, dtype=dtype).reshape(rows, ROW_LENGTH)
        return lambda: _check_values(array, datatype)
    if len(binary):
        raise InferError(
            f"{len(binary)} bytes follow the JSON header but no input declares parameters.binary_data_size"
        )
    data = tensor.get("data")
    if not isinstance(data, list):
        raise InferError('inputs[0] needs "data" (a list) or parameters.binary_data_size')
    return lambda: _from_json_data(data, datatype, rows)


def _wants_binary(request: dict[str, Any]) -> bool:
    parameters = request.get("parameters") or {}
    wanted = isinstance(parameters, dict) and parameters.get("binary_data_output") is True
    outputs = request.get("outputs")
    if outputs is None:
        return wanted
    if not isinstance(outputs, list):
        raise InferError('"outputs" must be a list')
    for position, output in enumerate(outputs):
        name = _field(output, "name", str, f"outputs[{position}]")
        if name != OUTPUT_NAME:
            raise InferError(f'unknown output "{name}"; this model\'s output is "{OUTPUT_NAME}"')
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


class KServeRoutes:
    def __init__(self, server: ScoringServer) -> None:
        self.server = server
        self.name = server.settings.model_name

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_get("/v2", self.server_metadata)
        router.add_get("/v2/health/live", self.live)
        router.add_get("/v2/health/ready", self.ready)
        # The protocol's model routes take an optional /versions/<v>; metadata advertises one version,
        # so both spellings serve it (Open Inference Protocol REST, "Model Metadata" and "Inference").
        for prefix in ("/v2/models/{model}", "/v2/models/{model}/versions/{version}"):
            router.add_get(prefix, self.model_metadata)
            router.add_get(prefix + "/ready", self.model_ready)
            router.add_post(prefix + "/infer", self.infer)

    def _unknown_model(self, request: web.Request) -> web.Response | None:
        model = request.match_info["model"]
        if model != self.name:
            return json_error(404, f'unknown model "{model}"; this server serves "{self.name}"')
        version = request.match_info.get("version")
        if version is not None and version != MODEL_VERSION:
            return json_error(
                404, f'unknown version "{version}" of model "{model}"; this server serves version "{MODEL_VERSION}"'
            )
        return None

    async def server_metadata(self, request: web.Request) -> web.Response:
        return web.json_response({"name": "scoring", "version": "1.0.0", "extensions": ["binary_tensor_data"]})

    async def live(self, request: web.Request) -> web.Response:
        return web.json_response({"live": True})

    async def ready(self, request: web.Request) -> web.Response:
        refusal = self.server.unavailable()
        return refusal if refusal is not None else web.json_response({"ready": True})

    async def model_metadata(self, request: web.Request) -> web.Response:
        refusal = first_refusal(self.server.auth.reject(request), self._unknown_model(request))
        if refusal is not None:
            return refusal
        return web.json_response(
            {
                "name": self.name,
                "versions": [MODEL_VERSION],
                "platform": "pytorch",
                "inputs": [{"name": INPUT_NAME, "datatype": "FP32", "shape": [-1, ROW_LENGTH]}],
                "outputs": [{"name": OUTPUT_NAME, "datatype": "INT64", "shape": [-1]}],
                "parameters": {"accepted_input_datatypes": sorted(DATATYPES)},
            }
        )

    async def model_ready(self, request: web.Request) -> web.Response:
        refusal = first_refusal(self.server.auth.reject(request), self._unknown_model(request))
        if refusal is not None:
            return refusal
        refusal = self.server.unavailable()
        return refusal if refusal is not None else web.json_response({"name": self.name, "ready": True})

    async def infer(self, request: web.Request) -> web.Response:
        server = self.server
        refusal = first_refusal(server.gate(request), self._unknown_model(request))
        if refusal is not None:
            return refusal
        reservation = server.admission.reservation()
        try:
            body = await server.admit_and_read(request, reservation)
            if isinstance(body, web.Response):
                return body
            header_length = request.headers.get(HEADER_LENGTH)
            try:
                if header_length is None and len(body) > INLINE_PARSE_BYTES:
                    parsed = await asyncio.get_running_loop().run_in_executor(None, parse_infer, body, None)
                else:
                    parsed = parse_infer(body, header_length)
            except InferError as exc:
                return json_error(400, str(exc))
            if not reservation.add_rows(parsed.rows):
                return server.overloaded()
            outcome = await self._labels(parsed)
            if isinstance(outcome, web.Response):
                return outcome
            return self._respond(parsed, outcome)
        finally:
            reservation.release()

    async def _labels(self, parsed: InferRequest) -> np.ndarray | web.Response:
        server = self.server
        if server.batcher is not None:
            return await server.await_labels(server.batcher.submit_prepared(parsed.rows, parsed.prepare))

        # A script without run_batch speaks only the seed's JSON: hand it exactly that.
        def run_seed_style() -> np.ndarray:
            rows = parsed.prepare()
            values = rows.astype(np.float32) / 255.0 if rows.dtype == np.uint8 else rows
            return np.asarray(server.entry.run(json.dumps({"data": values.tolist()})), dtype=np.int64).reshape(-1)

        future = asyncio.get_running_loop().run_in_executor(server.executor, run_seed_style)
        return await server.await_labels(future)

    def _respond(self, parsed: InferRequest, labels: np.ndarray) -> web.Response:
        count = labels.shape[0]
        head = {"model_name": self.name, "model_version": MODEL_VERSION}
        if parsed.request_id is not None:
            head["id"] = parsed.request_id
        prefix = json.dumps(head)[:-1].encode()
        output = f'"outputs":[{{"name":"{OUTPUT_NAME}","datatype":"INT64","shape":[{count}]'.encode()
        if not parsed.binary_output:
            body = prefix + b"," + output + b',"data":' + labels_json(labels) + b"}]}"
            return web.Response(body=body, content_type="application/json")
        header = prefix + b"," + output + f',"parameters":{{"binary_data_size":{count * 8}}}}}]}}'.encode()
        return web.Response(
            body=header + labels.astype("<i8").tobytes(),
            content_type="application/octet-stream",
            headers={HEADER_LENGTH: str(len(header))},
        )
