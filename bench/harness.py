"""The gateway's performance harness (``make bench`` → ``bench/run`` → this file).

It starts, on free loopback ports (never 8000), in a temp dir:

- the fake upstream (``bench.fake_upstream``, one granian process) — the "direct" target;
- a second fake upstream that paces its SSE chunks (``FAKE_CHUNK_DELAY_MS``), for the streaming part;
- nginx as a plain reverse proxy to the first one (``bench/nginx.conf``) — the "floor";
- the Python floors (``bench.bare_proxy``): the gateway's server, loop and client doing nothing (``bare``), and
  opt-in, the same with granian's RSGI interface and/or the pyreqwest client (issue 17 chooses them by measurement);
- the gateway stacks of ``bench/stacks.py``, each exactly as ``make run`` serves it (``bin/serve``, one
  worker) with its metering worker: embedded (SQLite, in-process limiter, journal) and full stack
  (PostgreSQL, a private redis-server: Lua limiter, usage stream), each with governance (issue 10:
  limits + lossless metering) on and off (``GATEWAY_GOVERNANCE=false``); the callers' application
  follows a plan that runs every counter and never refuses (``bench/governance.py``); and (issue 13) the same
  governed stacks calling an alias of three routes (``gateway-3``/``full-3``: least-latency; opt-in
  ``gateway-3w``/``full-3w``: weighted) beside the single-route ``bench-chat``, for the cost of routing.

Then it runs wrk (``bench/chat.lua``) against the targets at each concurrency, interleaved over
several rounds (each governed target next to its governance-off twin), measures requests per
second, p50/p99 latency, CPU time per request of the server's process tree (and of a full stack's
redis-server), the gateway workers' RSS, runs ``bench/ttfb.py`` for streaming, optionally a soak
(``BENCH_SOAK_REQUESTS``) and py-spy profiles (``BENCH_PROFILE``, a streaming one too), prints one table,
the ratios the gateway issue asks for, issue 17's aims on the governed path, the cost of governance and of routing,
writes the raw numbers to ``bench/out/``, and stops every process it started — on success, failure or Ctrl-C.

Knobs (environment): see ``Config`` below and bench/README.md.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_BIN = Path(os.environ.get("VENV_BIN", ROOT / ".venv" / "bin"))
PYTHON = VENV_BIN / "python"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
WRK = shutil.which("wrk") or "/usr/bin/wrk"
CLK_TCK = os.sysconf("SC_CLK_TCK")
UPSTREAM_KEY = "sk-bench-upstream-not-a-secret"
FORBIDDEN_PORTS = {8000}
PRIME_SECONDS = 2

sys.path.insert(0, str(BENCH))
import stacks  # noqa: E402 - bench/stacks.py, beside this script

# The Python floors (bench/bare_proxy.py): bench target → (granian interface, app). Only `bare` runs by default;
# the others choose the server interface and the upstream client by measurement (issue 17).
BARE_TARGETS = {
    "bare": ("asgi", "bench.bare_proxy:app"),
    "bare-rsgi": ("rsgi", "bench.bare_proxy:rsgi_app"),
    "bare-pyreqwest": ("asgi", "bench.bare_proxy:app_pyreqwest"),
    "bare-rsgi-pyreqwest": ("rsgi", "bench.bare_proxy:rsgi_app_pyreqwest"),
}
KNOWN_TARGETS = ("direct", "nginx", *BARE_TARGETS, *stacks.GATEWAY_TARGETS)
DEFAULT_TARGETS = "direct,nginx,bare,gateway,gateway-off,full,full-off,gateway-3,full-3"

# The issue's aims (bench/README.md states the figures against them).
AIM_ADDED_P50_MS = 1.0
AIM_ADDED_P99_MS = 5.0
AIM_FLOOR_SHARE = 0.30
AIM_TTFB_MS = 2.0
AIM_RSS_MB = 200.0
AIM_GOVERNANCE_CPU_MS = 0.1  # issue 10: limits + lossless metering cost under 0.1 ms of CPU per request …
AIM_GOVERNANCE_RPS = 0.10  # … and under 10 % of throughput
AIM_ROUTING_CPU_MS = 0.05  # issue 13: routing (three routes, breaker and latency window) under 0.05 ms CPU/request
# Issue 17's aims for the governed path (targets gateway and full).
AIM17_RPS_PER_CORE = 4000  # at the highest concurrency: 0.25 ms of CPU per request …
FLOOR17_RPS_PER_CORE = 2500  # … and never below this
AIM17_ADDED_P50_MS = 0.5  # added latency over direct at c=1
AIM17_ADDED_P99_MS = 3.0
AIM17_TTFB_MS = 1.0  # streaming TTFB within this of direct, at p50
AIM17_RSS_MB = 150.0  # each gateway worker …
AIM17_SOAK_GROWTH_MB = 10.0  # … and flat: under this over the soak's last half
SOAK_CONCURRENCY = 64
STREAM_PROFILE_CONCURRENCY = 16


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


@dataclass
class Config:
    quick: bool = os.environ.get("BENCH_QUICK", "") not in ("", "0", "false")
    seconds: int = 0  # per measured wrk run (wrk takes whole seconds)
    warmup: int = 0  # per run, discarded
    rounds: int = 0
    concurrency: list[int] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    ttfb_n: int = 0
    stream_chunks: int = _env_int("BENCH_STREAM_CHUNKS", 10)
    chunk_delay_ms: int = _env_int("BENCH_CHUNK_DELAY_MS", 10)
    wrk_threads: int = _env_int("BENCH_WRK_THREADS", 2)
    profile_seconds: int = _env_int("BENCH_PROFILE", 0)
    profile_concurrency: int = _env_int("BENCH_PROFILE_CONCURRENCY", 0)  # 0: the highest of BENCH_CONCURRENCY
    profile_targets: list[str] = field(default_factory=list)
    soak_requests: int = _env_int("BENCH_SOAK_REQUESTS", 0)  # 0: no soak
    soak_chunk_seconds: int = _env_int("BENCH_SOAK_CHUNK_SECONDS", 30)
    keep_tmp: bool = os.environ.get("BENCH_KEEP_TMP", "") not in ("", "0", "false")
    database_url: str = os.environ.get("BENCH_DATABASE_URL", stacks.DEFAULT_DATABASE_URL)
    out_dir: Path = Path(os.environ.get("BENCH_OUT", BENCH / "out"))

    def __post_init__(self) -> None:
        self.seconds = _env_int("BENCH_SECONDS", 1 if self.quick else 5)
        self.warmup = _env_int("BENCH_WARMUP", 0 if self.quick else 1)
        self.rounds = _env_int("BENCH_ROUNDS", 1 if self.quick else 3)
        self.ttfb_n = _env_int("BENCH_TTFB_N", 20 if self.quick else 200)
        self.concurrency = [int(c) for c in os.environ.get("BENCH_CONCURRENCY", "1,16,64").split(",") if c.strip()]
        self.targets = [t.strip() for t in os.environ.get("BENCH_TARGETS", DEFAULT_TARGETS).split(",") if t.strip()]
        unknown = set(self.targets) - set(KNOWN_TARGETS)
        if unknown:
            raise SystemExit(f"bench: unknown BENCH_TARGETS {sorted(unknown)}; use {', '.join(KNOWN_TARGETS)}")
        self.profile_targets = [t.strip() for t in os.environ.get("BENCH_PROFILE_TARGETS", "").split(",") if t.strip()] \
            or [t for t in self.targets if t in stacks.BASELINE or t in stacks.BASELINE.values()]
        if self.seconds < 1:
            raise SystemExit("bench: BENCH_SECONDS must be a whole number ≥ 1 (wrk takes whole seconds)")


def say(message: str = "") -> None:
    print(message, flush=True)


def loud(message: str) -> None:
    bar = "!" * 78
    print(f"\n{bar}\n!! {message}\n{bar}\n", file=sys.stderr, flush=True)


# --- processes -------------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _child_setup() -> None:
    """In the child: its own process group (so one killpg stops its whole tree), and SIGTERM if we die."""
    os.setsid()
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class Processes:
    """Everything the bench started; ``stop_all`` ends each of them by its own process group."""

    def __init__(self) -> None:
        self.procs: list[Proc] = []

    def start(self, name: str, cmd: list[str], *, env: dict, log: Path, cwd: Path = ROOT) -> Proc:
        handle = open(log, "ab")  # noqa: SIM115 - closed by the child's exit / our exit
        popen = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=handle,
                                 stderr=subprocess.STDOUT, preexec_fn=_child_setup)
        handle.close()
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            if proc.alive():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 12
        for proc in reversed(self.procs):
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            # The group may outlive its leader (workers): make sure nothing of it is left.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=2)
        self.procs.clear()


def _on_signal(signum, frame):  # noqa: ARG001
    raise KeyboardInterrupt(f"signal {signum}")


used_ports: set[int] = set()


def free_port() -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in FORBIDDEN_PORTS and port not in used_ports:
            used_ports.add(port)
            return port


def wait_ready(proc: Proc, url: str, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode} while starting:\n{proc.log_tail()}")
        try:
            httpx.get(url, timeout=2.0)
            return
        except httpx.HTTPError as exc:
            last = str(exc)
            time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not answer {url} within {timeout:.0f} s ({last}):\n{proc.log_tail()}")


# --- /proc accounting ------------------------------------------------------------------------

def _proc_table() -> dict[int, tuple[int, int]]:
    """pid → (ppid, cpu ticks: utime+stime+cutime+cstime) for every process we can read."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        fields = raw[raw.rfind(b")") + 2:].split()  # after "pid (comm) "
        # fields[0] is state, [1] ppid, [11..14] utime stime cutime cstime
        table[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14]))
    return table


