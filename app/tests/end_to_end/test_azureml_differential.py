"""Differential suite: this server against the real Azure ML inference server.

Both servers (`python3 -m scoring` and `azureml-inference-server-http` 1.5.1, pinned in
app/requirements-test.in) run the same entry script; every case sends the same request to both and
compares what a client sees. Each case has two facets, each with its own verdict:

- "body": status, Content-Type and body (JSON compared as parsed values, types included; other
  bodies byte for byte);
- "headers": the headers clients and Azure ML's tooling rely on: x-request-id (echoed or generated),
  x-ms-request-id, x-ms-client-request-id, x-ms-run-function-failed, x-ms-run-fn-exec-ms (present,
  3 decimals), TraceId, plus a case's own extra headers.

Verdicts: SAME (asserted equal), DELIBERATE (this server is better by design: its documented answer
is asserted, the reason is in the case), LEFT (differs today and should be fixed: asserted equal
under xfail(strict=True), so the suite passes now and FAILS once fixed - then change it to SAME).
test_azureml_answer pins Azure ML's own answer for every case, so a SAME never passes because both
servers fail alike, and docs/azureml-compatibility.md's Azure ML column stays true.

Each entry script's two servers start once per test session, however many xdist workers run: at
session start every worker takes the file lock of each script no other worker holds, starts both
servers, sends every case of that script to both, stops them and writes the answers to a file in the
session's temporary folder; tests then compare recorded answers (the requests were live).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import fcntl
import http.client
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import pytest
from conftest import APP_DIR, FIXTURES, PRIMARY_KEY, Server, free_port, server_env

SCRIPTS_DIR = FIXTURES / "azureml"
AUTH = ("Authorization", f"Bearer {PRIMARY_KEY}")
JSON = ("Content-Type", "application/json")
TEXT = ("Content-Type", "text/plain")
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
EXEC_MS = re.compile(r"\d+\.\d{3}")

# Azure ML's fixed messages (azureml_inference_server_http/server/routes.py, 1.5.1).
RUN_FAILED = "An unexpected error occurred in scoring script. Check the logs for more info."
INTERNAL = "An unexpected internal error occurred. Check the logs for more info."
NOT_FOUND = (
    "The requested URL was not found on the server. If you entered the URL manually please check your spelling "
    "and try again."
)
NOT_ALLOWED = "The method is not allowed for the requested URL."
SECRET = "s3cr3t"


@dataclass(frozen=True)
class Script:
    path: Path
    # This server's environment beyond ENTRY_SCRIPT (auth off unless the script's cases send the key).
    ours_env: Mapping[str, str] = field(default_factory=lambda: {"AUTH_ENABLED": "false"})
    # Both servers' environment (Azure ML's variables, which this server is meant to honour too).
    env: Mapping[str, str] = field(default_factory=dict)


SCRIPTS = {
    # The seed's entry script as this repository ships it: this server batches it through run_batch.
    "seed": Script(APP_DIR / "score.py", ours_env={}),
    "headers": Script(SCRIPTS_DIR / "headers_score.py"),
    "rawhttp": Script(SCRIPTS_DIR / "rawhttp_score.py"),
    "schema": Script(SCRIPTS_DIR / "schema_score.py"),
    "raising": Script(SCRIPTS_DIR / "raising_score.py", env={"SCORING_TIMEOUT_MS": "300"}),
    "returns": Script(SCRIPTS_DIR / "returns_score.py"),
    # Azure ML's environment: CORS for two origins, modules imported from AML_APP_ROOT and
    # AZUREML_SOURCE_DIRECTORY, and the deployment's own x-ms-server-version.
    "env": Script(
        SCRIPTS_DIR / "env_score.py",
        env={
            "AML_CORS_ORIGINS": "https://a.example, https://b.example",
            "AML_APP_ROOT": str(SCRIPTS_DIR / "approot"),
            "AZUREML_SOURCE_DIRECTORY": "src",
            "SERVER_VERSION_LOG_RESPONSE_ENABLED": "false",
            "HTTP_X_MS_SERVER_VERSION": "deployment/7",
        },
    ),
}


@dataclass(frozen=True)
class Req:
    method: str
    path: str
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    seconds: float = 0.0  # from sending the request to the whole answer

    def header(self, name: str) -> str | None:
        """The header's value; repeated headers joined with ", " as HTTP allows."""
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None


@dataclass(frozen=True)
class Deliberate:
    """This server answers differently on purpose: `why`, and what it answers instead, as overrides of
    Azure ML's view (a compiled pattern must match the whole value). `left` names a part of that
    answer still not as documented today (the facet then runs under xfail)."""

    why: str
    overrides: Mapping[str, str | re.Pattern[str]]
    left: str = ""


@dataclass(frozen=True)
class Left:
    """Differs from Azure ML today and should not: asserted equal under xfail(strict=True)."""

    what: str


SAME: Final = "SAME"
Verdict = Literal["SAME"] | Deliberate | Left


@dataclass(frozen=True)
class Case:
    script: str
    name: str
    request: Req
    # Azure ML's answer, pinned: status, Content-Type and body ("json:" + canonical JSON, or raw text).
    azure: tuple[int, str | None, str | re.Pattern[str]]
    body: Verdict = SAME
    headers: Verdict | None = SAME  # None: no headers facet (the route is this server's own)
    extra_headers: tuple[str, ...] = ()
    # Both servers must answer within this many seconds (e.g. right after a run() that overran).
    prompt_s: float | None = None

    @property
    def id(self) -> str:
        return f"{self.script}-{self.name}"


# ---- views: what a client sees, made comparable exactly ----


def canonical_body(answer: Answer) -> str:
    content_type = answer.header("content-type") or ""
    if content_type.split(";")[0].strip() == "application/json":
        try:
            # sort_keys: key order is not meaningful in JSON; 1 and 1.0 stay different.
            return "json:" + json.dumps(json.loads(answer.body), sort_keys=True)
        except ValueError:
            return "invalid json:" + answer.body.decode("utf-8", "backslashreplace")
    return answer.body.decode("utf-8", "backslashreplace")


def body_view(answer: Answer) -> dict[str, str]:
    return {
        "status": str(answer.status),
        "content-type": answer.header("content-type") or "absent",
        "body": canonical_body(answer),
    }


