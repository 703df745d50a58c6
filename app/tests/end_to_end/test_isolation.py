"""One bad client never hurts another: each attack class runs against a live server while honest
clients score real digits, and the test reports the honest clients' error rate and the server's peak
RSS, then checks the server is alive and correct afterwards.

Every attack here once hurt innocent requests (issue 15): a bad row failed its whole batch with 500,
a gzip bomb inflated past the pod's memory, `{"data":[[],[],...]}` took gigabytes and blocked the
device thread, a KServe shape of [2**62, 784] took the whole row budget, slow uploads held the byte
budget, idle connections used up the file descriptors.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, MakeServer, Server, raw_exchange, raw_request, seed_body

MAX_BODY = 8 << 20
BUDGET = 4 * MAX_BODY
INFER = "/v2/models/mnist/infer"
# "Well under the pod's 4 GiB": the CPU server idles at about 400 MiB.
RSS_LIMIT = 1536 << 20


def peak_rss(server: Server) -> int:
    """The process's high-water mark of resident memory (VmHWM), in bytes."""
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("VmHWM not found")


class Honest:
    """Clients scoring real digits in a loop; every answer is checked against the expected labels."""

    def __init__(self, server: Server, rows: np.ndarray, expected: list[list[int]]) -> None:
        self.server = server
        self.bodies = [seed_body(rows[i : i + 2]) for i in range(0, 2 * len(expected), 2)]
        self.expected = expected
        self.sent = 0
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def _client(self, index: int) -> None:
        while not self._stop.is_set():
            k = (index + self.sent) % len(self.bodies)
            try:
                reply = self.server.request("POST", "/score", self.bodies[k], timeout=20)
                problem = None if reply.status == 200 and reply.json() == self.expected[k] else f"{reply.status}"
            except OSError as exc:
                problem = f"{type(exc).__name__}"
            with self._lock:
                self.sent += 1
                if problem is not None:
                    self.failed.append(problem)

    @contextmanager
    def running(self, clients: int = 8) -> Iterator[Honest]:
        threads = [threading.Thread(target=self._client, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(30)


@pytest.fixture(scope="module")
def target(make_server: MakeServer) -> Server:
    return make_server(
        {
            "ENTRY_SCRIPT": str(FIXTURES / "poison_score.py"),
            "MAX_BODY_BYTES": str(MAX_BODY),
            "MAX_PENDING_BYTES": str(BUDGET),
            "BODY_READ_TIMEOUT_S": "4",
            "IDLE_TIMEOUT_S": "2",
        }
    )


@pytest.fixture(scope="module")
def honest_set(target: Server, heldout: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, list[list[int]]]:
    rows = heldout[0][:40]
    expected = [target.score(rows[i : i + 2]).json() for i in range(0, 40, 2)]
    return rows, expected


def under_attack(
    name: str, target: Server, honest_set: tuple[np.ndarray, list[list[int]]], attack: Callable[[], None]
) -> None:
    """Runs `attack` while honest clients score; reports and checks the honest error rate and peak RSS."""
    rows, expected = honest_set
    honest = Honest(target, rows, expected)
    with honest.running():
        attack()
        time.sleep(0.3)  # honest traffic right after the attack, too
    rate = len(honest.failed) / max(honest.sent, 1)
    rss = peak_rss(target)
    print(f"\n[{name}] innocent errors {len(honest.failed)}/{honest.sent} ({rate:.1%}), peak RSS {rss / 2**20:.0f} MiB")
    assert honest.sent > 0
    assert honest.failed == [], f"{name}: honest requests failed: {honest.failed[:5]}"
    assert rss < RSS_LIMIT, f"{name}: peak RSS {rss / 2**20:.0f} MiB"
    assert target.process.poll() is None
    assert target.request("GET", "/ready", key=None).status == 200


def concurrently(count: int, fn: Callable[[int], None]) -> None:
    with ThreadPoolExecutor(count) as pool:
        list(pool.map(fn, range(count)))


def test_a_bad_number_fails_only_its_own_request(
    target: Server, honest_set: tuple[np.ndarray, list[list[int]]]
) -> None:
    huge_int = ('{"data": [[1' + "0" * 4300 + "," + ",".join(["0"] * 783) + "]]}").encode()
    tensor = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 784], "data": [10**400] + [0] * 783}]}
    kserve_bad = json.dumps(tensor).encode()

    def attack(i: int) -> None:
        for _ in range(10):
            reply = target.request("POST", "/score", huge_int)
            assert reply.status == 400 and "number" in reply.json()["message"], reply.body[:200]
            reply = target.request("POST", INFER, kserve_bad)
            assert reply.status == 400 and "numbers" in reply.json()["error"], reply.body[:200]

    under_attack("4,301-digit integer and 10**400 tensor", target, honest_set, lambda: concurrently(8, attack))


