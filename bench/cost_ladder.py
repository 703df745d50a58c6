"""What each layer adds to a one-row request, rung by rung, on ONE pinned core.

Every rung is one server process pinned to the same core, the load generator on the other cores, the
same requests (one-row v2 binary by default, or the seed's one-row JSON):

1. asyncio floor (bench/floor_server.py): the loop, the sockets, HTTP framing
2. aiohttp floor (bench/aiohttp_floor.py): plus aiohttp's web layer
3. this server, no model (bench/null_score.py), FAST_LANE=false: aiohttp plus all of this server's own
   per-request work (auth, admission, parsing, the batcher, metrics, the log line) without a model
4. the same with the fast lane (the shipped default)
5. this server with the real model on DEVICE

It prints requests/s and the core's microseconds per request for each rung, and what each rung adds to
the one above it: the measured bound on how far one-row requests can go on a core. Answers are only
counted (the no-model rungs answer label 0), so run_bench.py remains the place where labels are checked.

    python3 bench/cost_ladder.py [--device cuda] [--kind binary|json] [--clients 32] [--duration 5]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from loadgen import Scenario, run_scenario  # noqa: E402
from run_bench import APP, MODEL_NAME, binary_requests, clear_rows, json_requests, start_server, stop, wait_ready  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--kind", default="binary", choices=["binary", "json"])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--log-dir", type=Path, default=Path("/tmp/cost-ladder"))
    args = parser.parse_args()
    args.log_dir.mkdir(parents=True, exist_ok=True)

    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise SystemExit("needs two cores at least: one for the server, the rest for the load generator")
    server_core, load_cores = cores[:1], cores[1:5]
    rows, labels = clear_rows("cpu", 512)
    if args.kind == "binary":
        requests = binary_requests(np.round(rows * 255).astype(np.uint8), labels, 1, 16)
    else:
        requests = json_requests(rows, labels, 1, 16, "float32repr")
    server_env = {
        "DEVICE": args.device,
        "AUTH_ENABLED": "true",
        "DRAIN_SECONDS": "0",
        "MODEL_NAME": MODEL_NAME,
        "WORKERS": "1",
        "OMP_NUM_THREADS": "1",
    }
    null_script = str(REPO / "bench" / "null_score.py")
    python = sys.executable
    rungs = [
        ("asyncio floor", [python, str(REPO / "bench" / "floor_server.py")], REPO, {"WORKERS": "1"}, "/"),
        ("aiohttp floor", [python, str(REPO / "bench" / "aiohttp_floor.py")], REPO, {"WORKERS": "1"}, "/"),
        (
            "this server, no model, FAST_LANE=false",
            [python, "-m", "scoring"],
            APP,
            {**server_env, "ENTRY_SCRIPT": null_script, "FAST_LANE": "false"},
            "/ready",
        ),
        (
            "this server, no model",
            [python, "-m", "scoring"],
            APP,
            {**server_env, "ENTRY_SCRIPT": null_script},
            "/ready",
        ),
        (f"this server, the model on {args.device}", [python, "-m", "scoring"], APP, server_env, "/ready"),
    ]
    print(
        f"One-row {args.kind} requests, {args.clients} clients, server pinned to core {server_core[0]}, "
        f"load generator on {load_cores}; {args.duration:g} s after {args.warmup:g} s warm-up\n"
    )
    print("| rung | requests/s | us per request | adds to the rung above (us) |")
    print("| --- | --- | --- | --- |")
    previous: float | None = None
    for name, command, cwd, env, ready_path in rungs:
        log_name = "".join(ch if ch.isalnum() else "-" for ch in name.lower())
        server = start_server(log_name, command, cwd, env, server_core, args.log_dir)
        try:
            wait_ready(server, 180, ready_path)
            scenario = Scenario(name, requests, args.clients, args.duration, args.warmup, "floor")
            result = run_scenario(server.port, scenario, load_cores, len(load_cores))
        finally:
            stop(server)
        per_s = result.completed / result.window_s
        cost_us = 1e6 / per_s if per_s else float("inf")
        added = "" if previous is None else f"{cost_us - previous:+.1f}"
        problem = f" ({result.errors} errors: {result.first_problem})" if result.errors else ""
        print(f"| {name} | {per_s:,.0f} | {cost_us:.1f} | {added}{problem} |")
        previous = cost_us
    return 0


if __name__ == "__main__":
    sys.exit(main())
