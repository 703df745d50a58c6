"""Azure ML's scoring contract as `azureml-inference-server-http` 1.5.1 implements it, as pure functions.

The /score protocol module calls these so that an entry script and its clients see what they would see
on Azure ML (azureml_inference_server_http/server/{routes,user_script,input_parsers,swagger,config}.py
and api/aml_request.py, api/aml_response.py). Nothing here knows aiohttp: inputs are the method, the raw
query string, the header pairs and the body bytes; outputs are `Answer`s (status, body, headers).

Where Azure ML's behaviour lives in a class or function of an installed package, the real one is used:
`@rawhttp`'s module global (`aml_request._rawHttpRequested`), inference-schema's
`is_schema_decorated` / `get_input_schema` / `get_output_schema` / `get_supported_versions`, Flask's
`Response` (so `AMLResponse` passes through) and `Request` (what a `@rawhttp` run() receives), and the
package's own swagger templates. The image installs them (app/requirements.in); they are imported
only when the entry script did (`@rawhttp`, `AMLResponse`, inference-schema), so a plain init()/run()
script does not pay for Flask.

This server's deliberate differences (documented in app/README.md) are marked "DELIBERATE" below:
a body run() cannot parse is 400, not 500 (`exception_answer`), and numpy values run() returns are
serialised as JSON lists and numbers (`result_answer`).
"""

from __future__ import annotations

import codecs
import importlib.util
import inspect
import io
import json
import sys
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

import numpy as np

from scoring.model.script_contract import (
    ContractError,
    RunContract,
    RunStyle,
    loaded,
)

# ---- Azure ML's fixed texts (routes.py; Werkzeug's NotFound / MethodNotAllowed descriptions) ----

RUN_FAILED = "An unexpected error occurred in scoring script. Check the logs for more info."
INTERNAL_ERROR = "An unexpected internal error occurred. Check the logs for more info."
NOT_FOUND = (
    "The requested URL was not found on the server. If you entered the URL manually please check your spelling "
    "and try again."
)
METHOD_NOT_ALLOWED = "The method is not allowed for the requested URL."
# routes.HEADER_LIMIT: the longest request id Azure ML accepts.
HEADER_LIMIT = 100
# config.scoring_timeout's default (SCORING_TIMEOUT_MS): one hour.
DEFAULT_SCORING_TIMEOUT_MS = 3600 * 1000

JSON_TYPE = "application/json"
# Flask's default for a str/bytes Response (and for GET /'s "Healthy").
HTML_TYPE = "text/html; charset=utf-8"

RUN_FAILED_HEADER = "x-ms-run-function-failed"
EXEC_MS_HEADER = "x-ms-run-fn-exec-ms"

Headers = tuple[tuple[str, str], ...]


# ---- answers ----


@dataclass(frozen=True)
class Answer:
    """What the client receives: status, body bytes and headers (Content-Type among them, repeats kept)."""

    status: int
    body: bytes
    headers: Headers = ()

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None

    @property
    def content_type(self) -> str | None:
        return self.header("Content-Type")

    def with_headers(self, *extra: tuple[str, str]) -> Answer:
        return Answer(self.status, self.body, self.headers + tuple(extra))


def _flag(value: bool) -> str:
    # Werkzeug's Headers store str(value): Azure ML sends the Python bool's name.
    return str(bool(value))


def json_answer(status: int, value: object, *, run_function_failed: bool = False) -> Answer:
    """AMLResponse(value, status, json_str=True): json.dumps as Azure ML calls it (None is `{}`)."""
    body = json.dumps({} if value is None else value).encode()
    return Answer(status, body, (("Content-Type", JSON_TYPE), (RUN_FAILED_HEADER, _flag(run_function_failed))))


def error_answer(status: int, message: str, *, run_function_failed: bool = False) -> Answer:
    """routes.ErrorResponse: Azure ML's error body {"message": ...}, with x-ms-run-function-failed."""
    return json_answer(status, {"message": message}, run_function_failed=run_function_failed)


