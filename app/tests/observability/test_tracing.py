"""Optional request telemetry to Application Insights (scoring/observability/tracing.py), against a real ingestion
endpoint stood up here: the real Azure Monitor exporter POSTs its envelopes to it, exactly as it would to
`<region>.in.applicationinsights.azure.com`, because the connection string says IngestionEndpoint is here.
A scored request becomes one request item with the route, status and request id, and no key, body or
query; with telemetry off nothing is sent; the settings refuse what the exporter would refuse, without
quoting the secret."""

from __future__ import annotations

import asyncio
import gzip
import http.server
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pytest
from conftest import PRIMARY_KEY, MakeServer, Server, seed_body
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from scoring.core.settings import SettingsError, load_settings
from scoring.observability.telemetry import Telemetry
from scoring.observability.tracing import RequestTracer

INSTRUMENTATION_KEY = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"
WRONG_KEY = "wrong-key-that-must-not-travel"
REQUEST_ENVELOPE = "Microsoft.ApplicationInsights.Request"


@dataclass
class Ingestion:
    """Application Insights' track endpoint as the exporter sees it: POST .../v2.1/track, a JSON list of
    envelopes (maybe gzipped), answered with itemsReceived/itemsAccepted."""

    port: int = 0
    posts: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def connection_string(self) -> str:
        return f"InstrumentationKey={INSTRUMENTATION_KEY};IngestionEndpoint=http://127.0.0.1:{self.port}/"

    def items(self) -> list[dict[str, object]]:
        with self.lock:
            return [item for body in self.posts for item in json.loads(body)]

    def requests(self) -> list[dict[str, object]]:
        return [item for item in self.items() if item.get("name") == REQUEST_ENVELOPE]

    def raw(self) -> str:
        with self.lock:
            return "".join(body.decode(errors="replace") for body in self.posts)


