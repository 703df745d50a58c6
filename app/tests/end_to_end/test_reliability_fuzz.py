"""A battery of bad requests: each gets a 4xx (JSON wherever aiohttp's HTTP parser accepted the
request and the connection survives), and afterwards the server is healthy and scores correctly."""

from __future__ import annotations

import json
import socket
import time

import numpy as np
import pytest
from conftest import PRIMARY_KEY, SECONDARY_KEY, MakeServer, Server, raw_exchange, raw_request, seed_body

MAX_BODY = 1 << 20
ROW = [0.5] * 784


def body_of(data: object) -> bytes:
    return json.dumps({"data": data}).encode()


def numbers_row(tokens: list[str]) -> bytes:
    return ('{"data": [[' + ",".join(tokens) + "]]}").encode()


@pytest.fixture(scope="module")
def strict(make_server: MakeServer) -> Server:
    return make_server(
        {"MAX_BODY_BYTES": str(MAX_BODY), "BODY_READ_TIMEOUT_S": "1", "MAX_PENDING_BYTES": str(8 * MAX_BODY)}
    )


VALID = body_of([ROW])
TRUNCATIONS = [VALID[:n] for n in (1, 2, 9, 10, 11, 500, len(VALID) - 3, len(VALID) - 1)]

# (name, body, extra headers): sent as well-formed HTTP, so every answer must be 4xx JSON.
BAD_BODIES: list[tuple[str, bytes, dict[str, str]]] = [
    ("empty body", b"", {}),
    ("whitespace body", b" \n\t  ", {}),
    ("null", b"null", {}),
    ("top-level list", b"[[0.5]]", {}),
    ("top-level string", b'"data"', {}),
    ("top-level number", b"784", {}),
    ("data null", body_of(None), {}),
    ("data object", body_of({"0": ROW}), {}),
    ("data string", body_of("0.5,0.5"), {}),
    ("data flat list", body_of(ROW), {}),
    ("data empty", body_of([]), {}),
    ("empty row", body_of([[]]), {}),
    ("null row", body_of([None]), {}),
    ("row of nulls", body_of([[None] * 784]), {}),
    ("row of booleans", body_of([[True] * 784]), {}),
    ("row of numeric strings", body_of([["0.5"] * 784]), {}),
    ("three levels of nesting", body_of([[ROW]]), {}),
    ("row too short", body_of([ROW[:783]]), {}),
    ("row too long", body_of([[*ROW, 0.5]]), {}),
    ("second row too short", body_of([ROW, ROW[:1]]), {}),
    ("NaN", numbers_row(["NaN"] + ["0"] * 783), {}),
    ("Infinity", numbers_row(["0"] * 783 + ["Infinity"]), {}),
    ("-Infinity", numbers_row(["-Infinity"] + ["0"] * 783), {}),
    ("1e999", numbers_row(["1e999"] + ["0"] * 783), {}),
    ("-1e999", numbers_row(["0"] * 400 + ["-1e999"] + ["0"] * 383), {}),
    ("integer beyond float32", numbers_row([str(10**400)] + ["0"] * 783), {}),
    ("leading zero", numbers_row(["01"] + ["0"] * 783), {}),
    ("bare minus", numbers_row(["-"] + ["0"] * 783), {}),
    ("trailing dot", numbers_row(["1."] + ["0"] * 783), {}),
    ("leading dot", numbers_row([".5"] + ["0"] * 783), {}),
    ("hex number", numbers_row(["0x10"] + ["0"] * 783), {}),
    ("trailing garbage", VALID + b" xyz", {}),
    ("two documents", VALID + VALID, {}),
    ("single quotes", VALID.replace(b'"', b"'"), {}),
    ("invalid UTF-8", b'{"data": [["\xff\xfe"]]}', {}),
    ("deeply nested arrays", b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", {}),
    ("deeply nested objects", b'{"data": ' + b'{"a":' * 50_000 + b"1" + b"}" * 50_001, {}),
    *[(f"truncated at {len(t)}", t, {}) for t in TRUNCATIONS],
    ("form encoded", VALID, {"Content-Type": "application/x-www-form-urlencoded"}),
    ("multipart", VALID, {"Content-Type": "multipart/form-data; boundary=x"}),
    ("xml", b"<data/>", {"Content-Type": "application/xml"}),
]


def test_bad_bodies_are_4xx_json(strict: Server) -> None:
    assert len(BAD_BODIES) >= 40
    for name, body, headers in BAD_BODIES:
        reply = strict.request("POST", "/score", body, headers=headers)
        assert 400 <= reply.status < 500, (name, reply.status, reply.body[:200])
        assert isinstance(reply.json().get("message"), str), name


def test_bad_framing_and_headers_are_4xx(strict: Server) -> None:
    port = strict.port
    valid = raw_request("POST", "/score", VALID)
    cases: dict[str, tuple[bytes, bool]] = {
        # (raw request, whether the reply must be JSON: aiohttp's own parser answers plain text)
        "key with a space inside": (
            raw_request("POST", "/score", VALID, key=PRIMARY_KEY[:5] + " " + PRIMARY_KEY[5:]),
            True,
        ),
        "key followed by a second key": (
            raw_request("POST", "/score", VALID, key=f"{PRIMARY_KEY}, Bearer {SECONDARY_KEY}"),
            True,
        ),
        "key with a NUL byte": (raw_request("POST", "/score", VALID, key=PRIMARY_KEY + "\x00"), False),
        "key with a bare CR": (raw_request("POST", "/score", VALID, key=PRIMARY_KEY + "\rX-Injected: 1"), False),
        "both keys wrong by one character": (raw_request("POST", "/score", VALID, key=SECONDARY_KEY[:-1] + "X"), True),
        "64 KB Authorization header": (raw_request("POST", "/score", VALID, key="k" * 65536), False),
        "negative Content-Length": (
            valid.replace(f"Content-Length: {len(VALID)}".encode(), b"Content-Length: -5"),
            False,
        ),
        "non-numeric Content-Length": (
            valid.replace(f"Content-Length: {len(VALID)}".encode(), b"Content-Length: lots"),
            False,
        ),
        "declared over the limit": (raw_request("POST", "/score", b"", {"Content-Length": str(MAX_BODY + 1)}), True),
        "broken chunk size": (
            raw_request(
                "POST", "/score", b"zz\r\n{}\r\n0\r\n\r\n", {"Content-Length": None, "Transfer-Encoding": "chunked"}
            ),
            False,
        ),
        "garbage request line": (b"HELLO\r\n\r\n", False),
        "PUT on /score": (raw_request("PUT", "/score", VALID), True),
        "path traversal": (raw_request("POST", "/../score", VALID), False),
    }
    for name, (data, must_be_json) in cases.items():
        reply = raw_exchange(port, data)
        assert reply is not None, f"{name}: no answer"
        assert 400 <= reply.status < 500, (name, reply.status, reply.body[:200])
        if must_be_json:
            assert "message" in json.loads(reply.body), name


def test_chunked_body_over_the_limit_is_413(strict: Server) -> None:
    chunk = b"0" * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(20)) + b"0\r\n\r\n"
    data = raw_request("POST", "/score", chunks, {"Content-Length": None, "Transfer-Encoding": "chunked"})
    reply = raw_exchange(strict.port, data)
    assert reply is not None and reply.status == 413
    assert "MAX_BODY_BYTES" in json.loads(reply.body)["message"]


