"""Summarise a py-spy "raw" (collapsed stacks) profile: where the gateway worker spends its CPU.

    .venv/bin/py-spy record --pid WORKER --format raw -o prof.txt --nonblocking -d 20
    .venv/bin/python bench/profile_summary.py prof.txt [TOP [CPU_MS_PER_REQUEST]]

py-spy samples only threads that are running (not idle), so the percentages are shares of the
worker's busy time. Samples without any Python frame (granian's Rust threads, which py-spy sees
because they hold a Python thread state) are counted as "<native>". "self" counts the innermost frame;
"inclusive" counts a function once per sample in which it appears anywhere on the stack. The
per-step table gives each sample to one step of the pipeline (the innermost step on its stack), so
its rows add up to 100 %. py-spy names a nested function by its qualified name
(``_send_stream.<locals>.pump``), a method as ``Class.method``.
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


# What governance (issue 10: limits + lossless metering) runs per call, as (label, frame "file:function").
# Inclusive: a function counts in every sample where it is on the stack (its callees included).
GOVERNANCE = (
    ("limits step: admit()", "gateway/pipeline/limits.py:admit"),
    ("  rules_for (the snapshot's limit table)", "portal/limits.py:LimitTable.rules_for"),
    ("  demand_of (prompt estimate, reservation)", "gateway/pipeline/limits.py:demand_of"),
    ("  Limiter.admit", "gateway/limits/limiter.py:Limiter.admit"),
    ("    Periods.at (day and month, per call)", "gateway/limits/__init__.py:Periods.at"),
    ("    LocalLimiter.admit_now (embedded)", "gateway/limits/local_limiter.py:LocalLimiter.admit_now"),
    ("    RedisLimiter.admit (full stack: the Lua round trip)", "gateway/limits/redis_limiter.py:RedisLimiter.admit"),
    ("  rate_limit_headers", "gateway/pipeline/limits.py:rate_limit_headers"),
    ("finish() (also when off: the event is built either way)", "gateway/pipeline/finish.py:finish"),
    ("  usage_event (built when off too)", "gateway/pipeline/finish.py:usage_event"),
    ("  event_bytes (orjson of the event)", "gateway/metering.py:event_bytes"),
    ("  Limiter.settle", "gateway/limits/limiter.py:Limiter.settle"),
    ("    LocalLimiter.settle_now (embedded)", "gateway/limits/local_limiter.py:LocalLimiter.settle_now"),
    ("    Journal.append (embedded: one write(2))", "portal/usage_journal.py:Journal.append"),
    ("    RedisLimiter.settle (full stack: Lua settle + XADD)", "gateway/limits/redis_limiter.py:RedisLimiter.settle"),
    ("  queue_usage (off only)", "gateway/metering.py:queue_usage"),
    ("flusher: flush() (seal + nudge; off: publish the batch)", "gateway/metering.py:flush"),
    ("  batch_payload (off only: orjson of the batch)", "gateway/metering.py:batch_payload"),
)
# Library code governance brings in, by package (inclusive: any frame of the package on the stack).
GOVERNANCE_LIBRARIES = (("redis-py (the async client: command packing, reply parsing)", "redis/"),)


# The pipeline's steps (gateway/pipeline/__init__.py) as (label, frames). A frame is "file:function", or a file or
# folder alone ("gateway/providers/": any function in it) for work that may run in a task of its own, off the
# request's stack (an adapter's call, a shared Redis pipeline). A sample belongs to the innermost "file:function"
# step on its stack (a stream's finish() runs inside the call's body generator: it counts as finish); only a
# sample with none of those goes to the innermost file or folder step.
STEPS = (
    ("auth", ("gateway/pipeline/authenticate.py:authenticate",)),
    ("parse", ("gateway/wire/openai.py:parse_chat_request", "gateway/asgi.py:_body_reader.<locals>.read",
               "gateway/asgi.py:_read_body")),
    ("limits (and the limiter's tasks)", ("gateway/pipeline/limits.py:admit", "gateway/limits/limiter.py:Limiter.admit",
                                          "gateway/limits/")),
    ("guard", ()),  # not yet built (a later issue adds the guardrail steps)
    ("route", ("gateway/pipeline/route.py:resolve_alias", "gateway/pipeline/route.py:check_request_fits",
               "gateway/pipeline/route.py:choose_route")),
    ("call (the adapter and its HTTP client)", ("gateway/pipeline/call.py:chat", "gateway/pipeline/call.py:chat_stream",
                                                "gateway/pipeline/call.py:chat_stream.<locals>.body",
                                                "gateway/providers/", "gateway/http_clients.py")),
    ("render", ("gateway/wire/openai.py:render_chat_response", "gateway/asgi.py:_send_whole",
                "gateway/asgi.py:_send_stream", "gateway/asgi.py:_send_stream.<locals>.pump")),
    ("finish (metering; the flusher)", ("gateway/pipeline/finish.py:finish", "gateway/limits/limiter.py:Limiter.settle",
                                        "gateway/metering.py:flush")),
)
# The request's own frames: the ASGI applications (the project's router, the gateway's) and the tasks the gateway
# spawns to relay a stream.
REQUEST = ("aiplatform/asgi.py:application", "gateway/asgi.py:application",
           "gateway/asgi.py:_send_stream.<locals>.pump", "gateway/asgi.py:_send_stream.<locals>.disconnected")
OTHER_IN_REQUEST = "other gateway code in the request (dispatch, context, snapshot, ids)"
OTHER_GATEWAY = "other gateway code outside the request (config poller, …)"
REST = "rest: server + event loop (outside gateway/asgi.py:application)"


def _by_function(pairs) -> dict[str, list[tuple[str, str]]]:
    """function → [(file, label)], so a frame is compared only with the specs of its function's name."""
    out: dict[str, list[tuple[str, str]]] = {}
    for label, frame in pairs:
        file, _, func = frame.rpartition(":")
        out.setdefault(func, []).append((file, label))
    return out