def routing_error(status: int) -> Answer:
    """create_app's handler for Werkzeug's routing errors: 404 and 405 with Werkzeug's texts."""
    if status == 404:
        return error_answer(404, NOT_FOUND)
    if status == 405:
        return error_answer(405, METHOD_NOT_ALLOWED)
    raise ValueError(f"routing_error covers 404 and 405, not {status}")


def health_answer() -> Answer:
    """GET /: Flask's answer to the string "Healthy" (no x-ms-run-function-failed)."""
    return Answer(200, b"Healthy", (("Content-Type", HTML_TYPE),))


def options_answer() -> Answer:
    """OPTIONS /score for a script without @rawhttp: AMLResponse("", 200); run() is not called."""
    return Answer(200, b"", (("Content-Type", HTML_TYPE), (RUN_FAILED_HEADER, "False")))


def exec_ms(elapsed_ms: float) -> str:
    """x-ms-run-fn-exec-ms: run()'s duration in ms with exactly 3 decimals ('0.012', never '1.2e-2')."""
    return f"{elapsed_ms:.3f}"


# ---- (c) request ids ----


def lower_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header names lower-cased, repeated headers joined with "," (as gunicorn hands them to Flask)."""
    joined: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined


@dataclass(slots=True)  # built per request: a frozen dataclass's __init__ costs several microseconds
class RequestIds:
    """routes._init_headers / populate_response_headers: the ids an answer carries ("" = not sent back)."""

    request_id: str = ""
    legacy_request_id: str = ""  # x-ms-request-id
    client_request_id: str = ""  # x-ms-client-request-id
    trace_id: str | None = None  # TraceId, echoed whenever the client sent it

    def headers(self) -> Headers:
        out: list[tuple[str, str]] = []
        if self.request_id:
            out.append(("x-request-id", self.request_id))
        if self.legacy_request_id:
            out.append(("x-ms-request-id", self.legacy_request_id))
        if self.client_request_id:
            out.append(("x-ms-client-request-id", self.client_request_id))
        if self.trace_id is not None:
            out.append(("TraceId", self.trace_id))
        return tuple(out)


def request_ids(
    headers: Mapping[str, str], new_id: Callable[[], str] = lambda: str(uuid.uuid4())
) -> tuple[RequestIds, Answer | None]:
    """The request's ids and, when one is longer than 100 characters, Azure ML's 431 (sent instead of
    calling the route; the ids it still carries are in the first item). `headers`: lower_headers()."""
    trace_id = headers.get("traceid")
    request_id = headers.get("x-request-id")
    if request_id is None:
        request_id = new_id()
    if len(request_id) > HEADER_LIMIT:
        refusal = error_answer(431, f"x-request-id must not exceed {HEADER_LIMIT} characters")
        return RequestIds(trace_id=trace_id), refusal
    legacy = headers.get("x-ms-request-id", "")
    client = headers.get("x-ms-client-request-id", "")
    if legacy:
        # The deprecated x-ms-request-id doubles as the client request id when that is not sent.
        client = client or legacy
    else:
        legacy = client or request_id
    if len(legacy) > HEADER_LIMIT or len(client) > HEADER_LIMIT:
        refusal = error_answer(
            431, f"x-ms-request-id and x-ms-client-request-id must not exceed {HEADER_LIMIT} characters"
        )
        return RequestIds(request_id=request_id, trace_id=trace_id), refusal
    return RequestIds(request_id, legacy, client, trace_id), None


def request_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """What run(data, request_headers) receives: dict(flask.request.headers). Werkzeug rebuilds the
    names from the WSGI environ, so each is Title-Cased per word (`x-lower` -> `X-Lower`); repeated
    headers arrive joined with ","; names with "_" never reach Flask (gunicorn drops them)."""
    out: dict[str, str] = {}
    for key, value in lower_headers((n, v) for n, v in pairs if "_" not in n).items():
        if key in ("content-type", "content-length") and not value:
            continue
        out[key.title()] = value
    return out


# ---- (d) the input run() gets ----


class InputError(Exception):
    """input_parsers' BadInput (400) and UnsupportedInput (415), with Azure ML's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def answer(self) -> Answer:
        return error_answer(self.status, self.message)