def descendants(root: int, table: dict[int, tuple[int, int]] | None = None) -> list[int]:
    table = table if table is not None else _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, stack = [], [root]
    while stack:
        pid = stack.pop()
        if pid in table:
            out.append(pid)
        stack.extend(children.get(pid, []))
    return out


def tree_cpu_seconds(root: int) -> float:
    """CPU time (user+system) of a process and all its descendants, reaped children included."""
    table = _proc_table()
    return sum(table[pid][1] for pid in descendants(root, table)) / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    values = [int(v) for v in parts]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / CLK_TCK


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def worker_pid(root: int) -> int:
    """The gateway's worker: the largest descendant of granian's main process (with one worker, the only big one)."""
    pids = [p for p in descendants(root) if p != root] or [root]
    return max(pids, key=rss_mb)


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- setup -----------------------------------------------------------------------------------

def registry_yaml(upstream_port: int, stream_port: int) -> str:
    return f"""\
# Generated by bench/harness.py: the fake upstreams as providers, one approved alias each.
providers:
  - name: bench-upstream
    kind: openai-compatible
    base_url: http://127.0.0.1:{upstream_port}/v1
    api_key: env:BENCH_UPSTREAM_KEY
  - name: bench-stream-upstream
    kind: openai-compatible
    base_url: http://127.0.0.1:{stream_port}/v1
    api_key: env:BENCH_UPSTREAM_KEY
# Priced, so every call has a cost to charge to the bench plan's daily budget.
models:
  - alias: bench-chat
    kind: chat
    status: approved
    routes:
      - {{provider: bench-upstream, upstream_model: fake-model, weight: 100}}
    capabilities: [chat, streaming]
    pricing: {{input_per_mtok: 0.15, output_per_mtok: 0.60}}
  - alias: bench-stream
    kind: chat
    status: approved
    routes:
      - {{provider: bench-stream-upstream, upstream_model: fake-model, weight: 100}}
    capabilities: [chat, streaming]
    pricing: {{input_per_mtok: 0.15, output_per_mtok: 0.60}}
{routed_aliases()}"""


def routed_aliases() -> str:
    """Issue 13's aliases of three routes: three endpoints of the fake upstream (it answers any model name), one
    provider, the same prices as bench-chat; least-latency (bench-chat-3) and weighted 50/30/20 (bench-chat-3w)."""
    out = []
    for alias, strategy in stacks.ROUTED_ALIASES.items():
        suffix = "" if strategy == "least-latency" else "w"
        routes = "".join(f"      - {{provider: bench-upstream, upstream_model: fake-model-{chr(97 + i)}{suffix}, "
                         f"weight: {weight}}}\n" for i, weight in enumerate(stacks.ROUTED_WEIGHTS))
        out.append(f"  - alias: {alias}\n    kind: chat\n    status: approved\n    strategy: {strategy}\n"
                   f"    routes:\n{routes}    capabilities: [chat, streaming]\n"
                   "    pricing: {input_per_mtok: 0.15, output_per_mtok: 0.60}\n")
    return "".join(out)


