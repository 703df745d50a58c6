"""What decoding a JSON body really costs in memory, per body shape and size, for both parsers the
app uses (orjson first, the stdlib's json when orjson refuses a body): the peak of the Python objects
and arrays built while a body is decoded, as a multiple of the body's size.

The admission budget (app/scoring/core/json_guard.py) reserves this transient before a decode runs;
this script is where its per-value and per-container costs come from. Peaks are measured with
tracemalloc, which sees Python's object allocator and numpy's data buffers (both are what grows).

    cd app && python ../bench/json_transient.py [--mib 1 4 16]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))

from scoring.core.decode import _rows_from_document
from scoring.model.model_shape import SIGNATURE
from scoring.protocols import v2

ROW = 784


def _rows_text(rows: int, value: Callable[[random.Random], str]) -> str:
    rng = random.Random(1)
    return ",".join("[" + ",".join(value(rng) for _ in range(ROW)) + "]" for _ in range(rows))


def _fill(size: int, one_row: Callable[[int], bytes]) -> bytes:
    """The body of the given shape closest to `size` bytes (whole rows)."""
    per_row = len(one_row(1)) - len(one_row(0))
    return one_row(max(1, size // max(per_row, 1)))


SHAPES: dict[str, Callable[[int], bytes]] = {
    # /score, the seed's body: pixels as small integers, or as floats in [0, 1].
    "score ints 0-255": lambda n: f'{{"data":[{_rows_text(n, lambda r: str(r.randrange(256)))}]}}'.encode(),
    "score floats": lambda n: f'{{"data":[{_rows_text(n, lambda r: repr(r.random()))}]}}'.encode(),
    "score short floats": lambda n: f'{{"data":[{_rows_text(n, lambda r: f"{r.random():.3f}")}]}}'.encode(),
    # /v2 infer: nested and flat data.
    "v2 nested floats": lambda n: (
        f'{{"inputs":[{{"name":"input","datatype":"FP32","shape":[{max(n, 1)},{ROW}],'
        f'"data":[{_rows_text(n, lambda r: f"{r.random():.3f}")}]}}]}}'
    ).encode(),
    "v2 flat uint8": lambda n: (
        f'{{"inputs":[{{"name":"input","datatype":"UINT8","shape":[{max(n, 1)},{ROW}],'
        f'"data":[{",".join(str(i % 256) for i in range(n * ROW))}]}}]}}'
    ).encode(),
    # Hostile shapes (what the structural prechecks refuse): the most objects per byte JSON allows.
    "empty lists [[],[],...]": lambda n: ('{"inputs":[{"data":[' + ",".join(["[]"] * (n * 400)) + "]}]}").encode(),
    "empty objects [{},{},...]": lambda n: ('{"data":[' + ",".join(["{}"] * (n * 400)) + "]}").encode(),
    "short strings": lambda n: ('{"data":[' + ",".join(['"a"'] * (n * 400)) + "]}").encode(),
    "zeros [0,0,...]": lambda n: ('{"data":[' + ",".join(["0"] * (n * 400)) + "]}").encode(),
}


def _peak(call: Callable[[], Any]) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        result = call()
        _, peak = tracemalloc.get_traced_memory()
        del result
    finally:
        tracemalloc.stop()
    return peak


def _full_decode(shape: str, body: bytes) -> Callable[[], Any]:
    """The app's own decode of a valid body of this shape (objects, then the array)."""
    if shape.startswith("score"):
        return lambda: _rows_from_document(orjson.loads(body), body, ROW)
    if shape.startswith("v2"):
        return lambda: v2.parse_infer(body, None, SIGNATURE)
    return lambda: None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=float, nargs="+", default=[1, 8])
    args = parser.parse_args()
    print(f"{'shape':28} {'body MiB':>8} {'orjson x':>9} {'json x':>7} {'app decode x':>12}")
    for name, make in SHAPES.items():
        for mib in args.mib:
            body = _fill(int(mib * (1 << 20)), make)
            size = len(body)
            fast = _peak(partial(orjson.loads, body)) / size
            slow = _peak(partial(json.loads, body)) / size
            full = _peak(_full_decode(name, body)) / size
            print(f"{name:28} {size / (1 << 20):8.2f} {fast:9.1f} {slow:7.1f} {full:12.1f}")


if __name__ == "__main__":
    main()
