"""Summarise a py-spy "raw" (collapsed stacks) profile: where the gateway worker spends its CPU.

    .venv/bin/py-spy record --pid WORKER --format raw -o prof.txt --nonblocking -d 20
    .venv/bin/python bench/profile_summary.py prof.txt

py-spy samples only threads that are running (not idle), so the percentages are shares of the
worker's busy time. Samples without any Python frame (granian's Rust threads, which py-spy sees
because they hold a Python thread state) are counted as "<native>". "self" counts the innermost frame; "inclusive" counts a function once per
sample in which it appears anywhere on the stack.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")
PROJECT = ("gateway/", "aiplatform/", "registry/", "portal/", "bench/")
# Frames every sample of a thread passes through (process and thread start-up): not informative.
PLUMBING = ("click/", "multiprocessing/", "granian/cli.py", "granian/server/", "granian:", "threading.py",
            "<native>")


def _frames(stack: str) -> list[tuple[str, str]]:
    out = []
    for frame in stack.split(";"):
        match = FRAME.match(frame)
        if match:
            out.append((match["file"], match["func"]))
        else:
            out.append(("?", frame))
    return out


def _package(path: str) -> str:
    path = path.split("site-packages/")[-1]
    parts = path.split("/")
    if path == "<native>":
        return "<native: no Python frame>"
    if len(parts) == 1:
        return parts[0].removesuffix(".py")
    return parts[0]


def summarize(raw: Path, top: int = 15) -> tuple[str, dict]:
    self_time: Counter = Counter()
    inclusive: Counter = Counter()
    packages: Counter = Counter()
    total = 0
    for line in Path(raw).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        # No Python frame: a thread busy in native code only (granian's Rust runtime threads, mostly).
        frames = _frames(stack) if stack.strip() else [("<native>", "no Python frame (granian's Rust threads)")]
        leaf = frames[-1]
        self_time[f"{leaf[0]}:{leaf[1]}"] += n
        packages[_package(leaf[0])] += n
        for name in {f"{f}:{fn}" for f, fn in frames}:
            inclusive[name] += n
    if not total:
        return "profile: no samples", {"samples": 0}

    def pct(n: int) -> str:
        return f"{100 * n / total:5.1f}%"

    lines = [f"py-spy profile of the gateway worker: {total} busy samples", "",
             "self time by package (innermost frame):"]
    lines += [f"  {pct(n)}  {name}" for name, n in packages.most_common(12)]
    lines += ["", f"top {top} functions by self time:"]
    lines += [f"  {pct(n)}  {name}" for name, n in self_time.most_common(top)]
    project = [(name, n) for name, n in inclusive.most_common() if name.startswith(PROJECT)]
    lines += ["", f"top {top + 5} project functions by inclusive time (the request path):"]
    lines += [f"  {pct(n)}  {name}" for name, n in project[: top + 5]]
    other = [(name, n) for name, n in inclusive.most_common() if not name.startswith(PROJECT + PLUMBING)]
    lines += ["", f"top {top} library functions by inclusive time:"]
    lines += [f"  {pct(n)}  {name}" for name, n in other[:top]]
    data = {
        "samples": total,
        "packages_self": {k: round(100 * v / total, 2) for k, v in packages.most_common(20)},
        "self": {k: round(100 * v / total, 2) for k, v in self_time.most_common(40)},
        "project_inclusive": {k: round(100 * v / total, 2) for k, v in project[:40]},
        "library_inclusive": {k: round(100 * v / total, 2) for k, v in other[:40]},
    }
    return "\n".join(lines) + "\n", data


if __name__ == "__main__":
    text, _ = summarize(Path(sys.argv[1]), top=int(sys.argv[2]) if len(sys.argv) > 2 else 15)
    print(text, end="")