def _id_token(value: str | None, sent: Mapping[str, str], request_id: str | None) -> str:
    """Names what an id header holds: an echo of a sent header, a fresh UUID4, or the other value."""
    if value is None:
        return "absent"
    for name in ("x-request-id", "x-ms-request-id", "x-ms-client-request-id", "traceid"):
        if sent.get(name) == value:
            return f"echo of {name}"
    if request_id is not None and value == request_id:
        return "= x-request-id"
    if UUID4.fullmatch(value):
        return "generated uuid4"
    return f"other: {value!r}"


# Compared on every case besides the ids: the server version and flask-cors's headers (absent on
# both servers unless the script's servers run with AML_CORS_ORIGINS).
COMPARED_HEADERS = (
    "x-ms-server-version",
    "access-control-allow-origin",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "vary",
)


def _header_value(answer: Answer, name: str) -> str:
    value = answer.header(name)
    if value is None:
        return "absent"
    if name == "allow":
        # Werkzeug writes the allowed methods in set order, which changes from run to run.
        return ", ".join(sorted(v.strip() for v in value.split(",")))
    return value


def headers_view(answer: Answer, request: Req, extra: tuple[str, ...] = ()) -> dict[str, str]:
    sent = {k.lower(): v for k, v in request.headers}
    request_id = answer.header("x-request-id")
    exec_ms = answer.header("x-ms-run-fn-exec-ms")
    view = {
        "x-request-id": _id_token(request_id, sent, None),
        "x-ms-request-id": _id_token(answer.header("x-ms-request-id"), sent, request_id),
        "x-ms-client-request-id": _id_token(answer.header("x-ms-client-request-id"), sent, request_id),
        "x-ms-run-function-failed": answer.header("x-ms-run-function-failed") or "absent",
        "x-ms-run-fn-exec-ms": "absent"
        if exec_ms is None
        else "ms, 3 decimals"
        if EXEC_MS.fullmatch(exec_ms)
        else f"other: {exec_ms!r}",
        "traceid": _id_token(answer.header("traceid"), sent, None),
    }
    for name in COMPARED_HEADERS + extra:
        view[name] = _header_value(answer, name)
    return view


def assert_matches(ours: Mapping[str, str], expected: Mapping[str, str | re.Pattern[str]]) -> None:
    assert set(ours) == set(expected)
    for key, want in expected.items():
        if isinstance(want, re.Pattern):
            assert want.fullmatch(ours[key]), f"{key}: {ours[key]!r} does not match {want.pattern!r}"
        else:
            assert ours[key] == want, f"{key}: {ours[key]!r} != {want!r}"


# ---- the cases ----


def _seed_rows(count: int) -> bytes:
    # Synthetic pixels in [0, 1] (no dependency on the digits files): the labels only need to agree.
    rows = [[round(((r + 1) * 37 * p) % 256 / 255, 4) for p in range(784)] for r in range(count)]
    return json.dumps({"data": rows}).encode()


SEED_BODY = _seed_rows(3)
ZERO_ROW_QUERY = "/score?data=" + urllib.parse.quote(json.dumps([[0] * 784]).replace(" ", ""), safe=",")
LONG_ID = "x" * 101
# Azure ML's error shape, exactly one non-empty "message" (a JSON string, escapes allowed).
MESSAGE = re.compile(r'json:\{"message": "(?:[^"\\]|\\.)+"\}')
MESSAGE_NO_SECRET = re.compile(rf'json:\{{"message": "(?:(?!{SECRET})(?:[^"\\]|\\.))+"\}}')


def post(path: str, body: bytes, *headers: tuple[str, str]) -> Req:
    return Req("POST", path, body, headers)


def get(path: str, *headers: tuple[str, str]) -> Req:
    return Req("GET", path, None, headers)


def jbody(value: Any) -> str:  # Any: a JSON document
    return "json:" + json.dumps(value, sort_keys=True)


def kind(name: str) -> Req:
    return post("/score", json.dumps({"kind": name}).encode(), JSON)


HEADERS_LEFT = Left(
    "none of Azure ML's headers: x-request-id, x-ms-request-id, x-ms-client-request-id, x-ms-run-function-failed, "
    "x-ms-run-fn-exec-ms, TraceId"
)
BETTER_400 = (
    "a body run() cannot parse is the client's fault: 400 naming the problem (Azure ML answers 500, as if the "
    "script were broken); x-ms-run-function-failed stays False"
)
NUMPY_RESULT = (
    "numpy arrays and scalars from run() become JSON lists and numbers (Azure ML's json.dumps fails on them with "
    "a 500); every value Azure ML serialises is serialised the same"
)
NEIGHBOURS = (
    "the entry script's own folder is on sys.path too (after AML_APP_ROOT and AZUREML_SOURCE_DIRECTORY, so it "
    "changes no import Azure ML resolves): a script outside those folders can import the modules next to it"
)
ORIGIN_A = ("Origin", "https://a.example")
ORIGIN_EVIL = ("Origin", "https://evil.example")
REQUEST_HEADERS = ("Access-Control-Request-Headers", "Content-Type, X-Custom")
DELIBERATE_400_HEADERS = Deliberate(BETTER_400, {"x-ms-run-function-failed": "False"})
DELIBERATE_400_BODY = Deliberate(BETTER_400, {"status": "400", "body": MESSAGE})

