"""Where a server's CPU goes, by process and thread: user+system time read from /proc before and after
a scenario, as cores used (seconds of CPU per second of wall time). The app names its threads
(scoring/core/threads.py): the main thread is the event loop, `scoring-device` runs batches, and
`scoring-decode` large bodies; the rest are the CUDA driver's and torch's.

This is the profile behind "why two workers do not double one" (issue 24): if one worker already
uses more than one core, two workers on two cores cannot give twice its throughput.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")

Sample = dict[tuple[int, int, str], float]  # (pid, tid, name) -> CPU seconds


def tree(pid: int) -> list[int]:
    """pid and all its descendants (a process or thread that ends while being read is skipped)."""
    found = [pid]
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            found += tree(int(child))
    return found


def sample(root: int) -> Sample:
    out: Sample = {}
    for pid in tree(root):
        try:
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                stat = (task / "stat").read_text()
            except OSError:
                continue
            # comm is in parentheses and may hold spaces; the fields after it are fixed.
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2 :].split()
            cpu = (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
            out[(pid, int(task.name), name)] = cpu
    return out


def _kind(pid: int, tid: int, name: str) -> str:
    if name.startswith("scoring-"):
        return name.removeprefix("scoring-")
    if pid == tid:
        return "loop (main)"
    return "other threads"


def cores_used(before: Sample, after: Sample, wall_s: float, root: int) -> str:
    """'total 1.93: worker 123 loop 0.81 device 0.12 other 0.05 | ...' for one scenario."""
    per: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for key, cpu in after.items():
        pid, tid, name = key
        if pid == root and len(after) > 1 and any(p != root for p, _, _ in after):
            kind = "supervisor"
        else:
            kind = _kind(pid, tid, name)
        per[pid][kind] += (cpu - before.get(key, 0.0)) / wall_s
    total = sum(sum(kinds.values()) for kinds in per.values())
    parts = []
    for pid, kinds in sorted(per.items()):
        used = {k: v for k, v in kinds.items() if v >= 0.01}
        if used:
            parts.append(f"pid {pid}: " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(used.items())))
    return f"total {total:.2f} cores | " + " | ".join(parts)
