"""The scoring fast lane (scoring/transport/fast_lane.py): which heads it takes, that its answers are aiohttp's
answers, and HTTP/1.1 framing on one connection (split bodies, pipelining, hand-over to aiohttp)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import cast

import numpy as np
import pytest
from conftest import PRIMARY_KEY, MakeServer, Reply, Server, parse_response, raw_request, seed_body

from scoring.core.exchange import ProtocolUnit
from scoring.core.pipeline import Pipeline
from scoring.protocols.azureml import AzureMLProtocol
from scoring.protocols.azureml_http import AzureML
from scoring.protocols.v2 import V2Protocol
from scoring.transport.fast_lane import parse_head

INFER = "/v2/models/mnist/infer"
MAX_BODY = 1 << 20


def routes(score_served: bool) -> tuple[ProtocolUnit, ...]:
    """The two protocols, as the server registers them; /score is the lane's only while the script is
    batched (and CORS is off)."""
    pipeline = cast(Pipeline, SimpleNamespace(batched=score_served))
    azureml = cast(AzureML, SimpleNamespace(cors=None, server_version=None))
    return (AzureMLProtocol(pipeline, azureml, lambda: b"{}"), V2Protocol(pipeline, "mnist"))


def head(*lines: str) -> bytes:
    return "\r\n".join(lines).encode("latin-1")


COMMON = ("Host: 127.0.0.1:5001", "Authorization: Bearer k", "Content-Type: application/json")


@pytest.mark.parametrize(
    ("path", "route", "params"),
    [
        ("/score", "/score", None),
        (INFER, "/v2/models/{model}/infer", {"model": "mnist"}),
        (
            "/v2/models/mnist/versions/1/infer",
            "/v2/models/{model}/versions/{version}/infer",
            {"model": "mnist", "version": "1"},
        ),
        (
            "/v2/models/my.model-2/versions/1.0/infer",
            "/v2/models/{model}/versions/{version}/infer",
            {"model": "my.model-2", "version": "1.0"},
        ),
    ],
)
def test_the_common_case_is_the_lanes(path: str, route: str, params: dict[str, str] | None) -> None:
    request = parse_head(
        head(f"POST {path} HTTP/1.1", *COMMON, "Content-Length: 12", "Connection: keep-alive"), routes(True)
    )
    assert request is not None
    exchange = request.exchange
    assert (exchange.route, exchange.params, request.length, request.close) == (route, params, 12, False)
    assert (exchange.method, exchange.path) == ("POST", path)
    assert exchange.headers["authorization"] == "Bearer k"
    closing = parse_head(
        head(f"POST {path} HTTP/1.1", "Host: x", "Content-Length: 0", "connection: Close"), routes(True)
    )
    assert closing is not None and closing.close


# Each with exactly one Host, so that the rule it breaks is the only reason it is aiohttp's.
_NOT_THE_COMMON_CASE = [
    ("GET /score HTTP/1.1", "Content-Length: 0"),
    ("post /score HTTP/1.1", "Content-Length: 0"),
    ("POST /score HTTP/1.0", "Content-Length: 0"),
    ("POST /score?x=1 HTTP/1.1", "Content-Length: 0"),
    ("POST /sc%6Fre HTTP/1.1", "Content-Length: 0"),
    ("POST /v2/models/../infer HTTP/1.1", "Content-Length: 0"),
    ("POST /v2/models/mnist/versions/./infer HTTP/1.1", "Content-Length: 0"),
    ("POST /v2/models/mnist/ready HTTP/1.1", "Content-Length: 0"),
    ("POST /score HTTP/1.1",),  # no Content-Length
    ("POST /score HTTP/1.1", "Content-Length: 5", "Content-Length: 5"),
    ("POST /score HTTP/1.1", "Content-Length: +5"),
    ("POST /score HTTP/1.1", "Content-Length: 0x5"),
    ("POST /score HTTP/1.1", "Content-Length: 1234567890123456789"),
    ("POST /score HTTP/1.1", "Content-Length: 5", "Transfer-Encoding: chunked"),
    ("POST /score HTTP/1.1", "Content-Length: 5", "Content-Encoding: gzip"),
    ("POST /score HTTP/1.1", "Content-Length: 5", "Expect: 100-continue"),
    ("POST /score HTTP/1.1", "Content-Length: 5", "Connection: Upgrade", "Upgrade: websocket"),
    ("POST /score HTTP/1.1", "Content-Length : 5"),  # space before the colon
    ("POST /score HTTP/1.1", "Content-Length: 5", "X-Folded: a", " b"),  # obs-fold
    ("POST /score HTTP/1.1", "Content-Length: 5", "X-Bad: a\x01b"),
    ("POST /score HTTP/1.1", "Content-Length: 5", "X-Bare: a\nInjected: 1"),
    ("POST  /score HTTP/1.1", "Content-Length: 0"),
    ("POST /score HTTP/1.1", "Content-Length: 0", "X-Long: " + "a" * 8190),  # past aiohttp's line limit
    ("POST /score HTTP/1.1", "Content-Length: 0", *(f"X-{i}: v" for i in range(128))),  # past its 128 fields
    ("POST /score HTTP/1.1", "Content-Length: 5", "X-Tab: a\tb"),  # legal, but the lane leaves tabs to aiohttp
    ("POST /score HTTP/1.1", "Content-Length: 5", "X-Bytes: a\xffb"),  # not UTF-8
    ("POST /score HTTP/1.1", "Content-Length: 5", "Connection: keep-alive, foo"),  # a token it does not know
    ("POST /score HTTP/1.1", "Content-Length: 5", "TRANSFER-ENCODING: chunked"),
    ("POST /score HTTP/1.1", "Content-Length: 5", "x-bad(name): 1"),  # a name that is not a token
    ("POST /score HTTP/1.1", "Content-Length:"),
]


@pytest.mark.parametrize(
    "lines",
    [
        *((lines[0], "Host: x", *lines[1:]) for lines in _NOT_THE_COMMON_CASE),
        # What aiohttp refuses or treats differently: no Host, or a singleton field twice.
        ("POST /score HTTP/1.1", "Content-Length: 0"),
        ("POST /score HTTP/1.1", "Host: a", "Host: b", "Content-Length: 0"),
        (
            "POST /score HTTP/1.1",
            "Host: a",
            "Content-Type: application/json",
            "content-type: text/plain",
            "Content-Length: 0",
        ),
        ("POST /score HTTP/1.1", "Host: a", "User-Agent: a", "User-Agent: b", "Content-Length: 0"),
    ],
)
def test_anything_else_is_aiohttps(lines: tuple[str, ...]) -> None:
    assert parse_head(head(*lines), routes(True)) is None


def test_score_is_aiohttps_while_the_lane_does_not_serve_it() -> None:
    # Unbatched scripts and AML_CORS_ORIGINS are aiohttp's (scoring.protocols.azureml_http serves them).
    assert parse_head(head("POST /score HTTP/1.1", "Content-Length: 0"), routes(False)) is None
    assert parse_head(head(f"POST {INFER} HTTP/1.1", "Host: x", "Content-Length: 0"), routes(False)) is not None


def test_an_over_long_request_id_is_the_lanes_too() -> None:
    # The protocol refuses it (Azure ML's 431) on whichever transport: the lane serves it like any other.
    long_id = head("POST /score HTTP/1.1", "Host: x", "Content-Length: 0", "x-request-id: " + "a" * 101)
    assert parse_head(long_id, routes(True)) is not None


# ---- against real servers: the lane's answers are aiohttp's ----


@pytest.fixture(scope="module")
def servers(make_server: MakeServer) -> tuple[Server, Server]:
    """(lane on, lane off), otherwise identical."""
    # A byte budget whose JSON limit (MAX_PENDING_BYTES / 19, scoring/core/large_json.py) takes MAX_BODY.
    env = {"MAX_BODY_BYTES": str(MAX_BODY), "MAX_PENDING_BYTES": str(19 * MAX_BODY)}
    return make_server(env), make_server({**env, "FAST_LANE": "false"})


def v2_json(rows: np.ndarray, **extra: object) -> bytes:
    tensor = {"name": "input", "datatype": "UINT8", "shape": list(rows.shape), "data": rows.reshape(-1).tolist()}
    return json.dumps({"inputs": [tensor], **extra}).encode()


def v2_binary(rows: np.ndarray) -> tuple[bytes, str]:
    tensor = {
        "name": "input",
        "datatype": "UINT8",
        "shape": list(rows.shape),
        "parameters": {"binary_data_size": rows.size},
    }
    header = json.dumps({"inputs": [tensor], "outputs": [{"name": "label", "parameters": {"binary_data": True}}]})
    return header.encode() + rows.astype(np.uint8).tobytes(), str(len(header))


def exchange(port: int, data: bytes, answers: int = 1, timeout: float = 10.0) -> list[Reply]:
    """Sends data on one connection and reads `answers` responses (fewer when the server closes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_answers(sock, answers)


def read_answers(sock: socket.socket, answers: int) -> list[Reply]:
    received = b""
    replies: list[Reply] = []
    while len(replies) < answers:
        head_end = received.find(b"\r\n\r\n")
        if head_end >= 0:
            reply = parse_response(received)
            assert reply is not None
            length = int(reply.header("content-length") or 0)
            if len(received) >= head_end + 4 + length:
                replies.append(reply)
                received = received[head_end + 4 + length :]
                continue
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        received += chunk
    return replies


def pixels(heldout: tuple[np.ndarray, np.ndarray], count: int) -> np.ndarray:
    return np.rint(heldout[0][:count] * 255).astype(np.uint8)


def cases(heldout: tuple[np.ndarray, np.ndarray]) -> Iterator[tuple[str, bytes]]:
    rows = heldout[0][:3]
    binary, split = v2_binary(pixels(heldout, 2))
    yield "score 3 rows", raw_request("POST", "/score", seed_body(rows))
    yield (
        "score with the client's ids",
        raw_request(
            "POST", "/score", seed_body(rows[:1]), {"x-request-id": "mine-1", "x-ms-client-request-id": "client-7"}
        ),
    )
    yield "score no key", raw_request("POST", "/score", seed_body(rows), key=None)
    yield "score wrong key", raw_request("POST", "/score", seed_body(rows), key="nope")
    yield "score not JSON", raw_request("POST", "/score", b"{not json")
    yield "score short row", raw_request("POST", "/score", b'{"data": [[1, 2, 3]]}')
    yield "score not UTF-8", raw_request("POST", "/score", b'{"data": "\xff\xfe"}')
    yield "score too large", raw_request("POST", "/score", b"", {"Content-Length": str(MAX_BODY + 1)})
    yield "score over-long id", raw_request("POST", "/score", seed_body(rows[:1]), {"x-request-id": "i" * 101})
    yield "score form type", raw_request("POST", "/score", seed_body(rows), {"Content-Type": "multipart/form-data"})
    yield "infer JSON", raw_request("POST", INFER, v2_json(pixels(heldout, 3), id="req-9"), {"x-request-id": "v2-id"})
    yield (
        "infer binary",
        raw_request(
            "POST",
            "/v2/models/mnist/versions/1/infer",
            binary,
            {"Inference-Header-Content-Length": split, "Content-Type": "application/octet-stream", "x-request-id": "b"},
        ),
    )
    yield "infer unknown model", raw_request("POST", "/v2/models/other/infer", v2_json(pixels(heldout, 1)))
    yield "infer unknown version", raw_request("POST", "/v2/models/mnist/versions/7/infer", v2_json(pixels(heldout, 1)))
    yield "infer no key", raw_request("POST", INFER, v2_json(pixels(heldout, 1)), key=None)
    yield "infer bad tensor", raw_request("POST", INFER, b'{"inputs": [{"name": "input"}]}')


# Values that differ between any two answers: generated ids, timing and the clock.
VARYING = {"date", "x-ms-run-fn-exec-ms"}


def comparable(reply: Reply) -> dict[str, object]:
    headers = {k: v for k, v in reply.headers.items() if k not in VARYING}
    for name in ("x-request-id", "x-ms-request-id"):
        if name in headers and headers[name] not in ("mine-1", "v2-id", "b"):
            headers[name] = "generated"
    return {"status": reply.status, "headers": headers, "body": reply.body}


def test_the_lanes_answers_are_aiohttps_answers(
    servers: tuple[Server, Server], heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    lane, plain = servers
    handed_over = lane.metric("scoring_lane_handovers_total")  # the start-up probes' GET /ready
    for name, request in cases(heldout):
        (on,) = exchange(lane.port, request)
        (off,) = exchange(plain.port, request)
        assert comparable(on) == comparable(off), name
    # The lane answered every one of them itself, counted under aiohttp's route names.
    assert lane.metric("scoring_lane_handovers_total") == handed_over
    assert lane.metric("scoring_requests_total", 'route="/score",status="200"') >= 2
    assert (
        lane.metric("scoring_requests_total", 'route="/v2/models/{model}/versions/{version}/infer",status="200"') >= 1
    )
    assert '"route":"/v2/models/{model}/infer","status":404' in lane.log()


# ---- framing on one connection ----


def score_head(length: int, extra: str = "") -> bytes:
    return (
        f"POST /score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {PRIMARY_KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n{extra}\r\n"
    ).encode()


def expected_labels(server: Server, rows: np.ndarray) -> list[int]:
    reply = server.score(rows)
    assert reply.status == 200
    labels: list[int] = reply.json()
    return labels


@pytest.mark.parametrize("with_head", [0, 1000], ids=["head alone", "head with the first 1,000 bytes"])
def test_a_body_in_pieces_is_assembled(
    servers: tuple[Server, Server], heldout: tuple[np.ndarray, np.ndarray], with_head: int
) -> None:
    lane, _ = servers
    rows = heldout[0][:40]  # about 300 KB: more than one read
    body = seed_body(rows)
    with socket.create_connection(("127.0.0.1", lane.port), timeout=10) as sock:
        sock.sendall(score_head(len(body)) + body[:with_head])
        time.sleep(0.05)
        for start in range(with_head, len(body), 100_000):
            sock.sendall(body[start : start + 100_000])
            time.sleep(0.05)
        (reply,) = read_answers(sock, 1)
    assert reply.status == 200
    assert reply.json() == expected_labels(lane, rows)


def test_pipelined_requests_are_answered_in_order(
    servers: tuple[Server, Server], heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    lane, _ = servers
    first, second = seed_body(heldout[0][:2]), seed_body(heldout[0][5:6])
    infer = v2_json(pixels(heldout, 3))
    infer_head = (
        f"POST {INFER} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {PRIMARY_KEY}\r\nContent-Length: {len(infer)}\r\n\r\n"
    ).encode()
    # A refusal before its body is read (unknown model) skips the body and keeps the connection.
    unknown = infer_head.replace(b"/models/mnist/", b"/models/other/")
    data = score_head(len(first)) + first + unknown + infer + infer_head + infer + score_head(len(second)) + second
    replies = exchange(lane.port, data, answers=4)
    assert [r.status for r in replies] == [200, 404, 200, 200]
    assert replies[0].json() == expected_labels(lane, heldout[0][:2])
    assert replies[2].json()["outputs"][0]["data"] == expected_labels(lane, heldout[0][:3])
    assert replies[3].json() == expected_labels(lane, heldout[0][5:6])


def test_the_same_head_again_is_a_new_request(
    servers: tuple[Server, Server], heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    """A keep-alive client's repeated head reuses the parsed fields, never the previous request: each
    gets its own id and its own rows' labels, and a head that differs is parsed afresh."""
    lane, _ = servers
    first, second = pixels(heldout, 2)[:1], pixels(heldout, 2)[1:]
    one, split = v2_binary(first)
    two, _ = v2_binary(second)
    head = (
        f"POST {INFER} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {PRIMARY_KEY}\r\n"
        f"Inference-Header-Content-Length: {split}\r\nContent-Length: {len(one)}\r\n\r\n"
    ).encode()
    wrong_key = head.replace(PRIMARY_KEY.encode(), b"x" * len(PRIMARY_KEY))
    replies = exchange(lane.port, head + one + head + two + head + two + wrong_key + one, answers=4)
    assert [r.status for r in replies] == [200, 200, 200, 401]
    ids = [r.header("x-request-id") for r in replies]
    assert len(set(ids)) == 4
    labels = [r.body[-8:] for r in replies[:3]]  # one INT64 label each, binary output
    expected = [np.asarray(expected_labels(lane, heldout[0][i : i + 1]), dtype="<i8").tobytes() for i in (0, 1, 1)]
    assert labels == expected


def test_many_pipelined_requests_left_unread_for_a_while_are_all_answered(
    servers: tuple[Server, Server], heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    # 1,000 pipelined requests (about 1 MB) whose answers are not read for a while (the lane pauses
    # reading while its answers wait to drain): every one is answered, in order, once they are read.
    lane, _ = servers
    body, split = v2_binary(pixels(heldout, 1))
    one = (
        f"POST {INFER} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {PRIMARY_KEY}\r\n"
        f"Inference-Header-Content-Length: {split}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    count = 1000
    with socket.create_connection(("127.0.0.1", lane.port), timeout=20) as sock:
        sender = threading.Thread(target=sock.sendall, args=(one * count,))
        sender.start()
        time.sleep(1.0)
        replies = read_answers(sock, count)
        sender.join(timeout=20)
    assert len(replies) == count
    assert {r.status for r in replies} == {200}
    assert lane.process.poll() is None


def test_the_first_other_request_hands_the_connection_to_aiohttp(
    servers: tuple[Server, Server], heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    lane, _ = servers
    body = seed_body(heldout[0][:1])
    chunked = score_head(0).replace(b"Content-Length: 0\r\n", b"Transfer-Encoding: chunked\r\n")
    chunked += f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    data = score_head(len(body)) + body + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + chunked + score_head(len(body)) + body
    handed_over = lane.metric("scoring_lane_handovers_total")
    replies = exchange(lane.port, data, answers=4)
    assert [r.status for r in replies] == [200, 200, 200, 200]
    assert lane.metric("scoring_lane_handovers_total") == handed_over + 1
    assert replies[1].body == b"Healthy"
    assert replies[0].json() == replies[2].json() == replies[3].json() == expected_labels(lane, heldout[0][:1])


def test_malformed_heads_get_aiohttps_answer(servers: tuple[Server, Server]) -> None:
    lane, plain = servers
    for data in (
        b"POST /score HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        b"POST /score HTTP/1.1\r\nContent-Length : 2\r\n\r\n{}",
        b"POST /score HTTP/1.1\nHost: x\nContent-Length: 2\n\n{}",
        b"POST /score HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",  # no Host
        b"POST /score HTTP/1.1\r\nHost: a\r\nHost: b\r\nContent-Length: 2\r\n\r\n{}",
        b"POST /score HTTP/1.1\r\nHost: a\r\nContent-Type: a/b\r\nContent-Type: c/d\r\nContent-Length: 2\r\n\r\n{}",
        b"POST /score HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\n{}",
        b"POST /score HTTP/1.1\r\nHost: a\r\nX-Bad: a\x01b\r\nContent-Length: 2\r\n\r\n{}",
        b"POST /score HTTP/1.1\r\nHost: a\r\nx-bad(name): 1\r\nContent-Length: 2\r\n\r\n{}",
        b"POST /score HTTP/1.1\r\nHost: a\r\nContent-Length: +2\r\n\r\n{}",
        b"POST  /score HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}",
        b"POST /score HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n{}",
    ):
        on, off = exchange(lane.port, data), exchange(plain.port, data)
        assert [r.status for r in on] == [r.status for r in off], data
    # A second request after one that closes the connection: answered (or not) as aiohttp does.
    closing = (
        b"POST /score HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
        b"POST /score HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}"
    )
    on, off = exchange(lane.port, closing, answers=2), exchange(plain.port, closing, answers=2)
    assert [r.status for r in on] == [r.status for r in off]


def test_a_head_trickled_in_pieces_is_found_once_complete(
    servers: tuple[Server, Server], heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    """The end of a head split across reads (even inside its blank line) is found, though each read
    searches only the bytes not searched before."""
    lane, _ = servers
    body = seed_body(heldout[0][:1])
    data = score_head(len(body)) + body
    blank = data.index(b"\r\n\r\n")
    cuts = [5, blank - 1, blank + 1, blank + 3, len(data)]
    handed_over = lane.metric("scoring_lane_handovers_total")
    with socket.create_connection(("127.0.0.1", lane.port), timeout=10) as sock:
        start = 0
        for cut in cuts:
            sock.sendall(data[start:cut])
            start = cut
            time.sleep(0.05)
        (reply,) = read_answers(sock, 1)
    assert reply.status == 200
    assert reply.json() == expected_labels(lane, heldout[0][:1])
    assert lane.metric("scoring_lane_handovers_total") == handed_over  # served by the lane itself


def test_connection_close_and_a_cut_off_body(
    servers: tuple[Server, Server], heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    lane, _ = servers
    body = seed_body(heldout[0][:1])
    with socket.create_connection(("127.0.0.1", lane.port), timeout=10) as sock:
        sock.sendall(score_head(len(body), "Connection: close\r\n") + body)
        (reply,) = read_answers(sock, 1)
        assert reply.header("connection") == "close"
        assert sock.recv(1) == b""  # closed after the answer
    with socket.create_connection(("127.0.0.1", lane.port), timeout=10) as sock:
        sock.sendall(score_head(100_000) + b'{"data": [[0')  # then the client goes away
    deadline = time.monotonic() + 5
    while lane.metric("scoring_pending_bytes") != 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert lane.metric("scoring_pending_bytes") == 0
    assert '"status":400' in lane.log()
    assert lane.score(heldout[0][:1]).status == 200