CASES: list[Case] = [
    # -- the seed's score.py (both servers get the bearer key; Azure ML leaves it to the platform) --
    Case(
        "seed",
        "post-json",
        post("/score", SEED_BODY, JSON, AUTH),
        (200, "application/json", re.compile(r"json:\[\d, \d, \d\]")),
    ),
    Case(
        "seed",
        "post-text-plain",
        post("/score", SEED_BODY, TEXT, AUTH),
        (200, "application/json", re.compile(r"json:\[\d, \d, \d\]")),
    ),
    Case(
        "seed",
        "post-no-content-type",
        post("/score", SEED_BODY, AUTH),
        (200, "application/json", re.compile(r"json:\[\d, \d, \d\]")),
    ),
    Case(
        "seed",
        "get-score-query",
        get(ZERO_ROW_QUERY, AUTH),
        (200, "application/json", re.compile(r"json:\[\d\]")),
    ),
    Case(
        "seed",
        "post-bad-json",
        post("/score", b'{"data": [[1, 2', JSON, AUTH),
        (500, "application/json", jbody({"message": RUN_FAILED})),
        body=DELIBERATE_400_BODY,
        headers=DELIBERATE_400_HEADERS,
    ),
    Case(
        "seed",
        "post-empty-body",
        post("/score", b"", JSON, AUTH),
        (500, "application/json", jbody({"message": RUN_FAILED})),
        body=DELIBERATE_400_BODY,
        headers=DELIBERATE_400_HEADERS,
    ),
    Case(
        "seed",
        "post-wrong-shape",
        post("/score", b'{"data": [[1, 2, 3]]}', JSON, AUTH),
        (500, "application/json", jbody({"message": RUN_FAILED})),
        body=DELIBERATE_400_BODY,
        headers=DELIBERATE_400_HEADERS,
    ),
    Case(
        "seed",
        "post-not-utf8",
        post("/score", b"\xff\xfe", JSON, AUTH),
        (
            400,
            "application/json",
            jbody(
                {
                    "message": "Input cannot be decoded as UTF-8: 'utf-8' codec can't decode byte 0xff in position 0: "
                    "invalid start byte"
                }
            ),
        ),
    ),
    Case(
        "seed",
        "no-key",
        post("/score", SEED_BODY, JSON),
        (200, "application/json", re.compile(r"json:\[\d, \d, \d\]")),
        body=Deliberate(
            "the bearer key is checked here (Azure ML's server leaves it to the platform in front of it)",
            {"status": "401", "body": MESSAGE},
        ),
        headers=Deliberate(
            "run() is not called without the key, so no x-ms-run-fn-exec-ms",
            {"x-ms-run-fn-exec-ms": "absent"},
        ),
    ),
    Case(
        "seed",
        "wrong-key",
        post("/score", SEED_BODY, JSON, ("Authorization", "Bearer not-the-key")),
        (200, "application/json", re.compile(r"json:\[\d, \d, \d\]")),
        body=Deliberate(
            "a wrong key is refused here (Azure ML's server leaves it to the platform in front of it)",
            {"status": "401", "body": MESSAGE},
        ),
        headers=Deliberate(
            "run() is not called with a wrong key, so no x-ms-run-fn-exec-ms",
            {"x-ms-run-fn-exec-ms": "absent"},
        ),
    ),
    # -- routes, methods, swagger and request ids (on a light script) --
    Case("returns", "get-root", get("/"), (200, "text/html; charset=utf-8", "Healthy")),
    Case(
        "returns",
        "get-ready",
        get("/ready"),
        (404, "application/json", jbody({"message": NOT_FOUND})),
        body=Deliberate(
            "GET /ready is this server's readiness probe (Azure ML has liveness only)",
            {"status": "200", "content-type": "text/plain; charset=utf-8", "body": "Ready"},
        ),
        headers=None,
    ),
    Case("returns", "get-unknown-path", get("/nope"), (404, "application/json", jbody({"message": NOT_FOUND}))),
    Case(
        "returns",
        "put-score",
        Req("PUT", "/score", b"{}", (JSON,)),
        (405, "application/json", jbody({"message": NOT_ALLOWED})),
    ),
    Case("returns", "post-root", post("/", b"{}", JSON), (405, "application/json", jbody({"message": NOT_ALLOWED}))),
    Case(
        "returns",
        "post-swagger",
        post("/swagger.json", b"{}", JSON),
        (405, "application/json", jbody({"message": NOT_ALLOWED})),
    ),
    Case("returns", "options-score", Req("OPTIONS", "/score"), (200, "text/html; charset=utf-8", "")),
    # Flask answers OPTIONS on its GET routes itself (with Allow) and HEAD as GET without the body.
    Case(
        "returns", "options-root", Req("OPTIONS", "/"), (200, "text/html; charset=utf-8", ""), extra_headers=("allow",)
    ),
    Case(
        "returns",
        "options-swagger",
        Req("OPTIONS", "/swagger.json"),
        (200, "text/html; charset=utf-8", ""),
        extra_headers=("allow",),
    ),
    Case("returns", "head-root", Req("HEAD", "/"), (200, "text/html; charset=utf-8", "")),
    Case("returns", "head-score", Req("HEAD", "/score"), (405, "application/json", "invalid json:")),
    Case(
        "returns",
        "swagger-default",
        get("/swagger.json"),
        (200, "application/json", re.compile(r'json:.*"swagger": "2\.0".*')),
    ),
    Case(
        "returns",
        "swagger-version-2",
        get("/swagger.json?version=2"),
        (200, "application/json", re.compile(r'json:.*"swagger": "2\.0".*')),
    ),
    Case(
        "returns",
        "swagger-version-3",
        get("/swagger.json?version=3"),
        (200, "application/json", re.compile(r'json:.*"openapi": "3\.0\.3".*')),
    ),
    Case(
        "returns",
        "swagger-version-3.1",
        get("/swagger.json?version=3.1"),
        (200, "application/json", re.compile(r'json:.*"openapi": "3\.1\.0".*')),
    ),
    Case(
        "returns",
        "swagger-version-4",
        get("/swagger.json?version=4"),
        (
            404,
            "application/json",
            jbody({"message": "Swagger version [4] is not valid. Supported versions: [2, 3, 3.1]."}),
        ),
    ),
    Case(
        "returns",
        "request-id-echo",
        post("/score", b'{"kind": "int"}', JSON, ("x-request-id", "client-id-1")),
        (200, "application/json", jbody(7)),
    ),
    Case(
        "returns",
        "client-request-id-echo",
        post("/score", b'{"kind": "int"}', JSON, ("x-ms-client-request-id", "client-id-2")),
        (200, "application/json", jbody(7)),
    ),
    Case(
        "returns",
        "legacy-ms-request-id-echo",
        post("/score", b'{"kind": "int"}', JSON, ("x-ms-request-id", "client-id-3")),
        (200, "application/json", jbody(7)),
    ),
    Case(
        "returns",
        "request-id-100-chars",
        post("/score", b'{"kind": "int"}', JSON, ("x-request-id", "x" * 100)),
        (200, "application/json", jbody(7)),
    ),
    Case(
        "returns",
        "request-id-over-100",
        post("/score", b'{"kind": "int"}', JSON, ("x-request-id", LONG_ID)),
        (431, "application/json", jbody({"message": "x-request-id must not exceed 100 characters"})),
    ),
    Case(
        "returns",
        "client-request-id-over-100",
        post("/score", b'{"kind": "int"}', JSON, ("x-ms-client-request-id", LONG_ID)),
        (
            431,
            "application/json",
            jbody({"message": "x-ms-request-id and x-ms-client-request-id must not exceed 100 characters"}),
        ),
    ),
    Case(
        "returns",
        "traceid-echo",
        post("/score", b'{"kind": "int"}', JSON, ("TraceId", "trace-1")),
        (200, "application/json", jbody(7)),
    ),
    # -- run()'s return values, serialised as Azure ML does (json.dumps; None as {}) --
    Case(
        "returns", "dict", kind("dict"), (200, "application/json", jbody({"a": 1, "b": [1.5, None], "c": {"d": "e"}}))
    ),
    Case("returns", "dict-int-keys", kind("int_keys"), (200, "application/json", jbody({"1": "one", "2": "two"}))),
    Case("returns", "list", kind("list"), (200, "application/json", jbody([1, "two", 3.0, True, None]))),
    Case("returns", "tuple", kind("tuple"), (200, "application/json", jbody([1, 2]))),
    Case("returns", "str", kind("str"), (200, "application/json", jbody("hello"))),
    Case("returns", "json-str", kind("json_str"), (200, "application/json", jbody('{"already": "json"}'))),
    Case("returns", "unicode-str", kind("unicode"), (200, "application/json", jbody("héllo ✓"))),
    Case("returns", "int", kind("int"), (200, "application/json", jbody(7))),
    Case("returns", "float", kind("float"), (200, "application/json", jbody(2.5))),
    Case("returns", "bool", kind("bool"), (200, "application/json", jbody(False))),
    Case("returns", "none", kind("none"), (200, "application/json", jbody({}))),
    Case("returns", "nan", kind("nan"), (200, "application/json", "json:NaN")),
    Case("returns", "numpy-float", kind("np_float"), (200, "application/json", jbody(2.5))),
    Case("returns", "bytes", kind("bytes"), (500, "application/json", jbody({"message": INTERNAL}))),
    Case(
        "returns",
        "ndarray",
        kind("ndarray"),
        (500, "application/json", jbody({"message": INTERNAL})),
        body=Deliberate(NUMPY_RESULT, {"status": "200", "body": jbody([1, 2, 3])}),
        headers=Deliberate(NUMPY_RESULT, {"x-ms-run-fn-exec-ms": "ms, 3 decimals"}),
    ),
    Case(
        "returns",
        "numpy-int",
        kind("np_int"),
        (500, "application/json", jbody({"message": INTERNAL})),
        body=Deliberate(NUMPY_RESULT, {"status": "200", "body": jbody(3)}),
        headers=Deliberate(NUMPY_RESULT, {"x-ms-run-fn-exec-ms": "ms, 3 decimals"}),
    ),
    Case("returns", "set", kind("set"), (500, "application/json", jbody({"message": INTERNAL}))),
    Case(
        "returns",
        "amlresponse-text",
        kind("response"),
        (202, "text/html; charset=utf-8", "plain text"),
        extra_headers=("x-kind",),
    ),
    Case("returns", "amlresponse-json", kind("response_json"), (200, "application/json", jbody({"ok": True}))),
    Case(
        "returns", "amlresponse-500", kind("response_500"), (500, "application/json", jbody({"failed": "downstream"}))
    ),
    Case(
        "returns",
        "server-version-in-environment",
        kind("server_version"),
        (200, "application/json", jbody("azmlinfsrv/1.5.1")),
    ),
    # -- run(data, request_headers) --
    Case(
        "headers",
        "custom-header",
        post("/score", b'{"x": 1}', JSON, ("X-Custom", "v1")),
        (
            200,
            "application/json",
            jbody({"data": {"x": 1}, "custom": "v1", "lower": None, "content_type": "application/json"}),
        ),
    ),
    Case(
        "headers",
        "lowercase-header-name",
        post("/score", b'{"x": 1}', JSON, ("x-lower", "v2")),
        (
            200,
            "application/json",
            jbody({"data": {"x": 1}, "custom": None, "lower": "v2", "content_type": "application/json"}),
        ),
    ),
    Case(
        "headers",
        "header-names",
        post("/score", b'"names"', JSON, ("x-lower", "v2"), ("X-Custom", "v1")),
        (
            200,
            "application/json",
            jbody(["Accept-Encoding", "Content-Length", "Content-Type", "Host", "X-Custom", "X-Lower"]),
        ),
    ),
    Case(
        "headers",
        "text-plain-body",
        post("/score", b'{"x": 1}', TEXT),
        (
            200,
            "application/json",
            jbody({"data": {"x": 1}, "custom": None, "lower": None, "content_type": "text/plain"}),
        ),
    ),
    Case(
        "headers",
        "empty-body",
        post("/score", b"", JSON),
        (
            200,
            "application/json",
            jbody({"data": None, "custom": None, "lower": None, "content_type": "application/json"}),
        ),
    ),
    Case(
        "headers",
        "get-query-params",
        get("/score?x=1&x=2&y=abc&z=null&w=%5B1%2C2%5D"),
        (
            200,
            "application/json",
            jbody(
                {
                    "data": {"x": [1, 2], "y": "abc", "z": None, "w": [1, 2]},
                    "custom": None,
                    "lower": None,
                    "content_type": None,
                }
            ),
        ),
    ),
    Case(
        "headers",
        "get-no-query",
        get("/score"),
        (200, "application/json", jbody({"data": {}, "custom": None, "lower": None, "content_type": None})),
    ),
    # -- @rawhttp with AMLRequest / AMLResponse --
    Case(
        "rawhttp",
        "post-json",
        post("/score?q=1", b'{"x": 1}', JSON, ("X-Custom", "v1")),
        (
            201,
            "application/json",
            jbody(
                {
                    "path": "/score",
                    "query": "q=1",
                    "content_type": "application/json",
                    "custom": "v1",
                    "body": '{"x": 1}',
                    "json": {"x": 1},
                }
            ),
        ),
        extra_headers=("x-script",),
    ),
    Case(
        "rawhttp",
        "post-text",
        post("/score", b"hello", TEXT),
        (
            201,
            "application/json",
            jbody(
                {
                    "path": "/score",
                    "query": "",
                    "content_type": "text/plain",
                    "custom": None,
                    "body": "hello",
                    "json": None,
                }
            ),
        ),
        extra_headers=("x-script",),
    ),
    Case(
        "rawhttp",
        "get-args",
        get("/score?a=1&a=2&b=x"),
        (200, "application/json", jbody({"method": "GET", "args": {"a": ["1", "2"], "b": ["x"]}, "path": "/score"})),
    ),
    Case(
        "rawhttp",
        "bytes-own-content-type",
        post("/score", b"image"),
        (200, "image/png", "\x00\x01\x02\x03\x04\x05\x06\x07"),
        extra_headers=("x-tags",),
    ),
    Case(
        "rawhttp",
        "script-503",
        post("/score", b"fail"),
        (503, "text/html; charset=utf-8", "backend down"),
        extra_headers=("retry-after",),
    ),
    Case("rawhttp", "amlresponse-none", post("/score", b"empty"), (202, "application/json", jbody({}))),
    Case(
        "rawhttp", "options-reaches-run", Req("OPTIONS", "/score"), (200, "text/html; charset=utf-8", "method OPTIONS")
    ),
    # -- inference-schema decorators --
    Case(
        "schema",
        "post-converted",
        post("/score", b'{"data": [[1, 2, 3], [4, 5, 6]]}', JSON),
        (200, "application/json", jbody({"sums": [6.0, 15.0], "type": "ndarray", "dtype": "float64"})),
    ),
    Case(
        "schema",
        "post-two-params",
        post("/score", b'{"data": [[1, 2, 3]], "scale": 2}', JSON),
        (200, "application/json", jbody({"sums": [12.0], "type": "ndarray", "dtype": "float64"})),
    ),
    Case(
        "schema",
        "get-query",
        get("/score?data=%5B%5B1%2C2%2C3%5D%5D"),
        (200, "application/json", jbody({"sums": [6.0], "type": "ndarray", "dtype": "float64"})),
    ),
    Case(
        "schema",
        "missing-param",
        post("/score", b'{"scale": 2}', JSON),
        (400, "application/json", jbody({"message": "A value is not provided for the 'data' parameter."})),
    ),
    Case(
        "schema",
        "body-not-object",
        post("/score", b"[[1, 2, 3]]", JSON),
        (400, "application/json", jbody({"message": "POST body should be a JSON dictionary."})),
    ),
    Case(
        "schema",
        "bad-json",
        post("/score", b'{"data": ', JSON),
        (
            400,
            "application/json",
            jbody({"message": "POST body could not be decoded as JSON: Expecting value: line 1 column 10 (char 9)"}),
        ),
    ),
    Case(
        "schema",
        "empty-body",
        post("/score", b"", JSON),
        (400, "application/json", jbody({"message": "POST body is empty. Expecting a JSON dictionary."})),
    ),
    Case(
        "schema",
        "text-plain",
        post("/score", b'{"data": [[1, 2, 3]]}', TEXT),
        (415, "application/json", jbody({"message": "Expects Content-Type to be application/json"})),
    ),
    Case(
        "schema",
        "wrong-shape",
        post("/score", b'{"data": [[1, 2]]}', JSON),
        (500, "application/json", jbody({"message": RUN_FAILED})),
        body=Deliberate(
            BETTER_400 + "; inference-schema's conversion error names the dimension",
            {"status": "400", "body": MESSAGE},
        ),
        headers=DELIBERATE_400_HEADERS,
    ),
    Case(
        "schema",
        "swagger-default",
        get("/swagger.json"),
        (
            200,
            "application/json",
            re.compile(r'json:.*"ServiceInput": \{"example": \{"data": \[\[1\.0, 2\.0, 3\.0\]\].*'),
        ),
    ),
    Case(
        "schema",
        "swagger-version-3",
        get("/swagger.json?version=3"),
        (
            200,
            "application/json",
            re.compile(r'json:.*"ServiceInput": \{"example": \{"data": .*"openapi": "3\.0\.3".*'),
        ),
    ),
    Case(
        "schema",
        "swagger-version-3.1",
        get("/swagger.json?version=3.1"),
        (200, "application/json", re.compile(r'json:.*"openapi": "3\.1\.0".*')),
    ),
    # -- run() raising or overrunning SCORING_TIMEOUT_MS (300 ms here) --
    Case(
        "raising",
        "runtime-error",
        post("/score", b'"boom"', JSON),
        (500, "application/json", jbody({"message": RUN_FAILED})),
    ),
    Case(
        "raising",
        "value-error",
        post("/score", b'"value"', JSON),
        (500, "application/json", jbody({"message": RUN_FAILED})),
        body=Deliberate(
            BETTER_400 + "; the script's exception text is not sent (it may hold secrets)",
            {"status": "400", "body": MESSAGE_NO_SECRET},
        ),
        headers=DELIBERATE_400_HEADERS,
    ),
    Case(
        "raising",
        "key-error",
        post("/score", b'"key"', JSON),
        (500, "application/json", jbody({"message": RUN_FAILED})),
        body=Deliberate(
            BETTER_400 + "; the script's exception text is not sent (it may hold secrets)",
            {"status": "400", "body": MESSAGE_NO_SECRET},
        ),
        headers=DELIBERATE_400_HEADERS,
    ),
    Case(
        "raising",
        "bad-json",
        post("/score", b"{", JSON),
        (500, "application/json", jbody({"message": RUN_FAILED})),
        body=DELIBERATE_400_BODY,
        headers=DELIBERATE_400_HEADERS,
    ),
    Case(
        "raising",
        "spin-timeout",
        post("/score", b'"spin"', JSON),
        (500, "application/json", jbody({"message": "Scoring timeout after 300 ms"})),
    ),
    # Sent right after spin-timeout: answered at once, because the timeout stopped that run() (a run()
    # left running would hold the device thread for its 10 s).
    Case(
        "raising",
        "after-spin-timeout",
        post("/score", b'"ok"', JSON),
        (200, "application/json", jbody("ok")),
        # Well below the 10 s a run() left spinning would hold the thread, with room for a loaded machine.
        prompt_s=6.0,
    ),
    Case(
        "raising",
        "timeout",
        post("/score", b'"sleep"', JSON),
        (500, "application/json", jbody({"message": "Scoring timeout after 300 ms"})),
    ),
    # -- Azure ML's environment: AML_CORS_ORIGINS (flask-cors), AML_APP_ROOT and
    # AZUREML_SOURCE_DIRECTORY on sys.path, HTTP_X_MS_SERVER_VERSION --
    Case(
        "env",
        "imports-app-root-and-source-directory",
        kind("imports"),
        (200, "application/json", jbody({"app_root": "AML_APP_ROOT", "source_directory": "AZUREML_SOURCE_DIRECTORY"})),
    ),
    Case(
        "env",
        "import-next-to-script",
        kind("sibling"),
        (500, "application/json", jbody({"message": RUN_FAILED})),
        body=Deliberate(NEIGHBOURS, {"status": "200", "body": jbody("next to the entry script")}),
        headers=Deliberate(NEIGHBOURS, {"x-ms-run-function-failed": "False", "x-ms-run-fn-exec-ms": "ms, 3 decimals"}),
    ),
    Case("env", "cors-no-origin", kind("x"), (200, "application/json", jbody("ok"))),
    Case("env", "cors-allowed-origin", post("/score", b"{}", JSON, ORIGIN_A), (200, "application/json", jbody("ok"))),
    Case(
        "env",
        "cors-second-origin",
        post("/score", b"{}", JSON, ("Origin", "https://b.example")),
        (200, "application/json", jbody("ok")),
    ),
    Case(
        "env",
        "cors-origin-other-case",
        post("/score", b"{}", JSON, ("Origin", "HTTPS://A.Example")),
        (200, "application/json", jbody("ok")),
    ),
    Case("env", "cors-other-origin", post("/score", b"{}", JSON, ORIGIN_EVIL), (200, "application/json", jbody("ok"))),
    Case("env", "cors-get-score", get("/score", ORIGIN_A), (200, "application/json", jbody("ok"))),
    Case(
        "env",
        "cors-preflight-score",
        Req("OPTIONS", "/score", None, (ORIGIN_A, ("Access-Control-Request-Method", "POST"), REQUEST_HEADERS)),
        (200, "text/html; charset=utf-8", ""),
    ),
    Case(
        "env",
        "cors-preflight-other-origin",
        Req("OPTIONS", "/score", None, (ORIGIN_EVIL, ("Access-Control-Request-Method", "POST"), REQUEST_HEADERS)),
        (200, "text/html; charset=utf-8", ""),
    ),
    Case(
        "env",
        "cors-preflight-method-not-allowed",
        Req("OPTIONS", "/score", None, (ORIGIN_A, ("Access-Control-Request-Method", "PUT"))),
        (200, "text/html; charset=utf-8", ""),
    ),
    Case(
        "env",
        "cors-preflight-root",
        Req("OPTIONS", "/", None, (ORIGIN_A, ("Access-Control-Request-Method", "GET"))),
        (200, "text/html; charset=utf-8", ""),
        extra_headers=("allow",),
    ),
    Case(
        "env",
        "cors-preflight-swagger",
        Req("OPTIONS", "/swagger.json", None, (ORIGIN_A, ("Access-Control-Request-Method", "GET"), REQUEST_HEADERS)),
        (200, "text/html; charset=utf-8", ""),
        extra_headers=("allow",),
    ),
    Case("env", "cors-get-root", get("/", ORIGIN_A), (200, "text/html; charset=utf-8", "Healthy")),
    Case(
        "env",
        "cors-get-swagger",
        get("/swagger.json", ORIGIN_A),
        (200, "application/json", re.compile(r'json:.*"swagger": "2\.0".*')),
    ),
    Case(
        "env",
        "cors-unknown-path",
        get("/nope", ORIGIN_A),
        (404, "application/json", jbody({"message": NOT_FOUND})),
    ),
    Case(
        "env",
        "cors-put-score",
        Req("PUT", "/score", b"{}", (JSON, ORIGIN_A)),
        (405, "application/json", jbody({"message": NOT_ALLOWED})),
    ),
    Case(
        "env",
        "cors-request-id-over-100",
        post("/score", b"{}", JSON, ORIGIN_A, ("x-request-id", LONG_ID)),
        (431, "application/json", jbody({"message": "x-request-id must not exceed 100 characters"})),
    ),
]


