"""Shared fixtures: the REAL server started as a subprocess (`python3 -m scoring` from app/) on a
free port, and a small stdlib HTTP helper, so tests see exactly what a client sees."""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pytest

APP_DIR = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PRIMARY_KEY = "primary-key-0123456789abcdef"
SECONDARY_KEY = "secondary-key-fedcba9876543210"

sys.path.insert(0, str(APP_DIR))
from mnist_digits import load_digits  # noqa: E402  (needs app/ on sys.path)

# Under xdist (-n) a module-scoped fixture starts once on every worker that runs a test of its module,
# and the default scheduling ("load") spreads a module's tests over the workers. These modules' module
# fixtures start servers (or build large bodies) that all their tests share: their tests are handed
# to one worker together (pytest_xdist_make_scheduler below), so each fixture starts once.
SHARED_FIXTURE_MODULES = frozenset(
    {
        "test_decode.py",
        "test_entry_script.py",
        "test_fast_lane.py",
        "test_isolation.py",
        "test_metric_names.py",
        "test_reliability_fuzz.py",
        "test_reliability_overload.py",
        "test_tokens.py",
        "test_unbatched_json.py",
        "test_capture.py",
    }
)
# The longest modules (tens of seconds each, mostly one test or one fixture), started first: xdist hands
# tests out in collection order, and one of these handed out last would run alone while workers idle.
SLOW_MODULES_FIRST = (
    "test_bench_short.py",
    "test_model_source.py",
    "test_capture.py",
    "test_azureml_server.py",
    "test_training.py",
    "test_decode.py",
    "test_azureml_differential.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return SLOW_MODULES_FIRST.index(name) if name in SLOW_MODULES_FIRST else len(SLOW_MODULES_FIRST)

    # A stable sort moves whole modules and keeps each module's own order (its fixtures' life spans).
    items.sort(key=rank)


# object: xdist's Producer and Scheduling carry no type information (xdist ships none).
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """With -n and no --dist (xdist's "load"): load scheduling, except that the tests of a module in
    SHARED_FIXTURE_MODULES go to one worker together. (xdist's own "loadgroup" marks do not take
    effect with pytest 9, whose node ids xdist 3.8 can no longer suffix with the group.)"""
    if config.getvalue("dist") != "load":
        return None  # an explicit --dist: xdist's own scheduler
    from xdist.scheduler import LoadScopeScheduling

    class SharedFixtureScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist's classes are untyped
        def _split_scope(self, nodeid: str) -> str:
            # A "scope" is what one worker gets whole: the module for those sharing fixtures, else one test.
            module = nodeid.split("::", 1)[0]
            return module if Path(module).name in SHARED_FIXTURE_MODULES else nodeid

    return SharedFixtureScheduling(config, log)


# Ports handed to test servers come from below the kernel's ephemeral range, which it draws the source
# port of every outgoing connection from: a port picked by binding port 0 is free only until some
# client's connect() takes it, which a loaded machine running hundreds of connections per second does.
# Each port is claimed with an exclusive lock on a file shared by every pytest process on the machine
# (xdist workers, other checkouts' suites), held until this process exits, so no two servers are
# ever given the same port; a port something else already listens on is skipped.
_PORT_LOCKS = Path(tempfile.gettempdir()) / "gpu-inference-aks-test-ports"
_held_port_locks: list[int] = []  # the lock files' descriptors: closing one would release its port


def _claimable_ports() -> range:
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768  # Linux's default
    return range(max(1024, low - 12000), low)


def free_port() -> int:
    _PORT_LOCKS.mkdir(mode=0o777, exist_ok=True)
    candidates = _claimable_ports()
    for port in random.sample(candidates, len(candidates)):
        fd = os.open(_PORT_LOCKS / str(port), os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("0.0.0.0", port))  # also catches a listener on another local address
            except OSError:
                os.close(fd)
                continue
        _held_port_locks.append(fd)
        return port
    raise AssertionError(f"no free port in {candidates}")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:  # Any: a decoded JSON document
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        key: str | None = PRIMARY_KEY,
        timeout: float = 30.0,
    ) -> Reply:
        all_headers = {"Content-Type": "application/json"} if body is not None else {}
        if key is not None:
            all_headers["Authorization"] = f"Bearer {key}"
        all_headers.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            # The server may answer from the headers (401, 413, 503 decided before reading the body)
            # and close while the body is still being sent; whether send() then fails depends on timing.
            # What it sent is still readable, as a client that watches for an early answer (RFC 9112
            # section 9.6) would see it; when nothing came, getresponse() raises.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                conn.request(method, path, body=body, headers=all_headers)
            response = conn.getresponse()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            conn.close()

    def score(self, rows: np.ndarray, key: str | None = PRIMARY_KEY) -> Reply:
        return self.request("POST", "/score", seed_body(rows), key=key)

    @property
    def metrics_port(self) -> int:
        return int(self.env["METRICS_PORT"])

    def metrics_text(self) -> Reply:
        """GET /metrics on the metrics port (never served on the public one)."""
        return Server(self.metrics_port, self.process, self.log_path, self.env).request("GET", "/metrics", key=None)

    def metric(self, name: str, labels: str = "") -> float:
        """The value of one sample from /metrics, e.g. metric("scoring_rows_total")."""
        wanted = f"{name}{{{labels}}}" if labels else name
        for line in self.metrics_text().body.decode().splitlines():
            if line.startswith(wanted + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("VmRSS not found")

    def stop(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"server did not exit within {timeout} s of SIGTERM; log:\n{self.log()}") from None


def server_env(overrides: Mapping[str, str]) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SCORING_", "AZUREML_", "MAX_", "ENTRY_", "MODEL_"))
    }
    env.update(
        {
            "SCORING_PRIMARY_KEY": PRIMARY_KEY,
            "SCORING_SECONDARY_KEY": SECONDARY_KEY,
            # DEVICE=cuda in the test environment runs every server on the GPU (the device machine).
            "DEVICE": os.environ.get("DEVICE", "cpu"),
            "HOST": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
            # One serving process unless a test asks for more (each loads torch: seconds, ~300 MB).
            "WORKERS": "1",
        }
    )
    env.update(overrides)
    return {k: v for k, v in env.items() if v != ""}


