"""scoring.protocols.azureml_contract against the real azureml-inference-server-http 1.5.1 (and the Flask,
Werkzeug and inference-schema it installs): every pure rule is checked, where the package has the
rule as code, against that code itself; elsewhere against its source's exact texts."""

from __future__ import annotations

import functools
import inspect
import json
import math
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
import pytest
from azureml_inference_server_http.api import aml_request
from azureml_inference_server_http.api.aml_request import rawhttp
from azureml_inference_server_http.api.aml_response import AMLResponse
from azureml_inference_server_http.constants import SERVER_ROOT
from flask import Response
from werkzeug.datastructures import EnvironHeaders
from werkzeug.exceptions import MethodNotAllowed, NotFound

from scoring.model import script_contract as sc
from scoring.protocols import azureml_contract as c

PACKAGE_SERVER = Path(SERVER_ROOT)
ROUTES_SOURCE = (PACKAGE_SERVER / "routes.py").read_text()
PARSERS_SOURCE = (PACKAGE_SERVER / "input_parsers.py").read_text()


def body_json(answer: c.Answer) -> Any:  # Any: a JSON document
    return json.loads(answer.body)


# ---- texts, errors and routing ----


def test_fixed_texts_are_the_packages() -> None:
    assert f'"{c.RUN_FAILED}"' in ROUTES_SOURCE
    assert f'"{c.INTERNAL_ERROR}"' in ROUTES_SOURCE
    assert f"HEADER_LIMIT = {c.HEADER_LIMIT}" in ROUTES_SOURCE
    assert NotFound.description == c.NOT_FOUND
    assert MethodNotAllowed.description == c.METHOD_NOT_ALLOWED


def test_error_answer_is_error_response_byte_for_byte() -> None:
    for status, message, failed in ((400, "bad", False), (500, c.RUN_FAILED, True), (431, "ü", False)):
        real = _routes().ErrorResponse(status, message, run_function_failed=failed)
        ours = c.error_answer(status, message, run_function_failed=failed)
        assert ours.status == real.status_code
        assert ours.body == real.get_data()
        assert ours.content_type == real.headers["Content-Type"] == "application/json"
        assert ours.header("x-ms-run-function-failed") == real.headers["x-ms-run-function-failed"] == str(failed)


def test_routing_errors() -> None:
    assert body_json(c.routing_error(404)) == {"message": c.NOT_FOUND}
    assert body_json(c.routing_error(405)) == {"message": c.METHOD_NOT_ALLOWED}
    assert c.routing_error(405).header("x-ms-run-function-failed") == "False"
    with pytest.raises(ValueError):
        c.routing_error(500)


def test_health_and_options() -> None:
    health = c.health_answer()
    assert (health.status, health.body, health.content_type) == (200, b"Healthy", "text/html; charset=utf-8")
    assert health.header("x-ms-run-function-failed") is None
    real = AMLResponse("", 200)
    options = c.options_answer()
    assert (options.status, options.body, options.content_type) == (200, b"", real.headers["Content-Type"])
    assert options.header("x-ms-run-function-failed") == real.headers["x-ms-run-function-failed"]


def _routes() -> ModuleType:
    from azureml_inference_server_http.server import routes

    module: ModuleType = routes
    return module


# ---- request ids ----


def ids(*pairs: tuple[str, str]) -> tuple[c.RequestIds, c.Answer | None]:
    return c.request_ids(c.lower_headers(pairs), new_id=lambda: "fresh")


def test_request_id_generated_and_echoed() -> None:
    assert ids() == (c.RequestIds("fresh", "fresh", "", None), None)
    assert ids(("X-Request-Id", "abc")) == (c.RequestIds("abc", "abc", "", None), None)
    generated, _ = c.request_ids({})
    assert len(generated.request_id) == 36 and generated.request_id[14] == "4"


def test_client_and_legacy_ids() -> None:
    assert ids(("x-ms-client-request-id", "cli")) == (c.RequestIds("fresh", "cli", "cli", None), None)
    assert ids(("x-ms-request-id", "leg")) == (c.RequestIds("fresh", "leg", "leg", None), None)
    both = ids(("x-ms-request-id", "leg"), ("x-ms-client-request-id", "cli"))
    assert both == (c.RequestIds("fresh", "leg", "cli", None), None)