class UnsupportedMethod(Exception):
    """input_parsers.UnsupportedHTTPMethod: /score's OPTIONS for a script without @rawhttp."""


def mimetype(content_type: str | None) -> str:
    """Werkzeug's request.mimetype: the type without parameters, lower-cased ("" when absent)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json(content_type: str | None) -> bool:
    """Werkzeug's request.is_json: application/json or application/*+json."""
    mt = mimetype(content_type)
    return mt == "application/json" or (mt.startswith("application/") and mt.endswith("+json"))


def request_data(body: bytes, content_type: str | None) -> bytes:
    """Werkzeug's request.data: empty for the form types, whose body the form parser consumes."""
    if mimetype(content_type) in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return b""
    return body


def _query_errors() -> str:
    # Werkzeug decodes request.args with its own handler, which keeps invalid UTF-8 percent-escaped.
    try:
        codecs.lookup_error("werkzeug.url_quote")
    except LookupError:
        return "replace"
    return "werkzeug.url_quote"


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """Werkzeug's request.args: every name=value pair of the raw query string, blanks kept."""
    return parse_qsl(raw_query, keep_blank_values=True, errors=_query_errors())


def _parse_value(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return text


def get_parameters(raw_query: str) -> dict[str, object]:
    """input_parsers._parse_get_parameters: each value json.loads-ed when it parses, else kept as a
    string; a name given more than once becomes a list (`?a=1&b=[1,2]&c=a&d=null&a=2` ->
    {"a": [1, 2], "b": [1, 2], "c": "a", "d": None})."""
    grouped: dict[str, list[str]] = {}
    for name, value in query_pairs(raw_query):
        grouped.setdefault(name, []).append(value)
    return {
        name: _parse_value(values[0]) if len(values) == 1 else [_parse_value(v) for v in values]
        for name, values in grouped.items()
    }


def json_string_input(method: str, raw_query: str, body: bytes, content_type: str | None) -> str:
    """input_parsers.JsonStringInput: what an undecorated run() gets. GET: the query as JSON text
    ('{}' without one); POST: the body as UTF-8 text whatever its Content-Type."""
    if method == "GET":
        return json.dumps(get_parameters(raw_query))
    if method != "POST":
        raise UnsupportedMethod(method)
    try:
        return str(request_data(body, content_type), "utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(400, f"Input cannot be decoded as UTF-8: {exc}") from None


def _schema_parameters(parameters: Sequence[inspect.Parameter], values: Mapping[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for parameter in parameters:
        value = values.get(parameter.name, parameter.default)
        if value is inspect.Parameter.empty:
            raise InputError(400, f"A value is not provided for the {parameter.name!r} parameter.")
        out[parameter.name] = value
    return out


def schema_input(
    parameters: Sequence[inspect.Parameter], method: str, raw_query: str, body: bytes, content_type: str | None
) -> dict[str, object]:
    """input_parsers.ObjectInput: an inference-schema run()'s keyword arguments, from the JSON object
    body (POST, which must be JSON) or the query parameters (GET); Azure ML's 400/415 texts."""
    if method == "GET":
        return _schema_parameters(parameters, get_parameters(raw_query))
    if method != "POST":
        raise UnsupportedMethod(method)
    if not is_json(content_type):
        raise InputError(415, "Expects Content-Type to be application/json")
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        if body:
            raise InputError(400, f"POST body could not be decoded as JSON: {exc}") from None
        raise InputError(400, "POST body is empty. Expecting a JSON dictionary.") from None
    if not isinstance(value, dict):
        raise InputError(400, "POST body should be a JSON dictionary.")
    return _schema_parameters(parameters, value)


def run_inputs(
    contract: RunContract, method: str, raw_query: str, body: bytes, content_type: str | None
) -> dict[str, object]:
    """run()'s keyword arguments for a JSON_STRING or SCHEMA script (a RAWHTTP one gets
    {contract.input_name: flask_request(...)})."""
    if contract.style is RunStyle.SCHEMA:
        return schema_input(contract.parameters, method, raw_query, body, content_type)
    if contract.style is RunStyle.JSON_STRING:
        return {contract.input_name: json_string_input(method, raw_query, body, content_type)}
    raise ValueError("a @rawhttp run() gets the request itself: use flask_request()")


def flask_request(
    method: str,
    raw_path: str,
    header_pairs: Iterable[tuple[str, str]],
    body: bytes,
    *,
    scheme: str = "http",
    server: tuple[str, int] = ("localhost", 80),
    remote_addr: str | None = None,
) -> Any:  # Any: a flask.Request (Flask is the script's dependency, not this server's)
    """The flask.Request a @rawhttp run() receives (AMLRequest is a flask.Request), built from a WSGI
    environ as gunicorn builds it: `raw_path` is the path with its raw query string."""
    import flask  # installed with azureml-inference-server-http, which a @rawhttp script imports

    path, _, query = raw_path.partition("?")
    environ: dict[str, Any] = {  # Any: WSGI environ values are of several types
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query,
        "RAW_URI": raw_path,
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": remote_addr or "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        # The whole body is here: Werkzeug may read it even without a Content-Length (chunked).
        "wsgi.input_terminated": True,
    }
    for key, value in lower_headers((n, v) for n, v in header_pairs if "_" not in n).items():
        name = key.upper().replace("-", "_")
        environ[name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}"] = value
    return flask.Request(environ)


# ---- (b) run()'s result, or its failure, as the answer ----

# DELIBERATE: errors a user's run() raises while parsing what the client sent (the seed's json.loads,
# a ['data'] lookup, np.array of mixed types, inference-schema's conversion): the client's fault, so
# 400, where Azure ML answers 500 as if the script were broken. The exception's text is never sent.
CLIENT_ERRORS: tuple[type[Exception], ...] = (ValueError, KeyError, TypeError, IndexError)


def _numpy_default(value: object) -> object:
    # DELIBERATE: numpy arrays and scalars become JSON lists and numbers (Azure ML's json.dumps fails).
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _flask_response_type() -> type | None:
    module = loaded("flask")
    response = getattr(module, "Response", None) if module is not None else None
    return response if isinstance(response, type) else None


def is_http_response(result: object) -> bool:
    """Whether run() returned a flask.Response (AMLResponse is one): Azure ML sends those as they are."""
    response_type = _flask_response_type()
    return response_type is not None and isinstance(result, response_type)


# Headers the HTTP server writes itself for the body it sends.
_HOP_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})


def http_response_answer(response: Any, elapsed_ms: float) -> Answer:  # Any: a flask.Response
    """handle_score for a flask.Response from run(): status, body and headers as they are (AMLResponse
    already split comma-separated header values into repeated headers), x-ms-run-function-failed True
    for a status >= 500, plus x-ms-run-fn-exec-ms."""
    status = int(response.status_code)
    body = bytes(response.get_data())
    headers = [(str(k), str(v)) for k, v in response.headers.items() if str(k).lower() not in _HOP_HEADERS]
    if status >= 500:
        if any(k.lower() == RUN_FAILED_HEADER for k, _ in headers):
            headers = [(k, "True" if k.lower() == RUN_FAILED_HEADER else v) for k, v in headers]
        else:
            headers.append((RUN_FAILED_HEADER, "True"))
    headers.append((EXEC_MS_HEADER, exec_ms(elapsed_ms)))
    return Answer(status, body, tuple(headers))


def result_answer(result: object, elapsed_ms: float) -> Answer:
    """handle_score: run()'s return value as Azure ML answers it. A flask.Response passes through;
    anything else is json.dumps-ed (None as {}, NaN as NaN) with 200; a value json.dumps rejects (bytes,
    set, ...) is Azure ML's 500 internal error, without x-ms-run-fn-exec-ms."""
    if is_http_response(result):
        return http_response_answer(result, elapsed_ms)
    try:
        body = json.dumps({} if result is None else result, default=_numpy_default).encode()
    except (TypeError, ValueError, RecursionError):
        return error_answer(500, INTERNAL_ERROR)
    return Answer(
        200,
        body,
        (("Content-Type", JSON_TYPE), (RUN_FAILED_HEADER, "False"), (EXEC_MS_HEADER, exec_ms(elapsed_ms))),
    )


def exception_answer(exc: BaseException) -> Answer:
    """An exception from run(): Azure ML's 500 with x-ms-run-function-failed True and no text of the
    exception (it goes to the log only). DELIBERATE: CLIENT_ERRORS are 400, also without their text."""
    if isinstance(exc, CLIENT_ERRORS):
        return error_answer(
            400,
            f"The scoring script could not use the input ({type(exc).__name__}). Check the request body; "
            "the details are in the server log.",
        )
    return error_answer(500, RUN_FAILED, run_function_failed=True)


# ---- (e) SCORING_TIMEOUT_MS ----


def scoring_timeout_ms(env: Mapping[str, str]) -> int:
    """config.scoring_timeout: SCORING_TIMEOUT_MS as a whole number of ms, default one hour; 0 or
    less means no limit (Azure ML's setitimer(0) sets none)."""
    raw = env.get("SCORING_TIMEOUT_MS", "").strip()
    if not raw:
        return DEFAULT_SCORING_TIMEOUT_MS
    try:
        return int(raw)
    except ValueError:
        raise ContractError(f"SCORING_TIMEOUT_MS={raw!r} is not a whole number of milliseconds") from None


def timeout_answer(timeout_ms: int) -> Answer:
    """run() still running after SCORING_TIMEOUT_MS: 500 with x-ms-run-function-failed True."""
    return error_answer(500, f"Scoring timeout after {timeout_ms} ms", run_function_failed=True)


def timeout_seconds(timeout_ms: int) -> float | None:
    """The limit for asyncio.wait_for (None: no limit)."""
    return timeout_ms / 1000 if timeout_ms > 0 else None


# ---- (f) swagger ----

# Swagger._register_builder: each version and its aliases, in the order Azure ML registers them.
SWAGGER_ALIASES: dict[str, tuple[str, ...]] = {"2": ("2", "2.0"), "3": ("3", "3.0"), "3.1": ("3.1",)}
_TEMPLATES = {"2": "swagger2_template.json", "3": "swagger3_template.json", "3.1": "swagger3_template.json"}
_USER_FILES = {"2": ("swagger.json", "swagger2.json"), "3": ("swagger3.json",), "3.1": ("swagger3.1.json",)}
# inference_schema._constants.ALL_SUPPORTED_VERSIONS: what an undecorated run() supports.
_ALL_SCHEMA_VERSIONS = ("2.0", "3.0", "3.1")
UNDECORATED_SCHEMA: dict[str, object] = {"type": "object", "example": {}}


def server_root() -> Path | None:
    """The installed azureml_inference_server_http/server folder (its templates), found without
    importing the package (importing it appends that folder to sys.path)."""
    spec = importlib.util.find_spec("azureml_inference_server_http")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))) / "server"
    return root if (root / _TEMPLATES["2"]).is_file() else None