# The body facets that differ today and should not, with what differs (ordered as CASES): none since
# scoring.protocols.azureml_contract; a case that regresses goes here as "id": "what differs".
LEFT_BODY: dict[str, str] = {}

# The cases whose headers facet matches Azure ML's (or its documented DELIBERATE override): all of
# them. A headers facet that differs again is recorded by subtracting its id here.
HEADERS_DONE: set[str] = {case.id for case in CASES}


def _classified(case: Case) -> Case:
    body, headers = case.body, case.headers
    if case.id in LEFT_BODY:
        assert body == SAME, f"{case.id} is both LEFT and {body}"
        body = Left(LEFT_BODY[case.id])
    if case.id not in HEADERS_DONE:
        if headers == SAME:
            headers = HEADERS_LEFT
        elif isinstance(headers, Deliberate) and not headers.left:
            headers = Deliberate(headers.why, headers.overrides, left=HEADERS_LEFT.what)
    return dataclasses.replace(case, body=body, headers=headers)


assert len({case.id for case in CASES}) == len(CASES), "case ids must be unique"
assert set(LEFT_BODY) <= {case.id for case in CASES}, set(LEFT_BODY) - {case.id for case in CASES}
CASES = [_classified(case) for case in CASES]


# ---- running both servers, once per script per session, all scripts' servers side by side ----


