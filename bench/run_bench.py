"""Benchmarks the real server against the seed-style baseline, in one run on one machine.

Both servers are started here, each pinned to 2 CPU cores with the GPU visible, and driven by
bench/loadgen.py pinned to other cores. Prints markdown tables: rows/s and p50/p99 latency for JSON
/score at 1 and 64 clients with 1 and 64 rows per request (both servers, with the ratios), and for
the real server's binary KServe v2 path (uint8, 1,024 rows per request, 16 clients; single-row
requests). Every answer is checked against the labels the network gives.

    python3 bench/run_bench.py                 # full run (GPU machine), ~2 minutes
    python3 bench/run_bench.py --short         # seconds on CPU: both servers answer correctly?

Exits non-zero on any wrong answer, any failed request, or (full run) a scenario with no answers.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "app"
sys.path.insert(0, str(APP))
sys.path.insert(0, str(REPO / "bench"))

from loadgen import Request, Result, Scenario, http_request, run_scenario  # noqa: E402
from mnist_digits import load_digits  # noqa: E402
from payloads import json_body  # noqa: E402

from scoring.model import WEIGHTS_FILE, labels_from_logits_input, load_mlp  # noqa: E402

KEY = "bench-key-0123456789"
MODEL_NAME = "mnist"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


def start_server(
    name: str, command: Sequence[str], cwd: Path, env: dict[str, str], cpus: Sequence[int] | None, log_dir: Path
) -> Server:
    port = free_port()
    log = log_dir / f"{name}.log"
    full_env = {**os.environ, **env, "PORT": str(port), "SCORING_PRIMARY_KEY": KEY, "PYTHONUNBUFFERED": "1"}
    pin = list(cpus) if cpus else None
    process = subprocess.Popen(
        list(command),
        cwd=cwd,
        env=full_env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        preexec_fn=(lambda: os.sched_setaffinity(0, pin)) if pin else None,
    )
    return Server(name, port, process, log)


def wait_ready(server: Server, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(
                f"{server.name} exited with {server.process.returncode}:\n{server.log.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/ready", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{server.name} was not ready within {timeout_s} s:\n{server.log.read_text()[-3000:]}")


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def clear_rows(device: str, count: int, every_nth: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Real digits whose top two logits differ by at least 0.05, with the network's labels for them.

    Any server on any device must give exactly these labels; digits on a knife edge, where float
    rounding between kernels could flip the answer, are left out so a mismatch always means a bug.
    every_nth > 1 looks only at every n-th digit (still all ten classes), for the short mode.
    """
    rows = load_digits("all")[0][::every_nth]
    model = load_mlp(APP / "model" / WEIGHTS_FILE).to(device)
    with torch.inference_mode():
        x = torch.from_numpy(rows).to(device)
        logits = model(x)
        top = torch.topk(logits, 2, dim=1).values
        margin = (top[:, 0] - top[:, 1]).cpu().numpy()
        labels = labels_from_logits_input(model, x).cpu().numpy()
    keep = np.nonzero(margin >= 0.05)[0][:count]
    return rows[keep], labels[keep]


def json_requests(rows: np.ndarray, labels: np.ndarray, per_request: int, variants: int, style: str) -> list[Request]:
    requests = []
    for v in range(variants):
        start = (v * per_request * 13) % (rows.shape[0] - per_request)
        body = json_body(rows[start : start + per_request], style)
        raw = http_request("/score", body, KEY, "application/json")
        requests.append(Request(raw, per_request, labels[start : start + per_request]))
    return requests


def binary_requests(pixels: np.ndarray, labels: np.ndarray, per_request: int, variants: int) -> list[Request]:
    requests = []
    for v in range(variants):
        start = (v * per_request * 7) % (pixels.shape[0] - per_request)
        chunk = np.ascontiguousarray(pixels[start : start + per_request])
        header = json.dumps(
            {
                "inputs": [
                    {
                        "name": "input",
                        "shape": [per_request, 784],
                        "datatype": "UINT8",
                        "parameters": {"binary_data_size": chunk.nbytes},
                    }
                ],
                "outputs": [{"name": "label", "parameters": {"binary_data": True}}],
            }
        ).encode()
        raw = http_request(
            f"/v2/models/{MODEL_NAME}/infer",
            header + chunk.tobytes(),
            KEY,
            "application/octet-stream",
            {"Inference-Header-Content-Length": str(len(header))},
        )
        requests.append(Request(raw, per_request, labels[start : start + per_request]))
    return requests


METRICS = (
    "scoring_batch_rows_sum",
    "scoring_batch_rows_count",
    "scoring_device_seconds_sum",
    "scoring_queue_seconds_sum",
    "scoring_queue_seconds_count",
)


