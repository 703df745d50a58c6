"""The benchmark's tables over repeated runs: medians, spreads and ratios from the medians (issue 24's
targets are medians of three runs), and a single run printed exactly as before."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_tables import (
    floor_table,
    ratio,
    ratio_table,
    results_table,
    summarize,
)
from loadgen import Result

TITLES = {"json-1x64": "JSON /score, 1 row, 64 clients", "bin-1x64": "v2 binary uint8, 1 row, 64 clients"}


def run(
    requests: int,
    rows_per_request: int = 1,
    latencies: tuple[float, ...] = (1.0, 2.0, 3.0),
    errors: int = 0,
    wrong: int = 0,
) -> Result:
    """One run over a 2 s window that answered `requests` requests."""
    return Result(
        "s",
        64,
        rows_per_request,
        completed=requests,
        rows=requests * rows_per_request,
        errors=errors,
        wrong=wrong,
        window_s=2.0,
        latencies_ms=list(latencies),
    )


def test_summary_takes_the_median_of_three_runs_and_keeps_the_spread() -> None:
    summary = summarize([run(30_000), run(10_000), run(20_000)])
    assert summary.runs == 3
    assert summary.requests_per_s == 10_000  # the middle of 15,000, 5,000 and 10,000 requests/s
    assert summary.rows_per_s == 10_000
    assert (summary.requests_min, summary.requests_max) == (5_000, 15_000)
    assert (summary.rows_min, summary.rows_max) == (5_000, 15_000)


def test_summary_medians_the_runs_percentiles() -> None:
    summary = summarize([run(10, latencies=(1.0,)), run(10, latencies=(5.0,)), run(10, latencies=(2.0,))])
    assert summary.p50_ms == 2.0 and summary.p99_ms == 2.0


def test_summary_sums_problems_and_keeps_a_run_that_answered_nothing() -> None:
    summary = summarize([run(100, errors=2), run(0, latencies=()), run(100, wrong=1)])
    assert (summary.errors, summary.wrong, summary.completed_min) == (2, 1, 0)
    # The silent run has no percentiles; the answered runs still give one.
    assert summary.p50_ms == 2.0


def test_summary_of_no_runs_is_refused() -> None:
    with pytest.raises(ValueError, match="no runs"):
        summarize([])


def test_ratios_come_from_the_medians_not_from_single_runs() -> None:
    # This server's best run is 3x Triton's worst, but the medians are 10,000 against 8,000: 1.25x.
    ours = summarize([run(30_000), run(20_000), run(16_000)])
    triton = summarize([run(10_000), run(16_000), run(40_000)])
    assert ratio(ours, triton) == "1.25x"
    assert ratio(ours, triton, per="requests") == "1.25x"
    assert ratio(ours, None) == "–"
    assert ratio(ours, summarize([run(0, latencies=())])) == "–"


def test_ratio_table_has_a_column_per_other_server_from_the_medians() -> None:
    cells = {
        ("this server", "json-1x64"): summarize([run(20_000), run(24_000), run(22_000)]),
        ("seed-style baseline", "json-1x64"): summarize([run(4_000), run(4_400), run(5_000)]),
        ("this server (WORKERS=1)", "json-1x64"): summarize([run(11_000), run(12_000), run(13_000)]),
        ("this server", "bin-1x64"): summarize([run(40_000), run(40_000), run(40_000)]),
        ("NVIDIA Triton (PyTriton)", "bin-1x64"): summarize([run(30_000), run(32_000), run(50_000)]),
    }
    others = ["seed-style baseline", "this server (WORKERS=1)", "NVIDIA Triton (PyTriton)"]
    lines = ratio_table(cells, TITLES, others)
    assert lines[0] == (
        "| scenario | x seed-style baseline (rows/s) | x this server (WORKERS=1) (rows/s) | "
        "x NVIDIA Triton (PyTriton) (rows/s) |"
    )
    assert lines[2] == "| JSON /score, 1 row, 64 clients | 5.00x | 1.83x | – |"
    assert lines[3] == "| v2 binary uint8, 1 row, 64 clients | – | – | 1.25x |"


def test_one_run_prints_the_single_run_table_unchanged() -> None:
    cells = {("this server", "json-1x64"): summarize([run(21_000, latencies=(1.0, 2.0, 3.0))])}
    assert results_table(cells, TITLES) == [
        "| server | scenario | rows/s | requests/s | p50 ms | p99 ms | errors | wrong |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        "| this server | JSON /score, 1 row, 64 clients | 10,500 | 10,500 | 2.00 | 2.98 | 0 | 0 |",
    ]


def test_repeated_runs_add_the_spread_and_the_run_count() -> None:
    cells = {("this server", "bin-1x64"): summarize([run(30_000, 2), run(36_000, 2), run(34_000, 2)])}
    lines = results_table(cells, TITLES)
    assert lines[0].endswith("| rows/s min-max | runs |")
    assert lines[2] == (
        "| this server | v2 binary uint8, 1 row, 64 clients | 34,000 | 17,000 | 2.00 | 2.98 | 0 | 0 | 30,000-36,000 | 3 |"
    )


def test_floor_table_uses_median_requests_and_skips_scenarios_without_both_floors() -> None:
    cells = {
        ("this server", "json-1x64"): summarize([run(20_000), run(22_000), run(24_000)]),
        ("HTTP floor, 1 process", "json-1x64"): summarize([run(100_000)] * 3),
        ("HTTP floor, 2 processes", "json-1x64"): summarize([run(200_000), run(220_000), run(180_000)]),
        ("this server", "bin-1x64"): summarize([run(20_000)] * 3),
    }
    lines = floor_table(cells, TITLES)
    assert len(lines) == 3  # the binary scenario has no floor runs
    assert lines[2] == "| JSON /score, 1 row, 64 clients | 11,000 | 50,000 | 100,000 | – | 11.0 % | – |"
