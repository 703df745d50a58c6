"""What the fast lane's own request path costs per request, without sockets or a model.

The lane (scoring/transport/fast_lane.py) gets each request's bytes from a stand-in transport that only
collects what the lane writes; the request goes through the lane's head parsing, the protocols, the
pipeline and the batcher (one-row batches on the event loop, bench/null_score.py's run_batch, which
costs nothing) to the answer's bytes. The loop is timed over many requests, one at a time on one
connection. This is the hot path bench/handler_cost.py does not measure (that one drives aiohttp's
application). `--app DIR` measures another checkout's app/ the same way, for a side-by-side ratio in
one run; `--profile` prints cProfile's top functions.

    python3 bench/lane_cost.py [--app DIR] [--requests 5000] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


class _NullStream(io.StringIO):
    def write(self, text: str) -> int:
        return len(text)


class _Transport:
    """The little of an asyncio transport the lane calls; counts the answers it writes."""

    def __init__(self) -> None:
        self.answers = 0
        self.last = b""
        self.written: asyncio.Event = asyncio.Event()

    def write(self, data: bytes) -> None:
        self.answers += 1
        self.last = data
        self.written.set()

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        raise SystemExit("the lane closed the connection: " + self.last[:200].decode(errors="replace"))

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:  # Any: asyncio's own signature
        return default


def _requests() -> dict[str, bytes]:
    import numpy as np

    row = (np.arange(784) % 255 / 255.0).astype(np.float32).tolist()
    json_body = json.dumps({"data": [row]}).encode()
    header = json.dumps(
        {
            "inputs": [
                {"name": "input", "shape": [1, 784], "datatype": "UINT8", "parameters": {"binary_data_size": 784}}
            ],
            "outputs": [{"name": "label", "parameters": {"binary_data": True}}],
        }
    ).encode()
    binary_body = header + bytes(range(256)) * 3 + bytes(16)

    def request(path: str, body: bytes, extra: str) -> bytes:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer bench-key\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n"
        )
        return head.encode() + body

    return {
        "JSON /score, 1 row": request("/score", json_body, "Content-Type: application/json\r\n"),
        "v2 binary, 1 row": request(
            "/v2/models/mnist/infer",
            binary_body,
            f"Content-Type: application/octet-stream\r\nInference-Header-Content-Length: {len(header)}\r\n",
        ),
    }


async def measure(app_dir: Path, requests: int, profile: bool) -> dict[str, float]:
    sys.path.insert(0, str(app_dir))
    os.environ.update(
        SCORING_PRIMARY_KEY="bench-key",
        ENTRY_SCRIPT=str(REPO / "bench" / "null_score.py"),
        MODEL_DIR=str(app_dir / "model"),
        DEVICE="cpu",
        MODEL_NAME="mnist",
    )
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
    # The request log goes nowhere; the server still builds every line.
    observer = Observer(metrics, connections, RequestLog(_NullStream()))
    app = build_app(pipeline, observer, "mnist")
    context = LaneContext(pipeline, observer, connections, lane_routes(app))

    def no_aiohttp() -> Any:  # Any: aiohttp's RequestHandler
        raise SystemExit("the lane handed the connection to aiohttp")

    results: dict[str, float] = {}
    for name, data in _requests().items():
        transport = _Transport()
        lane = FastLane(context, no_aiohttp)
        lane.connection_made(transport)  # type: ignore[arg-type]

        async def one(lane: FastLane = lane, transport: _Transport = transport, data: bytes = data) -> None:
            transport.written.clear()
            lane.data_received(data)
            if not transport.written.is_set():
                await transport.written.wait()

        for _ in range(300):  # warm every cache and the batcher
            await one()
        if not transport.last.startswith(b"HTTP/1.1 200 "):
            raise SystemExit(f"{name}: {transport.last[:200]!r}")
        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        for _ in range(requests):
            await one()
        if profiler:
            profiler.disable()
        results[name] = (time.perf_counter() - started) / requests * 1e6
        if profiler:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(os.environ.get("PROFILE_SORT", "tottime")).print_stats(25)
            print(f"--- cProfile, {name} ({app_dir})\n{out.getvalue()}")
        connections.lane_closed(lane)
    await pipeline.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app", type=Path, default=REPO / "app", help="the app/ folder to measure")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(measure(args.app.resolve(), args.requests, args.profile))
    for name, micros in results.items():
        print(f"{args.app}: {name}: {micros:.1f} us per request (fast lane, no sockets, no model)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