def launch(
    tmp_dir: Path, overrides: Mapping[str, str] | None = None, wait_ready: bool = True, nofile: int | None = None
) -> Server:
    """nofile: the server's hard (and soft) open-file limit, for tests of running out of descriptors.

    A server that could not bind its ports (a process outside the test suite's port locks took one
    between the check and the bind) is started again on new ones."""
    for _ in range(3):
        try:
            return _launch_once(tmp_dir, overrides, wait_ready, nofile)
        except PortTaken:
            continue
    raise AssertionError("three servers in a row found their ports taken")


class PortTaken(AssertionError):
    pass


def _launch_once(tmp_dir: Path, overrides: Mapping[str, str] | None, wait_ready: bool, nofile: int | None) -> Server:
    port = free_port()
    env = server_env({"PORT": str(port), "METRICS_PORT": str(free_port()), **(overrides or {})})
    log_path = tmp_dir / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "scoring"],
            cwd=APP_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=None if nofile is None else lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile)),
        )
    server = Server(port, process, log_path, env)
    deadline = time.monotonic() + 90
    path = "/ready" if wait_ready else "/"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = server.log()
            if "address already in use" in output.lower() and not {"PORT", "METRICS_PORT"} & set(overrides or {}):
                raise PortTaken(output)
            raise AssertionError(f"server exited with {process.returncode} before it was up; log:\n{output}")
        try:
            if server.request("GET", path, key=None, timeout=2).status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.05)
    server.stop()
    raise AssertionError(f"server not up within 90 s; log:\n{server.log()}")


@cache
def cached_digits(split: str) -> tuple[np.ndarray, np.ndarray]:
    """load_digits(split), read once per test process (parsing the ten JSON files takes ~0.6 s).
    Shared like the session fixtures: tests only read these arrays."""
    return load_digits(split)


@pytest.fixture(scope="session")
def heldout() -> tuple[np.ndarray, np.ndarray]:
    return cached_digits("heldout")


def run_client(*args: str) -> subprocess.CompletedProcess[str]:
    """app/client.py, the sample client, as a user runs it."""
    return subprocess.run(
        [sys.executable, str(APP_DIR / "client.py"), *args], capture_output=True, text=True, timeout=120
    )


def seed_body(rows: np.ndarray) -> bytes:
    """Exactly what the seed's sample query sent: {"data": rows.tolist()}."""
    return json.dumps({"data": rows.tolist()}).encode()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The default server: real score.py, real weights, CPU, both keys."""
    running = launch(tmp_path_factory.mktemp("server"))
    yield running
    running.stop()


class MakeServer(Protocol):
    def __call__(
        self, overrides: Mapping[str, str] | None = None, wait_ready: bool = True, nofile: int | None = None
    ) -> Server: ...


@pytest.fixture(scope="module")
def make_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeServer]:
    """Starts extra servers with given env overrides; all are stopped when the module ends."""
    started: list[Server] = []

    def make(overrides: Mapping[str, str] | None = None, wait_ready: bool = True, nofile: int | None = None) -> Server:
        running = launch(tmp_path_factory.mktemp("server"), overrides, wait_ready, nofile)
        started.append(running)
        return running

    yield make
    for running in started:
        if running.process.poll() is None:
            running.stop()


def raw_exchange(port: int, data: bytes, timeout: float = 10.0, shut_write: bool = False) -> Reply | None:
    """Sends raw bytes and reads one response; None when the server closed without answering.

    For requests http.client refuses to build: broken framing, injected header bytes, cut-off bodies.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        if shut_write:
            sock.shutdown(socket.SHUT_WR)
        received = bytearray()
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
                head, sep, rest = bytes(received).partition(b"\r\n\r\n")
                if sep:
                    length = _content_length(head)
                    if length is not None and len(rest) >= length:
                        break
        except ConnectionResetError:
            pass
    return parse_response(bytes(received))


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return None


def parse_response(received: bytes) -> Reply | None:
    head, sep, body = received.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = _content_length(head)
    return Reply(status, headers, body[:length] if length is not None else body)


def raw_request(
    method: str,
    path: str,
    body: bytes,
    headers: Mapping[str, str | None] | None = None,
    key: str | None = PRIMARY_KEY,
) -> bytes:
    """A well-formed HTTP/1.1 request (Connection: close) as bytes, for raw_exchange; a header given
    as None leaves that default header out."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    merged: dict[str, str | None] = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    if key is not None:
        merged["Authorization"] = f"Bearer {key}"
    merged.update(headers or {})
    lines += [f"{name}: {value}" for name, value in merged.items() if value is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