def test_a_batch_that_fails_is_split_so_innocent_requests_succeed(
    target: Server, honest_set: tuple[np.ndarray, list[list[int]]]
) -> None:
    poisoned = np.zeros((1, 784), dtype=np.float32)
    poisoned[0, 0] = np.float32(0.123)
    body = seed_body(poisoned)

    def attack(i: int) -> None:
        for _ in range(10):
            reply = target.request("POST", "/score", body)
            assert reply.status == 500 and "simulated kernel failure" in reply.json()["message"], reply.body[:200]

    under_attack("request that makes run_batch fail", target, honest_set, lambda: concurrently(8, attack))


def test_gzip_bomb_is_refused_at_the_inflated_limit(
    target: Server, honest_set: tuple[np.ndarray, list[list[int]]]
) -> None:
    # About 64 KiB of gzip that inflates to 64 MiB of zeros: eight times MAX_BODY_BYTES.
    bomb = gzip.compress(b"0" * (64 << 20), compresslevel=9)
    assert len(bomb) < 100 << 10

    def attack(i: int) -> None:
        for _ in range(2):
            reply = target.request("POST", "/score", bomb, headers={"Content-Encoding": "gzip"}, timeout=90)
            # 413 at MAX_BODY_BYTES inflated, or 503 while the other bombs hold the large-request budget.
            assert reply.status in (413, 503), reply.body[:200]

    under_attack("gzip bombs, 8 at once", target, honest_set, lambda: concurrently(8, attack))
    assert target.request("POST", "/score", b"x", headers={"Content-Encoding": "zstd"}).status == 415


def test_body_that_cannot_be_a_batch_is_refused_before_parsing(
    target: Server, honest_set: tuple[np.ndarray, list[list[int]]]
) -> None:
    empties = b'{"data": [' + b"[]," * ((MAX_BODY - 64) // 3) + b"[]]}"
    long_row = b'{"data": [[' + b"0," * ((MAX_BODY - 64) // 2) + b"0]]}"
    assert len(empties) <= MAX_BODY and len(long_row) <= MAX_BODY

    def attack(i: int) -> None:
        for body in (empties, long_row):
            try:
                reply = target.request("POST", "/score", body)
            except ConnectionResetError:
                # Refused at the byte budget from its Content-Length while the other attackers' bodies
                # are held (their precheck runs in the decode thread), the connection closed mid-upload.
                continue
            # 400 from the precheck, or 503 at the byte budget: never parsed either way.
            assert reply.status in (400, 503), reply.body[:200]

    # Three at once: 24 MiB held fits the 28 MiB that large requests may use (BUDGET less its reserved
    # eighth), so each is admitted and refused by the parser's precheck. A fourth would be refused
    # with 503 (budget full) or not, depending on how much of the others' bodies had arrived.
    under_attack("8 MiB of [] and one 4M-number row x3", target, honest_set, lambda: concurrently(3, attack))


def test_kserve_rows_are_bounded_by_the_body(target: Server, honest_set: tuple[np.ndarray, list[list[int]]]) -> None:
    tensor = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [2**62, 784], "data": [0.0] * 784}]}
    body = json.dumps(tensor).encode()

    def attack(i: int) -> None:
        for _ in range(20):
            reply = target.request("POST", INFER, body)
            assert reply.status == 400 and "holds" in reply.json()["error"], reply.body[:200]

    under_attack("KServe shape [2**62, 784]", target, honest_set, lambda: concurrently(4, attack))
    assert target.metric("scoring_pending_rows") == 0