def _send(port: int, request: Req) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    started = time.monotonic()
    try:
        conn.request(request.method, request.path, body=request.body, headers=dict(request.headers))
        response = conn.getresponse()
        body = response.read()
        return Answer(response.status, tuple(response.getheaders()), body, time.monotonic() - started)
    finally:
        conn.close()


def _port(folder: Path) -> int:
    """A free port no other server of this session was given. free_port() only finds one that is
    free now; with every script's servers starting at once, each binds its port seconds later, and
    this server binds with SO_REUSEPORT, so two servers given the same port would both listen on it.
    An exclusive marker file per port in the session's folder (shared by the xdist workers) rules
    that out."""
    while True:
        port = free_port()
        try:
            (folder / f"port-{port}").touch(exist_ok=False)
        except FileExistsError:
            continue
        return port


def _start_azureml(script: Script, log_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _port(log_path.parent)
    # What the azmlinfsrv console script runs, from this interpreter (as test_azureml_server.py does).
    command = [
        sys.executable,
        "-c",
        "import sys; from azureml_inference_server_http.amlserver import run; sys.exit(run())",
        "--entry_script",
        str(script.path),
        "--model_dir",
        str(APP_DIR / "model"),
        "--port",
        str(port),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=APP_DIR, env=server_env(dict(script.env)), stdout=log, stderr=subprocess.STDOUT
        )
    return process, port


def _start_ours(script: Script, folder: Path) -> Server:
    """This server on the script, started without waiting for it (conftest.launch waits)."""
    port = _port(folder)
    env = server_env(
        {
            "PORT": str(port),
            "METRICS_PORT": str(_port(folder)),
            # Azure ML's variable names: this server reads them as aliases of ENTRY_SCRIPT and MODEL_DIR.
            "AZUREML_ENTRY_SCRIPT": str(script.path),
            "AZUREML_MODEL_DIR": str(APP_DIR / "model"),
            # One process, as azmlinfsrv's default WORKER_COUNT=1 (and half the start-up CPU).
            "WORKERS": "1",
            **script.ours_env,
            **script.env,
        }
    )
    log_path = folder / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "scoring"], cwd=APP_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    return Server(port, process, log_path, env)


