"""The Azure ML protocol unit (scoring.protocols.azureml) on the transport-neutral path
(scoring/core/serving.py), no transport: request ids and their 431, Azure ML's error body for every
refusal and failure, its routing texts as the server's default protocol, x-ms-server-version and CORS
on every answer of its routes, and the Open Inference Protocol's routes left to their own shapes. The
routes themselves are compared with the real Azure ML server in test_azureml_differential.py."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import cast

from multidict import CIMultiDict, CIMultiDictProxy

from scoring.core.errors import Unauthorized
from scoring.core.exchange import Answer, Exchange, ProtocolUnit
from scoring.core.pipeline import Pipeline
from scoring.core.serving import UNMATCHED, Serving
from scoring.model import script_contract as sc
from scoring.observability.metrics import Metrics
from scoring.protocols import azureml_contract as c
from scoring.protocols import azureml_http
from scoring.protocols.azureml import AzureMLProtocol
from scoring.protocols.v2 import V2Protocol


async def ok(exchange: Exchange) -> Answer:
    return Answer(200, b"fine", [("Content-Type", "text/plain")])


async def refused(exchange: Exchange) -> Answer:
    raise Unauthorized("no key", headers={"WWW-Authenticate": "Bearer"})


async def broken(exchange: Exchange) -> Answer:
    raise RuntimeError("s3cr3t")


HANDLERS = {"/ok": ok, "/refused": refused, "/broken": broken, "/v2/refused": refused}


def _answers(
    *requests: tuple[str, str, dict[str, str]], state: azureml_http.AzureML | None = None
) -> list[tuple[int, dict[str, str], bytes]]:
    pipeline = cast(Pipeline, SimpleNamespace(batched=True))
    azureml = AzureMLProtocol(
        pipeline, state or azureml_http.AzureML(sc.analyze_run(lambda data: data), None, None), bytes
    )
    v2 = V2Protocol(pipeline, "mnist")
    serving = Serving(Metrics(), None)

    async def serve(method: str, path: str, headers: dict[str, str]) -> Answer:
        found = CIMultiDictProxy(CIMultiDict(headers))
        handler = HANDLERS.get(path)
        if handler is None or (method, path) == ("POST", "/ok"):  # no route: the default protocol's answer
            exchange = Exchange(azureml, ok, UNMATCHED, method, path, found)
            return await serving.serve_unmatched(exchange, 404 if handler is None else 405, "GET, HEAD")
        unit: ProtocolUnit = v2 if path.startswith("/v2") else azureml
        return await serving.serve(Exchange(unit, handler, path, method, path, found))

    async def all_of_them() -> list[tuple[int, dict[str, str], bytes]]:
        out = []
        for method, path, headers in requests:
            answer = await serve(method, path, headers)
            out.append((answer.status, {k.lower(): v for k, v in answer.headers}, answer.body))
        return out

    return asyncio.run(all_of_them())


def test_ids_errors_and_v2() -> None:
    ok, refused, broken, missing, wrong, long_id, v2 = _answers(
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
    assert wrong[1]["allow"] == "GET, HEAD"
    assert "x-request-id" not in missing[1] and "x-request-id" not in wrong[1]
    assert long_id[0] == 431 and "x-ms-client-request-id" not in long_id[1]
    # The Open Inference Protocol's routes answer in its own shape, with its own id.
    assert (v2[0], json.loads(v2[2])) == (401, {"error": "no key"})
    assert "x-ms-run-function-failed" not in v2[1] and v2[1]["x-request-id"]


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
    ok, refused, long_id, missing, v2, other = _answers(
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