def test_slow_uploads_cannot_starve_honest_requests(
    target: Server, honest_set: tuple[np.ndarray, list[list[int]]]
) -> None:
    holders: list[socket.socket] = []

    def attack() -> None:
        # Four uploads each declaring MAX_BODY_BYTES (together the whole byte budget), then trickling.
        for _ in range(4):
            sock = socket.create_connection(("127.0.0.1", target.port), timeout=10)
            sock.sendall(raw_request("POST", "/score", b"", {"Content-Length": str(MAX_BODY)}) + b'{"data": [[')
            holders.append(sock)
        for _ in range(10):
            for sock in holders:
                sock.sendall(b"0,")
            time.sleep(0.1)

    try:
        under_attack("4 slow uploads declaring the whole byte budget", target, honest_set, attack)
    finally:
        for sock in holders:
            sock.close()


def test_idle_and_trickling_connections_are_closed(target: Server) -> None:
    idle = socket.create_connection(("127.0.0.1", target.port), timeout=10)
    trickle = socket.create_connection(("127.0.0.1", target.port), timeout=10)
    started = time.monotonic()
    head = b"POST /score HTTP/1.1\r\nHost: x\r\n"
    closed_trickle = None
    for byte in head * 10:
        try:
            trickle.sendall(bytes([byte]))
        except OSError:
            closed_trickle = time.monotonic() - started
            break
        time.sleep(0.05)
    assert idle.recv(1) == b""  # closed by the server (IDLE_TIMEOUT_S=2)
    closed_idle = time.monotonic() - started
    if closed_trickle is None:
        assert trickle.recv(1) == b""
    idle.close()
    trickle.close()
    # IDLE_TIMEOUT_S=2, not the default 15 s; the slack below the socket's 10 s timeout is for a loaded machine.
    assert closed_idle < 9
    assert target.request("GET", "/", key=None).status == 200


def test_probes_connect_when_clients_hold_every_descriptor(make_server: MakeServer) -> None:
    server = make_server({"IDLE_TIMEOUT_S": "60"}, nofile=256)
    held = []
    try:
        for _ in range(400):  # more than the server's whole open-file limit
            try:
                held.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
            except OSError:
                break
        time.sleep(0.3)
        for _ in range(5):
            assert server.request("GET", "/", key=None, timeout=5).status == 200
            assert server.request("GET", "/ready", key=None, timeout=5).status == 200
        assert server.metric("scoring_connections_closed_total", 'reason="fd_headroom"') > 0
    finally:
        for sock in held:
            sock.close()
    assert server.process.poll() is None


def test_deep_nesting_is_400_without_a_traceback(target: Server) -> None:
    deep_arrays = b'{"data": ' + b"[" * 300_000 + b"]" * 300_000 + b"}"
    deep_objects = b'{"inputs": ' + b'{"a":' * 100_000 + b"1" + b"}" * 100_001
    deep_tensor = json.dumps(
        {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 784], "data": [[[[0.0] * 784]]]}]}
    ).encode()
    for path, body in (("/score", deep_arrays), (INFER, deep_arrays), (INFER, deep_objects), (INFER, deep_tensor)):
        reply = target.request("POST", path, body)
        assert reply.status == 400, (path, reply.status, reply.body[:200])
    raw = raw_exchange(target.port, raw_request("POST", INFER, b"[" * 2000))
    assert raw is not None and raw.status == 400
    assert "Traceback" not in target.log()