def _wait_up(process: subprocess.Popen[bytes], port: int, path: str, log_path: Path, what: str) -> None:
    # Generous: every script's servers start at once and share the machine's cores.
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{what} exited with {process.returncode}:\n{log_path.read_text()}"
        try:
            if _send(port, get(path)).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{what} not up within 180 s:\n{log_path.read_text()}")


@dataclass
class Pair:
    """Both servers of one script, started (not necessarily up yet)."""

    name: str
    azureml: subprocess.Popen[bytes]
    azureml_port: int
    azureml_log: Path
    ours: Server

    @classmethod
    def start(cls, name: str, folder: Path) -> Pair:
        script = SCRIPTS[name]
        log_path = folder / f"azmlinfsrv-{name}.log"
        azureml, port = _start_azureml(script, log_path)
        try:
            ours = _start_ours(script, folder)
        except BaseException:
            azureml.kill()
            raise
        return cls(name, azureml, port, log_path, ours)

    def record(self) -> dict[str, dict[str, Any]]:
        """Waits for both servers, sends each of the script's cases to both (in CASES' order: a case
        may rely on the one before, as after-spin-timeout does), returns the answers."""
        _wait_up(self.azureml, self.azureml_port, "/", self.azureml_log, f"azmlinfsrv ({self.name})")
        _wait_up(self.ours.process, self.ours.port, "/ready", self.ours.log_path, f"this server ({self.name})")
        answers: dict[str, dict[str, Any]] = {}
        for case in CASES:
            if case.script == self.name:
                answers[case.id] = {
                    "azure": _encode(_send(self.azureml_port, case.request)),
                    "ours": _encode(_send(self.ours.port, case.request)),
                }
        return answers

    def stop(self) -> None:
        """Asks both to stop; `reap` waits (so that all the pairs stop side by side)."""
        for process in (self.azureml, self.ours.process):
            if process.poll() is None:
                process.terminate()

    def reap(self) -> None:
        for process in (self.azureml, self.ours.process):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _encode(answer: Answer) -> dict[str, Any]:
    return {
        "status": answer.status,
        "headers": [list(h) for h in answer.headers],
        "body": base64.b64encode(answer.body).decode(),
        "seconds": answer.seconds,
    }


