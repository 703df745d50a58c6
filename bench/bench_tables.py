"""The benchmark's tables from its runs: per server and scenario, the median of N runs (issue 24 sets its
targets as medians of three runs in one device session) with the min-max spread, and every ratio (this
server against the floors, the baseline, Triton, its own one-worker variant) taken from those medians.

Pure functions over loadgen.Result: bench/run_bench.py measures, this module only summarises and formats
(bench/tests/test_bench_tables.py). With one run per cell the tables are exactly the single-run tables.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from loadgen import Result

THIS = "this server"
FLOOR_1 = "HTTP floor, 1 process"
FLOOR_2 = "HTTP floor, 2 processes"
AIOHTTP_FLOOR = "aiohttp floor, 2 processes"


@dataclass(frozen=True)
class Summary:
    """One server on one scenario over its runs: medians, the spread of the rates, and every problem."""

    runs: int
    rows_per_s: float
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    rows_min: float
    rows_max: float
    requests_min: float
    requests_max: float
    errors: int
    wrong: int
    completed_min: int  # a run that answered nothing fails the bench even when the others answered


def summarize(results: Sequence[Result]) -> Summary:
    """Medians of the runs' rates and percentiles; errors and wrong answers summed over all runs."""
    if not results:
        raise ValueError("no runs to summarise")
    rows = [r.rows_per_s for r in results]
    requests = [r.requests_per_s for r in results]
    return Summary(
        runs=len(results),
        rows_per_s=statistics.median(rows),
        requests_per_s=statistics.median(requests),
        p50_ms=_median_of_defined([r.percentile_ms(50) for r in results]),
        p99_ms=_median_of_defined([r.percentile_ms(99) for r in results]),
        rows_min=min(rows),
        rows_max=max(rows),
        requests_min=min(requests),
        requests_max=max(requests),
        errors=sum(r.errors for r in results),
        wrong=sum(r.wrong for r in results),
        completed_min=min(r.completed for r in results),
    )


def _median_of_defined(values: Sequence[float]) -> float:
    # A run without one answer has no percentiles (nan); the others' median still says something.
    defined = [v for v in values if v == v]
    return statistics.median(defined) if defined else float("nan")


def fmt(value: float, digits: int = 1) -> str:
    return "n/a" if value != value else f"{value:,.{digits}f}"


def ratio(ours: Summary | None, theirs: Summary | None, per: str = "rows") -> str:
    """ours / theirs of the medians (rows/s or requests/s), or a dash where either is missing or zero."""
    if ours is None or theirs is None:
        return "–"
    a, b = (ours.rows_per_s, theirs.rows_per_s) if per == "rows" else (ours.requests_per_s, theirs.requests_per_s)
    return f"{fmt(a / b, 2)}x" if b else "–"


Cells = Mapping[tuple[str, str], Summary]  # (server name, scenario key) -> summary


def results_table(cells: Cells, titles: Mapping[str, str]) -> list[str]:
    """Every server and scenario; with several runs, the rows/s column says median and min-max."""
    repeated = any(s.runs > 1 for s in cells.values())
    spread_head = " rows/s min-max | runs |" if repeated else ""
    lines = [
        "| server | scenario | rows/s | requests/s | p50 ms | p99 ms | errors | wrong |" + spread_head,
        "| --- | --- | --- | --- | --- | --- | --- | --- |" + (" --- | --- |" if repeated else ""),
    ]
    for (name, key), s in cells.items():
        line = (
            f"| {name} | {titles[key]} | {fmt(s.rows_per_s, 0)} | {fmt(s.requests_per_s, 0)} | "
            f"{fmt(s.p50_ms, 2)} | {fmt(s.p99_ms, 2)} | {s.errors} | {s.wrong} |"
        )
        if repeated:
            line += f" {fmt(s.rows_min, 0)}-{fmt(s.rows_max, 0)} | {s.runs} |"
        lines.append(line)
    return lines


def floor_table(cells: Cells, titles: Mapping[str, str]) -> list[str]:
    """This server's requests/s as a fraction of the HTTP floors, per scenario that has both floors."""
    lines = [
        "| scenario | this server req/s | floor 1 process | floor 2 processes | aiohttp floor 2 processes | "
        "fraction of the 2-process floor | fraction of the aiohttp floor |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key, title in titles.items():
        ours, one, two = cells.get((THIS, key)), cells.get((FLOOR_1, key)), cells.get((FLOOR_2, key))
        framework = cells.get((AIOHTTP_FLOOR, key))
        if ours is None or one is None or two is None:
            continue

        def share(floor: Summary | None, ours: Summary = ours) -> str:
            if floor is None or not floor.requests_per_s:
                return "–"
            return f"{fmt(ours.requests_per_s / floor.requests_per_s * 100, 1)} %"

        lines.append(
            f"| {title} | {fmt(ours.requests_per_s, 0)} | {fmt(one.requests_per_s, 0)} | "
            f"{fmt(two.requests_per_s, 0)} | {fmt(framework.requests_per_s, 0) if framework else '–'} | "
            f"{share(two)} | {share(framework)} |"
        )
    return lines


def ratio_table(cells: Cells, titles: Mapping[str, str], others: Sequence[str]) -> list[str]:
    """This server's rows/s over each other server's (the baseline, the peers, its own variants)."""
    lines = [
        "| scenario | " + " | ".join(f"x {name} (rows/s)" for name in others) + " |",
        "| --- | " + " | ".join("---" for _ in others) + " |",
    ]
    for key, title in titles.items():
        ours = cells.get((THIS, key))
        if ours is None:
            continue
        lines.append(f"| {title} | " + " | ".join(ratio(ours, cells.get((name, key))) for name in others) + " |")
    return lines