_STEP_FRAMES = _by_function((label, frame) for label, frames in STEPS for frame in frames if ":" in frame)
_STEP_PLACES = tuple((frame, label) for label, frames in STEPS for frame in frames if ":" not in frame)
_REQUEST_FRAMES = _by_function((OTHER_IN_REQUEST, frame) for frame in REQUEST)


def _found(frame: tuple[str, str], table: dict[str, list[tuple[str, str]]]) -> str | None:
    file, func = frame
    for spec_file, label in table.get(func, ()):
        if file == spec_file or file.endswith("/" + spec_file):
            return label
    return None


def _step_of(frames: list[tuple[str, str]]) -> str:
    """The innermost pipeline step on a sample's stack, or where the sample is when in none."""
    for frame in reversed(frames):
        label = _found(frame, _STEP_FRAMES)
        if label:
            return label
    for file, _ in reversed(frames):
        for place, label in _STEP_PLACES:
            if file.startswith(place) or f"/{place}" in file:
                return label
    if any(_found(frame, _REQUEST_FRAMES) for frame in frames):
        return OTHER_IN_REQUEST
    project = tuple(p for p in PROJECT if p != "bench/")
    if any(file.startswith(project) or any(f"/{p}" in file for p in project) for file, _ in frames):
        return OTHER_GATEWAY
    return REST


def _steps_table(steps: Counter, total: int, cpu_ms_per_req: float | None) -> tuple[list[str], dict]:
    per = f" ≈ ms/request (× the {cpu_ms_per_req:.3f} ms CPU/request measured)" if cpu_ms_per_req else ""
    lines = ["", f"per-step cost (each sample in the innermost step on its stack; share of busy samples{per}):"]
    data = {}
    for label in [lb for lb, _ in STEPS] + [OTHER_IN_REQUEST, OTHER_GATEWAY, REST]:
        frames = dict(STEPS).get(label)
        if frames == ():
            lines.append(f"  {'—':>6}  {'':>8}  {label}: not yet built")
            data[label] = {"share_pct": None, "ms": None, "note": "not yet built"}
            continue
        n = steps.get(label, 0)
        ms = cpu_ms_per_req * n / total if cpu_ms_per_req else None
        lines.append(f"  {100 * n / total:5.1f}%  {f'{ms:6.3f} ms' if ms is not None else '':>9} {label}")
        data[label] = {"share_pct": round(100 * n / total, 2), "ms": None if ms is None else round(ms, 4)}
    return lines, data


def _match(name: str, frame: str) -> bool:
    """``name`` ("/abs/path/gateway/pipeline/limits.py:admit" or relative) is the frame ``file:function``."""
    file, _, func = frame.rpartition(":")
    name_file, _, name_func = name.rpartition(":")
    return name_func == func and (name_file == file or name_file.endswith("/" + file))


def summarize(raw: Path, top: int = 15, cpu_ms_per_req: float | None = None, *,  # noqa: C901
              steps: bool = True) -> tuple[str, dict]:
    """The summary's text and its figures; ``steps``: with the per-step table (for a gateway worker)."""
    self_time: Counter = Counter()
    inclusive: Counter = Counter()
    packages: Counter = Counter()
    step_samples: Counter = Counter()
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
        if steps:
            step_samples[_step_of(frames)] += n
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
    governance = {}
    for label, frame in GOVERNANCE:
        n = sum(v for name, v in inclusive.items() if _match(name, frame))
        if n:
            governance[label] = n
    for label, package in GOVERNANCE_LIBRARIES:
        n = library_samples(raw, package)
        if n:
            governance[label] = n
    if governance:
        per = f" ≈ ms/request (of {cpu_ms_per_req:.3f} measured)" if cpu_ms_per_req else ""
        lines += ["", f"governance functions by inclusive time (share of busy samples{per}):"]
        for label, n in governance.items():
            ms = f"  {cpu_ms_per_req * n / total:6.3f} ms" if cpu_ms_per_req else ""
            lines.append(f"  {pct(n)}{ms}  {label}")
    step_data = None
    if steps:
        step_lines, step_data = _steps_table(step_samples, total, cpu_ms_per_req)
        lines += step_lines
    data = {
        "samples": total,
        "steps": step_data,
        "governance_inclusive": {k.strip(): round(100 * v / total, 2) for k, v in governance.items()},
        "packages_self": {k: round(100 * v / total, 2) for k, v in packages.most_common(20)},
        "self": {k: round(100 * v / total, 2) for k, v in self_time.most_common(40)},
        "project_inclusive": {k: round(100 * v / total, 2) for k, v in project[:40]},
        "library_inclusive": {k: round(100 * v / total, 2) for k, v in other[:40]},
    }
    return "\n".join(lines) + "\n", data


def library_samples(raw: Path, package: str) -> int:
    """Samples with any frame of ``package`` (``redis/``: site-packages/redis/...) on the stack."""
    needle = f"({package}"  # py-spy names library files from their package: "(redis/asyncio/client.py:…)"
    n = 0
    for line in Path(raw).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if count.isdigit() and needle in stack:
            n += int(count)
    return n


if __name__ == "__main__":
    text, _ = summarize(Path(sys.argv[1]), top=int(sys.argv[2]) if len(sys.argv) > 2 else 15,
                        cpu_ms_per_req=float(sys.argv[3]) if len(sys.argv) > 3 else None)
    print(text, end="")