def test_trace_id_echoed_and_headers() -> None:
    found, _ = ids(("TraceId", "t-1"), ("x-request-id", "r"))
    assert found.headers() == (("x-request-id", "r"), ("x-ms-request-id", "r"), ("TraceId", "t-1"))


def test_ids_up_to_100_characters() -> None:
    assert ids(("x-request-id", "x" * 100))[1] is None
    found, refusal = ids(("x-request-id", "x" * 101), ("TraceId", "t"))
    assert refusal is not None and refusal.status == 431
    assert body_json(refusal) == {"message": "x-request-id must not exceed 100 characters"}
    assert found.headers() == (("TraceId", "t"),)
    for name in ("x-ms-request-id", "x-ms-client-request-id"):
        found, refusal = ids((name, "y" * 101))
        assert refusal is not None and refusal.status == 431
        assert body_json(refusal) == {
            "message": "x-ms-request-id and x-ms-client-request-id must not exceed 100 characters"
        }
        assert found.headers() == (("x-request-id", "fresh"),)


def test_exec_ms_format() -> None:
    assert c.exec_ms(0.0123) == "0.012"
    assert c.exec_ms(1500) == "1500.000"


# ---- the entry script's call style ----


@pytest.fixture
def no_rawhttp(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The real decorator's process-wide flag: each test sets it as its own script would.
    monkeypatch.setattr(aml_request, "_rawHttpRequested", False)
    yield


def test_plain_run(no_rawhttp: None) -> None:
    def run(raw_data: str) -> object:
        return raw_data

    contract = sc.analyze_run(run)
    assert (contract.style, contract.input_name, contract.wants_headers) == (sc.RunStyle.JSON_STRING, "raw_data", False)
    assert contract.call({"raw_data": "x"}, {"Host": "h"}) == "x"


def test_run_with_request_headers(no_rawhttp: None) -> None:
    def run(data: str, request_headers: dict[str, str]) -> object:
        return data, request_headers

    contract = sc.analyze_run(run)
    assert (contract.input_name, contract.wants_headers) == ("data", True)
    assert contract.call({"data": "d"}, {"X-A": "1"}) == ("d", {"X-A": "1"})

    def headers_first(request_headers: dict[str, str], data: str) -> object:
        return data

    assert sc.analyze_run(headers_first).input_name == "data"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def run(a, /): pass", "run() cannot accept positional-only arguments, *args, or **kwargs."),
        ("def run(*args): pass", "run() cannot accept positional-only arguments, *args, or **kwargs."),
        ("def run(a, **kw): pass", "run() cannot accept positional-only arguments, *args, or **kwargs."),
        ("def run(request_headers): pass", 'run() needs to accept an argument other than "request_headers".'),
        ("def run(): pass", "run() needs to accept an argument for input data."),
    ],
)
def test_refusals_at_start(no_rawhttp: None, source: str, message: str) -> None:
    namespace: dict[str, Any] = {}  # Any: exec's namespace
    exec(source, namespace)
    with pytest.raises(sc.ContractError) as refused:
        sc.analyze_run(namespace["run"])
    assert str(refused.value) == message
    assert message in (PACKAGE_SERVER / "user_script.py").read_text()


def test_rawhttp_from_the_real_decorator(no_rawhttp: None) -> None:
    def run(request: Any) -> object:  # Any: a flask.Request
        return request

    assert sc.analyze_run(run).style is sc.RunStyle.JSON_STRING
    rawhttp(run)
    contract = sc.analyze_run(run)
    assert (contract.style, contract.input_name) == (sc.RunStyle.RAWHTTP, "request")


SCHEMA_SCRIPT = """
import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
from inference_schema.schema_decorators import input_schema, output_schema

@input_schema("data", NumpyParameterType(np.array([[1.0, 2.0, 3.0]], dtype=np.float64)))
@input_schema("scale", StandardPythonParameterType(1))
@output_schema(StandardPythonParameterType({"sums": [6.0]}))
def run(data, scale=1):
    return {"sums": (data.sum(axis=1) * scale).tolist(), "type": type(data).__name__}
"""