def manage(args: list[str], env: dict, log: Path) -> str:
    result = subprocess.run([str(PYTHON), "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    with open(log, "a") as f:
        f.write(f"$ manage.py {' '.join(args)}\n{result.stdout}{result.stderr}\n")
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result.stdout


def _preflight(target: Target) -> None:
    """The bench's request answers 200 with a completion; for a gateway, no key is 401, and the bench plan's
    limits are applied exactly when governance is on (so a governed run runs every counter and is never refused)."""
    import httpx

    body = {"model": target.model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 16}
    response = httpx.post(target.url, json=body, headers={"authorization": f"Bearer {target.key}"}, timeout=10)
    if response.status_code != 200 or "choices" not in response.text:
        raise RuntimeError(f"preflight: {target.name} answered {response.status_code}: {response.text[:300]}")
    if target.stack is None:
        return
    if target.name in stacks.ROUTING_BASELINE:
        # The three-route alias really routes among its three endpoints (x-switchboard-endpoint names the one that
        # served): least-latency measures each unmeasured endpoint first, the weighted draw spreads 50/30/20.
        served = {httpx.post(target.url, json=body, headers={"authorization": f"Bearer {target.key}"},
                             timeout=10).headers.get("x-switchboard-endpoint") for _ in range(20)}
        served.add(response.headers.get("x-switchboard-endpoint"))
        expected = {f"bench-upstream/fake-model-{chr(97 + i)}{'' if target.model == 'bench-chat-3' else 'w'}"
                    for i in range(len(stacks.ROUTED_WEIGHTS))}
        if not served <= expected or len(served) < 2:
            raise RuntimeError(f"preflight: {target.name} ({target.model}) was served by {sorted(map(str, served))}, "
                               f"not by at least two of its routes {sorted(expected)}")
    refused = httpx.post(target.url, json={"model": "bench-chat", "messages": []}, timeout=10)
    if refused.status_code != 401:
        raise RuntimeError(f"preflight: {target.name} answered {refused.status_code} to a request without a key "
                           "(expected 401)")
    limit = response.headers.get("x-ratelimit-limit-requests")
    if target.stack.governed and limit != "10000000":
        raise RuntimeError(f"preflight: {target.name} is governed but its answer carries x-ratelimit-limit-requests "
                           f"{limit!r}, not the bench plan's 10000000: the bench's calls would not run its limits")
    if not target.stack.governed and limit is not None:
        raise RuntimeError(f"preflight: {target.name} has GATEWAY_GOVERNANCE=false but applied limits ({limit})")


# --- wrk -------------------------------------------------------------------------------------

@dataclass
class Target:
    name: str
    url: str
    proc: Proc
    key: str = "sk-bench-direct"  # what direct and nginx receive (they ignore it)
    stack: stacks.Stack | None = None  # the gateway targets' stack (its redis-server and metering worker)
    model: str = stacks.DEFAULT_ALIAS  # the alias wrk calls (the three-route targets: bench-chat-3, -3w)

    @property
    def redis(self) -> Proc | None:
        return self.stack.redis if self.stack is not None else None


def run_wrk(target: Target, concurrency: int, seconds: int, threads: int, *, stream: bool = False) -> dict:
    """wrk with bench/chat.lua; ``stream``: ``"stream": true`` to the paced streaming upstream's alias."""
    threads = max(1, min(threads, concurrency))
    cmd = [WRK, "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds}s", "--latency", "--timeout", "5s",
           "-s", str(BENCH / "chat.lua"), target.url]
    env = dict(os.environ, BENCH_KEY=target.key, BENCH_MODEL="bench-stream" if stream else target.model,
               BENCH_STREAM="1" if stream else "0")
    busy0, wrk0, t0 = machine_busy_seconds(), children_cpu_seconds(), time.monotonic()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    wall = time.monotonic() - t0
    busy, wrk_cpu = machine_busy_seconds() - busy0, children_cpu_seconds() - wrk0
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if result.returncode or line is None:
        raise RuntimeError(f"wrk failed ({result.returncode}) on {target.name}:\n{result.stdout}{result.stderr}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    data["wall_s"] = wall
    data["machine_busy_cpu_s"] = busy
    data["wrk_cpu_s"] = wrk_cpu
    data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
    data["socket_errors"] = sum(data["errors"][k] for k in ("connect", "read", "write", "timeout"))
    data["non_2xx"] = data["errors"]["status"]
    return data


# --- the run ---------------------------------------------------------------------------------

def median(values: list[float]) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def fmt(value: float, digits: int = 2) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:,.{digits}f}"


_cleanups: list = []  # run after every process stopped (the full stacks' databases)


def main() -> int:  # noqa: PLR0915 - one straight script
    cfg = Config()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    procs = Processes()
    tmp = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    try:
        return _run(cfg, procs, tmp, failures)
    except KeyboardInterrupt as exc:
        loud(f"bench interrupted ({exc or 'Ctrl-C'}); stopping everything it started")
        return 130
    except RuntimeError as exc:
        loud(f"bench FAILED: {exc}")
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        procs.stop_all()
        for cleanup in _cleanups:
            with contextlib.suppress(Exception):
                cleanup()
        if cfg.keep_tmp:
            say(f"(temp dir kept: {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _run(cfg: Config, procs: Processes, tmp: Path, failures: list[str]) -> int:  # noqa: C901, PLR0912, PLR0915
    logs = tmp / "logs"
    logs.mkdir()
    loadavg_start = os.getloadavg()
    say(f"Switchboard bench: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; "
        f"{cfg.rounds} round(s) × {cfg.targets} × c={cfg.concurrency}, {cfg.seconds} s each "
        f"(+{cfg.warmup} s warm-up){'  [quick]' if cfg.quick else ''}")
    if os.getloadavg()[0] > 0.5 * (os.cpu_count() or 1):
        say("note: the machine is already busy; the figures will be noisy.")

    # 1. Fake upstreams.
    up_port, stream_port = free_port(), free_port()
    granian = str(VENV_BIN / "granian")
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("FAKE_", "BENCH_KEY"))}
    upstream = procs.start("fake upstream", [granian, "--interface", "asgi", "--loop", "uvloop", "--no-access-log",
                                             "--host", "127.0.0.1", "--port", str(up_port), "bench.fake_upstream:app"],
                           env=base_env, log=logs / "upstream.log")
    stream_env = dict(base_env, FAKE_STREAM_CHUNKS=str(cfg.stream_chunks), FAKE_CHUNK_DELAY_MS=str(cfg.chunk_delay_ms))
    stream_up = procs.start("fake streaming upstream",
                            [granian, "--interface", "asgi", "--loop", "uvloop", "--no-access-log",
                             "--host", "127.0.0.1", "--port", str(stream_port), "bench.fake_upstream:app"],
                            env=stream_env, log=logs / "stream-upstream.log")

    # 2. The nginx floor.
    nginx_port = free_port()
    prefix = tmp / "nginx"
    for sub in ("tmp/client_body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
        (prefix / sub).mkdir(parents=True)
    conf = (BENCH / "nginx.conf").read_text()
    for name, value in {"PREFIX": str(prefix), "LISTEN_PORT": str(nginx_port), "UPSTREAM_PORT": str(up_port)}.items():
        conf = conf.replace(f"@@{name}@@", value)
    (prefix / "nginx.conf").write_text(conf)
    nginx_cmd = [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")]
    if os.geteuid() == 0 and shutil.which("setpriv"):
        # Never a root nginx: drop to nobody for the whole process tree (master included).
        os.chmod(tmp, 0o755)
        for path in [prefix, *prefix.rglob("*")]:
            os.chown(path, 65534, 65534)
        nginx_cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", *nginx_cmd]
    nginx = procs.start("nginx", nginx_cmd, env=base_env, log=logs / "nginx.log")

    # 2b. The Python floors: do-nothing proxies on the gateway's stack (granian + uvloop + one pooled client):
    #     `bare` is the gateway's interface and client (ASGI, aiohttp); the others swap either (bench/bare_proxy.py).
    bares: dict[str, tuple[Proc, int]] = {}
    for name in (n for n in BARE_TARGETS if n in cfg.targets):
        interface, app = BARE_TARGETS[name]
        bare_port = free_port()
        bares[name] = (procs.start(f"bare proxy ({name})",
                                   [granian, "--interface", interface, "--loop", "uvloop", "--no-access-log",
                                    "--log-level", "warning", "--host", "127.0.0.1", "--port", str(bare_port), app],
                                   env={**base_env,
                                        "BARE_UPSTREAM_URL": f"http://127.0.0.1:{up_port}/v1/chat/completions"},
                                   log=logs / f"{name}.log"), bare_port)

    # 3. The gateway stacks (bench/stacks.py), each served as `make run` serves it (bin/serve, one worker) with
    #    its metering worker: embedded and full stack, governance on and off.
    gw_env = dict(base_env, HTTPS_ONLY="false", REQUIRE_ADMIN_MFA="false", LOG_FORMAT="console", LOG_LEVEL="WARNING",
                  WEB_CONCURRENCY="1", BENCH_UPSTREAM_KEY=UPSTREAM_KEY)
    registry_file = tmp / "bench-registry.yaml"
    registry_file.write_text(registry_yaml(up_port, stream_port))
    the_stacks, skipped = _start_stacks(cfg, procs, tmp, gw_env, registry_file)

    path = "/v1/chat/completions"
    for proc, url in ((upstream, f"http://127.0.0.1:{up_port}/v1/models"),
                      (stream_up, f"http://127.0.0.1:{stream_port}/v1/models"),
                      (nginx, f"http://127.0.0.1:{nginx_port}/v1/models"),
                      *((proc, f"http://127.0.0.1:{port}/v1/models") for proc, port in bares.values()),
                      *((s.gateway, f"http://127.0.0.1:{s.port}/v1/models") for s in the_stacks.values())):
        if proc is not None:
            wait_ready(proc, url)

    all_targets = {
        "direct": Target("direct", f"http://127.0.0.1:{up_port}{path}", upstream),
        "nginx": Target("nginx", f"http://127.0.0.1:{nginx_port}{path}", nginx),
    }
    for name, (proc, port) in bares.items():
        all_targets[name] = Target(name, f"http://127.0.0.1:{port}{path}", proc)
    for name in cfg.targets:
        if name in stacks.GATEWAY_TARGETS:
            stack_name, caller = stacks.GATEWAY_TARGETS[name]
            stack = the_stacks[stack_name]
            all_targets[name] = Target(name, stack.url, stack.gateway, key=stack.keys[caller], stack=stack,
                                       model=stacks.ALIAS.get(name, stacks.DEFAULT_ALIAS))
    targets = {name: all_targets[name] for name in cfg.targets}

    # Sanity before measuring: every target answers the bench's request with a 200 completion; every gateway
    # refuses a request without a key (authentication is on); a governed gateway applies the bench plan's limits
    # (its rate-limit headers show them) and a GATEWAY_GOVERNANCE=false one applies none.
    for target in targets.values():
        _preflight(target)
    say("ready: " + "  ".join(f"{t.name} :{t.url.split(':')[2].split('/')[0]}" for t in targets.values()))

    rss = {name: {"start_mb": rss_mb(worker_pid(s.gateway.pid)), "after_round_mb": [],
                  "worker_pid": worker_pid(s.gateway.pid)} for name, s in the_stacks.items()}
    metering_cpu0 = {name: tree_cpu_seconds(s.worker.pid) for name, s in the_stacks.items()}

    # Prime every target once (connection pools to the upstream and to Redis, the Lua scripts loaded, first-call
    # imports), so the first measured run of a target does not pay its start-up: wrk at the highest concurrency.
    say(f"priming every target: {PRIME_SECONDS} s at c={max(cfg.concurrency)} each (not measured) …")
    for target in targets.values():
        primed = run_wrk(target, max(cfg.concurrency), PRIME_SECONDS, cfg.wrk_threads)
        if primed["non_2xx"] or primed["socket_errors"]:
            failures.append(f"priming {target.name}: {primed['non_2xx']} non-2xx, {primed['socket_errors']} socket "
                            "errors")

    # 4. The load runs: interleaved; each round runs every target at every concurrency, governed targets next to
    #    their GATEWAY_GOVERNANCE=false twin (the pair's order flips every other round, groups rotate per round).
    runs: list[dict] = []
    for rnd in range(cfg.rounds):
        for conc in cfg.concurrency:
            for name in stacks.round_order(cfg.targets, rnd):
                runs.append(_measure(cfg, targets[name], conc, rnd, upstream, failures))
        for name in the_stacks:
            rss[name]["after_round_mb"].append(rss_mb(rss[name]["worker_pid"]))
        say("  gateway worker RSS after round " + f"{rnd + 1}: "
            + ", ".join(f"{n} {r['after_round_mb'][-1]:.1f} MB" for n, r in rss.items()))

    # 5. Streaming: time to first byte and chunk spread, direct vs the governed gateways (embedded; full stack).
    ttfb = {}
    streamed = [name for name in ("gateway", "full") if name in targets]
    if streamed:
        say(f"streaming: {cfg.ttfb_n} sequential requests each to direct and {' and '.join(streamed)} "
            f"({cfg.stream_chunks} chunks, {cfg.chunk_delay_ms} ms apart) …")
        for name, url, stream_key in (("direct", f"http://127.0.0.1:{stream_port}{path}", "sk-bench-direct"),
                                      *((n, targets[n].url, targets[n].key) for n in streamed)):
            result = subprocess.run([str(PYTHON), str(BENCH / "ttfb.py"), "--url", url, "--key", stream_key,
                                     "--model", "bench-stream", "-n", str(cfg.ttfb_n),
                                     "--chunks", str(cfg.stream_chunks), "--delay-ms", str(cfg.chunk_delay_ms)],
                                    capture_output=True, text=True, timeout=600)
            try:
                ttfb[name] = json.loads(result.stdout.strip().splitlines()[-1])
            except (IndexError, json.JSONDecodeError):
                raise RuntimeError(f"ttfb.py failed on {name}:\n{result.stdout}{result.stderr}") from None
            if ttfb[name]["non_200"] or not ttfb[name]["ok"]:
                failures.append(f"streaming {name}: {ttfb[name]['non_200']} non-200 ({ttfb[name]['statuses']})")
    for name in rss:
        rss[name]["end_mb"] = rss_mb(rss[name]["worker_pid"])

    # 5b. Optional: the soak (BENCH_SOAK_REQUESTS): the embedded governed gateway under c=64 until N requests,
    #     its worker's RSS after each chunk (issue 17: under 150 MB and flat).
    soak: dict = {}
    if cfg.soak_requests and "gateway" in targets:
        soak = _soak(cfg, targets["gateway"], rss["embedded"]["worker_pid"], failures)
    elif cfg.soak_requests:
        say("soak: BENCH_SOAK_REQUESTS needs the target gateway in BENCH_TARGETS; skipped")

    # The ledger: every request a gateway answered became one usage event, written by its stack's worker.
    ledgers = {}
    for name, stack in the_stacks.items():
        ledger = ledgers[name] = _ledger_check(runs + soak.get("chunks", []), stack)
        ledger["worker_cpu_s"] = tree_cpu_seconds(stack.worker.pid) - metering_cpu0[name]
        if ledger["rows"] < ledger["wrk_counted_requests"]:
            failures.append(f"the usage ledger of stack {name} holds {ledger['rows']} events for "
                            f"{ledger['wrk_counted_requests']} requests: metering lost events "
                            f"(see the worker's log with BENCH_KEEP_TMP=1)")
        if not stack.worker.alive():
            failures.append(f"the metering worker of stack {name} died:\n{stack.worker.log_tail()}")

    # 6. Optional: profile gateway workers under load with py-spy.
    profiles = {}
    if cfg.profile_seconds:
        for name in cfg.profile_targets:
            if name in targets and targets[name].stack is not None:
                profiles[name] = _profile(cfg, targets[name], rss[targets[name].stack.name]["worker_pid"], failures)
        if "gateway" in targets:  # and the embedded governed gateway relaying streams (issue 17)
            profiles["gateway-stream"] = _profile(cfg, targets["gateway"], rss["embedded"]["worker_pid"], failures,
                                                  stream=True)

    report = _report(cfg, runs, rss, ledgers, ttfb, failures, skipped)
    report["ratios"]["issue17"] = _issue17_report(cfg, report["summary"], rss, ttfb, soak, profiles)
    say("  sanity: " + ("every run answered 2xx with no socket errors; every ledger held every counted request"
                        if not failures else "FAILED (see below)"))
    report["profile"] = profiles
    report["soak"] = soak
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    report["meta"] = {
        "when": stamp, "cores": os.cpu_count(), "loadavg_start": loadavg_start, "loadavg_end": os.getloadavg(),
        "python": platform.python_version(),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in cfg.__dict__.items()},
        "git": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip(),
        "ports": {"direct": up_port, "nginx": nginx_port, "stream_upstream": stream_port,
                  **{name: s.port for name, s in the_stacks.items()}},
        "skipped": skipped,
    }
    report["runs"] = runs
    out = cfg.out_dir / f"bench-{stamp}.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    (cfg.out_dir / "latest.json").write_text(out.read_text())
    say(f"raw numbers: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    say(f"load average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")

    if failures:
        loud("THE BENCH IS INVALID — requests failed, so the figures above measure errors, not the gateway:\n!! "
             + "\n!! ".join(failures))
        return 1
    return 0


def _start_stacks(cfg: Config, procs: Processes, tmp: Path, gw_env: dict,
                  registry_file: Path) -> tuple[dict[str, stacks.Stack], dict[str, str]]:
    """Set up and serve every stack the targets need; full-stack targets are skipped (loudly) without
    PostgreSQL or redis-server."""
    skipped: dict[str, str] = {}
    full_targets = [t for t in cfg.targets if t in stacks.GATEWAY_TARGETS
                    and stacks.STACKS[stacks.GATEWAY_TARGETS[t][0]][0]]
    if full_targets:
        problem = stacks.redis_problem() or stacks.postgres_problem(cfg.database_url)
        if problem:
            skipped = dict.fromkeys(full_targets, problem)
            cfg.targets = [t for t in cfg.targets if t not in skipped]
            loud(f"the full-stack targets {', '.join(full_targets)} are SKIPPED: {problem}")
    the_stacks = stacks.make_stacks(stacks.stacks_needed(cfg.targets), base_env=gw_env, tmp=tmp,
                                    free_port=free_port, database_base=cfg.database_url)
    if not the_stacks:
        return the_stacks, skipped
    say(f"setting up the gateway stacks ({', '.join(the_stacks)}): migrate, registry apply, the bench's plans "
        "and keys …")
    if os.geteuid() == 0:
        os.chmod(tmp, 0o755)  # the private redis-servers run as nobody
    for stack in the_stacks.values():
        if stack.full:
            stacks.start_redis(stack, procs, tmp, free_port)
            if not cfg.keep_tmp:
                _cleanups.append(lambda url=stack.database_url: stacks.recreate_database(url, drop_only=True))
    started = time.monotonic()
    stacks.set_up_all(the_stacks, manage=manage, registry_file=registry_file)
    say(f"  set up in {time.monotonic() - started:.0f} s; serving …")
    for stack in the_stacks.values():
        stacks.serve(stack, procs, root=ROOT, venv_bin=VENV_BIN)
    return the_stacks, skipped


def _cpu(pids: list[int | None]) -> list[float]:
    """CPU seconds of each process tree (None: 0), from one reading of /proc."""
    table = _proc_table()
    return [sum(table[p][1] for p in descendants(pid, table)) / CLK_TCK if pid else 0.0 for pid in pids]


def _measure(cfg: Config, target: Target, conc: int, rnd: int, upstream: Proc, failures: list[str]) -> dict:
    """One measured wrk run (after its warm-up): rps, latency, and CPU per request of the server, the upstream,
    the stack's redis-server and its metering worker."""
    if cfg.warmup:
        warm = run_wrk(target, conc, cfg.warmup, cfg.wrk_threads)
        if warm["non_2xx"] or warm["socket_errors"]:
            failures.append(f"warm-up {target.name} c={conc} round {rnd + 1}: "
                            f"{warm['non_2xx']} non-2xx, {warm['socket_errors']} socket errors")
    stack = target.stack
    pids = [target.proc.pid, upstream.pid, target.redis.pid if target.redis else None,
            stack.worker.pid if stack else None]
    before = _cpu(pids)
    data = run_wrk(target, conc, cfg.seconds, cfg.wrk_threads)
    cpu, up_cpu, redis_cpu, worker_cpu = (b - a for a, b in zip(before, _cpu(pids), strict=True))
    requests = max(1, data["requests"])
    record = {
        "round": rnd + 1, "target": target.name, "concurrency": conc,
        "rps": data["rps"], "p50_ms": data["latency_us"]["p50"] / 1000,
        "p99_ms": data["latency_us"]["p99"] / 1000,
        "server_cpu_s": cpu, "cpu_ms_per_req": cpu * 1000 / requests,
        "upstream_cpu_ms_per_req": up_cpu * 1000 / requests,
        # The stack's own redis-server (full stack: limiter, stream, broker, config versions); None without one.
        "redis_cpu_ms_per_req": redis_cpu * 1000 / requests if target.redis else None,
        # The stack's metering worker during the run (it trails the gateway by about a second: indicative).
        "worker_cpu_ms_per_req": worker_cpu * 1000 / requests if stack else None,
        "wrk_cpu_ms_per_req": data["wrk_cpu_s"] * 1000 / requests,
        # CPU burnt on this machine by anything but the server, its redis, the upstream and wrk (other load): cores.
        "other_load_cores": max(0.0, data["machine_busy_cpu_s"] - data["wrk_cpu_s"] - up_cpu - redis_cpu
                                - (0 if target.name == "direct" else cpu)) / data["wall_s"],
        "wrk": data,
    }
    bad = data["non_2xx"] or data["socket_errors"]
    if bad:
        failures.append(f"{target.name} c={conc} round {rnd + 1}: {data['non_2xx']} non-2xx, "
                        f"{data['socket_errors']} socket errors {data['errors']}")
    redis_note = f" (+redis {record['redis_cpu_ms_per_req']:.3f})" if target.redis else ""
    say(f"  round {rnd + 1}  {target.name:<19} c={conc:<3} {record['rps']:>9,.0f} rps  "
        f"p50 {record['p50_ms']:7.2f} ms  p99 {record['p99_ms']:7.2f} ms  "
        f"cpu {record['cpu_ms_per_req']:.3f}{redis_note} ms/req{'   <-- ERRORS' if bad else ''}")
    if not target.proc.alive():
        raise RuntimeError(f"{target.name} died during the run:\n{target.proc.log_tail()}")
    return record


def _ledger_check(runs: list[dict], stack: stacks.Stack) -> dict:
    """Wait (bounded) until the stack's worker has written what its gateway recorded, then count the ledger."""
    mine = {t for t, (s, _) in stacks.GATEWAY_TARGETS.items() if s == stack.name}
    counted = sum(r["wrk"]["requests"] for r in runs if r["target"] in mine)
    script = "from portal.models import UsageEvent; print(UsageEvent.objects.count())"
    rows, started, previous = 0, time.monotonic(), -1
    while time.monotonic() - started < 120:
        rows = int(manage(["shell", "-c", script], stack.env, stack.logs / "ledger.log").strip().splitlines()[-1])
        if rows == previous:
            break
        previous = rows
        time.sleep(3)
    return {"rows": rows, "wrk_counted_requests": counted, "drain_s": time.monotonic() - started}


def _report(cfg: Config, runs: list[dict], rss: dict, ledgers: dict, ttfb: dict, failures: list[str],  # noqa: C901
            skipped: dict[str, str]) -> dict:
    summary: dict[str, dict[int, dict]] = {}
    say("")
    header = f"{'target':<20}{'conc':>5}{'rps':>10}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/req':>12}{'+redis':>8}" \
             f"{'rps/core':>10}{'other load':>12}   rps per round"
    say(header)
    say("-" * len(header))
    for target in cfg.targets:
        for conc in cfg.concurrency:
            mine = [r for r in runs if r["target"] == target and r["concurrency"] == conc]
            if not mine:
                continue
            row = {
                "rps": median([r["rps"] for r in mine]),
                "p50_ms": median([r["p50_ms"] for r in mine]),
                "p99_ms": median([r["p99_ms"] for r in mine]),
                "cpu_ms_per_req": median([r["cpu_ms_per_req"] for r in mine]),
                "upstream_cpu_ms_per_req": median([r["upstream_cpu_ms_per_req"] for r in mine]),
                "redis_cpu_ms_per_req": median([r.get("redis_cpu_ms_per_req") for r in mine]),
                "worker_cpu_ms_per_req": median([r.get("worker_cpu_ms_per_req") for r in mine]),
                "other_load_cores": median([r["other_load_cores"] for r in mine]),
                "rps_rounds": [round(r["rps"]) for r in mine],
            }
            row["rps_per_core"] = 1000 / row["cpu_ms_per_req"] if row["cpu_ms_per_req"] > 0 else float("nan")
            summary.setdefault(target, {})[conc] = row
            say(f"{target:<20}{conc:>5}{fmt(row['rps'], 0):>10}{fmt(row['p50_ms']):>9}{fmt(row['p99_ms']):>9}"
                f"{fmt(row['cpu_ms_per_req'], 3):>12}{fmt(row['redis_cpu_ms_per_req'], 3):>8}"
                f"{fmt(row['rps_per_core'], 0):>10}"
                f"{fmt(row['other_load_cores'], 2):>12}   {row['rps_rounds']}")
    say("(medians over rounds; CPU ms/req = user+system CPU of that server's process tree ÷ requests; +redis = the "
        "full stack's own\n redis-server, per request; rps/core = 1000 ÷ CPU ms/req of the server alone; other load = "
        "cores busy with anything\n but wrk, the upstream, the server and its redis during the run, its metering "
        "worker included)")
    for target, why in skipped.items():
        say(f"{target:<20} SKIPPED: {why}")

    def cell(target: str, conc: int, key: str) -> float:
        return summary.get(target, {}).get(conc, {}).get(key, float("nan"))

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    ratios: dict = {}
    lo = min(cfg.concurrency)
    hi = max(cfg.concurrency)
    say("")
    say("Against the issue's aims:")
    if "gateway" in summary and "direct" in summary:
        d50 = cell("gateway", lo, "p50_ms") - cell("direct", lo, "p50_ms")
        d99 = cell("gateway", lo, "p99_ms") - cell("direct", lo, "p99_ms")
        ratios.update(added_p50_ms=d50, added_p99_ms=d99)
        say(f"  added latency over direct at c={lo}: p50 {d50:+.2f} ms (aim < {AIM_ADDED_P50_MS:g}: "
            f"{verdict(d50 < AIM_ADDED_P50_MS)}), p99 {d99:+.2f} ms (aim < {AIM_ADDED_P99_MS:g}: "
            f"{verdict(d99 < AIM_ADDED_P99_MS)})")
    if "gateway" in summary and "nginx" in summary:
        share = cell("gateway", hi, "rps") / cell("nginx", hi, "rps")
        ratios["floor_share_at_max_c"] = share
        say(f"  throughput at c={hi}: gateway {fmt(cell('gateway', hi, 'rps'), 0)} rps = {share:.0%} of the nginx "
            f"floor's {fmt(cell('nginx', hi, 'rps'), 0)} (aim ≥ {AIM_FLOOR_SHARE:.0%}: "
            f"{verdict(share >= AIM_FLOOR_SHARE)})")
    if "bare" in summary and "nginx" in summary:
        bare_share = cell("bare", hi, "rps") / cell("nginx", hi, "rps")
        ratios.update(bare_floor_share_at_max_c=bare_share)
        say(f"  Python floor (bench/bare_proxy.py: the same server, loop and client, doing nothing): c={hi} "
            f"{fmt(cell('bare', hi, 'rps'), 0)} rps = {bare_share:.0%} of the nginx floor, "
            f"{fmt(cell('bare', hi, 'cpu_ms_per_req'), 3)} ms CPU/request")
        if "gateway" in summary:
            own = cell("gateway", hi, "cpu_ms_per_req") - cell("bare", hi, "cpu_ms_per_req")
            ratios.update(gateway_own_cpu_ms_per_req=own)
            say(f"    → the gateway's own work (auth, validation, translation, routing, metering): {own:.3f} ms "
                f"CPU/request; gateway at {cell('gateway', hi, 'rps') / cell('bare', hi, 'rps'):.0%} of the Python "
                f"floor's throughput")
        if "direct" in summary:
            say(f"    added latency of the Python floor alone at c={lo}: p50 "
                f"{cell('bare', lo, 'p50_ms') - cell('direct', lo, 'p50_ms'):+.2f} ms, p99 "
                f"{cell('bare', lo, 'p99_ms') - cell('direct', lo, 'p99_ms'):+.2f} ms")
    variants = [n for n in BARE_TARGETS if n in summary]
    if len(variants) > 1:
        say("  Python floors by server interface and upstream client (bench/bare_proxy.py; CPU ms/request, rps):")
        for name in variants:
            interface, app = BARE_TARGETS[name]
            client = "pyreqwest" if "pyreqwest" in app else "aiohttp"
            cpu = {c: cell(name, c, "cpu_ms_per_req") for c in cfg.concurrency}
            ratios.setdefault("python_floors", {})[name] = {"interface": interface, "client": client,
                                                            "cpu_ms_per_req": cpu,
                                                            "rps": {c: cell(name, c, "rps") for c in cfg.concurrency}}
            added = (f"; added p50 at c={lo} {cell(name, lo, 'p50_ms') - cell('direct', lo, 'p50_ms'):+.2f} ms"
                     if "direct" in summary else "")
            say(f"    {name:<20} {interface.upper():<5} + {client:<9} "
                + "  ".join(f"c={c} {fmt(cpu[c], 3)} ms, {fmt(cell(name, c, 'rps'), 0)} rps" for c in cfg.concurrency)
                + f" ({fmt(1000 / cpu[hi] if cpu[hi] > 0 else float('nan'), 0)}/core at c={hi}{added})")
    if "gateway" in summary:
        per_core = cell("gateway", hi, "rps_per_core")
        ratios["gateway_rps_per_core_at_max_c"] = per_core
        ratios["gateway_cpu_ms_per_req_at_max_c"] = cell("gateway", hi, "cpu_ms_per_req")
        say(f"  gateway requests per second per core at c={hi}: {fmt(per_core, 0)} "
            f"({fmt(cell('gateway', hi, 'cpu_ms_per_req'), 3)} ms CPU/request; marks: compiled gateways ≈ 2,500, "
            f"Portkey ≈ 700, LiteLLM ≈ 90)")
        if "nginx" in summary:
            say(f"  nginx floor per core at c={hi}: {fmt(cell('nginx', hi, 'rps_per_core'), 0)} "
                f"({fmt(cell('nginx', hi, 'cpu_ms_per_req'), 3)} ms CPU/request)")
    if ttfb.get("direct") and ttfb.get("gateway"):
        t_d, t_g = ttfb["direct"]["ttfb_ms"], ttfb["gateway"]["ttfb_ms"]
        diff50, diff99 = t_g["p50"] - t_d["p50"], t_g["p99"] - t_d["p99"]
        spread = ttfb["gateway"]["spread_out"]
        ratios.update(ttfb_diff_p50_ms=diff50, ttfb_diff_p99_ms=diff99, gateway_stream_spread_out=spread)
        say(f"  streaming TTFB: direct p50 {t_d['p50']:.2f} / p99 {t_d['p99']:.2f} ms, gateway p50 {t_g['p50']:.2f} / "
            f"p99 {t_g['p99']:.2f} ms → {diff50:+.2f} ms p50, {diff99:+.2f} ms p99 "
            f"(aim within {AIM_TTFB_MS:g} ms: {verdict(diff50 <= AIM_TTFB_MS)} at p50)")
        g = ttfb["gateway"]
        say(f"  streaming chunks through the gateway: {g['reads_p50']:g} reads/response, spread over "
            f"{g['spread_ms_p50']:.0f} ms of the upstream's {g['expected_spread_ms']:.0f} ms "
            f"(direct: {ttfb['direct']['reads_p50']:g} reads, {ttfb['direct']['spread_ms_p50']:.0f} ms) → "
            f"{'not buffered' if spread else 'BUFFERED'} ({verdict(spread)})")
    for name, r in rss.items():
        rounds_rss = r["after_round_mb"]
        growth = r["end_mb"] - r["start_mb"]
        label = "gateway worker RSS" + ("" if name == "embedded" else f" ({name})")
        aim = f"aim < {AIM_RSS_MB:g} MB: {verdict(max([r['end_mb'], *rounds_rss]) < AIM_RSS_MB)}; " \
            if name == "embedded" else ""
        say(f"  {label}: {r['start_mb']:.1f} MB at start → {', '.join(f'{v:.1f}' for v in rounds_rss)}"
            f" after each round → {r['end_mb']:.1f} MB at the end ({aim}growth {growth:+.1f} MB)")
    if "embedded" in rss:
        r = rss["embedded"]
        ratios.update(rss_start_mb=r["start_mb"], rss_end_mb=r["end_mb"], rss_growth_mb=r["end_mb"] - r["start_mb"])
    for name, ledger in ledgers.items():
        say(f"  usage ledger ({name}): {ledger['rows']:,} events written by the worker for the "
            f"{ledger['wrk_counted_requests']:,} requests wrk counted (plus warm-ups and streams; settled "
            f"{ledger['drain_s']:.0f} s after the load); the metering worker (Celery, off the request path) spent "
            f"{ledger['worker_cpu_s'] * 1000 / max(1, ledger['rows']):.3f} ms CPU per event written")
    ratios["governance"] = _governance_report(cfg, runs, ledgers)
    ratios["routing"] = _routing_report(cfg, runs)
    return {"summary": {t: {str(c): v for c, v in rows.items()} for t, rows in summary.items()},
            "ratios": ratios, "rss": rss, "ledgers": ledgers, "ttfb": ttfb, "failures": failures}


def _soak(cfg: Config, target: Target, pid: int, failures: list[str]) -> dict:
    """wrk at c=64 against ``target`` in chunks (BENCH_SOAK_CHUNK_SECONDS) until BENCH_SOAK_REQUESTS are done,
    the worker's RSS after each chunk. Each chunk must be all 2xx with no socket errors, like every run."""
    say(f"soak: {target.name} at c={SOAK_CONCURRENCY} until {cfg.soak_requests:,} requests, "
        f"RSS of its worker (pid {pid}) after each chunk of ≤ {cfg.soak_chunk_seconds} s …")
    start_mb, done, chunks, t0 = rss_mb(pid), 0, [], time.monotonic()
    rps = 0.0
    while done < cfg.soak_requests:
        left = cfg.soak_requests - done
        seconds = cfg.soak_chunk_seconds if not rps else max(1, min(cfg.soak_chunk_seconds, round(left / rps + 0.5)))
        cpu0 = _cpu([target.proc.pid])[0]
        data = run_wrk(target, SOAK_CONCURRENCY, seconds, cfg.wrk_threads)
        cpu = _cpu([target.proc.pid])[0] - cpu0
        done += data["requests"]
        rps = data["rps"]
        chunk = {"target": target.name, "seconds": seconds, "rps": rps, "requests_done": done,
                 "cpu_ms_per_req": cpu * 1000 / max(1, data["requests"]), "rss_mb": rss_mb(pid),
                 "wrk": {"requests": data["requests"], "errors": data["errors"]}}
        chunks.append(chunk)
        bad = data["non_2xx"] or data["socket_errors"]
        if bad:
            failures.append(f"soak chunk {len(chunks)}: {data['non_2xx']} non-2xx, {data['socket_errors']} socket "
                            f"errors {data['errors']}")
        say(f"  soak {done:>11,} requests  {rps:7,.0f} rps  cpu {chunk['cpu_ms_per_req']:.3f} ms/req  "
            f"RSS {chunk['rss_mb']:.1f} MB{'   <-- ERRORS' if bad else ''}")
        if not target.proc.alive():
            raise RuntimeError(f"{target.name} died during the soak:\n{target.proc.log_tail()}")
    samples = [start_mb, *(c["rss_mb"] for c in chunks)]
    half = samples[len(samples) // 2]
    return {"requests": done, "concurrency": SOAK_CONCURRENCY, "wall_s": time.monotonic() - t0,
            "start_mb": start_mb, "samples_mb": samples[1:], "end_mb": samples[-1], "peak_mb": max(samples),
            "growth_mb": samples[-1] - start_mb, "growth_last_half_mb": samples[-1] - half, "chunks": chunks}


def _issue17_report(cfg: Config, summary: dict, rss: dict, ttfb: dict, soak: dict,  # noqa: C901, PLR0912
                    profiles: dict) -> dict:
    """Issue 17's aims, on the governed path: the embedded gateway (``gateway``) and the full stack (``full``)."""
    governed = [t for t in ("gateway", "full") if t in summary]
    if not governed:
        return {}
    lo, hi = str(min(cfg.concurrency)), str(max(cfg.concurrency))

    def cell(target: str, conc: str, key: str) -> float:
        value = summary.get(target, {}).get(conc, {}).get(key)
        return float("nan") if value is None else value

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    say("")
    say("Against issue 17's aims (governed path):")
    out: dict = {}
    for target in governed:
        mine = out[target] = {}
        full = target == "full"
        label = f"{target} ({'full stack' if full else 'embedded'})"
        # CPU per request: the gateway's process tree, plus (full stack) its own redis-server.
        cpu = cell(target, hi, "cpu_ms_per_req") + (cell(target, hi, "redis_cpu_ms_per_req") if full else 0.0)
        per_core = 1000 / cpu if cpu > 0 else float("nan")
        mine.update(cpu_ms_per_req_at_max_c=cpu, rps_per_core_at_max_c=per_core,
                    rps_per_core_met=per_core >= AIM17_RPS_PER_CORE, rps_per_core_floor_met=per_core >= FLOOR17_RPS_PER_CORE)
        counted = "the gateway's process tree + its redis-server" if full else "the gateway's process tree"
        say(f"  {label}: requests per second per core at c={hi}: {fmt(per_core, 0)} ({cpu:.3f} ms CPU/request of "
            f"{counted}; aim ≥ {AIM17_RPS_PER_CORE:,} = {1000 / AIM17_RPS_PER_CORE:g} ms: "
            f"{verdict(mine['rps_per_core_met'])}; floor ≥ {FLOOR17_RPS_PER_CORE:,}: "
            f"{verdict(mine['rps_per_core_floor_met'])})")
        if "direct" in summary:
            d50 = cell(target, lo, "p50_ms") - cell("direct", lo, "p50_ms")
            d99 = cell(target, lo, "p99_ms") - cell("direct", lo, "p99_ms")
            mine.update(added_p50_ms=d50, added_p99_ms=d99, added_p50_met=d50 < AIM17_ADDED_P50_MS,
                        added_p99_met=d99 < AIM17_ADDED_P99_MS)
            say(f"  {label}: added latency over direct at c={lo}: p50 {d50:+.2f} ms (aim < {AIM17_ADDED_P50_MS:g}: "
                f"{verdict(mine['added_p50_met'])}), p99 {d99:+.2f} ms (aim < {AIM17_ADDED_P99_MS:g}: "
                f"{verdict(mine['added_p99_met'])})")
        if ttfb.get("direct") and ttfb.get(target):
            diff50 = ttfb[target]["ttfb_ms"]["p50"] - ttfb["direct"]["ttfb_ms"]["p50"]
            spread = ttfb[target]["spread_out"]
            mine.update(ttfb_diff_p50_ms=diff50, ttfb_met=diff50 <= AIM17_TTFB_MS, stream_spread_out=spread)
            say(f"  {label}: streaming TTFB p50 {ttfb[target]['ttfb_ms']['p50']:.2f} vs direct "
                f"{ttfb['direct']['ttfb_ms']['p50']:.2f} ms → {diff50:+.2f} ms (aim within {AIM17_TTFB_MS:g} ms: "
                f"{verdict(mine['ttfb_met'])}); chunks {'not buffered' if spread else 'BUFFERED'} "
                f"({ttfb[target]['reads_p50']:g} reads over {ttfb[target]['spread_ms_p50']:.0f} ms: {verdict(spread)})")
        r = rss.get(stacks.GATEWAY_TARGETS[target][0])
        if r:
            peak = max([r["start_mb"], *r["after_round_mb"], r["end_mb"]])
            mine.update(rss_peak_mb=peak, rss_growth_mb=r["end_mb"] - r["start_mb"], rss_met=peak < AIM17_RSS_MB)
            say(f"  {label}: worker RSS {r['start_mb']:.1f} → {r['end_mb']:.1f} MB, peak {peak:.1f} (aim < "
                f"{AIM17_RSS_MB:g} MB: {verdict(mine['rss_met'])}; growth {mine['rss_growth_mb']:+.1f} MB over the "
                f"run{'' if soak and target == 'gateway' else '; flatness: BENCH_SOAK_REQUESTS'})")
        steps = (profiles.get(target) or {}).get("steps")
        if steps:
            say(f"  {label}: per-step cost at c={profiles[target]['concurrency']} (py-spy, ≈ ms/request; the "
                f"table: profile-summary-{target}-c{profiles[target]['concurrency']}.txt): "
                + ", ".join(f"{k.split(' (')[0].split(':')[0]} "
                            + (v["note"] if v.get("note") else f"{v['ms']:.3f}" if v["ms"] is not None else "-")
                            for k, v in steps.items()))
        elif target == "gateway":
            say(f"  {label}: per-step cost: BENCH_PROFILE=SECONDS prints it (bench/profile_summary.py)")
    if soak:
        met = soak["peak_mb"] < AIM17_RSS_MB and soak["growth_last_half_mb"] < AIM17_SOAK_GROWTH_MB
        out["soak"] = {k: v for k, v in soak.items() if k != "chunks"} | {"met": met}
        say(f"  soak (gateway, c={soak['concurrency']}, {soak['requests']:,} requests in {soak['wall_s']:.0f} s): "
            f"RSS {soak['start_mb']:.1f} MB → {', '.join(f'{v:.1f}' for v in soak['samples_mb'])} → "
            f"{soak['end_mb']:.1f} MB (peak {soak['peak_mb']:.1f}; growth {soak['growth_mb']:+.1f} MB, "
            f"{soak['growth_last_half_mb']:+.1f} over the last half; aim < {AIM17_RSS_MB:g} MB and < "
            f"{AIM17_SOAK_GROWTH_MB:g} MB growth over the last half: {verdict(met)})")
    return out


def _governance_report(cfg: Config, runs: list[dict], ledgers: dict) -> dict:
    """The cost of governance: each governed target against its GATEWAY_GOVERNANCE=false twin, paired by round.

    Per round and concurrency the two runs were next to each other, so each round gives one difference of CPU per
    request (gateway, plus the stack's redis-server in the full stack) and one ratio of throughput; the figures
    are the medians of those paired values.
    """
    def run_of(target: str, conc: int, rnd: int) -> dict | None:
        return next((r for r in runs if r["target"] == target and r["concurrency"] == conc and r["round"] == rnd),
                    None)

    pairs = [(t, b) for t, b in stacks.BASELINE.items() if t in cfg.targets and b in cfg.targets]
    if not pairs:
        return {}
    say("")
    say("Cost of governance (issue 10: limits + lossless metering on, against GATEWAY_GOVERNANCE=false; "
        f"aim < {AIM_GOVERNANCE_CPU_MS:g} ms CPU/request and < {AIM_GOVERNANCE_RPS:.0%} of throughput),")
    say("paired by round (medians of the per-round differences; CPU = the gateway's process tree, plus its own "
        "redis-server in the full stack):")
    out: dict = {}
    for target, baseline in pairs:
        full = stacks.MODE[target] == "full stack"
        for conc in cfg.concurrency:
            d_cpu, d_gw, d_redis, d_rps, on_cpu, off_cpu, on_rps, off_rps = [], [], [], [], [], [], [], []
            for rnd in range(1, cfg.rounds + 1):
                on, off = run_of(target, conc, rnd), run_of(baseline, conc, rnd)
                if on is None or off is None:
                    continue
                total_on = on["cpu_ms_per_req"] + (on["redis_cpu_ms_per_req"] or 0)
                total_off = off["cpu_ms_per_req"] + (off["redis_cpu_ms_per_req"] or 0)
                on_cpu.append(total_on)
                off_cpu.append(total_off)
                d_cpu.append(total_on - total_off)
                d_gw.append(on["cpu_ms_per_req"] - off["cpu_ms_per_req"])
                d_redis.append((on["redis_cpu_ms_per_req"] or 0) - (off["redis_cpu_ms_per_req"] or 0))
                on_rps.append(on["rps"])
                off_rps.append(off["rps"])
                d_rps.append(on["rps"] / off["rps"] - 1 if off["rps"] else float("nan"))
            if not d_cpu:
                continue
            cell = {"mode": stacks.MODE[target], "baseline": baseline,
                    "cpu_on_ms": median(on_cpu), "cpu_off_ms": median(off_cpu), "delta_cpu_ms": median(d_cpu),
                    "delta_gateway_cpu_ms": median(d_gw), "delta_redis_cpu_ms": median(d_redis),
                    "rps_on": median(on_rps), "rps_off": median(off_rps), "delta_rps": median(d_rps),
                    "delta_cpu_rounds": [round(v, 3) for v in d_cpu], "delta_rps_rounds": [round(v, 3) for v in d_rps]}
            cell["cpu_met"] = cell["delta_cpu_ms"] < AIM_GOVERNANCE_CPU_MS
            cell["rps_met"] = -cell["delta_rps"] < AIM_GOVERNANCE_RPS
            out.setdefault(target, {})[str(conc)] = cell
            split = (f" (gateway {cell['delta_gateway_cpu_ms']:+.3f}, redis {cell['delta_redis_cpu_ms']:+.3f})"
                     if full else "")
            say(f"  {cell['mode']:<10} {target:<14} vs {baseline:<12} c={conc:<3} CPU/req {cell['cpu_on_ms']:.3f} vs "
                f"{cell['cpu_off_ms']:.3f} ms → {cell['delta_cpu_ms']:+.3f} ms{split} "
                f"[{', '.join(f'{v:+.3f}' for v in d_cpu)}] ({'met' if cell['cpu_met'] else 'NOT met'});")
            say(f"  {'':<10} {'':<14}    {'':<12}       rps {fmt(cell['rps_on'], 0)} vs {fmt(cell['rps_off'], 0)} → "
                f"{cell['delta_rps']:+.1%} [{', '.join(f'{v:+.1%}' for v in d_rps)}] "
                f"({'met' if cell['rps_met'] else 'NOT met'})")
    for name, ledger in ledgers.items():
        out.setdefault("metering_worker_ms_per_event", {})[name] = ledger["worker_cpu_s"] * 1000 / max(1, ledger["rows"])
    if out.get("metering_worker_ms_per_event"):
        say("  metering worker CPU per event written (off the request path): " + ", ".join(
            f"{name} {v:.3f} ms" for name, v in out["metering_worker_ms_per_event"].items()))
    return out


def _routing_report(cfg: Config, runs: list[dict]) -> dict:
    """The cost of routing (issue 13): each three-route target against the single-route ``bench-chat`` on the same
    stack, paired by round like the cost of governance (the two runs were next to each other): the difference of
    CPU per request (gateway, plus the stack's redis-server in the full stack), of p50 and p99 latency, and the
    ratio of throughput; medians of the per-round values."""
    def run_of(target: str, conc: int, rnd: int) -> dict | None:
        return next((r for r in runs if r["target"] == target and r["concurrency"] == conc and r["round"] == rnd),
                    None)

    pairs = [(t, b) for t, b in stacks.ROUTING_BASELINE.items() if t in cfg.targets and b in cfg.targets]
    if not pairs:
        return {}
    say("")
    say(f"Cost of routing (issue 13: an alias of three routes, breaker and latency window on, against the single-route "
        f"bench-chat; aim < {AIM_ROUTING_CPU_MS:g} ms CPU/request),")
    say("paired by round (medians of the per-round differences; CPU = the gateway's process tree, plus its own "
        "redis-server in the full stack):")
    out: dict = {}
    for target, baseline in pairs:
        full = stacks.MODE[target] == "full stack"
        strategy = stacks.ROUTED_ALIASES[stacks.ALIAS[target]]
        for conc in cfg.concurrency:
            keys = ("cpu3", "cpu1", "d_cpu", "d_gw", "d_redis", "rps3", "rps1", "d_rps", "d_p50", "d_p99", "p50_3",
                    "p50_1", "p99_3", "p99_1")
            v: dict[str, list[float]] = {k: [] for k in keys}
            for rnd in range(1, cfg.rounds + 1):
                three, one = run_of(target, conc, rnd), run_of(baseline, conc, rnd)
                if three is None or one is None:
                    continue
                total3 = three["cpu_ms_per_req"] + (three["redis_cpu_ms_per_req"] or 0)
                total1 = one["cpu_ms_per_req"] + (one["redis_cpu_ms_per_req"] or 0)
                v["cpu3"].append(total3)
                v["cpu1"].append(total1)
                v["d_cpu"].append(total3 - total1)
                v["d_gw"].append(three["cpu_ms_per_req"] - one["cpu_ms_per_req"])
                v["d_redis"].append((three["redis_cpu_ms_per_req"] or 0) - (one["redis_cpu_ms_per_req"] or 0))
                v["rps3"].append(three["rps"])
                v["rps1"].append(one["rps"])
                v["d_rps"].append(three["rps"] / one["rps"] - 1 if one["rps"] else float("nan"))
                v["p50_3"].append(three["p50_ms"])
                v["p50_1"].append(one["p50_ms"])
                v["p99_3"].append(three["p99_ms"])
                v["p99_1"].append(one["p99_ms"])
                v["d_p50"].append(three["p50_ms"] - one["p50_ms"])
                v["d_p99"].append(three["p99_ms"] - one["p99_ms"])
            if not v["d_cpu"]:
                continue
            cell = {"mode": stacks.MODE[target], "baseline": baseline, "alias": stacks.ALIAS[target],
                    "strategy": strategy, "routes": len(stacks.ROUTED_WEIGHTS),
                    "cpu_three_ms": median(v["cpu3"]), "cpu_one_ms": median(v["cpu1"]),
                    "delta_cpu_ms": median(v["d_cpu"]), "delta_gateway_cpu_ms": median(v["d_gw"]),
                    "delta_redis_cpu_ms": median(v["d_redis"]),
                    "rps_three": median(v["rps3"]), "rps_one": median(v["rps1"]), "delta_rps": median(v["d_rps"]),
                    "p50_three_ms": median(v["p50_3"]), "p50_one_ms": median(v["p50_1"]),
                    "p99_three_ms": median(v["p99_3"]), "p99_one_ms": median(v["p99_1"]),
                    "delta_p50_ms": median(v["d_p50"]), "delta_p99_ms": median(v["d_p99"]),
                    "delta_cpu_rounds": [round(x, 3) for x in v["d_cpu"]],
                    "delta_rps_rounds": [round(x, 3) for x in v["d_rps"]]}
            cell["cpu_met"] = cell["delta_cpu_ms"] < AIM_ROUTING_CPU_MS
            out.setdefault(target, {})[str(conc)] = cell
            split = (f" (gateway {cell['delta_gateway_cpu_ms']:+.3f}, redis {cell['delta_redis_cpu_ms']:+.3f})"
                     if full else "")
            head = f"  {cell['mode']:<10} {target:<10} {'(' + strategy + ')':<15} vs {baseline:<7} c={conc:<3} "
            say(f"{head}CPU/req "
                f"{cell['cpu_three_ms']:.3f} vs {cell['cpu_one_ms']:.3f} ms → {cell['delta_cpu_ms']:+.3f} ms{split} "
                f"[{', '.join(f'{x:+.3f}' for x in v['d_cpu'])}] ({'met' if cell['cpu_met'] else 'NOT met'});")
            say(f"{'':<{len(head)}}rps {fmt(cell['rps_three'], 0)} vs "
                f"{fmt(cell['rps_one'], 0)} → {cell['delta_rps']:+.1%} [{', '.join(f'{x:+.1%}' for x in v['d_rps'])}]; "
                f"p50 {cell['p50_three_ms']:.2f} vs {cell['p50_one_ms']:.2f} ms ({cell['delta_p50_ms']:+.2f}), "
                f"p99 {cell['p99_three_ms']:.2f} vs {cell['p99_one_ms']:.2f} ms ({cell['delta_p99_ms']:+.2f})")
    say("  (routing in-process, no network: .venv/bin/python bench/routing_state.py, µs per call)")
    return out


def _profile(cfg: Config, target: Target, pid: int, failures: list[str], *, stream: bool = False) -> dict | None:
    """py-spy on a gateway worker under wrk; the summary (bench/profile_summary.py) turns the shares of the
    governance functions and of the pipeline's steps into ms per request with the CPU per request measured during
    the same run. ``stream``: under streaming calls (the paced upstream) at STREAM_PROFILE_CONCURRENCY."""
    pyspy = shutil.which("py-spy", path=f"{VENV_BIN}:{os.environ.get('PATH', '')}")
    if not pyspy:
        say("profile: py-spy is not installed (.venv/bin/pip install py-spy); skipped")
        return None
    conc = STREAM_PROFILE_CONCURRENCY if stream else cfg.profile_concurrency or max(cfg.concurrency)
    name = f"{target.name}-stream" if stream else target.name
    raw = cfg.out_dir / f"profile-{name}-c{conc}.txt"
    raw_worker = cfg.out_dir / f"profile-{name}-metering-worker-c{conc}.txt"
    worker = target.stack.worker.pid
    say(f"profile: py-spy on {target.name}'s gateway worker (pid {pid}) and its metering worker (pid {worker}) for "
        f"{cfg.profile_seconds} s under c={conc}{' streaming calls' if stream else ''} …")
    spies = [subprocess.Popen([pyspy, "record", "--pid", str(p), "--rate", "200", "--duration",
                               str(cfg.profile_seconds), "--format", "raw", "--output", str(out), "--nonblocking",
                               ],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=_child_setup)
             for p, out in ((pid, raw), (worker, raw_worker))]
    try:
        time.sleep(0.5)
        pids = [target.proc.pid, worker]
        before = _cpu(pids)
        data = run_wrk(target, conc, cfg.profile_seconds + 1, cfg.wrk_threads, stream=stream)
        if data["non_2xx"] or data["socket_errors"]:
            failures.append(f"profile {name} c={conc}: {data['non_2xx']} non-2xx, {data['socket_errors']} socket "
                            "errors")
        cpu_ms, worker_ms = ((b - a) * 1000 / max(1, data["requests"]) for a, b in zip(before, _cpu(pids),
                                                                                       strict=True))
        logs = [spy.communicate(timeout=60)[0] for spy in spies]
    finally:
        for spy in spies:
            if spy.poll() is None:
                os.killpg(spy.pid, signal.SIGKILL)
                spy.wait()
    if spies[0].returncode or not raw.exists():
        say(f"profile: py-spy failed:\n{logs[0]}")
        return None
    from profile_summary import summarize

    text, summary = summarize(raw, cpu_ms_per_req=cpu_ms)
    text = (f"({name}, c={conc}{', streaming calls' if stream else ''}, {cfg.profile_seconds} s, "
            f"{data['rps']:,.0f} rps while profiled, {cpu_ms:.3f} ms CPU/request; raw stacks: {raw})\n" + text)
    (cfg.out_dir / f"profile-summary-{name}-c{conc}.txt").write_text(text)
    say(text)
    summary.update(rps=data["rps"], cpu_ms_per_req=cpu_ms, non_2xx=data["non_2xx"], concurrency=conc,
                   stream=stream, metering_worker_cpu_ms_per_req=worker_ms)
    if raw_worker.exists():
        worker_text, summary["metering_worker"] = summarize(raw_worker, top=12, steps=False)
        worker_text = (f"(the metering worker of {target.name}'s stack during the same run: {worker_ms:.3f} ms "
                       f"CPU per gateway request; raw stacks: {raw_worker})\n" + worker_text)
        (cfg.out_dir / f"profile-summary-{name}-metering-worker-c{conc}.txt").write_text(worker_text)
        say(worker_text)
    return summary


if __name__ == "__main__":
    sys.exit(main())