def scrape(server: Server) -> dict[str, float]:
    """The server's own counters (batches, device-thread time, queue wait), to see what bounds a run."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/metrics", headers={"Authorization": f"Bearer {KEY}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            text = reply.read().decode()
    except OSError:
        return {}
    values: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in METRICS:
            values[name] = float(value)
    return values


def where_time_went(before: dict[str, float], after: dict[str, float], elapsed_s: float) -> str:
    if not before or not after:
        return "n/a"
    delta = {name: after.get(name, 0.0) - before.get(name, 0.0) for name in METRICS}
    batches = delta["scoring_batch_rows_count"]
    if not batches:
        return "no batches"
    busy = delta["scoring_device_seconds_sum"] / elapsed_s
    queued = delta["scoring_queue_seconds_sum"] / max(delta["scoring_queue_seconds_count"], 1)
    return (
        f"{batches / elapsed_s:,.0f} batches/s of {delta['scoring_batch_rows_sum'] / batches:,.0f} rows; "
        f"device thread (decode + model) busy {busy:.0%} at {delta['scoring_device_seconds_sum'] / batches * 1e3:.2f} ms/batch; "
        f"queue wait {queued * 1e3:.2f} ms"
    )


def fmt(value: float, digits: int = 1) -> str:
    return "n/a" if value != value else f"{value:,.{digits}f}"


def result_row(server: str, path: str, result: Result) -> str:
    return (
        f"| {server} | {path} | {result.clients} | {result.rows_per_request} | {fmt(result.rows_per_s, 0)} | "
        f"{fmt(result.requests_per_s, 0)} | {fmt(result.percentile_ms(50), 2)} | {fmt(result.percentile_ms(99), 2)} | "
        f"{result.errors} | {result.wrong} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="tiny counts on CPU: check both servers answer correctly")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when visible; --short: cpu)")
    parser.add_argument("--duration", type=float, default=6.0, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=float, default=1.5, help="unmeasured seconds before each scenario")
    parser.add_argument(
        "--style", default="float32repr", choices=["float32repr", "short"], help="number format of JSON bodies"
    )
    parser.add_argument(
        "--switch-interval", type=float, default=0.0, help="run the real server with sys.setswitchinterval(this)"
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the tables to this file")
    parser.add_argument("--log-dir", type=Path, default=Path("/tmp"), help="where the servers' logs go")
    args = parser.parse_args()

    device = args.device or ("cpu" if args.short or not torch.cuda.is_available() else "cuda")
    duration, warmup = (0.1, 0.02) if args.short else (args.duration, args.warmup)
    cores = sorted(os.sched_getaffinity(0))
    # Baseline on 2 cores, real server on 2 others, load generator on the rest -- when the
    # machine has enough cores; a small CI machine just shares them (short mode checks answers only).
    if len(cores) >= 8:
        baseline_cpus, server_cpus, load_cpus = cores[0:2], cores[2:4], cores[4:]
    else:
        baseline_cpus, server_cpus, load_cpus = None, None, None
    load_processes = len(load_cpus) if load_cpus else 2

    # Short mode sends at most a few hundred distinct rows, so it looks at 1,000 spread digits, not all 10,000.
    rows, labels = clear_rows(device, 6000, every_nth=10 if args.short else 1)
    pixels = np.round(rows * 255).astype(np.uint8)
    # The binary path sends uint8 pixels; the network's labels for those (scaled on the device).
    model = load_mlp(APP / "model" / WEIGHTS_FILE).to(device)
    with torch.inference_mode():
        pixel_labels = labels_from_logits_input(model, torch.from_numpy(pixels).to(device)).cpu().numpy()
    agree = pixel_labels == labels  # keep rows whose label survives 8-bit rounding, for one expected answer
    pixels, pixel_labels = pixels[agree], pixel_labels[agree]

    json_shapes = [(1, 1), (1, 64), (64, 1), (64, 64)] if not args.short else [(1, 1), (4, 8)]
    variants = 4 if args.short else 16
    json_sets = {per: json_requests(rows, labels, per, variants, args.style) for _, per in json_shapes}
    binary_big = 16 if args.short else 1024
    binary_clients = 2 if args.short else 16

    started = datetime.datetime.now(datetime.UTC)
    device_name = torch.cuda.get_device_name() if device.startswith("cuda") else "CPU only"
    common_env = {"DEVICE": device, "MNIST_DIGITS_DIR": os.environ.get("MNIST_DIGITS_DIR", "")}
    args.log_dir.mkdir(parents=True, exist_ok=True)
    baseline = start_server(
        "baseline",
        [sys.executable, str(REPO / "bench" / "baseline_server.py")],
        REPO,
        common_env,
        baseline_cpus,
        args.log_dir,
    )
    server_command = [sys.executable, "-m", "scoring"]
    if args.switch_interval:
        # The same server, with the interpreter's GIL switch interval shortened (an experiment:
        # the device thread waits for the GIL after every device call while the event loop runs).
        server_command = [
            sys.executable,
            "-c",
            f"import runpy, sys; sys.setswitchinterval({args.switch_interval}); runpy.run_module('scoring', run_name='__main__')",
        ]
    real = start_server(
        "server",
        server_command,
        APP,
        {**common_env, "AUTH_ENABLED": "true", "DRAIN_SECONDS": "0", "MODEL_NAME": MODEL_NAME},
        server_cpus,
        args.log_dir,
    )
    results: dict[tuple[str, str, int, int], Result] = {}
    breakdown: dict[tuple[str, str, int, int], str] = {}
    try:
        wait_ready(baseline, 180)
        wait_ready(real, 180)

        def measure(server: Server, key: tuple[str, str, int, int], scenario: Scenario, processes: int) -> None:
            before, began = scrape(server), time.perf_counter()
            results[key] = run_scenario(server.port, scenario, load_cpus, processes)
            if server is real:
                breakdown[key] = where_time_went(before, scrape(server), time.perf_counter() - began)

        for server in (baseline, real):
            for clients, per in json_shapes:
                scenario = Scenario(f"{server.name} json", json_sets[per], clients, duration, warmup, "json-list")
                measure(server, (server.name, "json", clients, per), scenario, load_processes)
        big = Scenario(
            "binary",
            binary_requests(pixels, pixel_labels, binary_big, variants),
            binary_clients,
            duration,
            warmup,
            "kserve-binary",
        )
        measure(real, ("server", "binary", binary_clients, binary_big), big, load_processes)
        single = Scenario(
            "binary single", binary_requests(pixels, pixel_labels, 1, variants), 1, duration, warmup, "kserve-binary"
        )
        measure(real, ("server", "binary", 1, 1), single, 1)
    finally:
        stop(baseline)
        stop(real)

    lines = [
        f"## Benchmark: {device_name}, {started:%Y-%m-%d %H:%M} UTC",
        "",
        f"torch {torch.__version__}, numpy {np.__version__}, Python {sys.version.split()[0]}; device {device}; "
        f"servers pinned to {'2 cores each' if server_cpus else 'shared cores'}, load generator on "
        f"{len(load_cpus) if load_cpus else 'shared'} cores; {duration:g} s measured after {warmup:g} s warm-up per scenario; "
        f"JSON numbers in the {args.style!r} format"
        + (f"; real server with sys.setswitchinterval({args.switch_interval})." if args.switch_interval else "."),
        "",
        "| server | path | clients | rows/request | rows/s | requests/s | p50 ms | p99 ms | errors | wrong |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (server_name, path, _, _), result in results.items():
        lines.append(
            result_row(
                "seed-style baseline" if server_name == "baseline" else "this server",
                path if path == "json" else "KServe v2 binary uint8",
                result,
            )
        )
    lines += [
        "",
        "| JSON /score | clients | rows/request | rows/s vs baseline | p50 vs baseline | p99 vs baseline |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for clients, per in json_shapes:
        ours, theirs = results[("server", "json", clients, per)], results[("baseline", "json", clients, per)]
        ratio = ours.rows_per_s / theirs.rows_per_s if theirs.rows_per_s else float("nan")
        p50 = ours.percentile_ms(50) / theirs.percentile_ms(50)
        p99 = ours.percentile_ms(99) / theirs.percentile_ms(99)
        lines.append(f"| | {clients} | {per} | {fmt(ratio, 2)}x | {fmt(p50, 2)}x | {fmt(p99, 2)}x |")
    lines += ["", "Where this server's time went (its own /metrics, over each scenario):", ""]
    for (_server, path, clients, per), note in breakdown.items():
        lines.append(f"- {path}, {clients} clients x {per} rows: {note}")
    if not args.short:
        big_result = results[("server", "binary", binary_clients, binary_big)]
        single_result = results[("server", "binary", 1, 1)]
        checks = []
        for per in (1, 64):
            ours, theirs = results[("server", "json", 64, per)], results[("baseline", "json", 64, per)]
            checks.append(
                f"- JSON, 64 clients, {per} rows/request: {fmt(ours.rows_per_s / max(theirs.rows_per_s, 1e-9), 2)}x the baseline's rows/s "
                f"(target >= 5x), p99 {fmt(ours.percentile_ms(99) / theirs.percentile_ms(99), 2)}x (target <= 2x)"
            )
        checks.append(
            f"- binary uint8, 1,024 rows/request, 16 clients: {fmt(big_result.rows_per_s, 0)} rows/s (target >= 1,000,000)"
        )
        checks.append(
            f"- binary single-row requests: p50 {fmt(single_result.percentile_ms(50), 2)} ms (target < 2), "
            f"p99 {fmt(single_result.percentile_ms(99), 2)} ms (target < 5)"
        )
        lines += ["", "Targets:", *checks]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")

    failed = False
    for key, result in results.items():
        if result.wrong or result.errors or result.completed == 0:
            failed = True
            print(
                f"FAILED {key}: {result.completed} answered, {result.errors} errors, {result.wrong} wrong; {result.first_problem}",
                file=sys.stderr,
            )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