@functools.cache
def _schema_run() -> Any:  # Any: inference-schema's wrapped function
    # In a module of its own: inference-schema keys decorated functions by module and name, so a
    # `run` defined in this test module would count as decorated too.
    module = ModuleType("schema_entry_script")
    exec(SCHEMA_SCRIPT, module.__dict__)
    return module.run


def test_schema_decorated(no_rawhttp: None) -> None:
    contract = sc.analyze_run(_schema_run())
    assert contract.style is sc.RunStyle.SCHEMA
    assert [p.name for p in contract.parameters] == ["data", "scale"]
    inputs = c.run_inputs(contract, "POST", "", b'{"data": [[1, 2, 3]], "scale": 2}', "application/json")
    assert contract.call(inputs, {}) == {"sums": [12.0], "type": "ndarray"}


def test_rawhttp_and_schema_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aml_request, "_rawHttpRequested", True)
    with pytest.raises(sc.ContractError, match="both @rawhttp and @input_schema"):
        sc.analyze_run(_schema_run())


def test_legacy_aliases() -> None:
    assert sc.install_legacy_aliases()
    from azureml.contrib.services.aml_request import rawhttp as legacy_rawhttp  # type: ignore[import-not-found]
    from azureml.contrib.services.aml_response import AMLResponse as LegacyResponse  # type: ignore[import-not-found]

    assert legacy_rawhttp is rawhttp and LegacyResponse is AMLResponse


def test_script_functions_and_driver_module() -> None:
    def init() -> None:
        return None

    def run(raw: str) -> str:
        return raw

    def driver_run(raw: str) -> str:
        return "driver"

    module = ModuleType("entry")
    with pytest.raises(sc.ContractError, match=r"does not have a init\(\) function defined"):
        sc.script_functions(module, "score.py")
    module.init = init  # type: ignore[attr-defined]
    with pytest.raises(sc.ContractError, match=r"does not have a run\(\) function defined"):
        sc.script_functions(module, "score.py")
    module.run = run  # type: ignore[attr-defined]
    assert sc.script_functions(module, "score.py") == (init, run)
    driver = ModuleType("driver")
    driver.run = driver_run  # type: ignore[attr-defined]
    module.driver_module = driver  # type: ignore[attr-defined]
    assert sc.script_functions(module, "score.py")[1] is driver_run


# ---- request headers and the @rawhttp request ----

SENT = [
    ("Host", "127.0.0.1:5001"),
    ("Accept-Encoding", "identity"),
    ("Content-Length", "8"),
    ("Content-Type", "application/json"),
    ("x-lower", "v2"),
    ("X-MS-CLIENT-REQUEST-ID", "abc"),
    ("X-Rep", "a"),
    ("x-rep", "b"),
    ("X_Under", "dropped"),
]


def test_request_headers_are_werkzeugs() -> None:
    request = c.flask_request("POST", "/score", SENT, b'{"x": 1}')
    assert c.request_headers(SENT) == dict(request.headers)
    assert isinstance(request.headers, EnvironHeaders)
    assert sorted(c.request_headers(SENT)) == [
        "Accept-Encoding",
        "Content-Length",
        "Content-Type",
        "Host",
        "X-Lower",
        "X-Ms-Client-Request-Id",
        "X-Rep",
    ]
    assert c.request_headers(SENT)["X-Rep"] == "a,b"


def test_flask_request_for_rawhttp() -> None:
    request = c.flask_request("POST", "/sc%20ore?a=1&a=2&b=x", [("Content-Type", "text/plain")], b"hello")
    assert (request.method, request.path, request.query_string) == ("POST", "/sc ore", b"a=1&a=2&b=x")
    assert request.args.to_dict(flat=False) == {"a": ["1", "2"], "b": ["x"]}
    assert (request.get_data(), request.content_type, request.get_json(silent=True)) == (b"hello", "text/plain", None)
    as_json = c.flask_request("POST", "/score", [("Content-Type", "application/json")], b'{"x": 1}')
    assert as_json.get_json() == {"x": 1}