def _decode(data: Mapping[str, Any]) -> Answer:
    return Answer(
        data["status"], tuple((k, v) for k, v in data["headers"]), base64.b64decode(data["body"]), data["seconds"]
    )


class Recordings:
    """The answers of both servers to every case, recorded once per script for the whole session."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.cache: dict[str, dict[str, dict[str, Any]]] = {}

    def record_free_scripts(self, names: list[str]) -> None:
        """Records every one of the scripts no other worker is recording: takes each free script's
        lock, starts all their servers at once (start-up is most of the cost: imports, init(); side
        by side they keep the cores busy), then records them one by one as they come up and stops
        each as soon as it is recorded. Another worker takes the scripts left free, if any."""
        with contextlib.ExitStack() as locks:
            mine = [
                name
                for name in names
                if locks.enter_context(self._lock(name, wait=False)) and not self._done(name).exists()
            ]
            self._record(mine)

    def _record(self, names: list[str]) -> None:
        """Records the scripts (their locks held by the caller), all servers started at once."""
        pairs: list[Pair] = []
        try:
            for name in names:
                pairs.append(Pair.start(name, self.folder))
            for pair in pairs:
                self._save(pair.name, pair.record())
                pair.stop()
        finally:
            for pair in pairs:
                pair.stop()
            for pair in pairs:
                pair.reap()

    def answers(self, case: Case) -> tuple[Answer, Answer]:
        """(Azure ML's answer, this server's answer) to the case's request."""
        if case.script not in self.cache:
            with self._lock(case.script, wait=True):  # another worker may still be recording it
                if not self._done(case.script).exists():
                    self._record([case.script])
            self.cache[case.script] = json.loads(self._done(case.script).read_text())
        both = self.cache[case.script][case.id]
        return _decode(both["azure"]), _decode(both["ours"])

    def _done(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def _save(self, name: str, answers: dict[str, dict[str, Any]]) -> None:
        partial = self.folder / f"{name}.partial"
        partial.write_text(json.dumps(answers))
        partial.rename(self._done(name))

    @contextlib.contextmanager
    def _lock(self, name: str, wait: bool) -> Iterator[bool]:
        with (self.folder / f"{name}.lock").open("w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _case_of(item: pytest.Item) -> Case | None:
    callspec = getattr(item, "callspec", None)  # parametrized tests only
    case = callspec.params.get("case") if callspec is not None else None
    return case if isinstance(case, Case) else None


@pytest.fixture(scope="session")
def recordings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recordings]:
    base = tmp_path_factory.getbasetemp()
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # "gw0", "gw1", ... under xdist
    # Under xdist each worker's basetemp is <session temp>/popen-gwN: share the session's folder.
    folder = (base.parent if worker else base) / "azureml-differential"
    folder.mkdir(exist_ok=True)
    recordings = Recordings(folder)
    # Only the scripts of the selected tests (-k), in SCRIPTS' order.
    selected = {case.script for case in map(_case_of, request.session.items) if case is not None}
    recordings.record_free_scripts([name for name in SCRIPTS if name in selected])
    yield recordings


# ---- the tests ----


def left_different(what: str) -> pytest.MarkDecorator:
    # raises=AssertionError: only a failed comparison counts as the expected failure, not a broken
    # harness; strict: once the difference is fixed the test fails, asking to make the case SAME.
    return pytest.mark.xfail(raises=AssertionError, strict=True, reason=f"left different: {what}")


def _facet_params(facet: str) -> list[Any]:  # Any: pytest's ParameterSet
    params = []
    for case in CASES:
        verdict = case.body if facet == "body" else case.headers
        if verdict is None:
            continue
        marks = []
        if isinstance(verdict, Left):
            marks.append(left_different(verdict.what))
        elif isinstance(verdict, Deliberate) and verdict.left:
            marks.append(left_different(verdict.left))
        params.append(pytest.param(case, verdict, id=case.id, marks=marks))
    return params


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_azureml_answer(case: Case, recordings: Recordings) -> None:
    """Azure ML's answer is the one documented in the case (and in docs/azureml-compatibility.md)."""
    azure, _ = recordings.answers(case)
    status, content_type, body = case.azure
    assert_matches(body_view(azure), {"status": str(status), "content-type": content_type or "absent", "body": body})


@pytest.mark.parametrize(("case", "verdict"), _facet_params("body"))
def test_body(case: Case, verdict: Verdict, recordings: Recordings) -> None:
    azure, ours = recordings.answers(case)
    _check(body_view(ours), body_view(azure), verdict)


@pytest.mark.parametrize(("case", "verdict"), _facet_params("headers"))
def test_headers(case: Case, verdict: Verdict, recordings: Recordings) -> None:
    azure, ours = recordings.answers(case)
    _check(
        headers_view(ours, case.request, case.extra_headers),
        headers_view(azure, case.request, case.extra_headers),
        verdict,
    )


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES if c.prompt_s is not None])
def test_answered_promptly(case: Case, recordings: Recordings) -> None:
    """Both servers answer within the case's time (right after a run() that overran SCORING_TIMEOUT_MS:
    the timeout stopped it, so it does not hold the thread the next run() needs)."""
    azure, ours = recordings.answers(case)
    assert case.prompt_s is not None
    assert azure.seconds < case.prompt_s, f"Azure ML answered in {azure.seconds:.2f} s"
    assert ours.seconds < case.prompt_s, f"this server answered in {ours.seconds:.2f} s"


