"""The gateway's performance harness (``make bench`` → ``bench/run`` → this file).

It starts, on free loopback ports (never 8000), in a temp dir:

- the fake upstream (``bench.fake_upstream``, one granian process) — the "direct" target;
- a second fake upstream that paces its SSE chunks (``FAKE_CHUNK_DELAY_MS``), for the streaming part;
- nginx as a plain reverse proxy to the first one (``bench/nginx.conf``) — the "floor";
- the gateway exactly as ``make run`` serves it (``bin/serve``, one worker, embedded SQLite mode),
  after ``migrate``, ``registry apply`` of a generated file and ``create_api_key``.

Then it runs wrk (``bench/chat.lua``) against the three targets at each concurrency, interleaved
over several rounds, measures requests per second, p50/p99 latency, CPU time per request of the
server's process tree and the gateway worker's RSS, runs ``bench/ttfb.py`` for streaming, prints
one table and the ratios the issue asks for, writes the raw numbers to ``bench/out/``, and stops
every process it started — on success, failure or Ctrl-C.

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

# The aims (bench/README.md states the figures against them).
AIM_ADDED_P50_MS = 1.0
AIM_ADDED_P99_MS = 5.0
AIM_FLOOR_SHARE = 0.30
AIM_TTFB_MS = 2.0
AIM_RSS_MB = 200.0


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
    keep_tmp: bool = os.environ.get("BENCH_KEEP_TMP", "") not in ("", "0", "false")
    out_dir: Path = Path(os.environ.get("BENCH_OUT", BENCH / "out"))

    def __post_init__(self) -> None:
        self.seconds = _env_int("BENCH_SECONDS", 1 if self.quick else 5)
        self.warmup = _env_int("BENCH_WARMUP", 0 if self.quick else 1)
        self.rounds = _env_int("BENCH_ROUNDS", 1 if self.quick else 3)
        self.ttfb_n = _env_int("BENCH_TTFB_N", 20 if self.quick else 200)
        self.concurrency = [int(c) for c in os.environ.get("BENCH_CONCURRENCY", "1,16,64").split(",") if c.strip()]
        self.targets = [t.strip() for t in os.environ.get("BENCH_TARGETS", "direct,nginx,bare,gateway").split(",")
                        if t.strip()]
        unknown = set(self.targets) - {"direct", "nginx", "bare", "gateway"}
        if unknown:
            raise SystemExit(f"bench: unknown BENCH_TARGETS {sorted(unknown)}; use direct, nginx, bare, gateway")
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
models:
  - alias: bench-chat
    kind: chat
    status: approved
    routes:
      - {{provider: bench-upstream, upstream_model: fake-model, weight: 100}}
    capabilities: [chat, streaming]
  - alias: bench-stream
    kind: chat
    status: approved
    routes:
      - {{provider: bench-stream-upstream, upstream_model: fake-model, weight: 100}}
    capabilities: [chat, streaming]
"""


