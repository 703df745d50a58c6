"""Does the autoscaler see what users feel? Offered concurrency against the measure of load the scaler
reads (docs/autoscaling.md), on one scoring server as a pod runs it.

The server runs as in the cluster (WORKERS=2 pinned to 2 cores, the GPU visible, the stack's default
MAX_CONCURRENT_REQUESTS=32 and MAX_REQUEST_WAIT_TIME_MS=500); bench/loadgen.py drives it with C
closed-loop clients (C requests always in flight) on the other cores, one-row JSON /score, every answer
checked. During each level's steady window the script reads the server's own /metrics as the managed
Prometheus collector would, and computes what the KEDA trigger's query computes:

    in-flight (scaler) = d/dt sum(scoring_request_seconds_sum{route=~"/score|/v2/models/.+/infer"})

which by Little's law is the mean number of scoring requests in the pod (waiting for a slot included),
the sampled gauge scoring_in_flight_requests for comparison, and the server's CPU use against its 2 cores
(what the autoscaler's CPU trigger reads, from the processes' own CPU time). The autoscaler keeps CPU at
the target utilization and adds pods at once when the in-flight requests pass the slots
(components/autoscaling.ts).

    python3 bench/autoscale_metric.py --out bench/autoscale-metric.md   # GPU machine, about a minute
    python3 bench/autoscale_metric.py --short                          # seconds on CPU: does it run?
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # no stubs in the lock; only cpu_times and children are used
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import Scenario, run_scenario
from run_bench import (
    APP,
    Server,
    clear_rows,
    fmt,
    json_requests,
    start_server,
    stop,
    wait_ready,
)

SCORING_ROUTE = re.compile(r"/score|/v2/models/.+/infer")
SAMPLE = re.compile(r"^(\w+)\{([^}]*)\} ([-+0-9.eE]+|NaN)$")


def scrape(server: Server) -> tuple[float, float, float]:
    """(sum of scoring-route latency seconds, scoring-route requests, in-flight gauge) from /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    seconds = count = gauge = 0.0
    for line in text.splitlines():
        if line.startswith("scoring_in_flight_requests "):
            gauge += float(line.split()[1])
            continue
        match = SAMPLE.match(line)
        if match is None:
            continue
        name, labels, value = match.groups()
        route = re.search(r'route="([^"]*)"', labels)
        if route is None or not SCORING_ROUTE.fullmatch(route.group(1)):
            continue
        if name == "scoring_request_seconds_sum":
            seconds += float(value)
        elif name == "scoring_request_seconds_count":
            count += float(value)
    return seconds, count, gauge


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the server and its worker processes."""
    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def watch(server: Server, begin: float, end: float, cores: int, out: dict[str, float]) -> None:
    """Reads the metrics at `begin` and `end` (perf_counter times), sampling the gauge in between."""
    time.sleep(max(0.0, begin - time.perf_counter()))
    first = scrape(server)
    cpu0 = cpu_seconds(server.process.pid)
    t0 = time.perf_counter()
    gauges = [first[2]]
    while time.perf_counter() < end:
        time.sleep(0.2)
        gauges.append(scrape(server)[2])
    last = scrape(server)
    cpu1 = cpu_seconds(server.process.pid)
    t1 = time.perf_counter()
    out["cpu"] = (cpu1 - cpu0) / (t1 - t0) / cores
    out["in_flight"] = (last[0] - first[0]) / (t1 - t0)
    out["requests_per_s"] = (last[1] - first[1]) / (t1 - t0)
    out["gauge"] = sum(gauges) / len(gauges)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="a few small levels on CPU")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--max-concurrent", type=int, default=32)
    parser.add_argument("--target-utilization", type=int, default=70)
    args = parser.parse_args()

    device = "cuda" if torch.cuda.is_available() and not args.short else "cpu"
    levels = [1, 4, 8] if args.short else [1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128]
    duration, warmup = (1.0, 0.3) if args.short else (3.0, 0.7)
    rows, labels = clear_rows(device, 2000 if not args.short else 200, 1 if not args.short else 5)
    requests = json_requests(rows, labels, 1, 64, "float32repr")
    server_cpus, client_cpus = ([0, 1], list(range(2, 16))) if not args.short else (None, None)
    env = {
        "DEVICE": device,
        "WORKERS": "2" if not args.short else "1",
        "MAX_CONCURRENT_REQUESTS": str(args.max_concurrent),
        "MAX_REQUEST_WAIT_TIME_MS": "500",
        "LOG_REQUESTS": "false",
    }
    lines = [
        f"Offered load against the scaler's measure, one server (WORKERS={env['WORKERS']}, {device}, "
        f"{torch.cuda.get_device_name() if device == 'cuda' else 'CPU'}), MAX_CONCURRENT_REQUESTS="
        f"{args.max_concurrent}, MAX_REQUEST_WAIT_TIME_MS=500, JSON /score 1 row, closed-loop clients, "
        f"{duration:g} s per level after {warmup:g} s warm-up; the scaler's targets: CPU "
        f"{args.target_utilization} %, in-flight {args.max_concurrent or 'none'} per pod.",
        "",
        "| clients (offered concurrency) | requests/s | p50 ms | p99 ms | 503s | CPU of 2 cores | "
        "in-flight the scaler reads | sampled gauge | in-flight / offered | pods the scaler wants |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as log_dir:
        server = start_server("scoring", [sys.executable, "-m", "scoring"], APP, env, server_cpus, Path(log_dir))
        try:
            wait_ready(server, 240)
            failures = 0
            for clients in levels:
                scenario = Scenario(f"{clients} clients", requests, clients, duration, warmup, "json-list")
                seen: dict[str, float] = {}
                begin = time.perf_counter() + 0.3 + warmup
                cores = len(server_cpus) if server_cpus else 1
                watcher = threading.Thread(target=watch, args=(server, begin, begin + duration - 0.3, cores, seen))
                watcher.start()
                result = run_scenario(server.port, scenario, client_cpus, min(clients, 8))
                watcher.join()
                failures += result.wrong
                # The larger of the two triggers' asks: CPU at the target, in-flight against the slots.
                by_cpu = seen["cpu"] * 100 / args.target_utilization
                by_in_flight = seen["in_flight"] / args.max_concurrent if args.max_concurrent else 0.0
                wanted = max(1, math.ceil(max(by_cpu, by_in_flight)))
                lines.append(
                    f"| {clients} | {fmt(result.requests_per_s, 0)} | {fmt(result.percentile_ms(50), 2)} | "
                    f"{fmt(result.percentile_ms(99), 2)} | {result.errors} | {seen['cpu']:.0%} | {seen['in_flight']:.2f} | "
                    f"{seen['gauge']:.1f} | {seen['in_flight'] / clients:.2f} | {wanted} |"
                )
                print(lines[-1], flush=True)
        finally:
            stop(server)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