# ---- docs/azureml-compatibility.md: its summary and case tables, rendered from the recorded answers ----

DOC = APP_DIR.parent / "docs" / "azureml-compatibility.md"
RENDER_ENV = "RENDER_AZUREML_DOC"


def _cut(text: str, limit: int, mark: str = "…") -> str:
    return text if len(text) <= limit else text[:limit] + mark


def _verdict_label(verdict: Verdict | None) -> str:
    if verdict is None:
        return "–"
    if isinstance(verdict, Deliberate):
        return "DELIBERATE (+LEFT)" if verdict.left else "DELIBERATE"
    return "LEFT" if isinstance(verdict, Left) else "SAME"


def _request_cell(request: Req) -> str:
    cell = f"{request.method} {request.path if len(request.path) <= 40 else request.path[:37] + '…'}"
    if request.body is not None:
        cell += f" `{_cut(request.body.decode('latin-1'), 30)}`" if request.body else " (empty)"
    shown = [f"{k}: {_cut(v, 20)}" for k, v in request.headers if k.lower() != "authorization"]
    return cell + (f" [{', '.join(shown)}]" if shown else "")


def _answer_cell(answer: Answer) -> str:
    view = body_view(answer)
    # Control characters (a @rawhttp script's bytes) written as \xNN, so the table stays text.
    text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in view["body"])
    body = text if len(text) <= 90 else text[:87] + "..."
    return f"{view['status']} `{view['content-type'].replace('; charset=', ';')}` {body}"


def _cases_table(recordings: Recordings) -> str:
    rows = [
        "| case | request | Azure ML 1.5.1 | this server | body | headers |",
        "|---|---|---|---|---|---|",
    ]
    for case in CASES:
        azure, ours = recordings.answers(case)
        mine = "same" if body_view(ours) == body_view(azure) else _answer_cell(ours)
        cells = [case.id, _request_cell(case.request), _answer_cell(azure), mine]
        cells += [_verdict_label(case.body), _verdict_label(case.headers)]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows)


def _summary_table() -> str:
    def counts(verdicts: list[Verdict | None]) -> tuple[int, int, int]:
        labels = [_verdict_label(v) for v in verdicts if v is not None]
        return labels.count("SAME"), sum(label.startswith("DELIBERATE") for label in labels), labels.count("LEFT")

    body = counts([case.body for case in CASES])
    headers = counts([case.headers for case in CASES])
    without = sum(case.headers is None for case in CASES)
    return "\n".join(
        [
            "| facet | SAME | DELIBERATE | LEFT | total |",
            "|---|---|---|---|---|",
            f"| body (status, Content-Type, body) | {' | '.join(map(str, body))} | {sum(body)} |",
            f"| headers | {' | '.join(map(str, headers))} | {sum(headers)} (+{without} route Azure ML lacks) |",
        ]
    )


def _replace_between(text: str, name: str, content: str) -> str:
    begin, end = f"<!-- begin {name}: rendered by test_compatibility_doc_is_current -->", f"<!-- end {name} -->"
    head, found, rest = text.partition(begin)
    _, found_end, tail = rest.partition(end)
    assert found and found_end, f"{DOC} lacks the markers {begin} ... {end}"
    return f"{head}{begin}\n{content}\n{end}{tail}"


def test_compatibility_doc_is_current(recordings: Recordings) -> None:
    """docs/azureml-compatibility.md's summary and case tables are the recorded answers' (rendered,
    never edited by hand). With RENDER_AZUREML_DOC=1 this rewrites them instead of comparing."""
    recordings.record_free_scripts(list(SCRIPTS))  # every script's servers side by side (no-op if recorded)
    current = DOC.read_text(encoding="utf-8")
    rendered = _replace_between(current, "summary", _summary_table())
    rendered = _replace_between(rendered, "cases", _cases_table(recordings))
    if os.environ.get(RENDER_ENV) == "1":
        DOC.write_text(rendered, encoding="utf-8")
        return
    assert rendered == current, f"{DOC} is out of date: run this test with {RENDER_ENV}=1 to render it"


def _check(ours: dict[str, str], azure: dict[str, str], verdict: Verdict) -> None:
    if isinstance(verdict, Deliberate):
        assert_matches(ours, {**azure, **verdict.overrides})
    else:  # SAME, or LEFT under xfail
        assert ours == azure
