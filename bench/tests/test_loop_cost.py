"""bench/loop_cost.py serves real requests through this checkout's fast lane (every answer a 200, or it
stops) and prints the loop's CPU per request for each scenario and app, side by side."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]


def test_side_by_side_table_for_two_apps() -> None:
    app = BENCH.parent / "app"
    out = subprocess.run(
        [sys.executable, str(BENCH / "loop_cost.py"), "--app", str(app), "--app", str(app), "--rounds", "1",
         "--requests", "400", "--clients", "4"],
        check=True, capture_output=True, text=True, timeout=300,
    ).stdout  # fmt: skip
    rows = re.findall(
        r"^\| (JSON /score, 1 row|v2 binary uint8, 1 row) \| (\S+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+)x \|$", out, re.M
    )
    assert [(name, Path(path)) for name, path, *_ in rows] == [
        ("JSON /score, 1 row", app),
        ("JSON /score, 1 row", app),
        ("v2 binary uint8, 1 row", app),
        ("v2 binary uint8, 1 row", app),
    ]
    assert all(float(cpu) > 0 for _, _, cpu, _, _ in rows)
