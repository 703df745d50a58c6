"""Graceful shutdown: on SIGTERM readiness turns 503 at once, requests already admitted finish
with correct answers, and the process exits 0 within DRAIN_SECONDS, even if a client stalls."""

from __future__ import annotations

import json
import signal
import socket
import time

import numpy as np
from conftest import MakeServer, Server, parse_response, raw_request, seed_body


def start_upload(port: int, body: bytes, sent: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    sock.sendall(
        raw_request("POST", "/score", body)[: -len(body) + sent]
        if sent < len(body)
        else raw_request("POST", "/score", body)
    )
    return sock


def finish(sock: socket.socket, body: bytes, sent: int) -> tuple[int, bytes]:
    sock.sendall(body[sent:])
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    sock.close()
    reply = parse_response(received)
    assert reply is not None, "no answer"
    return reply.status, reply.body


def wait_in_flight(server: Server, at_least: int) -> None:
    deadline = time.monotonic() + 5
    while server.metric("scoring_in_flight_requests") < at_least:
        assert time.monotonic() < deadline, "requests never reached the server"
        time.sleep(0.02)


def test_sigterm_under_load_finishes_in_flight_requests(
    make_server: MakeServer, heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    server: Server = make_server({"DRAIN_SECONDS": "15"})
    rows, _ = heldout
    chunks = [rows[i : i + 25] for i in range(0, 400, 25)]
    bodies = [seed_body(chunk) for chunk in chunks]
    expected = [server.score(chunk).json() for chunk in chunks]
    half = [len(body) // 2 for body in bodies]
    uploads = [start_upload(server.port, body, sent) for body, sent in zip(bodies, half)]
    wait_in_flight(server, len(uploads))

    signalled = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    # The signal is handled on the server's event loop, which a loaded machine may not run for a while:
    # poll for the change rather than sleeping a fixed time and hoping it happened.
    deadline = time.monotonic() + 10
    while (ready := server.request("GET", "/ready", key=None)).status == 200 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ready.status == 503 and "shutting down" in ready.json()["message"]
    refused = server.score(rows[:1])
    assert refused.status == 503 and refused.header("Retry-After") is not None

    failures = []
    for sock, body, sent, want in zip(uploads, bodies, half, expected):
        status, answer = finish(sock, body, sent)
        if status != 200 or json.loads(answer) != want:
            failures.append((status, answer[:100]))
    assert failures == [], f"{len(failures)} of {len(uploads)} in-flight requests failed: {failures[:3]}"
    assert server.process.wait(15) == 0
    assert time.monotonic() - signalled < 15
    assert "draining" in server.log()


def test_drain_deadline_bounds_shutdown_when_a_client_stalls(make_server: MakeServer) -> None:
    server: Server = make_server({"DRAIN_SECONDS": "1.5"})
    body = b'{"data": [[' + b"0," * 783 + b"0]]}"
    stalled = start_upload(server.port, body, 20)
    try:
        wait_in_flight(server, 1)
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(15) == 0
        elapsed = time.monotonic() - signalled
        # Bounded by DRAIN_SECONDS (1.5 s) plus process teardown, far below the 20 s stalled upload;
        # the upper bound leaves room for a loaded 2-core machine (6.9 s seen with CI beside 5 others).
        assert 1.3 <= elapsed < 12, elapsed
    finally:
        stalled.close()