# ---- the input run() gets ----


def test_get_parameters() -> None:
    assert c.get_parameters("x=1&x=2&y=abc&z=null&w=%5B1%2C2%5D") == {"x": [1, 2], "y": "abc", "z": None, "w": [1, 2]}
    assert c.get_parameters("") == {}
    assert c.get_parameters("a=&b=%22s%22") == {"a": "", "b": "s"}


def test_get_parameters_match_the_package() -> None:
    from azureml_inference_server_http.server.input_parsers import JsonStringInput

    for query in ("x=1&x=2&y=abc&z=null&w=%5B1%2C2%5D", "", "a=+1&b=%FF&c", "data=%5B%5B0,0%5D%5D&n=NaN"):
        real = JsonStringInput("data")._parse_get_input(SimpleNamespace(args=_args(query)))["data"]
        assert c.json_string_input("GET", query, b"", None) == real


def _args(query: str) -> Any:  # Any: a werkzeug MultiDict
    return c.flask_request("GET", f"/score?{query}", [], b"").args


def test_json_string_input() -> None:
    assert c.json_string_input("POST", "", b'{"a": 1}', "text/plain") == '{"a": 1}'
    assert c.json_string_input("POST", "", "é".encode(), None) == "é"
    assert c.json_string_input("POST", "", b"a=1", "application/x-www-form-urlencoded") == ""
    assert c.json_string_input("GET", "", b"ignored", None) == "{}"
    with pytest.raises(c.InputError) as bad:
        c.json_string_input("POST", "", b"\xff\xfe", "application/json")
    assert (bad.value.status, bad.value.message) == (
        400,
        "Input cannot be decoded as UTF-8: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte",
    )
    assert body_json(bad.value.answer()) == {"message": bad.value.message}
    with pytest.raises(c.UnsupportedMethod):
        c.json_string_input("OPTIONS", "", b"", None)


def _params(*names_defaults: tuple[str, object]) -> list[inspect.Parameter]:
    return [
        inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default)
        for name, default in names_defaults
    ]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b'{"data": [[1]]}', "text/plain", 415, "Expects Content-Type to be application/json"),
        (b"", "application/json", 400, "POST body is empty. Expecting a JSON dictionary."),
        (
            b'{"data": ',
            "application/json",
            400,
            "POST body could not be decoded as JSON: Expecting value: line 1 column 10 (char 9)",
        ),
        (b"[[1, 2, 3]]", "application/json", 400, "POST body should be a JSON dictionary."),
        (b'{"scale": 2}', "application/json", 400, "A value is not provided for the 'data' parameter."),
    ],
)
def test_schema_input_refusals(body: bytes, content_type: str, status: int, message: str) -> None:
    with pytest.raises(c.InputError) as refused:
        c.schema_input(_params(("data", inspect.Parameter.empty), ("scale", 1)), "POST", "", body, content_type)
    assert (refused.value.status, refused.value.message) == (status, message)


def test_schema_input_values() -> None:
    params = _params(("data", inspect.Parameter.empty), ("scale", 1))
    assert c.schema_input(params, "POST", "", b'{"data": 5, "other": 1}', "application/vnd.x+json") == {
        "data": 5,
        "scale": 1,
    }
    assert c.schema_input(params, "GET", "data=%5B1%5D&scale=3", b"", None) == {"data": [1], "scale": 3}


def test_is_json() -> None:
    assert c.is_json("application/json; charset=utf-8")
    assert c.is_json("Application/Problem+JSON")
    assert not c.is_json("text/json")
    assert not c.is_json(None)


# ---- run()'s result ----


def _ok(answer: c.Answer) -> None:
    assert answer.status == 200 and answer.content_type == "application/json"
    assert answer.header("x-ms-run-function-failed") == "False"
    assert answer.header("x-ms-run-fn-exec-ms") == "1.500"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": 1, 2: "two"}, b'{"a": 1, "2": "two"}'),
        ((1, 2), b"[1, 2]"),
        ("héllo", b'"h\\u00e9llo"'),
        (None, b"{}"),
        (float("nan"), b"NaN"),
        (np.float64(2.5), b"2.5"),
        (False, b"false"),
    ],
)
def test_json_results_as_azure_ml_dumps_them(value: object, expected: bytes) -> None:
    answer = c.result_answer(value, 1.5)
    _ok(answer)
    assert answer.body == expected
    assert answer.body == _routes().wrap_response(value).get_data()