@dataclass(frozen=True)
class Swagger:
    """Swagger(): the documents of the versions this script supports, by every alias."""

    documents: Mapping[str, bytes]
    supported: tuple[str, ...]

    def answer(self, version: str | None) -> Answer:
        """get_swagger_specification: ?version= (default "2"); Azure ML's 404 texts otherwise."""
        version = "2" if version is None else version
        listed = ", ".join(sorted(self.supported))
        valid = {alias for aliases in SWAGGER_ALIASES.values() for alias in aliases}
        if version not in valid:
            return error_answer(404, f"Swagger version [{version}] is not valid. Supported versions: [{listed}].")
        document = self.documents.get(version)
        if document is None:
            return error_answer(
                404,
                f"Swagger version [{version}] is not supported for the scoring script. "
                f"Supported swagger versions: [{listed}].",
            )
        return Answer(200, document, (("Content-Type", JSON_TYPE), (RUN_FAILED_HEADER, "False")))


def _supported_schema_versions(run: Callable[..., object]) -> tuple[str, ...]:
    module = loaded("inference_schema.schema_util")
    if module is None:
        return _ALL_SCHEMA_VERSIONS
    return tuple(str(v) for v in module.get_supported_versions(run))


def _schemas(run: Callable[..., object]) -> tuple[object, object]:
    module = loaded("inference_schema.schema_util")
    if module is not None and module.is_schema_decorated(run):
        return module.get_input_schema(run), module.get_output_schema(run)
    return UNDECORATED_SCHEMA, UNDECORATED_SCHEMA


