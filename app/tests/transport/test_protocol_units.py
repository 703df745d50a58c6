"""A protocol is one unit both transports serve: a toy protocol, registered into build_app (the one
line a new protocol adds in scoring/transport/server.py `protocols`), is served through aiohttp's
application and through the fast lane by the same handler, with its own ids, error shape and route
label, and the same answer on both; aiohttp's routing errors get its (the default protocol's) shape."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp.test_utils import TestClient, TestServer
from conftest import Reply, parse_response, raw_request
from multidict import CIMultiDictProxy

from scoring.core.errors import BadRequest, ServiceError
from scoring.core.exchange import Answer, Exchange, Route
from scoring.core.pipeline import Pipeline
from scoring.core.settings import load_settings
from scoring.model.entry import load_entry_script
from scoring.observability.metrics import Metrics
from scoring.transport.connections import Connections
from scoring.transport.fast_lane import FastLane, LaneContext
from scoring.transport.observer import Observer
from scoring.transport.server import build_app

APP = Path(__file__).resolve().parents[2]
JSON = ("Content-Type", "application/json")


class Echo:
    """POST /echo/{name}: the body's size, read under the pipeline's budget; an empty body is its 400."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def routes(self) -> Sequence[Route]:
        return (Route("POST", "/echo/{name}", self.echo), Route("GET", "/echo/{name}", self.echo))

    async def echo(self, exchange: Exchange) -> Answer:
        with self.pipeline.admitted() as reservation:
            body = await exchange.read_body(reservation)
        if not body:
            raise BadRequest("nothing to echo")
        params = exchange.params or {}
        exchange.rows = 1
        return Answer(200, json.dumps({"name": params["name"], "bytes": len(body)}).encode(), [JSON])

    def begin(self, exchange: Exchange) -> Answer | None:
        exchange.request_id = exchange.headers.get("x-echo-id", "echo-generated")
        return None

    def finish(self, exchange: Exchange, answer: Answer) -> None:
        answer.headers.append(("x-echo-id", exchange.request_id))

    def error_answer(self, error: ServiceError) -> Answer:
        return Answer(error.status, json.dumps({"problem": error.message}).encode(), [JSON], error.close, error.reason)

    def internal_error(self) -> Answer:
        return Answer(500, b'{"problem": "internal"}', [JSON])

    def unmatched(self, status: int, allow: str | None) -> Answer:
        return Answer(status, json.dumps({"problem": "no route", "allow": allow}).encode(), [JSON])

    def lane_match(self, raw_path: bytes, headers: CIMultiDictProxy[str]) -> Exchange | None:
        if not raw_path.startswith(b"/echo/"):
            return None
        path = raw_path.decode("ascii")
        return Exchange(self, self.echo, "/echo/{name}", "POST", path, headers, params={"name": path[6:]})

    def openapi(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"/echo/{name}": {"post": {"responses": {"200": {"description": "the size"}}}}}, {}


class _Transport:
    def __init__(self) -> None:
        self.written = b""
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default

    def set_protocol(self, protocol: object) -> None:
        raise AssertionError("the lane handed a request of the protocol's lane_match to aiohttp")


@pytest.fixture(scope="module")
def replies() -> dict[str, tuple[Reply, Reply | None, str]]:
    """name -> (aiohttp's reply, the lane's reply or None where the lane does not serve it, metrics text)."""
    settings = load_settings(
        {"SCORING_PRIMARY_KEY": "k", "ENTRY_SCRIPT": str(APP / "score.py"), "MODEL_DIR": str(APP / "model")},
        detect_device=lambda: "cpu",
    )
    requests = {
        "echo": ("POST", "/echo/abc", b"12345", {"x-echo-id": "mine"}),
        "empty": ("POST", "/echo/abc", b"", {}),
        "get": ("GET", "/echo/abc", b"x", {}),
        "head": ("HEAD", "/echo/abc", b"", {}),
        "no route": ("POST", "/nowhere", b"x", {}),
        "wrong method": ("PUT", "/echo/abc", b"x", {}),
    }

    async def run() -> dict[str, tuple[Reply, Reply | None, str]]:
        metrics = Metrics()
        pipeline = Pipeline(settings, load_entry_script(settings.entry_script), metrics)
        connections = Connections(1024, metrics)
        observer = Observer(metrics, connections, None)
        echo = Echo(pipeline)
        app = build_app(pipeline, observer, "mnist", registered=(echo,))
        context = LaneContext(pipeline, observer, connections, (echo,))
        out: dict[str, tuple[Reply, Reply | None, str]] = {}
        async with TestClient(TestServer(app)) as client:
            for name, (method, path, body, headers) in requests.items():
                response = await client.request(method, path, data=body, headers=headers)
                via_aiohttp = Reply(
                    response.status, {k.lower(): v for k, v in response.headers.items()}, await response.read()
                )
                via_lane = None
                if method == "POST" and path.startswith("/echo/"):
                    transport = _Transport()
                    lane = FastLane(context, lambda: cast(Any, None))
                    lane.connection_made(cast(Any, transport))
                    lane.data_received(raw_request(method, path, body, headers, key=None))
                    for _ in range(100):
                        if transport.written:
                            break
                        await asyncio.sleep(0.01)
                    via_lane = parse_response(transport.written)
                out[name] = (via_aiohttp, via_lane, metrics.render().decode())
        await pipeline.close()
        return out

    return asyncio.run(run())


def test_both_transports_serve_the_protocols_handler(replies: dict[str, tuple[Reply, Reply | None, str]]) -> None:
    for name in ("echo", "empty"):
        aiohttp_reply, lane_reply, _ = replies[name]
        assert lane_reply is not None, name
        assert (lane_reply.status, lane_reply.body) == (aiohttp_reply.status, aiohttp_reply.body), name
        assert lane_reply.header("x-echo-id") == aiohttp_reply.header("x-echo-id"), name
    echo = replies["echo"][0]
    assert (echo.status, json.loads(echo.body), echo.header("x-echo-id")) == (200, {"name": "abc", "bytes": 5}, "mine")
    # Its own error shape, mapped once, and its route template as the metrics label on both transports.
    empty = replies["empty"][0]
    assert (empty.status, json.loads(empty.body)) == (400, {"problem": "nothing to echo"})
    assert 'scoring_requests_total{route="/echo/{name}",status="200"} 2.0' in replies["empty"][2]
    assert 'scoring_requests_total{route="/echo/{name}",status="400"} 2.0' in replies["empty"][2]
    assert replies["get"][0].status == 200
    # A GET route answers HEAD too, as aiohttp's GET routes do: the handler ran (its 400), no 405.
    assert replies["head"][0].status == 400


def test_the_default_protocol_answers_what_no_route_matched(
    replies: dict[str, tuple[Reply, Reply | None, str]],
) -> None:
    missing, wrong = replies["no route"][0], replies["wrong method"][0]
    assert (missing.status, json.loads(missing.body)) == (404, {"problem": "no route", "allow": None})
    assert wrong.status == 405 and json.loads(wrong.body)["problem"] == "no route"
    assert set(json.loads(wrong.body)["allow"].split(",")) >= {"GET", "POST"}
    assert "x-echo-id" not in missing.headers  # no route: no protocol's ids
    assert 'route="unmatched",status="404"' in replies["wrong method"][2]
