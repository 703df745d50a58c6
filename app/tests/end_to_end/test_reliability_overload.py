"""Backpressure: admission is decided from Content-Length before the body is read (against what
admitted requests really hold), a full budget answers 503 + Retry-After at once, stalled uploads hold
only what they sent, cut-off uploads give back what they held, and under a
bounded flood the server's memory stays flat while every accepted request is answered correctly."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from conftest import MakeServer, Server, raw_exchange, raw_request, seed_body

MAX_BODY = 1 << 20
BUDGET = 4 * MAX_BODY


@pytest.fixture(scope="module")
def tight(make_server: MakeServer) -> Server:
    return make_server({"MAX_BODY_BYTES": str(MAX_BODY), "MAX_PENDING_BYTES": str(BUDGET), "RETRY_AFTER_S": "3"})


def hold_upload(port: int, declared: int, sent: int = 0) -> socket.socket:
    """Sends the headers and `sent` bytes of a body, then stalls: the request holds what it sent."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        raw_request("POST", "/score", b"", {"Content-Length": str(declared)}) + b'{"data": [[' + b"0," * (sent // 2)
    )
    return sock


def wait_for_metric(server: Server, name: str, predicate: Callable[[float], bool], timeout: float = 5.0) -> float:
    deadline = time.monotonic() + timeout
    value = server.metric(name)
    while not predicate(value) and time.monotonic() < deadline:
        time.sleep(0.02)
        value = server.metric(name)
    return value


def test_full_budget_refuses_before_reading_and_cut_offs_release(
    tight: Server, heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    # Four uploads that really sent 900 KB each hold 3.6 MB of the 4 MiB budget.
    holders = [hold_upload(tight.port, MAX_BODY, sent=900_000) for _ in range(4)]
    try:
        assert wait_for_metric(tight, "scoring_pending_bytes", lambda v: v >= 3_600_000) >= 3_600_000
        # Only headers are sent: the refusal must come without the body ever being read.
        started = time.monotonic()
        reply = raw_exchange(tight.port, raw_request("POST", "/score", b"", {"Content-Length": str(MAX_BODY)}))
        assert reply is not None and reply.status == 503
        assert reply.header("Retry-After") == "3"
        assert "capacity" in reply.json()["message"]
        # Far below the 30 s a server waiting for the body would take (BODY_READ_TIMEOUT_S), with room
        # for a loaded machine.
        assert time.monotonic() - started < 5.0
        # A small request still fits what is left.
        assert tight.score(heldout[0][:2]).status == 200
    finally:
        for sock in holders:
            sock.close()  # cut off mid-upload
    assert wait_for_metric(tight, "scoring_pending_bytes", lambda v: v == 0) == 0
    assert tight.score(heldout[0][:2]).status == 200


def test_stalled_uploads_hold_only_what_they_sent(tight: Server, heldout: tuple[np.ndarray, np.ndarray]) -> None:
    # Four uploads declaring MAX_BODY_BYTES each (the whole budget) that then stall hold almost nothing.
    holders = [hold_upload(tight.port, MAX_BODY) for _ in range(4)]
    try:
        assert wait_for_metric(tight, "scoring_pending_bytes", lambda v: v > 0) < 1000
        for _ in range(5):
            assert tight.score(heldout[0][:2]).status == 200
    finally:
        for sock in holders:
            sock.close()
    assert wait_for_metric(tight, "scoring_pending_bytes", lambda v: v == 0) == 0


def test_bounded_flood_keeps_memory_flat_and_answers_correctly(
    tight: Server, heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    rows, _ = heldout
    chunks = [rows[i : i + 20] for i in range(0, 640, 20)]  # 32 bodies of about 300 KB
    bodies = [seed_body(chunk) for chunk in chunks]
    expected = [tight.score(chunk).json() for chunk in chunks]

    def flood_round() -> tuple[int, int]:
        def one(index: int) -> int:
            reply = tight.request("POST", "/score", bodies[index % len(bodies)])
            if reply.status == 200:
                assert reply.json() == expected[index % len(bodies)], index
            else:
                assert reply.status == 503 and reply.header("Retry-After") == "3", (reply.status, reply.body)
            return reply.status

        with ThreadPoolExecutor(48) as pool:
            statuses = list(pool.map(one, range(240)))
        return statuses.count(200), statuses.count(503)

    flood_round()  # warm-up: allocator pools and buffers reach their working size
    rss_before = tight.rss_bytes()
    accepted = refused = 0
    for _ in range(3):
        ok, busy = flood_round()
        accepted += ok
        refused += busy
    growth = tight.rss_bytes() - rss_before
    print(
        f"\nflood: {accepted} accepted, {refused} refused with 503; RSS {rss_before / 2**20:.0f} MiB, grew {growth / 2**20:+.1f} MiB"
    )
    assert accepted > 0 and refused > 0, (accepted, refused)
    assert growth < 40 << 20, f"RSS grew by {growth / 2**20:.1f} MiB over {accepted + refused} requests"
    assert wait_for_metric(tight, "scoring_pending_bytes", lambda v: v == 0) == 0
    assert tight.metric("scoring_pending_rows") == 0
    assert tight.request("GET", "/ready", key=None).status == 200