def _read_json(path: Path) -> object | None:
    try:
        with path.open(encoding="utf-8") as file:
            loaded: object = json.load(file)
            return loaded
    except FileNotFoundError:
        return None


def swagger_document(
    version: str, run: Callable[..., object], env: Mapping[str, str], root: Path, app_root: Path
) -> object | None:
    """_SwaggerBuilder.get_swagger for one version: the user's file in AML_APP_ROOT if there is one,
    else the package's template with SERVICE_NAME / SERVICE_VERSION / SERVICE_PATH_PREFIX and the
    script's inference-schema (None when the script's schema types do not support the version)."""
    for name in _USER_FILES[version]:
        user = _read_json(app_root / name)
        if user:
            return user
    if all(alias not in _supported_schema_versions(run) for alias in SWAGGER_ALIASES[version]):
        return None
    input_schema, output_schema = _schemas(run)
    prefix = env.get("SERVICE_PATH_PREFIX", "")
    text = (
        (root / _TEMPLATES[version])
        .read_text(encoding="utf-8")
        .replace("$SERVICE_NAME$", env.get("SERVICE_NAME", "ML service"))
        .replace("$SERVICE_VERSION$", env.get("SERVICE_VERSION", "1.0"))
        .replace("$PATH_PREFIX$", f"/{prefix.strip('/')}" if prefix else "")
    )
    spec = json.loads(text)
    definitions = spec["definitions"] if version == "2" else spec["components"]["schemas"]
    definitions["ServiceInput"] = input_schema
    definitions["ServiceOutput"] = output_schema
    if version == "3.1":
        spec["openapi"] = "3.1.0"
    document: object = spec
    return document