@pytest.fixture
def ingestion() -> Iterator[Ingestion]:
    received = Ingestion()

    class Track(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            count = len(json.loads(body)) if self.path.endswith("/track") else 0
            with received.lock:
                received.posts.append(body)
            answer = json.dumps({"itemsReceived": count, "itemsAccepted": count, "errors": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Track)
    received.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield received
    server.shutdown()
    server.server_close()


def telemetry_env(ingestion: Ingestion, **extra: str) -> dict[str, str]:
    return {
        "APPLICATIONINSIGHTS_CONNECTION_STRING": ingestion.connection_string,
        # The exporter's own usage telemetry to Microsoft would try the internet from the test machine.
        "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
        **extra,
    }


def listening_line(server: Server) -> dict[str, object]:
    for line in server.log().splitlines():
        if line.startswith("{") and (parsed := json.loads(line)).get("event") == "listening":
            return dict(parsed)
    raise AssertionError(f"no listening line in the log:\n{server.log()}")


def test_a_scored_request_becomes_one_request_item_without_key_or_body(
    make_server: MakeServer, ingestion: Ingestion, heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    server: Server = make_server(telemetry_env(ingestion))
    rows = heldout[0][:3]
    body = seed_body(rows)
    traceparent = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"
    scored = server.request("POST", "/score", body, headers={"x-request-id": "trace-me-1", "traceparent": traceparent})
    assert scored.status == 200
    refused = server.request("POST", "/score", body, headers={"x-request-id": "trace-me-2"}, key=WRONG_KEY)
    assert refused.status == 401
    query = server.request("GET", "/score?data=secret-query-text", headers={"x-request-id": "trace-me-3"})
    assert listening_line(server)["telemetry"] is True
    started = time.monotonic()
    # Nothing is sent before the drain: the export interval (5 s) has not passed. Stopping flushes it.
    assert server.stop() == 0
    assert time.monotonic() - started < 10

    by_id = {}
    for item in ingestion.requests():
        data = item["data"]["baseData"]  # type: ignore[index]  # the envelope's JSON shape
        by_id[data["properties"]["Request Id"]] = (item, data)
    assert {"trace-me-1", "trace-me-2", "trace-me-3"} <= set(by_id), ingestion.items()

    item, data = by_id["trace-me-1"]
    assert data["name"] == "POST /score"
    assert data["responseCode"] == "200" and data["success"] is True
    assert data["url"].endswith("/score")
    assert data["properties"]["scoring.rows"] == "3"
    assert item["iKey"] == INSTRUMENTATION_KEY
    # The caller's W3C trace context is continued: same operation, its span as the parent.
    assert item["tags"]["ai.operation.id"] == TRACE_ID  # type: ignore[index]
    assert item["tags"]["ai.operation.parentId"] == PARENT_SPAN_ID  # type: ignore[index]
    duration = data["duration"]  # d.hh:mm:ss.ffffff
    assert duration.startswith("0.00:00:0"), duration

    _, refused_data = by_id["trace-me-2"]
    assert refused_data["responseCode"] == "401" and refused_data["success"] is False
    _, query_data = by_id["trace-me-3"]
    assert query_data["name"] == "GET /score" and query_data["responseCode"] == str(query.status)

    everything = ingestion.raw()
    for secret in (PRIMARY_KEY, WRONG_KEY, "secret-query-text", "Bearer"):
        assert secret not in everything, secret
    # Not one row of the body: its numbers as JSON wrote them never travel.
    assert json.dumps(rows[0].tolist())[:60] not in everything


def test_off_sends_nothing_even_with_a_connection_string(
    make_server: MakeServer, ingestion: Ingestion, heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    # Azure ML's switch turns it off whatever else is set.
    server = make_server(telemetry_env(ingestion, AML_APP_INSIGHTS_ENABLED="false"))
    assert server.score(heldout[0][:2]).status == 200
    assert server.stop() == 0
    assert ingestion.posts == []
    assert listening_line(server)["telemetry"] is False


def test_a_server_without_telemetry_settings_sends_nothing(
    server: Server, ingestion: Ingestion, heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    # The default server of the suite: no connection string, so no exporter exists to send anything.
    assert server.score(heldout[0][:1]).status == 200
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" not in server.env
    assert listening_line(server)["telemetry"] is False
    assert ingestion.posts == []


BASE = {"AUTH_ENABLED": "false", "DEVICE": "cpu"}
CONNECTION = (
    f"InstrumentationKey={INSTRUMENTATION_KEY};IngestionEndpoint=https://eastus-8.in.applicationinsights.azure.com/"
)


def test_settings_default_off_and_azure_ml_names() -> None:
    assert load_settings(BASE).telemetry is None
    on = load_settings({**BASE, "APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION, "SERVICE_NAME": "mnist"})
    assert on.telemetry is not None and on.telemetry.connection_string == CONNECTION
    assert on.telemetry.service_name == "mnist" and on.telemetry.sample_ratio == 1.0
    assert CONNECTION not in repr(on)
    # Azure ML's pair: the key alone stays off, as on Azure ML; with ENABLED=true it is the connection string.
    assert load_settings({**BASE, "AML_APP_INSIGHTS_KEY": INSTRUMENTATION_KEY}).telemetry is None
    aml = load_settings(
        {**BASE, "AML_APP_INSIGHTS_ENABLED": "true", "AML_APP_INSIGHTS_KEY": INSTRUMENTATION_KEY.upper()}
    )
    assert aml.telemetry is not None and aml.telemetry.connection_string == f"InstrumentationKey={INSTRUMENTATION_KEY}"
    sampled = load_settings(
        {**BASE, "APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION, "APP_INSIGHTS_SAMPLE_RATIO": "0.25"}
    )
    assert sampled.telemetry is not None and sampled.telemetry.sample_ratio == 0.25


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"AML_APP_INSIGHTS_ENABLED": "true"}, "neither APPLICATIONINSIGHTS_CONNECTION_STRING"),
        ({"AML_APP_INSIGHTS_ENABLED": "true", "AML_APP_INSIGHTS_KEY": "not-a-uuid-s3cr3t"}, "AML_APP_INSIGHTS_KEY"),
        ({"APPLICATIONINSIGHTS_CONNECTION_STRING": "just-a-s3cr3t-word"}, "name=value pairs"),
        ({"APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=s3cr3t-but-no-uuid"}, "lowercase UUID"),
        (
            {"APPLICATIONINSIGHTS_CONNECTION_STRING": f"InstrumentationKey={INSTRUMENTATION_KEY};Authorization=aad"},
            "Authorization",
        ),
        (
            {
                "APPLICATIONINSIGHTS_CONNECTION_STRING": f"InstrumentationKey={INSTRUMENTATION_KEY};"
                "IngestionEndpoint=http://collector.example.com/"
            },
            "https://",
        ),
        ({"APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION, "APP_INSIGHTS_SAMPLE_RATIO": "0"}, "above 0"),
        ({"APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION, "APP_INSIGHTS_SAMPLE_RATIO": "nan"}, "above 0"),
    ],
)
def test_settings_refuse_what_the_exporter_would_without_quoting_the_secret(env: dict[str, str], names: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({**BASE, **env})
    message = str(refused.value)
    assert names in message
    for secret in ("s3cr3t", INSTRUMENTATION_KEY, "collector.example.com"):
        assert secret not in message


def test_sampling_sends_the_configured_share_marked_for_extrapolation() -> None:
    exported = InMemorySpanExporter()
    tracer = RequestTracer(Telemetry(connection_string=CONNECTION, sample_ratio=0.25), None, exporter=exported)
    headers = {"x-request-id": "sampled"}
    for _ in range(2000):
        tracer.record(
            "POST", "/score", 200, 0.001, "sampled", scheme="http", host="h", path="/score", rows=1, headers=headers
        )
    asyncio.run(tracer.close())
    spans = exported.get_finished_spans()
    # 500 expected; a binomial(2000, 0.25) is outside 400..600 with probability below 1e-11.
    assert 400 <= len(spans) <= 600
    assert all(span.attributes is not None and span.attributes["_MS.sampleRate"] == 25.0 for span in spans)