def test_numpy_results_are_deliberately_serialised() -> None:
    assert c.result_answer(np.array([1, 2, 3]), 1.5).body == b"[1, 2, 3]"
    assert c.result_answer(np.int64(3), 1.5).body == b"3"


@pytest.mark.parametrize("value", [b"raw", {1, 2}, object()])
def test_unserialisable_results_are_the_internal_error(value: object) -> None:
    answer = c.result_answer(value, 1.5)
    assert (answer.status, body_json(answer)) == (500, {"message": c.INTERNAL_ERROR})
    assert answer.header("x-ms-run-function-failed") == "False"
    assert answer.header("x-ms-run-fn-exec-ms") is None


def test_amlresponse_passes_through() -> None:
    answer = c.result_answer(AMLResponse(bytes(range(4)), 200, {"Content-Type": "image/png", "X-Tags": "a, b"}), 2)
    assert (answer.status, answer.body, answer.content_type) == (200, bytes(range(4)), "image/png")
    assert [v for k, v in answer.headers if k == "X-Tags"] == ["a", "b"]
    assert answer.header("x-ms-run-function-failed") == "False"
    assert answer.header("x-ms-run-fn-exec-ms") == "2.000"
    assert answer.header("Content-Length") is None

    text = c.result_answer(AMLResponse("plain text", 202, {"X-Kind": "response"}), 1)
    assert (text.status, text.body, text.content_type) == (202, b"plain text", "text/html; charset=utf-8")
    empty = c.result_answer(AMLResponse(None, 202), 1)
    assert (empty.status, empty.body, empty.content_type) == (202, b"{}", "application/json")


def test_5xx_responses_are_marked_failed() -> None:
    failed = c.result_answer(AMLResponse({"failed": "downstream"}, 500, json_str=True), 1)
    assert (failed.status, body_json(failed)) == (500, {"failed": "downstream"})
    assert [v for k, v in failed.headers if k.lower() == "x-ms-run-function-failed"] == ["True"]
    plain = c.result_answer(Response("down", status=503), 1)
    assert plain.header("x-ms-run-function-failed") == "True"
    assert c.result_answer(Response("fine"), 1).header("x-ms-run-function-failed") is None


def test_exceptions() -> None:
    broken = c.exception_answer(RuntimeError("secret s3cr3t"))
    assert (broken.status, body_json(broken)) == (500, {"message": c.RUN_FAILED})
    assert broken.header("x-ms-run-function-failed") == "True"
    for exc in (ValueError("s3cr3t"), KeyError("s3cr3t"), TypeError("s3cr3t"), IndexError("s3cr3t")):
        refused = c.exception_answer(exc)
        assert refused.status == 400 and b"s3cr3t" not in refused.body
        assert refused.header("x-ms-run-function-failed") == "False"
        assert type(exc).__name__ in body_json(refused)["message"]


# ---- SCORING_TIMEOUT_MS ----


def test_scoring_timeout() -> None:
    assert c.scoring_timeout_ms({}) == 3_600_000 == c.DEFAULT_SCORING_TIMEOUT_MS
    assert c.scoring_timeout_ms({"SCORING_TIMEOUT_MS": "300"}) == 300
    with pytest.raises(sc.ContractError, match="SCORING_TIMEOUT_MS"):
        c.scoring_timeout_ms({"SCORING_TIMEOUT_MS": "soon"})
    answer = c.timeout_answer(300)
    assert (answer.status, body_json(answer)) == (500, {"message": "Scoring timeout after 300 ms"})
    assert answer.header("x-ms-run-function-failed") == "True"
    assert c.timeout_seconds(300) == 0.3 and c.timeout_seconds(0) is None
    assert 'f"Scoring timeout after {ex.timeout_ms} ms"' in ROUTES_SOURCE