def build_swagger(run: Callable[..., object], env: Mapping[str, str], root: Path, app_root: Path) -> Swagger:
    """Every version's document, serialised once (as AMLResponse(swagger, 200, json_str=True) does)."""
    documents: dict[str, bytes] = {}
    supported: list[str] = []
    for version, aliases in SWAGGER_ALIASES.items():
        document = swagger_document(version, run, env, root, app_root)
        if document is None:
            continue
        body = json.dumps(document).encode()
        documents.update(dict.fromkeys(aliases, body))
        supported.append(version)
    return Swagger(documents, tuple(sorted(supported)))


# ---- (g) headers Azure ML adds to every answer of its routes ----

SERVER_VERSION_HEADER = "x-ms-server-version"


def server_version(env: Mapping[str, str], package_version: str | None) -> str | None:
    """x-ms-server-version (routes.populate_response_headers sends HTTP_X_MS_SERVER_VERSION when it is
    non-empty). amlserver.merge_configuration overwrites that variable with
    "azmlinfsrv/<its version>" unless SERVER_VERSION_LOG_RESPONSE_ENABLED is set to something other
    than "true" (any case); then a value set by the deployment is sent as it is. `package_version`:
    the installed azureml-inference-server-http's (None: not installed, the variable alone)."""
    enabled = env.get("SERVER_VERSION_LOG_RESPONSE_ENABLED")
    if (enabled is None or enabled.lower() == "true") and package_version:
        return f"azmlinfsrv/{package_version}"
    return env.get("HTTP_X_MS_SERVER_VERSION") or None


