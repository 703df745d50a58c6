"""Micro-benchmarks of the two parts the server's speed rests on: decoding JSON bodies and the predictor.

Run from the repository root: `python3 bench/micro.py [--device cuda]`. Prints a markdown table of
median timings (and checks the byte parser is bit-identical to json.loads + float32 on all 10,000
real digits in both number formats clients use), so the numbers in RESULTS.md can be reproduced.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "app"))
sys.path.insert(0, str(REPO / "bench"))

from mnist_digits import load_digits  # noqa: E402
from payloads import json_body  # noqa: E402

from scoring.core import decode  # noqa: E402
from scoring.model.model import Predictor  # noqa: E402


def median_ms(fn: Callable[[], object], repeat: int, sync: bool) -> float:
    fn()
    times = []
    for _ in range(repeat):
        if sync:
            torch.cuda.synchronize()
        started = time.perf_counter()
        fn()
        if sync:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3


def over_each(fn: Callable[[bytes], object], bodies: Sequence[bytes]) -> Callable[[], list[object]]:
    """A call of fn on every one of these bodies (bound now, not when the loop has moved on)."""
    return lambda: [fn(body) for body in bodies]


def reference(body: bytes) -> np.ndarray:
    return np.asarray(json.loads(body)["data"], dtype=np.float32)


def check_exact(device: str, rows: np.ndarray) -> str:
    lines = []
    for style in ("short", "float32repr"):
        bodies = [json_body(rows[i : i + 500], style) for i in range(0, rows.shape[0], 500)]
        parsed = decode.parse_bytes_on(device, bodies)
        deferred = sum(result is None for result in parsed)
        for body, result in zip(bodies, parsed):
            if result is not None and not np.array_equal(result.view(np.uint32), reference(body).view(np.uint32)):
                raise SystemExit(f"byte parser on {device} differs from json.loads + float32 ({style})")
        lines.append(
            f"- {style} numbers: {rows.shape[0]} rows bit-identical, {deferred} of {len(bodies)} bodies deferred to the CPU path"
        )
    return "\n".join(lines)


def crossover(device: str, rows: np.ndarray, repeat: int) -> str:
    """One body per request (the server decodes each request alone): the exact CPU path (orjson) against
    the GPU byte parser, by body size, and the smallest size where the GPU wins, to set
    decode.GPU_MIN_BATCH_BYTES from a measurement."""
    lines = [
        "\n| one body | rows | body KB | orjson exact path ms | byte parser ms | faster |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    first_gpu_win: int | None = None
    switch = decode.GPU_MIN_BATCH_BYTES
    for per_body in (1, 2, 4, 8, 16, 32, 64, 128, 256):
        body = json_body(rows[:per_body], "float32repr")
        cpu_ms = median_ms(partial(decode.decode_scoring_body, body), repeat, False)
        # The server's own call with the switch-over size set to 0, so the (cached) GPU parser runs.
        decode.GPU_MIN_BATCH_BYTES = 0
        try:
            gpu_ms = median_ms(partial(decode.decode_scoring_bodies, [body], device=device), repeat, True)
        finally:
            decode.GPU_MIN_BATCH_BYTES = switch
        faster = "gpu" if gpu_ms < cpu_ms else "cpu"
        if faster == "gpu" and first_gpu_win is None:
            first_gpu_win = len(body)
        lines.append(f"| | {per_body} | {len(body) / 1024:.0f} | {cpu_ms:.3f} | {gpu_ms:.3f} | {faster} |")
    where = f"{first_gpu_win / 1024:.0f} KB" if first_gpu_win else "never in this range"
    lines.append(
        f"\nGPU byte parser first faster at {where}; the server switches at "
        f"decode.GPU_MIN_BATCH_BYTES = {decode.GPU_MIN_BATCH_BYTES // 1024} KB"
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    device: str = args.device
    sync = device.startswith("cuda")
    rows, _ = load_digits("all")
    uint8_rows = np.round(rows * 255).astype(np.uint8)
    print(
        f"# micro-benchmarks on {torch.cuda.get_device_name() if sync else 'CPU'}, torch {torch.__version__}, numpy {np.__version__}"
    )
    print(f"decoders: {decode.available_decoders(device)}\n")
    print(check_exact(device, rows))

    print(
        "\n| decode | rows | body KB | json.loads+asarray ms | exact CPU path ms | byte parser ms | decode_scoring_bodies ms |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for style in ("short", "float32repr"):
        for count, per_body in ((1, 1), (64, 64), (1024, 64), (4096, 64), (1024, 1024)):
            bodies = [
                json_body(rows[(i * per_body) % 9000 : (i * per_body) % 9000 + per_body], style)
                for i in range(count // per_body)
            ]
            ref_ms = median_ms(over_each(reference, bodies), max(3, args.repeat // 5), False)
            cpu_ms = median_ms(over_each(decode.decode_scoring_body, bodies), max(3, args.repeat // 5), False)
            gpu_ms = (
                median_ms(partial(decode.parse_bytes_on, device, bodies), args.repeat, sync) if sync else float("nan")
            )
            batch_ms = median_ms(partial(decode.decode_scoring_bodies, bodies, device=device), args.repeat, sync)
            size_kb = sum(len(b) for b in bodies) / 1024
            print(
                f"| {style} | {count} ({count // per_body} bodies) | {size_kb:.0f} | {ref_ms:.2f} | {cpu_ms:.2f} | {gpu_ms:.2f} | {batch_ms:.2f} |"
            )

    if sync:
        print(crossover(device, rows, args.repeat))

    print("\n| predictor | batch | float32 ms | uint8 ms | float32 no graphs ms | uint8 no graphs ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    model_dir = REPO / "app" / "model"
    with_graphs = Predictor(model_dir, device, 4096)
    with_graphs.warmup()
    without = Predictor(model_dir, device, 4096, cuda_graphs=False)
    without.warmup()
    for batch in (1, 16, 64, 256, 1024, 4096, 16384):
        f32 = rows[:batch] if batch <= rows.shape[0] else np.tile(rows, (batch // rows.shape[0] + 1, 1))[:batch]
        u8 = np.round(f32 * 255).astype(np.uint8)
        timings = [
            median_ms(partial(p.predict, x), args.repeat, False) for p in (with_graphs, without) for x in (f32, u8)
        ]
        print(f"| | {batch} | {timings[0]:.3f} | {timings[1]:.3f} | {timings[2]:.3f} | {timings[3]:.3f} |")
    same = np.array_equal(with_graphs.predict(rows), without.predict(rows)) and np.array_equal(
        with_graphs.predict(uint8_rows), without.predict(uint8_rows)
    )
    print(f"\ngraph and plain paths give the same labels on all 10,000 digits: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