def test_chunked_valid_body_is_scored(strict: Server, heldout: tuple[np.ndarray, np.ndarray]) -> None:
    rows, _labels = heldout
    body = seed_body(rows[:3])
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:1000], body[1000:])) + b"0\r\n\r\n"
    reply = raw_exchange(
        strict.port, raw_request("POST", "/score", chunks, {"Content-Length": None, "Transfer-Encoding": "chunked"})
    )
    assert reply is not None and reply.status == 200
    assert len(json.loads(reply.body)) == 3


def test_slow_upload_is_408_json(strict: Server) -> None:
    head = raw_request("POST", "/score", VALID)[: -len(VALID)]
    with socket.create_connection(("127.0.0.1", strict.port), timeout=10) as sock:
        # Timed from before the send: the server's 1 s starts when the head arrives, so a client
        # descheduled after sendall() cannot see the 408 come "early".
        started = time.monotonic()
        sock.sendall(head + VALID[:100])
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    elapsed = time.monotonic() - started
    assert b" 408 " in received.split(b"\r\n", 1)[0]
    assert b"BODY_READ_TIMEOUT_S" in received
    # The upper bound only has to tell BODY_READ_TIMEOUT_S (1 s) from the 30 s default and stay below
    # the socket's own 10 s timeout; a loaded machine adds seconds to the answer, never subtracts.
    assert 0.8 <= elapsed < 9


def test_cut_off_uploads_release_their_reservation(strict: Server) -> None:
    for _ in range(5):
        data = raw_request("POST", "/score", VALID)
        with socket.create_connection(("127.0.0.1", strict.port), timeout=10) as sock:
            sock.sendall(data[: len(data) // 2])
    deadline = time.monotonic() + 5
    while strict.metric("scoring_pending_bytes") != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert strict.metric("scoring_pending_bytes") == 0


def test_server_is_healthy_and_correct_after_the_battery(
    strict: Server, heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    rows, labels = heldout
    assert strict.request("GET", "/ready", key=None).status == 200
    predicted: list[int] = []
    for start in range(0, len(rows), 50):  # 50 rows stay under this server's 1 MB body limit
        reply = strict.score(rows[start : start + 50 : 5])
        assert reply.status == 200
        predicted += reply.json()
    assert np.mean(np.array(predicted) == labels[::5]) >= 0.95
    assert strict.process.poll() is None
    assert strict.metric("scoring_requests_total", 'route="/score",status="500"') == 0
    assert "Traceback" not in strict.log()