# ---- swagger ----


def _real_swagger(run: Any, app_root: Path) -> Any:  # Any: the package's Swagger
    from azureml_inference_server_http.server.swagger import Swagger

    return Swagger(str(app_root), str(PACKAGE_SERVER), SimpleNamespace(get_run_function=lambda: run))


def _plain_run(raw_data: str) -> object:
    return raw_data


@pytest.mark.parametrize("run", [_plain_run, _schema_run()], ids=["undecorated", "schema"])
def test_swagger_is_the_packages(run: Any, tmp_path: Path) -> None:  # Any: a run() function
    assert c.server_root() == PACKAGE_SERVER
    ours = c.build_swagger(run, {}, PACKAGE_SERVER, tmp_path)
    real = _real_swagger(run, tmp_path)
    assert list(ours.supported) == real.supported_versions
    for version in ("2", "2.0", "3", "3.0", "3.1"):
        answer = ours.answer(version)
        assert answer.status == 200 and answer.content_type == "application/json"
        assert json.loads(answer.body) == real.get_swagger(version)
    assert json.loads(ours.answer(None).body)["swagger"] == "2.0"
    assert json.loads(ours.answer("3").body)["openapi"] == "3.0.3"
    assert json.loads(ours.answer("3.1").body)["openapi"] == "3.1.0"


def test_swagger_versions_refused(tmp_path: Path) -> None:
    swagger = c.build_swagger(_plain_run, {}, PACKAGE_SERVER, tmp_path)
    refused = swagger.answer("4")
    assert (refused.status, body_json(refused)) == (
        404,
        {"message": "Swagger version [4] is not valid. Supported versions: [2, 3, 3.1]."},
    )
    only_two = c.Swagger({"2": b"{}", "2.0": b"{}"}, ("2",))
    assert body_json(only_two.answer("3"))["message"] == (
        "Swagger version [3] is not supported for the scoring script. Supported swagger versions: [2]."
    )


def test_swagger_environment_and_user_file(tmp_path: Path) -> None:
    env = {"SERVICE_NAME": "svc", "SERVICE_VERSION": "2.5", "SERVICE_PATH_PREFIX": "/api/"}
    document = json.loads(c.build_swagger(_plain_run, env, PACKAGE_SERVER, tmp_path).answer("2").body)
    assert document["info"]["title"] == "svc" and document["info"]["version"] == "2.5"
    assert "/api/score" in document["paths"]
    assert document["definitions"]["ServiceInput"] == c.UNDECORATED_SCHEMA
    (tmp_path / "swagger.json").write_text('{"mine": true}')
    assert json.loads(c.build_swagger(_plain_run, {}, PACKAGE_SERVER, tmp_path).answer("2").body) == {"mine": True}
    assert sc.app_root({"AML_APP_ROOT": "/x"}, tmp_path) == Path("/x")
    assert sc.app_root({}, tmp_path) == tmp_path


def test_nan_is_not_finite_json() -> None:
    # json.dumps keeps NaN as the bare token NaN, which Azure ML sends and json.loads reads back.
    assert math.isnan(json.loads(c.result_answer(float("nan"), 0).body))


# ---- sys.path, x-ms-server-version, CORS, Flask's automatic OPTIONS ----


def test_source_path_entries(tmp_path: Path) -> None:
    assert sc.source_path_entries({}, tmp_path) == (tmp_path,)
    root = tmp_path / "app"
    assert sc.source_path_entries({"AML_APP_ROOT": str(root), "AZUREML_SOURCE_DIRECTORY": "src"}, tmp_path) == (
        root,
        root / "src",
    )
    # An absolute source directory stands alone, as os.path.join makes it; an empty one is ignored.
    assert sc.source_path_entries({"AML_APP_ROOT": str(root), "AZUREML_SOURCE_DIRECTORY": "/code"}, tmp_path) == (
        root,
        Path("/code"),
    )
    assert sc.source_path_entries({"AZUREML_SOURCE_DIRECTORY": ""}, tmp_path) == (tmp_path,)


