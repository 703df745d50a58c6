"""Benchmarks this server against the seed-style baseline, the HTTP floor and real peers, in one run.

Every server is started here in turn, pinned to the same 2 CPU cores (one server at a time, the GPU
visible), and driven by bench/loadgen.py pinned to the other cores. Scenarios: JSON /score with 1 row
at 64 clients and at 1 client, 64 rows at 64 clients; KServe v2 binary uint8 with 1 row at 64 clients
and 1,024 rows at 16 clients. Servers: this one (WORKERS = its 2 cores), the seed-style baseline, the
trivial HTTP floor (bench/floor_server.py) in 1 and 2 processes, and the peers that are installed: the
Azure ML inference server running the seed-style score.py (bench/seed_score.py), KServe's ModelServer
(bench/kserve_peer.py; its JSON route is v1 :predict), MLServer, and NVIDIA Triton through PyTriton
(bench/pytriton_peer.py; the Open Inference Protocol's JSON tensor and binary extension), each skipped
with a note when absent.
Prints markdown tables (every row, this server's fraction of the floor, this server against each
other) and, with --out, writes them to a file. Every answer is checked against the network's labels.
With --repeat N every selected server runs every selected scenario N times, servers interleaved round by
round (so drift hits all alike), and the tables give each cell's median and min-max (bench/bench_tables.py).

    python3 bench/run_bench.py --out bench/results-h200.md   # full run (GPU machine), a few minutes
    python3 bench/run_bench.py --short                       # seconds on CPU: every server answers correctly?
    python3 bench/run_bench.py --servers "this server,NVIDIA Triton (PyTriton)" --repeat 3   # medians of 3

Exits non-zero on any wrong answer, any failed request, or a scenario with no answers.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "app"
sys.path.insert(0, str(APP))
sys.path.insert(0, str(REPO / "bench"))

import bench_tables  # noqa: E402
import pytriton_peer  # noqa: E402
import thread_cpu  # noqa: E402
from bench_tables import fmt as fmt  # noqa: E402  # re-exported: bench/autoscale_metric.py formats with it
from loadgen import Request, Result, Scenario, http_request, run_scenario  # noqa: E402
from mnist_digits import load_digits  # noqa: E402
from payloads import json_body  # noqa: E402

from scoring.model.model import WEIGHTS_FILE, labels_from_logits_input, load_mlp  # noqa: E402

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
    metrics_port: int | None = None


def start_server(
    name: str, command: Sequence[str], cwd: Path, env: dict[str, str], cpus: Sequence[int] | None, log_dir: Path
) -> Server:
    port = free_port()
    metrics_port = free_port()
    log = log_dir / f"{name}.log"
    full_env = {
        **os.environ,
        "METRICS_PORT": str(metrics_port),
        **env,
        "PORT": str(port),
        "SCORING_PRIMARY_KEY": KEY,
        "PYTHONUNBUFFERED": "1",
    }
    pin = list(cpus) if cpus else None
    # A server that takes its port on the command line writes it as {port}.
    process = subprocess.Popen(
        [part.replace("{port}", str(port)) for part in command],
        cwd=cwd,
        env=full_env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        preexec_fn=(lambda: os.sched_setaffinity(0, pin)) if pin else None,
    )
    return Server(name, port, process, log, metrics_port)


def wait_ready(server: Server, timeout_s: float, path: str = "/ready") -> None:
    deadline = time.monotonic() + timeout_s
    ready_in_a_row = 0
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(
                f"{server.name} exited with {server.process.returncode}:\n{server.log.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=2) as reply:
                ready_in_a_row = ready_in_a_row + 1 if reply.status == 200 else 0
        except OSError:
            ready_in_a_row = 0
        # Several worker processes share the port: each new connection may reach another one, so
        # many answers in a row must be 200 before every worker is taken to be ready.
        if ready_in_a_row >= 20:
            return
        time.sleep(0.02 if ready_in_a_row else 0.2)
    raise SystemExit(f"{server.name} was not ready within {timeout_s} s:\n{server.log.read_text()[-3000:]}")


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def _cpu_list(text: str) -> set[int]:
    """A /proc status Cpus_allowed_list such as 0-1,4 -> {0, 1, 4}."""
    cpus: set[int] = set()
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        cpus.update(range(int(low), int(high or low) + 1))
    return cpus


def pinning(root: int, cpus: Sequence[int]) -> str:
    """Every process and thread the server has started (Triton's own, its stubs' and the peer's included)
    and the cores they may run on: the pin is inherited, and nothing may have widened it."""
    processes, threads, outside = 0, 0, []
    for pid in thread_cpu.tree(root):
        try:
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
        except OSError:
            continue
        processes += 1
        for task in tasks:
            try:
                status = (task / "status").read_text()
            except OSError:
                continue
            threads += 1
            allowed = next(line for line in status.splitlines() if line.startswith("Cpus_allowed_list:"))
            if not _cpu_list(allowed.partition(":")[2]) <= set(cpus):
                outside.append(f"{pid}/{task.name}: {allowed.partition(':')[2].strip()}")
    where = ",".join(str(cpu) for cpu in cpus)
    if outside:
        return f"NOT PINNED: {len(outside)} of {threads} threads may leave cores {where}: {outside[:5]}"
    return f"{processes} processes, {threads} threads after start-up, every one allowed only on cores {where}"


def reap(pids: Sequence[int]) -> None:
    """Stops what a server started and left behind (a peer's children, e.g. tritonserver), by pid."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


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


def _json_variants(
    rows: np.ndarray,
    labels: np.ndarray,
    per_request: int,
    variants: int,
    path: str,
    body: Callable[[np.ndarray], bytes],
) -> list[Request]:
    """`variants` requests of `per_request` consecutive rows each, at spread-out offsets, every JSON
    route's body built by `body` from the same rows, so all servers score the same digits."""
    requests = []
    for v in range(variants):
        start = (v * per_request * 13) % (rows.shape[0] - per_request)
        raw = http_request(path, body(rows[start : start + per_request]), KEY, "application/json")
        requests.append(Request(raw, per_request, labels[start : start + per_request]))
    return requests


def json_requests(rows: np.ndarray, labels: np.ndarray, per_request: int, variants: int, style: str) -> list[Request]:
    return _json_variants(rows, labels, per_request, variants, "/score", lambda chunk: json_body(chunk, style))


def binary_requests(
    pixels: np.ndarray, labels: np.ndarray, per_request: int, variants: int, model: str = MODEL_NAME
) -> list[Request]:
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
            f"/v2/models/{model}/infer",
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
    request = urllib.request.Request(f"http://127.0.0.1:{server.metrics_port}/metrics")
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


def v2_json_requests(rows: np.ndarray, labels: np.ndarray, per_request: int, variants: int) -> list[Request]:
    """The Open Inference Protocol's JSON tensor (MLServer's only JSON route) for the same rows as /score."""

    def body(chunk: np.ndarray) -> bytes:
        tensor = {"name": "input", "shape": list(chunk.shape), "datatype": "FP32", "data": chunk.reshape(-1).tolist()}
        return json.dumps({"inputs": [tensor]}).encode()

    return _json_variants(rows, labels, per_request, variants, f"/v2/models/{MODEL_NAME}/infer", body)


def kserve_v1_requests(rows: np.ndarray, labels: np.ndarray, per_request: int, variants: int) -> list[Request]:
    """KServe's own JSON route (v1 :predict, {"instances": [...]}) for the same rows as /score."""
    path = f"/v1/models/{MODEL_NAME}:predict"
    return _json_variants(
        rows, labels, per_request, variants, path, lambda chunk: json.dumps({"instances": chunk.tolist()}).encode()
    )


@dataclass(frozen=True)
class Spec:
    """A server to measure: how to start it, and which scenarios it serves (by scenario key)."""

    name: str
    command: list[str]
    cwd: Path
    env: dict[str, str]
    scenarios: tuple[str, ...]
    # "labels" (checked), "floor" (any 200), "kserve" (its v1 JSON route) or "v2json" (the OIP JSON tensor)
    answers: str
    ready_path: str = "/ready"
    # The model the binary scenarios name: Triton types each model's input, so its UINT8 rows have their own.
    binary_model: str = MODEL_NAME


@dataclass(frozen=True)
class Shape:
    key: str
    title: str
    path: str  # "json" or "binary"
    clients: int
    per_request: int


def shapes(short: bool) -> list[Shape]:
    if short:
        return [
            Shape("json-1x1", "JSON /score, 1 row, 1 client", "json", 1, 1),
            Shape("json-8x4", "JSON /score, 8 rows, 4 clients", "json", 4, 8),
            Shape("bin-1x2", "v2 binary, 1 row, 2 clients", "binary", 2, 1),
            Shape("bin-16x2", "v2 binary uint8, 16 rows, 2 clients", "binary", 2, 16),
        ]
    return [
        Shape("json-1x64", "JSON /score, 1 row, 64 clients", "json", 64, 1),
        Shape("json-1x1", "JSON /score, 1 row, 1 client", "json", 1, 1),
        Shape("json-64x64", "JSON /score, 64 rows, 64 clients", "json", 64, 64),
        Shape("bin-1x64", "v2 binary uint8, 1 row, 64 clients", "binary", 64, 1),
        Shape("bin-1024x16", "v2 binary uint8, 1,024 rows, 16 clients", "binary", 16, 1024),
        # Many clients (issue 24): throughput should hold at its 64-client level with bounded p99.
        Shape("json-1x256", "JSON /score, 1 row, 256 clients", "json", 256, 1),
        Shape("bin-1x256", "v2 binary uint8, 1 row, 256 clients", "binary", 256, 1),
        Shape("bin-1x1024", "v2 binary uint8, 1 row, 1,024 clients", "binary", 1024, 1),
    ]


TRITON = "NVIDIA Triton (PyTriton)"
PEER_NAMES = ("Azure ML inference server (seed-style score.py)", "KServe ModelServer", "MLServer", TRITON)


def triton_python() -> str | None:
    """The interpreter that runs the Triton peer: PYTRITON_PYTHON (bench/unpack_pytriton.sh's environment,
    which Triton's isolated Python-backend stub can see too), or this one where pytriton is installed."""
    chosen = os.environ.get("PYTRITON_PYTHON", "")
    if chosen:
        return chosen if Path(chosen).is_file() else None
    return sys.executable if importlib.util.find_spec("pytriton") is not None else None


def triton_setup() -> str:
    """What the Triton peer runs with, for the report (bench/pytriton_peer.py says why each is so)."""
    tuning = pytriton_peer.settings()
    # Triton's own default when unset: 8 (server/src/command_line_parser.h, http_thread_cnt_).
    threads = tuning["http_threads"] if tuning["http_threads"] is not None else "8 (Triton's default)"
    return (
        f"{TRITON}: Triton 2.51 from nvidia-pytriton 0.7.0, Python backend; models `{MODEL_NAME}` (FP32, the JSON "
        f"scenarios) and `{pytriton_peer.UINT8_MODEL_NAME}` (UINT8, the binary ones), each with "
        f"{tuning['instances']} instances (NVIDIA's optimization guide: two overlap transfer and compute; one "
        f"per pinned core, as this server's two workers), dynamic batching up to {pytriton_peer.MAX_BATCH_SIZE} "
        f"rows (this server's MAX_BATCH_ROWS), max queue delay {tuning['max_queue_delay_us']} us and no preferred "
        f"batch sizes (Triton's batcher guide for most models), HTTP threads: {threads}; gRPC off. Its JSON rows "
        f"are the same digits as /score's, sent as the OIP JSON tensor to /v2/models/{MODEL_NAME}/infer"
    )


def peer_specs(common_env: dict[str, str], all_keys: tuple[str, ...] = ()) -> tuple[list[Spec], list[str]]:
    """The real peers that are installed, and a note for each that is not."""
    specs: list[Spec] = []
    notes: list[str] = []
    json_keys = ("json-1x64", "json-1x1", "json-64x64")
    if importlib.util.find_spec("azureml_inference_server_http") is not None:
        specs.append(
            Spec(
                "Azure ML inference server (seed-style score.py)",
                [
                    sys.executable,
                    "-c",
                    "import sys; from azureml_inference_server_http.amlserver import run; sys.exit(run())",
                    "--entry_script",
                    str(REPO / "bench" / "seed_score.py"),
                    "--model_dir",
                    str(APP / "model"),
                    "--port",
                    "{port}",
                    "--health_port",
                    "{health_port}",
                ],
                REPO,
                {**common_env, "AZUREML_MODEL_DIR": str(APP / "model")},
                json_keys,
                "labels",
                "/",
            )
        )
    else:
        notes.append("azureml-inference-server-http is not installed: its rows are skipped")
    if importlib.util.find_spec("kserve") is not None:
        specs.append(
            Spec(
                "KServe ModelServer",
                [sys.executable, str(REPO / "bench" / "kserve_peer.py")],
                REPO,
                common_env,
                (*json_keys, "bin-1x64", "bin-1024x16"),
                "kserve",
                "/v2/health/ready",
            )
        )
    else:
        notes.append("kserve is not installed: its rows are skipped")
    # MLServer pins fastapi/starlette/pydantic versions that conflict with kserve's, so it lives in a
    # folder of its own (MLSERVER_SITE, e.g. `pip install --target /tmp/site-ml mlserver==1.7.1`).
    mlserver_site = os.environ.get("MLSERVER_SITE", "")
    if mlserver_site and (Path(mlserver_site) / "mlserver").is_dir():
        path = os.pathsep.join(part for part in (mlserver_site, os.environ.get("PYTHONPATH", "")) if part)
        specs.append(
            Spec(
                "MLServer",
                [sys.executable, str(REPO / "bench" / "mlserver_peer.py")],
                REPO,
                {**common_env, "PYTHONPATH": path},
                json_keys,  # no binary tensor extension in its REST API (bench/mlserver_peer.py)
                "v2json",
                "/v2/health/ready",
            )
        )
    else:
        notes.append("MLServer is not installed (set MLSERVER_SITE to a folder holding mlserver): its rows are skipped")
    python = triton_python()
    if python is not None:
        # Its tunables (TRITON_INSTANCES, TRITON_MAX_QUEUE_DELAY_US, TRITON_HTTP_THREADS) reach it through the
        # environment every server inherits (start_server).
        specs.append(
            Spec(
                TRITON,
                [python, str(REPO / "bench" / "pytriton_peer.py")],
                REPO,
                common_env,
                all_keys,  # the OIP JSON tensor for the JSON scenarios, the binary extension for the others
                "v2json",
                # Models load one after the other; the last one ready means both are.
                f"/v2/models/{pytriton_peer.UINT8_MODEL_NAME}/ready",
                pytriton_peer.UINT8_MODEL_NAME,
            )
        )
    else:
        notes.append(
            f"{TRITON} is not installed (bench/pack_pytriton.sh, then bench/unpack_pytriton.sh, which prints the "
            "PYTRITON_PYTHON to set): its rows are skipped"
        )
    return specs, notes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="tiny counts on CPU: check every server answers correctly")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when visible; --short: cpu)")
    parser.add_argument("--duration", type=float, default=6.0, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=float, default=1.5, help="unmeasured seconds before each scenario")
    parser.add_argument(
        "--style", default="float32repr", choices=["float32repr", "short"], help="number format of JSON bodies"
    )
    parser.add_argument(
        "--no-peers",
        action="store_true",
        help="skip the peers (Azure ML, KServe, MLServer, Triton) unless --servers names one",
    )
    parser.add_argument("--peers", action="store_true", help="run the peers in --short mode too")
    parser.add_argument("--out", type=Path, default=None, help="also write the tables to this file")
    parser.add_argument(
        "--compare-app",
        type=Path,
        default=None,
        help="another checkout's app/ folder (e.g. an older commit) to run beside this server, same settings",
    )
    parser.add_argument("--compare-label", default="before", help="its name in the tables")
    parser.add_argument(
        "--servers",
        default="",
        help="comma-separated server names to run, peers included whatever --short or --no-peers say (default: all)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds: every server runs every scenario this many times, servers interleaved per round; the tables "
        "give each cell's median and min-max, and every ratio from the medians",
    )
    parser.add_argument("--scenarios", default="", help="comma-separated scenario keys to run (default: all)")
    parser.add_argument("--log-dir", type=Path, default=Path("/tmp"), help="where the servers' logs go")
    parser.add_argument(
        "--profile-dir",
        type=Path,
        default=None,
        help="run this server's variants under py-spy (on PATH) and write its collapsed stacks here, one file "
        "per server (summarise with bench/profile_summary.py)",
    )
    args = parser.parse_args()

    device = args.device or ("cpu" if args.short or not torch.cuda.is_available() else "cuda")
    # Short mode only checks answers; windows long enough that a busy CI machine still answers some.
    duration, warmup = (0.4, 0.05) if args.short else (args.duration, args.warmup)
    cores = sorted(os.sched_getaffinity(0))
    # Every server on the same 2 cores, one server at a time; the load generator on the rest -- when
    # the machine has enough cores. A small CI machine just shares them (short mode checks answers only).
    if len(cores) >= 6:
        server_cpus, load_cpus = cores[0:2], cores[2:]
    else:
        server_cpus, load_cpus = None, None
    load_processes = len(load_cpus) if load_cpus else 2

    rows, labels = clear_rows(device, 6000, every_nth=10 if args.short else 1)
    pixels = np.round(rows * 255).astype(np.uint8)
    model = load_mlp(APP / "model" / WEIGHTS_FILE).to(device)
    with torch.inference_mode():
        pixel_labels = labels_from_logits_input(model, torch.from_numpy(pixels).to(device)).cpu().numpy()
    agree = pixel_labels == labels  # keep rows whose label survives 8-bit rounding, for one expected answer
    pixels, pixel_labels = pixels[agree], pixel_labels[agree]
    variants = 4 if args.short else 16
    plan = shapes(args.short)
    if args.scenarios:
        plan = [shape for shape in plan if shape.key in args.scenarios.split(",")]

    def requests_for(shape: Shape, answers: str, binary_model: str) -> list[Request]:
        if shape.path == "binary":
            return binary_requests(pixels, pixel_labels, shape.per_request, variants, binary_model)
        if answers == "kserve":
            return kserve_v1_requests(rows, labels, shape.per_request, variants)
        if answers == "v2json":
            return v2_json_requests(rows, labels, shape.per_request, variants)
        return json_requests(rows, labels, shape.per_request, variants, args.style)

    started = datetime.datetime.now(datetime.UTC)
    device_name = torch.cuda.get_device_name() if device.startswith("cuda") else "CPU only"
    common_env = {"DEVICE": device, "MNIST_DIGITS_DIR": os.environ.get("MNIST_DIGITS_DIR", "")}
    args.log_dir.mkdir(parents=True, exist_ok=True)
    all_keys = tuple(shape.key for shape in plan)
    json_keys = tuple(shape.key for shape in plan if shape.path == "json")
    workers = str(len(server_cpus)) if server_cpus else ("1" if args.short else "2")
    specs = [
        Spec(
            "this server",
            [sys.executable, "-m", "scoring"],
            APP,
            {
                **common_env,
                "AUTH_ENABLED": "true",
                "DRAIN_SECONDS": "0",
                "MODEL_NAME": MODEL_NAME,
                # One process per pinned core (the pod's two); one in short mode, where cores are shared.
                "WORKERS": workers,
            },
            all_keys,
            "labels",
        ),
        Spec(
            "seed-style baseline",
            [sys.executable, str(REPO / "bench" / "baseline_server.py")],
            REPO,
            common_env,
            json_keys,
            "labels",
        ),
        Spec(
            "HTTP floor, 1 process",
            [sys.executable, str(REPO / "bench" / "floor_server.py")],
            REPO,
            {"WORKERS": "1"},
            all_keys,
            "floor",
            "/",
        ),
        Spec(
            "HTTP floor, 2 processes",
            [sys.executable, str(REPO / "bench" / "floor_server.py")],
            REPO,
            {"WORKERS": "2"},
            all_keys,
            "floor",
            "/",
        ),
        Spec(
            "aiohttp floor, 2 processes",
            [sys.executable, str(REPO / "bench" / "aiohttp_floor.py")],
            REPO,
            {"WORKERS": "2"},
            all_keys,
            "floor",
            "/",
        ),
    ]
    if not args.short:
        # The same server with its fast lane off (aiohttp answers everything): the lane's share, side by side.
        this = specs[0]
        specs.insert(
            1,
            Spec(
                f"{this.name}, FAST_LANE=false",
                this.command,
                APP,
                {**this.env, "FAST_LANE": "false"},
                all_keys,
                "labels",
            ),
        )
        # One worker on the same two cores: what the second worker adds (issue 24: at least 1.8x).
        specs.insert(
            1,
            Spec(f"{this.name} (WORKERS=1)", this.command, APP, {**this.env, "WORKERS": "1"}, all_keys, "labels"),
        )
    notes: list[str] = []
    # --servers may name a peer: then the peers are looked up whatever --short or --no-peers say.
    if args.peers or args.servers or not (args.short or args.no_peers):
        peers, notes = peer_specs(common_env, all_keys)
        specs += peers
    elif not args.short:
        notes.append("peers skipped (--no-peers)")
    if args.compare_app is not None:
        # The same server from another checkout (e.g. the commit before a change), measured in this run.
        this = specs[0]
        specs.insert(
            1,
            Spec(
                f"this server at {args.compare_label}",
                this.command,
                args.compare_app.resolve(),
                this.env,
                all_keys,
                "labels",
            ),
        )

    if args.servers:
        wanted = args.servers.split(",")
        unknown = [name for name in wanted if name not in {spec.name for spec in specs}]
        # A peer that is not installed has its note already; any other name is a typo.
        typos = [name for name in unknown if name not in PEER_NAMES]
        if typos:
            raise SystemExit(f"--servers: no server named {typos}; known: {[spec.name for spec in specs]}")
        specs = [spec for spec in specs if spec.name in wanted]
    if any(spec.name == TRITON for spec in specs):
        notes.append(triton_setup())
    if args.repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    runs: dict[tuple[str, str], list[Result]] = {}
    breakdown: list[tuple[str, str]] = []  # (scenario title, where this server's time went)
    # Cores used per process and thread (bench/thread_cpu.py), for this server's variants.
    cpu_profile: list[str] = []
    pinning_failed: list[str] = []
    did_not_start: set[str] = set()
    titles = {shape.key: shape.title for shape in plan}
    for round_index in range(args.repeat):
        # Rounds, not servers, outermost: each round runs every server once, so drift over the session
        # (clocks, thermals, a noisy neighbour) lands on every server alike.
        round_label = f" (round {round_index + 1})" if args.repeat > 1 else ""
        for spec in specs:
            if spec.name in did_not_start:
                continue
            command = [part.replace("{health_port}", str(free_port())) for part in spec.command]
            log_name = "".join(ch if ch.isalnum() else "-" for ch in spec.name.lower())
            profiled = args.profile_dir is not None and spec.name.startswith("this server")
            if profiled:
                # Sampling from outside (py-spy reads the interpreter's memory; no code in the app), every
                # worker process, thread names kept so the event loop and the device thread stay apart.
                args.profile_dir.mkdir(parents=True, exist_ok=True)
                out_file = args.profile_dir / f"{log_name}{round_label.strip().replace(' ', '-')}.txt"
                command = ["py-spy", "record", "--subprocesses", "--threads", "--rate", "200", "--format", "raw"]
                command += ["--output", str(out_file), "--", *spec.command]
            server = start_server(log_name, command, spec.cwd, spec.env, server_cpus, args.log_dir)
            started_pids: list[int] = []
            try:
                try:
                    wait_ready(server, 180, spec.ready_path)
                except SystemExit as not_ready:
                    if spec.name == "this server":
                        raise
                    # A peer that cannot start here costs its rows, not the whole run's.
                    notes.append(f"{spec.name} did not start, its rows are skipped: {str(not_ready).splitlines()[-1]}")
                    print(not_ready, file=sys.stderr)
                    did_not_start.add(spec.name)
                    continue
                started_pids = thread_cpu.tree(server.process.pid)
                if server_cpus and round_index == 0:
                    pinned = pinning(server.process.pid, server_cpus)
                    notes.append(f"{spec.name}: {pinned}")
                    if "NOT PINNED" in pinned:
                        pinning_failed.append(f"{spec.name}: {pinned}")
                for shape in plan:
                    if shape.key not in spec.scenarios:
                        continue
                    answer = (
                        "floor"
                        if spec.answers == "floor"
                        else "kserve-binary"
                        if shape.path == "binary"
                        else "kserve-v1"
                        if spec.answers == "kserve"
                        else "kserve-json"
                        if spec.answers == "v2json"
                        else "json-list"
                    )
                    scenario = Scenario(
                        f"{spec.name} {shape.key}",
                        requests_for(shape, spec.answers, spec.binary_model),
                        shape.clients,
                        duration,
                        warmup,
                        answer,
                    )
                    before, began = scrape(server), time.perf_counter()
                    cpu_before = thread_cpu.sample(server.process.pid)
                    runs.setdefault((spec.name, shape.key), []).append(
                        run_scenario(server.port, scenario, load_cpus, load_processes if shape.clients > 1 else 1)
                    )
                    wall = time.perf_counter() - began
                    if spec.name.startswith("this server"):
                        used = thread_cpu.cores_used(
                            cpu_before, thread_cpu.sample(server.process.pid), wall, server.process.pid
                        )
                        cpu_profile.append(f"- {spec.name}, {shape.key}{round_label}: {used}")
                        print(f"  cpu: {used}", flush=True)
                    if spec.name == "this server":
                        breakdown.append((f"{shape.title}{round_label}", where_time_went(before, scrape(server), wall)))
            finally:
                if profiled and server.process.poll() is None:
                    # py-spy writes its file on SIGINT; the server under it is stopped here, found first
                    # because it is no longer py-spy's child once py-spy has exited.
                    served = thread_cpu.tree(server.process.pid)[1:]
                    server.process.send_signal(signal.SIGINT)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        server.process.wait(timeout=30)
                    for pid in served:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGTERM)
                    time.sleep(2)
                stop(server)
                reap(started_pids[1:])

    versions = [f"torch {torch.__version__}", f"numpy {np.__version__}", f"Python {sys.version.split()[0]}"]
    for package in ("aiohttp", "orjson", "uvloop", "kserve", "azureml-inference-server-http"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions.append(f"{package} {importlib.metadata.version(package)}")
    repeated = (
        f" Each cell is the median of {args.repeat} runs (rounds interleaving the servers); every ratio is taken "
        "from the medians."
        if args.repeat > 1
        else ""
    )
    cells = {cell: bench_tables.summarize(results) for cell, results in runs.items()}
    lines = [
        f"## Benchmark: {device_name}, {started:%Y-%m-%d %H:%M} UTC",
        "",
        f"{', '.join(versions)}; device {device}; every server pinned to "
        f"{'the same 2 cores, one at a time' if server_cpus else 'shared cores'}, load generator on "
        f"{len(load_cpus) if load_cpus else 'shared'} cores; {duration:g} s measured after {warmup:g} s warm-up per scenario; "
        f"JSON numbers in the {args.style!r} format; this server with WORKERS={workers}.{repeated}",
        "",
        *bench_tables.results_table(cells, titles),
        "",
        *bench_tables.floor_table(cells, titles),
    ]
    others = [spec.name for spec in specs if spec.answers != "floor" and spec.name != "this server"]
    lines += ["", *bench_tables.ratio_table(cells, titles, others)]
    lines += ["", "Where this server's time went (its own /metrics, over each scenario):", ""]
    for title, note in breakdown:
        lines.append(f"- {title}: {note}")
    if cpu_profile:
        lines += ["", "Cores this server used, by process and thread (bench/thread_cpu.py):", "", *cpu_profile]
    lines += [f"- note: {note}" for note in notes]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")

    failed = bool(pinning_failed)
    for problem in pinning_failed:
        print(f"FAILED {problem}", file=sys.stderr)
    for (server_name, scenario_key), results in runs.items():
        for result in results:
            if result.wrong or result.errors or result.completed == 0:
                failed = True
                print(
                    f"FAILED {server_name}, {titles[scenario_key]}: {result.completed} answered, {result.errors} errors, {result.wrong} wrong; {result.first_problem}",
                    file=sys.stderr,
                )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
