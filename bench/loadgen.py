"""A bounded HTTP/1.1 load generator: fixed clients, fixed duration, every answer checked.

Each client is one keep-alive connection sending prebuilt requests back to back (closed loop), so
`clients` is the number of requests in flight. Clients are spread over several processes (each
pinned to its own cores) because one Python process cannot saturate a fast server. Raw asyncio
streams instead of an HTTP client library: the generator must cost far less than the server.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from queue import Empty

import numpy as np


@dataclass(frozen=True)
class Request:
    raw: bytes  # the whole HTTP request, headers and body
    rows: int
    expected: np.ndarray  # int64 labels the answer must hold, in order


@dataclass(frozen=True)
class Scenario:
    name: str
    requests: Sequence[Request]
    clients: int
    duration_s: float
    warmup_s: float
    # "json-list" (/score), "kserve-json", "kserve-binary", "kserve-v1" ({"predictions": [...]}), or
    # "floor" (the HTTP floor server: any 200 counts, its fixed answer carries no labels)
    answer: str


@dataclass
class Result:
    scenario: str
    clients: int
    rows_per_request: int
    completed: int = 0
    rows: int = 0
    errors: int = 0  # answers that were not 200 (overload, timeouts)
    wrong: int = 0  # 200 answers with the wrong labels
    window_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    first_problem: str = ""

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.window_s if self.window_s else 0.0

    @property
    def requests_per_s(self) -> float:
        return self.completed / self.window_s if self.window_s else 0.0

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")


def http_request(path: str, body: bytes, key: str, content_type: str, extra: dict[str, str] | None = None) -> bytes:
    headers = {
        "Host": "127.0.0.1",
        "Authorization": f"Bearer {key}",
        "Content-Type": content_type,
        "Content-Length": str(len(body)),
        **(extra or {}),
    }
    head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return head.encode() + body


def _labels_in(answer: str, headers: dict[str, str], body: bytes) -> np.ndarray:
    if answer == "json-list":
        return np.asarray(json.loads(body), dtype=np.int64)
    if answer == "kserve-v1":
        return np.asarray(json.loads(body)["predictions"], dtype=np.int64)
    if answer == "kserve-binary":
        header_length = int(headers["inference-header-content-length"])
        return np.frombuffer(body[header_length:], dtype="<i8")
    return np.asarray(json.loads(body)["outputs"][0]["data"], dtype=np.int64)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        return status, headers, await reader.readexactly(int(headers["content-length"]))
    if headers.get("transfer-encoding", "").lower() == "chunked":  # uvicorn (KServe) answers so
        parts: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return status, headers, b"".join(parts)
            parts.append(chunk[:-2])
    raise RuntimeError(f"answer without Content-Length or chunked framing (status {status})")


async def _client(port: int, scenario: Scenario, offset: int, start: float, end: float, result: Result) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    requests = scenario.requests
    index = offset
    try:
        while True:
            sent = time.perf_counter()
            if sent >= end:
                break
            request = requests[index % len(requests)]
            index += 1
            writer.write(request.raw)
            status, headers, body = await _read_response(reader)
            done = time.perf_counter()
            if headers.get("connection", "").lower() == "close":
                # A server without keep-alive (gunicorn's sync workers under azmlinfsrv): a new connection
                # per request, as its clients would have to do too.
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            # Only requests sent and answered inside the window count, so rows / window is a rate.
            if sent < start or done > end:
                continue
            if status != 200:
                result.errors += 1
                if not result.first_problem:
                    result.first_problem = f"status {status}: {body[:200]!r}"
                continue
            if scenario.answer == "floor":
                result.completed += 1
                result.rows += request.rows
                result.latencies_ms.append((done - sent) * 1e3)
                continue
            labels = _labels_in(scenario.answer, headers, body)
            if labels.shape != request.expected.shape or not np.array_equal(labels, request.expected):
                result.wrong += 1
                if not result.first_problem:
                    result.first_problem = (
                        f"wrong labels: got {labels[:10].tolist()}, expected {request.expected[:10].tolist()}"
                    )
                continue
            result.completed += 1
            result.rows += request.rows
            result.latencies_ms.append((done - sent) * 1e3)
    finally:
        writer.close()


def _worker(
    port: int,
    scenario: Scenario,
    client_ids: list[int],
    start: float,
    cpus: list[int] | None,
    out: multiprocessing.Queue[Result],
) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)
    try:
        import uvloop  # the GPU machine has it; the stdlib loop is the fallback

        uvloop.install()
    except ImportError:
        pass
    rows_per_request = scenario.requests[0].rows
    result = Result(scenario.name, scenario.clients, rows_per_request)
    end = start + scenario.warmup_s + scenario.duration_s

    async def main() -> None:
        measured_from = start + scenario.warmup_s
        delay = start - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await asyncio.gather(*(_client(port, scenario, i * 7, measured_from, end, result) for i in client_ids))

    try:
        asyncio.run(main())
    except Exception as error:  # reported, never hidden: the run fails on any problem
        result.errors += 1
        result.first_problem = result.first_problem or f"{type(error).__name__}: {error}"
    out.put(result)


# How long after its window a scenario's clients may take to report, before the server is taken to have
# stopped answering (a request in flight then is at most this late).
ANSWER_GRACE_S = 30


class ScenarioTimeout(RuntimeError):
    """The server under test stopped answering during a scenario."""


def run_scenario(port: int, scenario: Scenario, cpus: Sequence[int] | None, processes: int) -> Result:
    """Runs one scenario and merges the per-process results."""
    processes = max(1, min(processes, scenario.clients))
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[Result] = context.Queue()
    start = time.perf_counter() + 0.3  # all processes begin together
    groups = [list(range(scenario.clients))[p::processes] for p in range(processes)]
    cpu_groups: list[list[int] | None]
    if cpus:
        cpu_list = list(cpus)
        cpu_groups = [[cpu_list[p % len(cpu_list)]] for p in range(processes)]
    else:
        cpu_groups = [None] * processes
    workers = [
        context.Process(target=_worker, args=(port, scenario, group, start, cpu_group, queue))
        for group, cpu_group in zip(groups, cpu_groups)
    ]
    for worker in workers:
        worker.start()
    try:
        parts = [queue.get(timeout=scenario.warmup_s + scenario.duration_s + ANSWER_GRACE_S) for _ in workers]
    except Empty:
        # A server that stopped answering: its clients would wait forever, so they are stopped here.
        for worker in workers:
            worker.kill()
            worker.join(timeout=5)
        raise ScenarioTimeout(
            f"{scenario.name}: no result {ANSWER_GRACE_S} s after the measured window ended (the server stopped answering)"
        ) from None
    for worker in workers:
        worker.join(timeout=30)
    merged = Result(scenario.name, scenario.clients, scenario.requests[0].rows, window_s=scenario.duration_s)
    for part in parts:
        merged.completed += part.completed
        merged.rows += part.rows
        merged.errors += part.errors
        merged.wrong += part.wrong
        merged.latencies_ms.extend(part.latencies_ms)
        merged.first_problem = merged.first_problem or part.first_problem
    return merged