def test_server_version_as_amlserver_sets_it() -> None:
    from azureml_inference_server_http import __version__

    assert c.installed_server_version() == __version__
    assert c.server_version({}, __version__) == f"azmlinfsrv/{__version__}"
    # Enabled (the default, or "true" in any case): the package's version wins over the variable.
    assert c.server_version({"HTTP_X_MS_SERVER_VERSION": "mine/1"}, "1.5.1") == "azmlinfsrv/1.5.1"
    assert c.server_version({"SERVER_VERSION_LOG_RESPONSE_ENABLED": "TRUE"}, "1.5.1") == "azmlinfsrv/1.5.1"
    # Disabled: the deployment's own value, or no header.
    off = {"SERVER_VERSION_LOG_RESPONSE_ENABLED": "false"}
    assert c.server_version(off, "1.5.1") is None
    assert c.server_version({**off, "HTTP_X_MS_SERVER_VERSION": "mine/1"}, "1.5.1") == "mine/1"
    assert c.server_version({**off, "HTTP_X_MS_SERVER_VERSION": ""}, "1.5.1") is None


def _flask_cors_headers(origins: str, method: str, headers: dict[str, str]) -> dict[str, str]:
    """What flask-cors adds on a real Flask blueprint configured as aml_blueprint.setup does."""
    import flask
    import flask_cors

    blueprint = flask.Blueprint("main", __name__)

    @blueprint.route("/score", methods=["GET", "POST", "OPTIONS"], provide_automatic_options=False)
    def score() -> str:
        return ""

    flask_cors.CORS(blueprint, methods=["GET", "POST"], origins=[o.strip() for o in origins.split(",")])
    app = flask.Flask(__name__)
    app.register_blueprint(blueprint)
    response = app.test_client().open("/score", method=method, headers=headers)
    cors = ("access-control-", "vary")
    return {k: v for k, v in response.headers.items() if k.lower().startswith(cors)}


@pytest.mark.parametrize(
    ("origins", "method", "headers"),
    [
        ("https://a.example", "POST", {"Origin": "https://a.example"}),
        ("https://a.example", "POST", {"Origin": "https://A.EXAMPLE"}),
        ("https://a.example", "POST", {"Origin": "https://evil.example"}),
        ("https://a.example", "POST", {}),
        ("https://b.example, https://a.example", "POST", {}),
        ("https://a.example, https://b.example", "GET", {"Origin": "https://b.example"}),
        (r"https://.*\.example", "POST", {"Origin": "https://c.example"}),
        ("*", "POST", {"Origin": "https://any.example"}),
        (
            "https://a.example",
            "OPTIONS",
            {
                "Origin": "https://a.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "X-B, content-type",
            },
        ),
        ("https://a.example", "OPTIONS", {"Origin": "https://a.example", "Access-Control-Request-Method": "PUT"}),
    ],
)
def test_cors_headers_are_flask_cors(origins: str, method: str, headers: dict[str, str]) -> None:
    cors = c.cors({"AML_CORS_ORIGINS": origins})
    assert cors is not None
    assert dict(cors.headers(method, headers.items(), ())) == _flask_cors_headers(origins, method, headers)


def test_cors_off_and_already_answered() -> None:
    assert c.cors({}) is None
    assert c.cors({"AML_CORS_ORIGINS": ""}) is None
    cors = c.cors({"AML_CORS_ORIGINS": "https://a.example"})
    assert cors is not None
    # An answer that names an allowed origin itself (run()'s AMLResponse) is left alone.
    answered = (("Access-Control-Allow-Origin", "https://mine.example"),)
    assert cors.headers("POST", [("Origin", "https://a.example")], answered) == ()


def test_flask_options_answer_is_flasks() -> None:
    import flask

    app = flask.Flask(__name__)

    @app.get("/")
    def root() -> str:
        return "Healthy"

    response = app.test_client().options("/")
    answer = c.flask_options_answer(("GET",))
    assert answer.status == response.status_code
    assert answer.body == response.get_data()
    assert answer.content_type == response.headers["Content-Type"]
    allow = answer.header("Allow")
    assert allow is not None
    assert sorted(allow.split(", ")) == sorted(response.headers["Allow"].split(", "))