def installed_server_version() -> str | None:
    """The installed azureml-inference-server-http's version, read without importing the package."""
    from importlib import metadata

    try:
        return metadata.version("azureml-inference-server-http")
    except metadata.PackageNotFoundError:
        return None


CORS_ORIGIN_HEADER = "Access-Control-Allow-Origin"


@dataclass(frozen=True)
class Cors:
    """AML_CORS_ORIGINS as aml_blueprint.setup applies it: flask_cors.CORS(blueprint, methods=["GET",
    "POST"], origins=[each comma-separated origin, stripped]), every other option flask-cors's default
    (any request header allowed, no credentials, Vary: Origin when more than one origin could match,
    and `always_send`: the first configured origin even to a request without Origin). The header
    values come from flask-cors's own functions (flask_cors.core, pinned with the server), so the
    origin matching (exact and case-insensitive, or a regular expression) is the real one."""

    # Any: flask_cors.core._ComputedCorsOptions (flask-cors is the contract's dependency, imported
    # only when AML_CORS_ORIGINS is set).
    options: Any

    def headers(self, method: str, request_headers: Iterable[tuple[str, str]], answered: Headers) -> Headers:
        """What flask-cors's after_request adds to an answer with headers `answered` (nothing when it
        already names an allowed origin, as run()'s own AMLResponse may)."""
        if any(name.lower() == CORS_ORIGIN_HEADER.lower() for name, _ in answered):
            return ()
        from flask_cors import core
        from werkzeug.datastructures import Headers as WerkzeugHeaders

        found = core.get_cors_headers(self.options, WerkzeugHeaders(list(request_headers)), method)
        # set_cors_headers adds items() of that MultiDict: the first value of each header.
        return tuple((str(name), str(value)) for name, value in found.items())


def cors(env: Mapping[str, str]) -> Cors | None:
    """Cors for AML_CORS_ORIGINS, or None: unset or empty (config.cors_origins is falsy), or
    flask-cors not installed (Azure ML then logs that CORS cannot be enabled and sends no headers)."""
    raw = env.get("AML_CORS_ORIGINS", "")
    if not raw:
        return None
    try:
        from flask_cors import core
    except ImportError:
        return None
    origins = [origin.strip() for origin in raw.split(",")]
    # CORS.init_app: merge_options (defaults, the app's CORS_* config - a blueprint has none - and the
    # keyword arguments), then serialize_options.
    options = core.serialize_options({**core.DEFAULT_OPTIONS, "methods": ["GET", "POST"], "origins": origins})
    return Cors(options)


def flask_options_answer(methods: Iterable[str]) -> Answer:
    """Flask's automatic OPTIONS answer for a route of `methods` (GET / and GET /swagger.json):
    app.make_default_options_response, 200, empty, with Allow (HEAD and OPTIONS added as Werkzeug's
    rule adds them)."""
    allowed = sorted({*methods, "HEAD", "OPTIONS"})
    return Answer(200, b"", (("Content-Type", HTML_TYPE), ("Allow", ", ".join(allowed))))
