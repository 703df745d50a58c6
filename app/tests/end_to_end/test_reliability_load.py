"""A bounded load test over loopback (fixed request count): zero errors and every answer exact."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from conftest import Server, seed_body


def run_load(
    server: Server, requests: list[tuple[str, bytes, dict[str, str]]], clients: int
) -> tuple[list[int], list[bytes], list[float], float]:
    def one(item: tuple[str, bytes, dict[str, str]]) -> tuple[int, bytes, float]:
        started = time.perf_counter()
        reply = server.request("POST", item[0], item[1], headers=item[2])
        return reply.status, reply.body, time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, requests))
    elapsed = time.perf_counter() - started
    return [r[0] for r in results], [r[1] for r in results], [r[2] for r in results], elapsed


def test_steady_json_load_has_zero_errors(server: Server, heldout: tuple[np.ndarray, np.ndarray]) -> None:
    rows, _ = heldout
    chunks = [rows[i : i + 8] for i in range(0, 2000, 8)][:40]
    expected = [server.score(chunk).json() for chunk in chunks]
    work: list[tuple[str, bytes, dict[str, str]]] = [("/score", seed_body(chunks[i % 40]), {}) for i in range(400)]
    statuses, bodies, latencies, elapsed = run_load(server, work, clients=16)
    assert statuses.count(200) == len(work), {s: statuses.count(s) for s in set(statuses)}
    for i, body in enumerate(bodies):
        assert json.loads(body) == expected[i % 40], i
    p50, p99 = np.percentile(latencies, [50, 99]) * 1000
    print(
        f"\nJSON load: {len(work)} requests x 8 rows, 16 clients, {len(work) * 8 / elapsed:.0f} rows/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    )


def test_steady_binary_kserve_load_has_zero_errors(server: Server, heldout: tuple[np.ndarray, np.ndarray]) -> None:
    rows, _ = heldout
    pixels = np.round(rows[:64] * 255).astype(np.uint8)
    head = json.dumps(
        {
            "inputs": [
                {
                    "name": "input",
                    "datatype": "UINT8",
                    "shape": [64, 784],
                    "parameters": {"binary_data_size": pixels.nbytes},
                }
            ]
        }
    ).encode()
    headers = {"Inference-Header-Content-Length": str(len(head)), "Content-Type": "application/octet-stream"}
    body = head + pixels.tobytes()
    expected = json.loads(server.request("POST", "/v2/models/mnist/infer", body, headers=headers).body)["outputs"][0][
        "data"
    ]
    work = [("/v2/models/mnist/infer", body, headers)] * 300
    statuses, bodies, latencies, elapsed = run_load(server, work, clients=16)
    assert statuses.count(200) == len(work), {s: statuses.count(s) for s in set(statuses)}
    assert all(json.loads(b)["outputs"][0]["data"] == expected for b in bodies)
    p50, p99 = np.percentile(latencies, [50, 99]) * 1000
    print(
        f"\nbinary load: {len(work)} requests x 64 uint8 rows, 16 clients, {len(work) * 64 / elapsed:.0f} rows/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    )
