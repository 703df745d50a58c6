"""scoring.protocols.azureml_http, the aiohttp glue of the Azure ML contract: its middleware on a small app
(request ids, Azure ML's error body and routing texts, /v2 left alone). The routes themselves are
compared with the real Azure ML server in test_azureml_differential.py."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from scoring.core.errors import Unauthorized
from scoring.model import script_contract as sc
from scoring.protocols import azureml_contract as c
from scoring.protocols import azureml_http


def _glue_answers(
    *requests: tuple[str, str, dict[str, str]], state: azureml_http.AzureML | None = None
) -> list[tuple[int, dict[str, str], bytes]]:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="fine")

    async def refused(request: web.Request) -> web.Response:
        raise Unauthorized("no key", headers={"WWW-Authenticate": "Bearer"})

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("s3cr3t")

    async def exchange() -> list[tuple[int, dict[str, str], bytes]]:
        app = web.Application(middlewares=[azureml_http.middleware])
        if state is not None:
            app[azureml_http.AZUREML] = state
        # Azure ML's routes are registered as its own; another protocol's route is not Azure ML's,
        # whatever its path.
        azureml_routes = web.RouteTableDef()
        azureml_routes.get("/ok")(ok)
        azureml_routes.get("/refused")(refused)
        azureml_routes.get("/broken")(broken)
        azureml_http.register_routes(app, azureml_routes)
        app.router.add_get("/v2/refused", refused)
        async with TestClient(TestServer(app)) as client:
            out = []
            for method, path, headers in requests:
                response = await client.request(method, path, headers=headers)
                headers = {k.lower(): v for k, v in response.headers.items()}
                out.append((response.status, headers, await response.read()))
            return out

    return asyncio.run(exchange())


def test_middleware_ids_errors_and_v2() -> None:
    ok, refused, broken, missing, wrong, long_id, v2 = _glue_answers(
        ("GET", "/ok", {"x-request-id": "r-1", "TraceId": "t"}),
        ("GET", "/refused", {}),
        ("GET", "/broken", {}),
        ("GET", "/nope", {}),
        ("POST", "/ok", {}),
        ("GET", "/ok", {"x-ms-client-request-id": "y" * 101}),
        ("GET", "/v2/refused", {}),
    )
    assert ok[0] == 200 and ok[2] == b"fine"
    assert (ok[1]["x-request-id"], ok[1]["x-ms-request-id"], ok[1]["traceid"]) == ("r-1", "r-1", "t")
    assert (refused[0], json.loads(refused[2])) == (401, {"message": "no key"})
    assert refused[1]["www-authenticate"] == "Bearer" and refused[1]["x-ms-run-function-failed"] == "False"
    assert (broken[0], json.loads(broken[2])) == (500, {"message": c.INTERNAL_ERROR})
    assert (missing[0], json.loads(missing[2])) == (404, {"message": c.NOT_FOUND})
    assert (wrong[0], json.loads(wrong[2])) == (405, {"message": c.METHOD_NOT_ALLOWED})
    assert "x-request-id" not in missing[1] and "x-request-id" not in wrong[1]
    assert long_id[0] == 431 and "x-ms-client-request-id" not in long_id[1]
    # The Open Inference Protocol's routes are left to their own error handling.
    assert v2[0] == 500 and "x-ms-run-function-failed" not in v2[1]


def test_server_version_and_cors_on_the_routes_azure_ml_matches() -> None:
    def run(data: str) -> str:
        return data

    state = azureml_http.AzureML(
        sc.analyze_run(run, rawhttp=False),
        None,
        None,
        server_version="azmlinfsrv/1.5.1",
        cors=c.cors({"AML_CORS_ORIGINS": "https://a.example"}),
    )
    origin = {"Origin": "https://a.example"}
    ok, refused, long_id, missing, v2, other = _glue_answers(
        ("GET", "/ok", origin),
        ("GET", "/refused", origin),
        ("GET", "/ok", {**origin, "x-request-id": "z" * 101}),
        ("GET", "/nope", origin),
        ("GET", "/v2/refused", origin),
        ("GET", "/ok", {"Origin": "https://evil.example"}),
        state=state,
    )
    # Every answer of a matched route (errors and the 431 included), as Azure ML's after_request hooks.
    for answer in (ok, refused, long_id):
        assert answer[1]["x-ms-server-version"] == "azmlinfsrv/1.5.1"
        assert answer[1]["access-control-allow-origin"] == "https://a.example"
    # Routing errors never reach Azure ML's blueprint, and /v2 is not Azure ML's.
    for answer in (missing, v2):
        assert "x-ms-server-version" not in answer[1] and "access-control-allow-origin" not in answer[1]
    assert "access-control-allow-origin" not in other[1]


def test_request_headers_are_read_as_azure_ml_joins_them() -> None:
    from multidict import CIMultiDict, CIMultiDictProxy

    from scoring.protocols.azureml_contract import lower_headers
    from scoring.protocols.azureml_http import JoinedHeaders

    pairs = [("X-Request-Id", "a"), ("TraceId", "t"), ("x-request-id", "b"), ("Content-Type", "application/json")]
    joined = JoinedHeaders(CIMultiDictProxy(CIMultiDict(pairs)))
    assert (
        dict(joined)
        == lower_headers(pairs)
        == {
            "x-request-id": "a,b",
            "traceid": "t",
            "content-type": "application/json",
        }
    )
    assert joined.get("x-ms-client-request-id") is None and joined["TRACEID"] == "t"
