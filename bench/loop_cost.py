"""The event loop's CPU per request on the fast lane under many clients, this checkout against another,
side by side. (bench/lane_cost.py times one connection's requests one after another; this one has
64 to 1,024 connections in flight, so batching, the batcher's hand-off and wake-ups, the grouped answer
writes and the garbage collector's walks over the requests in flight are in what it times.)

The real server objects (settings, pipeline, batcher, observer, request log, the aiohttp app and the
fast lane's connections) serve bench/null_score.py, whose run_batch costs nothing, to closed-loop
clients that live in the same event loop: each client's connection is a FastLane over an in-memory
transport, its next request is delivered (one `data_received`, as one socket read) in the loop turn
after its answer was written. So what is timed is everything the server's loop does per request --
framing, the protocol, request ids, auth, admission, the pipeline, the batcher hand-off and wake-up,
metrics, the log line, the answer's bytes -- without the socket system calls (the same for any code)
and without a load generator competing for the cores. The request log is written to /dev/null.

Each (checkout, scenario) runs in its own process, the checkouts alternating, `--rounds` times; the
median of the loop thread's CPU microseconds per request is printed, with the ratio to the first
checkout. A run checks every answer is a 200.

    python3 bench/loop_cost.py --app app --app /tmp/main/app [--clients 64] [--requests 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KEY = "bench-key"

SCENARIOS = {
    "json-1": "JSON /score, 1 row",
    "bin-1": "v2 binary uint8, 1 row",
}


def _request(scenario: str) -> bytes:
    sys.path.insert(0, str(REPO / "bench"))
    import numpy as np
    from loadgen import http_request
    from payloads import json_body

    pixels = (np.arange(784) * 7 % 256).astype(np.uint8)
    if scenario == "json-1":
        path, body, content_type, extra = "/score", json_body(pixels[None, :] / 255.0), "application/json", {}
    else:
        header = json.dumps(
            {
                "inputs": [
                    {"name": "input", "shape": [1, 784], "datatype": "UINT8", "parameters": {"binary_data_size": 784}}
                ],
                "outputs": [{"name": "label", "parameters": {"binary_data": True}}],
            }
        ).encode()
        path, body, content_type = "/v2/models/mnist/infer", header + pixels.tobytes(), "application/octet-stream"
        extra = {"Inference-Header-Content-Length": str(len(header))}
    return http_request(path, body, KEY, content_type, extra)  # the head bench/loadgen.py sends


def worker(app_dir: Path, scenario: str, clients: int, requests: int, profile_to: str = "") -> dict[str, float]:
    """In a child process: serve `requests` requests to `clients` closed-loop clients; the loop's CPU."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # the request log's lines (written as the server writes them) go nowhere
    sys.path.insert(0, str(app_dir))
    os.environ.update(
        SCORING_PRIMARY_KEY=KEY,
        ENTRY_SCRIPT=str(REPO / "bench" / "null_score.py"),
        MODEL_DIR=str(app_dir / "model"),
        DEVICE="cpu",
        MODEL_NAME="mnist",
        WORKERS="1",
    )
    import asyncio

    import uvloop

    try:  # the interpreter settings scoring/__main__.py serves with
        from scoring.core.runtime import tune_for_serving
    except ImportError:  # an older checkout: its __main__ set only the switch interval
        sys.setswitchinterval(0.0005)
    else:
        tune_for_serving()
    raw = _request(scenario)

    async def run() -> dict[str, float]:
        from scoring.core.pipeline import Pipeline
        from scoring.core.settings import load_settings
        from scoring.model.entry import load_entry_script
        from scoring.observability.logs import RequestLog
        from scoring.observability.metrics import Metrics
        from scoring.transport.connections import Connections
        from scoring.transport.fast_lane import FastLane, LaneContext
        from scoring.transport.observer import Observer
        from scoring.transport.server import build_app, lane_routes

        settings = load_settings(dict(os.environ), detect_device=lambda: "cpu")
        metrics = Metrics()
        pipeline = Pipeline(settings, load_entry_script(settings.entry_script), metrics)
        await pipeline.start_model()
        connections = Connections(1 << 16, metrics)
        observer = Observer(metrics, connections, RequestLog())
        app = build_app(pipeline, observer, settings.model_name)
        app.freeze()
        await app.startup()
        try:
            from scoring.core.runtime import freeze_startup_objects
        except ImportError:
            pass
        else:
            freeze_startup_objects()
        context = LaneContext(pipeline, observer, connections, lane_routes(app))
        loop = asyncio.get_running_loop()
        state = {"answered": 0, "bad": 0, "target": 0}
        done = loop.create_future()

        class Transport:
            """What FastLane calls on uvloop's TCPTransport; an answer is one write."""

            def __init__(self) -> None:
                self.lane: FastLane | None = None
                self.closing = False

            def write(self, data: bytes) -> None:
                if not data.startswith(b"HTTP/1.1 200 "):
                    state["bad"] += 1
                state["answered"] += 1
                if state["answered"] >= state["target"]:
                    if not done.done():
                        done.set_result(None)
                    return
                loop.call_soon(self.lane.data_received, raw)  # type: ignore[union-attr]

            def is_closing(self) -> bool:
                return self.closing

            def close(self) -> None:
                self.closing = True

            def pause_reading(self) -> None:
                pass

            def resume_reading(self) -> None:
                pass

            def get_extra_info(self, name: str, default: object = None) -> object:
                return default

        lanes = []
        for _ in range(clients):
            transport = Transport()
            lane = FastLane(context, lambda: None)  # type: ignore[arg-type,return-value]
            transport.lane = lane
            lane.connection_made(transport)  # type: ignore[arg-type]
            lanes.append(lane)

        async def phase(count: int) -> tuple[float, float, int]:
            nonlocal done
            done = loop.create_future()
            state["answered"], state["target"] = 0, count
            wall, cpu = time.perf_counter(), time.thread_time()
            for lane in lanes:
                lane.data_received(raw)
            await done
            cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
            # Let the requests still in flight finish before the next phase.
            while any(lane._request is not None for lane in lanes):
                await asyncio.sleep(0.001)
            return cpu, wall, state["answered"]

        await phase(max(2000, requests // 5))  # warm-up: caches, children, the batcher's rate
        profiler = None
        if profile_to:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        cpu, wall, answered = await phase(requests)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile_to)
        if state["bad"]:
            raise SystemExit(f"{state['bad']} answers were not 200")
        await app.cleanup()
        await pipeline.close()
        return {"cpu_us": cpu / answered * 1e6, "wall_us": wall / answered * 1e6, "requests": answered}

    return uvloop.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app", type=Path, action="append", help="an app/ folder (repeat; default: this one)")
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS), help="default: all")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--profile", metavar="FILE", default="", help="one worker only: cProfile stats of the timed phase to FILE"
    )
    parser.add_argument("--worker", nargs=2, metavar=("APP", "SCENARIO"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(Path(args.worker[0]), args.worker[1], args.clients, args.requests, args.profile)))
        return 0
    if args.profile:
        app, scenario = (args.app or [REPO / "app"])[0].resolve(), (args.scenario or ["bin-1"])[0]
        print(json.dumps(worker(app, scenario, args.clients, args.requests, args.profile)))
        import pstats

        pstats.Stats(args.profile).sort_stats(os.environ.get("PROFILE_SORT", "tottime")).print_stats(40)
        return 0
    apps = [a.resolve() for a in (args.app or [REPO / "app"])]
    scenarios = args.scenario or list(SCENARIOS)
    results: dict[tuple[str, Path], list[dict[str, float]]] = {}
    for _ in range(args.rounds):
        for scenario in scenarios:
            for app in apps:
                out = subprocess.run(
                    [sys.executable, __file__, "--worker", str(app), scenario, "--clients", str(args.clients),
                     "--requests", str(args.requests)],
                    check=True, capture_output=True, text=True,
                )  # fmt: skip
                results.setdefault((scenario, app), []).append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"event-loop CPU per request, {args.clients} closed-loop clients, median of {args.rounds} rounds")
    print("| scenario | app | loop CPU us/request | wall us/request | vs first |")
    print("| --- | --- | --- | --- | --- |")
    for scenario in scenarios:
        first = None
        for app in apps:
            runs = results[(scenario, app)]
            cpu = statistics.median(r["cpu_us"] for r in runs)
            wall = statistics.median(r["wall_us"] for r in runs)
            first = first or cpu
            print(f"| {SCENARIOS[scenario]} | {app} | {cpu:.1f} | {wall:.1f} | {cpu / first:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
