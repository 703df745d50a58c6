"""The large-JSON attack of issue 24, measured: keyed clients send hostile or huge JSON while a kubelet-
style prober asks GET / (liveness) and GET /ready once a second with a 1 s timeout and an honest client
scores one row at a time. Prints failed probes, the slowest probe, the honest client's p50/p99 and
errors, and the peak resident memory of every server process (workers and their decode processes).

Phases (--phases, default all):
- bomb:    63 KiB of gzip inflating to 64 MiB of {"inputs":[{"data":[[],[],...]}]} to /v2/.../infer
- valid64: valid 64 MiB JSON bodies to /score and /v2/.../infer (default budget: refused with 413)
- decode64: the same with MAX_PENDING_BYTES=2 GiB, so each 64 MiB body is decoded (in the decode process)

    python3 bench/attack.py --seconds 40 --cpus 0,1      # the server pinned to cores 0 and 1
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from run_bench import KEY, Server, free_port, start_server, stop, wait_ready  # noqa: E402
from thread_cpu import tree  # noqa: E402

INFER = "/v2/models/mnist/infer"
ROW = 784


def request(port: int, method: str, path: str, body: bytes | None, headers: dict[str, str], timeout: float) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        reply = conn.getresponse()
        reply.read()
        return reply.status
    finally:
        conn.close()


def rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Watch:
    def __init__(self, server: Server, attackers: int, attack: Callable[[], int], seconds: float) -> None:
        self.server = server
        self.attackers = attackers
        self.attack = attack
        self.seconds = seconds
        self.stop = threading.Event()
        self.probes: list[tuple[str, float, bool]] = []
        self.honest: list[float] = []
        self.honest_errors = 0
        self.attack_status: dict[int, int] = {}
        self.peak: dict[int, int] = {}
        self.lock = threading.Lock()

    def prober(self) -> None:
        while not self.stop.is_set():
            for path in ("/", "/ready"):
                started = time.perf_counter()
                try:
                    ok = request(self.server.port, "GET", path, None, {}, 1.0) == 200
                except OSError:
                    ok = False
                self.probes.append((path, time.perf_counter() - started, ok))
            self.stop.wait(1.0)

    def honest_client(self, body: bytes) -> None:
        headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                ok = request(self.server.port, "POST", "/score", body, headers, 10.0) == 200
            except OSError:
                ok = False
            with self.lock:
                if ok:
                    self.honest.append(time.perf_counter() - started)
                else:
                    self.honest_errors += 1
            time.sleep(0.01)

    def attacker(self) -> None:
        while not self.stop.is_set():
            try:
                status = self.attack()
            except OSError:
                status = 0
            with self.lock:
                self.attack_status[status] = self.attack_status.get(status, 0) + 1

    def memory(self) -> None:
        while not self.stop.is_set():
            for pid in tree(self.server.process.pid):
                self.peak[pid] = max(self.peak.get(pid, 0), rss(pid))
            self.stop.wait(0.1)

    def run(self, honest_body: bytes) -> dict[str, object]:
        threads = [
            threading.Thread(target=self.prober),
            threading.Thread(target=self.honest_client, args=(honest_body,)),
            threading.Thread(target=self.memory),
            *[threading.Thread(target=self.attacker) for _ in range(self.attackers)],
        ]
        for thread in threads:
            thread.start()
        time.sleep(self.seconds)
        self.stop.set()
        for thread in threads:
            thread.join(120)
        live = [p for p in self.probes if p[0] == "/"]
        honest = sorted(self.honest)
        return {
            "liveness probes": len(live),
            "failed 1 s probes (/ and /ready)": sum(1 for p in self.probes if not p[2]),
            "slowest probe ms": round(1000 * max((p[1] for p in self.probes), default=0), 1),
            "probes over 100 ms": sum(1 for p in self.probes if p[1] > 0.1),
            "honest ok": len(honest),
            "honest errors": self.honest_errors,
            "honest p50 ms": round(1000 * statistics.median(honest), 1) if honest else None,
            "honest p99 ms": round(1000 * honest[int(0.99 * (len(honest) - 1))], 1) if honest else None,
            "attack answers": dict(sorted(self.attack_status.items())),
            "peak RSS MiB per process": sorted((v >> 20 for v in self.peak.values()), reverse=True),
        }


def seed_json(rows: np.ndarray) -> bytes:
    return json.dumps({"data": rows.tolist()}).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--attackers", type=int, default=2)
    parser.add_argument("--cpus", default="0,1", help="cores the server is pinned to")
    parser.add_argument("--workers", default="2")
    parser.add_argument("--phases", default="bomb,valid64,decode64")
    parser.add_argument("--device", default=os.environ.get("DEVICE", ""))
    args = parser.parse_args()
    cpus = [int(c) for c in args.cpus.split(",") if c]
    rng = np.random.default_rng(1)
    honest_body = seed_json(rng.integers(0, 256, size=(1, ROW)).astype(np.float32))
    keyed = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}

    empties = b'{"inputs":[{"data":[' + b"[]," * ((64 << 20) // 3 - 16) + b"[]]}]}"
    bomb = gzip.compress(empties, compresslevel=9)
    print(f"bomb: {len(bomb) / 1024:.0f} KiB of gzip inflating to {len(empties) / 2**20:.0f} MiB", flush=True)
    # A valid body just under 64 MiB of 3-decimal floats (about 13,000 rows).
    row = ",".join(f"{v:.3f}" for v in rng.random(ROW))
    rows = (64 << 20) // (len(row) + 3) - 8
    valid_score = ('{"data":[' + ",".join([f"[{row}]"] * rows) + "]}").encode()
    valid_infer = (
        f'{{"inputs":[{{"name":"input","datatype":"FP32","shape":[{rows},{ROW}],"data":['
        + ",".join([f"[{row}]"] * rows)
        + "]}]}"
    ).encode()
    print(
        f"valid bodies: {len(valid_score) / 2**20:.1f} and {len(valid_infer) / 2**20:.1f} MiB, {rows} rows", flush=True
    )

    def send_bomb(port: int) -> int:
        return request(port, "POST", INFER, bomb, {**keyed, "Content-Encoding": "gzip"}, 120)

    turn = [0]

    def send_valid(port: int) -> int:
        turn[0] += 1
        path, body = ("/score", valid_score) if turn[0] % 2 else (INFER, valid_infer)
        return request(port, "POST", path, body, keyed, 120)

    phases = {
        "bomb": ({}, send_bomb),
        "valid64": ({}, send_valid),
        "decode64": ({"MAX_PENDING_BYTES": str(2 << 30)}, send_valid),
    }
    results: dict[str, dict[str, object]] = {}
    for name in [p for p in args.phases.split(",") if p]:
        extra, send = phases[name]
        env = {"WORKERS": args.workers, "METRICS_PORT": str(free_port()), **extra}
        if args.device:
            env["DEVICE"] = args.device
        server = start_server(
            f"attack-{name}", [sys.executable, "-m", "scoring"], REPO / "app", env, cpus, Path("/tmp")
        )
        try:
            wait_ready(server, 180)
            port = server.port
            results[name] = Watch(server, args.attackers, partial(send, port), args.seconds).run(honest_body)
        finally:
            stop(server)
        print(f"## {name}: {json.dumps(results[name])}", flush=True)
    print("\n| phase | " + " | ".join(next(iter(results.values())).keys()) + " |")
    print("|---" * (1 + len(next(iter(results.values())))) + "|")
    for name, result in results.items():
        print(f"| {name} | " + " | ".join(str(v) for v in result.values()) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