def manage(args: list[str], env: dict, log: Path) -> str:
    result = subprocess.run([str(PYTHON), "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    with open(log, "a") as f:
        f.write(f"$ manage.py {' '.join(args)}\n{result.stdout}{result.stderr}\n")
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result.stdout


def create_key(models: str, env: dict, log: Path) -> str:
    out = manage(["create_api_key", "--tenant", "bench", "--app", "bench", "--models", models, "--json"], env, log)
    for line in reversed(out.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)["key"]
    data = json.loads(out)
    return data["key"]


def _preflight(name: str, url: str, key: str) -> None:
    import httpx

    body = {"model": "bench-chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 16}
    response = httpx.post(url, json=body, headers={"authorization": f"Bearer {key}"}, timeout=10)
    ok = response.status_code == 200 and "choices" in response.text
    if not ok:
        raise RuntimeError(f"preflight: {name} answered {response.status_code}: {response.text[:300]}")


# --- wrk -------------------------------------------------------------------------------------

@dataclass
class Target:
    name: str
    url: str
    proc: Proc


def run_wrk(target: Target, concurrency: int, seconds: int, key: str, threads: int) -> dict:
    threads = max(1, min(threads, concurrency))
    cmd = [WRK, "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds}s", "--latency", "--timeout", "5s",
           "-s", str(BENCH / "chat.lua"), target.url]
    env = dict(os.environ, BENCH_KEY=key, BENCH_MODEL="bench-chat")
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
        if cfg.keep_tmp:
            say(f"(temp dir kept: {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _run(cfg: Config, procs: Processes, tmp: Path, failures: list[str]) -> int:  # noqa: C901, PLR0912, PLR0915
    logs = tmp / "logs"
    logs.mkdir()
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

    # 2b. The Python floor: a do-nothing proxy on the gateway's stack (granian ASGI + uvloop + aiohttp).
    bare = None
    if "bare" in cfg.targets:
        bare_port = free_port()
        bare = procs.start("bare proxy", [granian, "--interface", "asgi", "--loop", "uvloop", "--no-access-log",
                                          "--log-level", "warning", "--port", str(bare_port), "bench.bare_proxy:app"],
                           env={**base_env, "BARE_UPSTREAM_URL": f"http://127.0.0.1:{up_port}/v1/chat/completions"},
                           log=logs / "bare.log")

    # 3. The gateway, set up and served as `make run` does (embedded mode, one worker).
    gw_port = free_port()
    gw_env = {k: v for k, v in base_env.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    gw_env.update(DATA_DIR=str(tmp / "data"), HTTPS_ONLY="false", REQUIRE_ADMIN_MFA="false", LOG_FORMAT="console",
                  LOG_LEVEL="WARNING", WEB_CONCURRENCY="1", HOST="127.0.0.1", PORT=str(gw_port),
                  BENCH_UPSTREAM_KEY=UPSTREAM_KEY)
    key = stream_key = "sk-bench-direct"  # what direct and nginx receive when the gateway is not benched
    gateway = metering = None
    if "gateway" in cfg.targets:
        say("setting up the gateway: migrate, registry apply, create_api_key …")
        manage(["migrate", "--no-input", "-v0"], gw_env, logs / "setup.log")
        registry_file = tmp / "bench-registry.yaml"
        registry_file.write_text(registry_yaml(up_port, stream_port))
        manage(["registry", "apply", str(registry_file)], gw_env, logs / "setup.log")
        key = stream_key = create_key("bench-chat,bench-stream", gw_env, logs / "setup.log")
        gateway = procs.start("gateway", [str(ROOT / "bin" / "serve")], env=gw_env, log=logs / "gateway.log")
        # The Celery worker beside it, as `make run` starts one: it writes the usage ledger the gateway publishes.
        metering = procs.start("metering worker", [str(VENV_BIN / "celery"), "-A", "aiplatform", "worker", "--pool",
                                                   "solo", "--loglevel", "WARNING", "--without-gossip",
                                                   "--without-mingle", "--without-heartbeat"],
                               env=gw_env, log=logs / "worker.log")

    for proc, url in ((upstream, f"http://127.0.0.1:{up_port}/v1/models"),
                      (stream_up, f"http://127.0.0.1:{stream_port}/v1/models"),
                      (nginx, f"http://127.0.0.1:{nginx_port}/v1/models"),
                      (gateway, f"http://127.0.0.1:{gw_port}/v1/models"),
                      (bare, f"http://127.0.0.1:{bare_port}/v1/models" if bare else "")):
        if proc is not None:
            wait_ready(proc, url)

    path = "/v1/chat/completions"
    all_targets = {
        "direct": Target("direct", f"http://127.0.0.1:{up_port}{path}", upstream),
        "nginx": Target("nginx", f"http://127.0.0.1:{nginx_port}{path}", nginx),
    }
    if bare:
        all_targets["bare"] = Target("bare", f"http://127.0.0.1:{bare_port}{path}", bare)
    if gateway:
        all_targets["gateway"] = Target("gateway", f"http://127.0.0.1:{gw_port}{path}", gateway)
    targets = [all_targets[name] for name in cfg.targets]

    # Sanity before measuring: every target answers the bench's request with a 200 completion,
    # and the gateway refuses a request without a key (authentication is on).
    import httpx

    for target in targets:
        _preflight(target.name, target.url, key)
    if "gateway" in cfg.targets:
        refused = httpx.post(all_targets["gateway"].url, json={"model": "bench-chat", "messages": []}, timeout=10)
        if refused.status_code != 401:
            raise RuntimeError(f"the gateway answered {refused.status_code} to a request without a key (expected 401)")
    say(f"ready: direct :{up_port}  nginx :{nginx_port}  gateway :{gw_port}")

    gw_worker = worker_pid(gateway.pid) if gateway else 0
    metering_cpu0 = tree_cpu_seconds(metering.pid) if metering else 0.0
    rss = {"start_mb": rss_mb(gw_worker), "after_round_mb": [], "worker_pid": gw_worker}

    # 4. The load runs: interleaved, target order rotated each round.
    runs: list[dict] = []
    for rnd in range(cfg.rounds):
        for conc in cfg.concurrency:
            order = targets[rnd % len(targets):] + targets[:rnd % len(targets)]
            for target in order:
                if cfg.warmup:
                    warm = run_wrk(target, conc, cfg.warmup, key, cfg.wrk_threads)
                    if warm["non_2xx"] or warm["socket_errors"]:
                        failures.append(f"warm-up {target.name} c={conc} round {rnd + 1}: "
                                        f"{warm['non_2xx']} non-2xx, {warm['socket_errors']} socket errors")
                cpu0 = tree_cpu_seconds(target.proc.pid)
                up0 = tree_cpu_seconds(upstream.pid)
                data = run_wrk(target, conc, cfg.seconds, key, cfg.wrk_threads)
                cpu = tree_cpu_seconds(target.proc.pid) - cpu0
                up_cpu = tree_cpu_seconds(upstream.pid) - up0
                requests = max(1, data["requests"])
                record = {
                    "round": rnd + 1, "target": target.name, "concurrency": conc,
                    "rps": data["rps"], "p50_ms": data["latency_us"]["p50"] / 1000,
                    "p99_ms": data["latency_us"]["p99"] / 1000,
                    "server_cpu_s": cpu, "cpu_ms_per_req": cpu * 1000 / requests,
                    "upstream_cpu_ms_per_req": up_cpu * 1000 / requests,
                    "wrk_cpu_ms_per_req": data["wrk_cpu_s"] * 1000 / requests,
                    # CPU burnt on this machine by anything but the server, upstream and wrk (other load): cores.
                    "other_load_cores": max(0.0, data["machine_busy_cpu_s"] - data["wrk_cpu_s"] - up_cpu
                                            - (0 if target.name == "direct" else cpu)) / data["wall_s"],
                    "wrk": data,
                }
                runs.append(record)
                bad = data["non_2xx"] or data["socket_errors"]
                if bad:
                    failures.append(f"{target.name} c={conc} round {rnd + 1}: {data['non_2xx']} non-2xx, "
                                    f"{data['socket_errors']} socket errors {data['errors']}")
                say(f"  round {rnd + 1}  {target.name:<8} c={conc:<3} {record['rps']:>9,.0f} rps  "
                    f"p50 {record['p50_ms']:7.2f} ms  p99 {record['p99_ms']:7.2f} ms  "
                    f"cpu {record['cpu_ms_per_req']:.3f} ms/req{'   <-- ERRORS' if bad else ''}")
                if not target.proc.alive():
                    raise RuntimeError(f"{target.name} died during the run:\n{target.proc.log_tail()}")
        if gateway:
            rss["after_round_mb"].append(rss_mb(gw_worker))
            say(f"  gateway worker RSS after round {rnd + 1}: {rss['after_round_mb'][-1]:.1f} MB")

    # 5. Streaming: time to first byte and chunk spread, direct vs the gateway.
    ttfb = {}
    if "gateway" in cfg.targets:
        say(f"streaming: {cfg.ttfb_n} sequential requests each to direct and the gateway "
            f"({cfg.stream_chunks} chunks, {cfg.chunk_delay_ms} ms apart) …")
        for name, url, k in (("direct", f"http://127.0.0.1:{stream_port}{path}", stream_key),
                             ("gateway", f"http://127.0.0.1:{gw_port}{path}", stream_key)):
            result = subprocess.run([str(PYTHON), str(BENCH / "ttfb.py"), "--url", url, "--key", k,
                                     "--model", "bench-stream", "-n", str(cfg.ttfb_n),
                                     "--chunks", str(cfg.stream_chunks), "--delay-ms", str(cfg.chunk_delay_ms)],
                                    capture_output=True, text=True, timeout=600)
            try:
                ttfb[name] = json.loads(result.stdout.strip().splitlines()[-1])
            except (IndexError, json.JSONDecodeError):
                raise RuntimeError(f"ttfb.py failed on {name}:\n{result.stdout}{result.stderr}") from None
            if ttfb[name]["non_200"] or not ttfb[name]["ok"]:
                failures.append(f"streaming {name}: {ttfb[name]['non_200']} non-200 ({ttfb[name]['statuses']})")
        rss["end_mb"] = rss_mb(gw_worker)
    else:
        rss["end_mb"] = rss["after_round_mb"][-1] if rss["after_round_mb"] else rss["start_mb"]

    # The ledger: every request the gateway answered became one usage event, written by the worker.
    if gateway:
        rss["ledger"] = _ledger_check(runs, gw_env, logs)
        rss["ledger"]["worker_cpu_s"] = tree_cpu_seconds(metering.pid) - metering_cpu0
        if rss["ledger"]["rows"] < rss["ledger"]["wrk_counted_gateway_requests"]:
            failures.append(f"the usage ledger holds {rss['ledger']['rows']} events for "
                            f"{rss['ledger']['wrk_counted_gateway_requests']} gateway requests: metering lost events "
                            f"(see the worker's log with BENCH_KEEP_TMP=1)")
        if not metering.alive():
            failures.append(f"the metering worker died:\n{metering.log_tail()}")

    # 6. Optional: profile the gateway worker under c=64 with py-spy.
    profile = None
    if cfg.profile_seconds and "gateway" in cfg.targets:
        profile = _profile(cfg, all_targets["gateway"], gw_worker, key, tmp)

    report = _report(cfg, runs, rss, ttfb, failures)
    report["profile"] = profile
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    report["meta"] = {
        "when": stamp, "cores": os.cpu_count(), "loadavg_end": os.getloadavg(), "python": platform.python_version(),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in cfg.__dict__.items()},
        "git": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip(),
        "ports": {"direct": up_port, "nginx": nginx_port, "gateway": gw_port, "stream_upstream": stream_port},
    }
    report["runs"] = runs
    out = cfg.out_dir / f"bench-{stamp}.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    (cfg.out_dir / "latest.json").write_text(out.read_text())
    say(f"raw numbers: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")

    if failures:
        loud("THE BENCH IS INVALID — requests failed, so the figures above measure errors, not the gateway:\n!! "
             + "\n!! ".join(failures))
        return 1
    return 0


def _ledger_check(runs: list[dict], env: dict, logs: Path) -> dict:
    """Wait (bounded) until the worker has written what the gateway published, then count the ledger."""
    counted = sum(r["wrk"]["requests"] for r in runs if r["target"] == "gateway")
    script = "from portal.models import UsageEvent; print(UsageEvent.objects.count())"
    rows, started, previous = 0, time.monotonic(), -1
    while time.monotonic() - started < 120:
        rows = int(manage(["shell", "-c", script], env, logs / "ledger.log").strip().splitlines()[-1])
        if rows == previous:
            break
        previous = rows
        time.sleep(3)
    return {"rows": rows, "wrk_counted_gateway_requests": counted, "drain_s": time.monotonic() - started}


def _report(cfg: Config, runs: list[dict], rss: dict, ttfb: dict, failures: list[str]) -> dict:  # noqa: C901
    summary: dict[str, dict[int, dict]] = {}
    say("")
    header = f"{'target':<9}{'conc':>5}{'rps':>11}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/req':>12}{'rps/core':>10}" \
             f"{'other load':>12}   rps per round"
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
                "other_load_cores": median([r["other_load_cores"] for r in mine]),
                "rps_rounds": [round(r["rps"]) for r in mine],
            }
            row["rps_per_core"] = 1000 / row["cpu_ms_per_req"] if row["cpu_ms_per_req"] > 0 else float("nan")
            summary.setdefault(target, {})[conc] = row
            say(f"{target:<9}{conc:>5}{fmt(row['rps'], 0):>11}{fmt(row['p50_ms']):>9}{fmt(row['p99_ms']):>9}"
                f"{fmt(row['cpu_ms_per_req'], 3):>12}{fmt(row['rps_per_core'], 0):>10}"
                f"{fmt(row['other_load_cores'], 2):>12}   {row['rps_rounds']}")
    say("(medians over rounds; CPU ms/req = user+system CPU of that server's process tree ÷ requests; "
        "rps/core = 1000 ÷ CPU ms/req;\n other load = cores busy with anything but wrk, the upstream and the server "
        "during the run)")

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
            f"p99 {t_g['p99']:.2f} ms → +{diff50:.2f} ms p50, +{diff99:.2f} ms p99 "
            f"(aim within {AIM_TTFB_MS:g} ms: {verdict(diff50 <= AIM_TTFB_MS)} at p50)")
        g = ttfb["gateway"]
        say(f"  streaming chunks through the gateway: {g['reads_p50']:g} reads/response, spread over "
            f"{g['spread_ms_p50']:.0f} ms of the upstream's {g['expected_spread_ms']:.0f} ms "
            f"(direct: {ttfb['direct']['reads_p50']:g} reads, {ttfb['direct']['spread_ms_p50']:.0f} ms) → "
            f"{'not buffered' if spread else 'BUFFERED'} ({verdict(spread)})")
    rounds_rss = rss["after_round_mb"]
    growth = (rss["end_mb"] - rss["start_mb"])
    ratios.update(rss_start_mb=rss["start_mb"], rss_end_mb=rss["end_mb"], rss_growth_mb=growth)
    if "gateway" in cfg.targets:
        say(f"  gateway worker RSS: {rss['start_mb']:.1f} MB at start → {', '.join(f'{v:.1f}' for v in rounds_rss)}"
            f" after each round → {rss['end_mb']:.1f} MB at the end (aim < {AIM_RSS_MB:g} MB: "
            f"{verdict(max([rss['end_mb'], *rounds_rss]) < AIM_RSS_MB)}; growth {growth:+.1f} MB)")
    if rss.get("ledger"):
        ledger = rss["ledger"]
        say(f"  usage ledger: {ledger['rows']:,} events written by the worker for the {ledger['wrk_counted_gateway_requests']:,}"
            f" gateway requests wrk counted (plus warm-ups and streams; settled {ledger['drain_s']:.0f} s after the load);"
            f"\n    the metering worker (Celery, off the request path) spent "
            f"{ledger['worker_cpu_s'] * 1000 / max(1, ledger['rows']):.3f} ms CPU per event written")
    say(f"  sanity: {'every run answered 2xx with no socket errors' if not failures else 'FAILED (see below)'}")
    return {"summary": {t: {str(c): v for c, v in rows.items()} for t, rows in summary.items()},
            "ratios": ratios, "rss": rss, "ttfb": ttfb, "failures": failures}


def _profile(cfg: Config, target: Target, pid: int, key: str, tmp: Path) -> dict | None:
    pyspy = shutil.which("py-spy", path=f"{VENV_BIN}:{os.environ.get('PATH', '')}")
    if not pyspy:
        say("profile: py-spy is not installed (.venv/bin/pip install py-spy); skipped")
        return None
    conc = cfg.profile_concurrency or max(cfg.concurrency)
    raw = cfg.out_dir / f"profile-gateway-c{conc}.txt"
    say(f"profile: py-spy on the gateway worker (pid {pid}) for {cfg.profile_seconds} s under c={conc} …")
    spy = subprocess.Popen([pyspy, "record", "--pid", str(pid), "--rate", "200", "--duration",
                            str(cfg.profile_seconds), "--format", "raw", "--output", str(raw), "--nonblocking"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=_child_setup)
    try:
        time.sleep(0.5)
        run_wrk(target, conc, cfg.profile_seconds + 1, key, cfg.wrk_threads)
        log, _ = spy.communicate(timeout=60)
    finally:
        if spy.poll() is None:
            os.killpg(spy.pid, signal.SIGKILL)
            spy.wait()
    if spy.returncode or not raw.exists():
        say(f"profile: py-spy failed:\n{log}")
        return None
    sys.path.insert(0, str(BENCH))
    from profile_summary import summarize

    text, data = summarize(raw)
    text = f"(c={conc}, {cfg.profile_seconds} s, raw stacks: {raw})\n" + text
    (cfg.out_dir / f"profile-summary-c{conc}.txt").write_text(text)
    say(text)
    return data


if __name__ == "__main__":
    sys.exit(main())
