"""Summarises py-spy's collapsed stacks (`run_bench.py --profile-dir`): for each thread, the share of
samples per function where the time is spent (self) and where it passes through (inclusive), so a
request path's cost can be split by layer without instrumenting the app.

    python3 bench/profile_summary.py PROFILE.txt [--top 40] [--thread scoring-device]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# py-spy --threads prefixes each stack with `thread (0x7f...)` or `process 123:"..."`; frames are
# `function (file:line)`; the sample count ends the line.
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]+)(?::\d+)?\)$")


def frame_name(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    file = match["file"]
    for marker in ("/scoring/", "site-packages/", "/lib/python3"):
        if marker in file:
            file = file[file.index(marker) + len(marker) :]
            break
    return f"{match['func']} ({file})"


def summarise(path: Path, top: int, thread: str | None) -> str:
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        heads = [f for f in frames if f.startswith(("process ", "thread "))]
        thread_label = heads[-1] if heads else "?"
        threads[thread_label] += count
        if thread and thread not in thread_label:
            continue
        names = [frame_name(f) for f in frames if f not in heads]
        if not names:
            continue
        total += count
        self_time[names[-1]] += count
        for name in set(names):
            inclusive[name] += count
    lines = [f"# {path.name}: {total} samples" + (f" in threads matching {thread!r}" if thread else "")]
    lines += ["", "samples by thread:"] + [f"  {n:7d}  {t}" for t, n in threads.most_common(12)]
    lines += ["", f"top {top} by self time:"]
    lines += [f"  {n / max(total, 1):6.1%}  {name}" for name, n in self_time.most_common(top)]
    lines += ["", f"top {top} by inclusive time:"]
    lines += [f"  {n / max(total, 1):6.1%}  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", type=Path, nargs="+")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--thread", default=None, help="only stacks whose thread label contains this text")
    args = parser.parse_args()
    for path in args.profile:
        print(summarise(path, args.top, args.thread))


if __name__ == "__main__":
    main()
