"""The gateway stacks the bench serves, and which bench target calls which (``bench/harness.py`` uses it).

A stack is one gateway (``bin/serve``, one granian worker) with the Celery worker that writes its
usage ledger, set up from scratch:

| stack          | data                          | limiter and metering                                              |
|----------------|-------------------------------|-------------------------------------------------------------------|
| `embedded`     | SQLite in its own `DATA_DIR`  | in-process limiter; each call's event written to the journal      |
| `embedded-off` | same, another `DATA_DIR`      | `GATEWAY_GOVERNANCE=false`: no limits, events batched in memory   |
| `full`         | PostgreSQL (`BENCH_DATABASE_URL`), its own redis-server | Redis Lua admit + settle, event XADDed to the stream |
| `full-off`     | PostgreSQL (`…_off`), its own redis-server | `GATEWAY_GOVERNANCE=false`                            |

Every stack gets the same registry file and the same callers (``bench/governance.py``: plans with
every counter on, never refusing), so a governed stack and its ``-off`` twin differ only in
``GATEWAY_GOVERNANCE``. Each full stack has a private redis-server (no persistence, loopback, in
the temp dir), so the bench can count Redis's own CPU per request without the machine's shared
Redis (other engineers' tests) in it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

STACKS = {  # name → (full stack, governed)
    "embedded": (False, True),
    "embedded-off": (False, False),
    "full": (True, True),
    "full-off": (True, False),
}
# bench target → (stack, caller: the soft- or strict-budget application's key)
GATEWAY_TARGETS = {
    "gateway": ("embedded", "soft"),
    "gateway-off": ("embedded-off", "soft"),
    "gateway-strict": ("embedded", "strict"),
    "full": ("full", "soft"),
    "full-off": ("full-off", "soft"),
    "full-strict": ("full", "strict"),
}
# Routing (issue 13): the same governed stacks and caller, calling an alias of three routes (three endpoints of the
# fake upstream) instead of the single-route `bench-chat`: least-latency (the latency window ranks the routes on
# every call) and, opt-in, weighted (a 50/30/20 draw). Every other target calls `bench-chat`.
GATEWAY_TARGETS |= {
    "gateway-3": ("embedded", "soft"),
    "gateway-3w": ("embedded", "soft"),
    "full-3": ("full", "soft"),
    "full-3w": ("full", "soft"),
}
ALIAS = {"gateway-3": "bench-chat-3", "full-3": "bench-chat-3", "gateway-3w": "bench-chat-3w", "full-3w": "bench-chat-3w"}
DEFAULT_ALIAS = "bench-chat"
# Three-route target → its single-route baseline on the same stack, for the cost of routing (paired by round).
ROUTING_BASELINE = {"gateway-3": "gateway", "gateway-3w": "gateway", "full-3": "full", "full-3w": "full"}
# The three-route aliases' strategies and routes (bench/harness.py's registry file; the upstream ignores the model).
ROUTED_ALIASES = {"bench-chat-3": "least-latency", "bench-chat-3w": "weighted"}
ROUTED_WEIGHTS = (50, 30, 20)
# Governed target → its baseline (the same stack with GATEWAY_GOVERNANCE=false), for the cost of governance.
BASELINE = {"gateway": "gateway-off", "gateway-strict": "gateway-off", "full": "full-off", "full-strict": "full-off"}
MODE = {"gateway": "embedded", "gateway-strict": "embedded", "full": "full stack", "full-strict": "full stack",
        "gateway-3": "embedded", "gateway-3w": "embedded", "full-3": "full stack", "full-3w": "full stack"}
# Targets run next to each other in a round (their order flips every other round), so on/off pairs share conditions.
# The Python floors are one group too, so the interface and client variants are compared side by side. The
# three-route targets sit on the other side of their single-route baseline, so both pairs are neighbours.
GROUPS = (("direct",), ("nginx",), ("bare", "bare-rsgi", "bare-pyreqwest", "bare-rsgi-pyreqwest"),
          ("gateway-3w", "gateway-3", "gateway", "gateway-off", "gateway-strict"),
          ("full-3w", "full-3", "full", "full-off", "full-strict"))

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/sb_bench"


@dataclass
class Stack:
    name: str
    full: bool
    governed: bool
    env: dict
    port: int
    logs: Path
    database_url: str = ""
    redis: object | None = None  # the harness's Proc of this stack's redis-server
    gateway: object | None = None  # Proc of bin/serve
    worker: object | None = None  # Proc of the Celery worker
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/chat/completions"


def round_order(names: list[str], rnd: int) -> list[str]:
    """The targets of round ``rnd``: groups rotated by one per round, each group's order reversed every other round."""
    groups = [[n for n in group if n in names] for group in GROUPS]
    groups = [g for g in groups if g] + [[n] for n in names if not any(n in g for g in GROUPS)]
    k = rnd % len(groups)
    groups = groups[k:] + groups[:k]
    if rnd % 2:
        groups = [g[::-1] for g in groups]
    return [n for g in groups for n in g]


def stacks_needed(targets: list[str]) -> list[str]:
    return [s for s in STACKS if any(GATEWAY_TARGETS.get(t, ("",))[0] == s for t in targets)]


# --- PostgreSQL ------------------------------------------------------------------------------

def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_url(base: str, stack: str) -> str:
    name = urlsplit(base).path.lstrip("/") or "sb_bench"
    return _with_db(base, name if stack == "full" else f"{name}_off")


def postgres_problem(base: str) -> str:
    """Why the full stack cannot run here ("" when PostgreSQL answers)."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(_with_db(base, "postgres"), connect_timeout=3) as conn:
            conn.execute("select 1")
    except Exception as exc:  # noqa: BLE001 - any reason is a reason to skip
        return f"PostgreSQL at {urlsplit(base).hostname}:{urlsplit(base).port or 5432} does not answer ({exc})"
    return ""


def recreate_database(url: str, *, drop_only: bool = False) -> None:
    """Drop the bench's own database (never any other: the name comes from BENCH_DATABASE_URL) and create it empty."""
    import psycopg
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    if not name.startswith("sb_bench") and os.environ.get("BENCH_DATABASE_ANY_NAME") != "1":
        raise RuntimeError(f"refusing to drop database {name!r}: the bench only recreates databases named sb_bench…"
                           " (set BENCH_DATABASE_ANY_NAME=1 to allow another)")
    with psycopg.connect(_with_db(url, "postgres"), autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if not drop_only:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


# --- Redis -----------------------------------------------------------------------------------

def redis_problem() -> str:
    return "" if os.access(REDIS_SERVER, os.X_OK) else "redis-server is not installed (apt-get install redis-server)"


def redis_command(port: int, directory: Path) -> list[str]:
    """A private, throw-away redis-server: loopback only, no persistence, its files in the temp dir."""
    cmd = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
           "--dir", str(directory), "--daemonize", "no", "--logfile", "", "--databases", "2"]
    if os.geteuid() == 0 and shutil.which("setpriv"):
        os.chown(directory, 65534, 65534)
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", *cmd]
    return cmd


def wait_redis(port: int, proc, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"redis-server exited while starting:\n{proc.log_tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"redis-server on :{port} did not answer PING within {timeout:.0f} s:\n{proc.log_tail()}")


# --- the stacks ------------------------------------------------------------------------------

def make_stacks(names: list[str], *, base_env: dict, tmp: Path, free_port: Callable[[], int],
                database_base: str) -> dict[str, Stack]:
    stacks = {}
    for name in names:
        full, governed = STACKS[name]
        port = free_port()
        env = {k: v for k, v in base_env.items()
               if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "USAGE_JOURNAL_DIR",
                            "GATEWAY_GOVERNANCE")}
        env.update(DATA_DIR=str(tmp / name / "data"), HOST="127.0.0.1", PORT=str(port),
                   GATEWAY_GOVERNANCE="true" if governed else "false")
        logs = tmp / "logs" / name
        logs.mkdir(parents=True)
        stack = Stack(name=name, full=full, governed=governed, env=env, port=port, logs=logs)
        if full:
            stack.database_url = database_url(database_base, name)
            env["DATABASE_URL"] = stack.database_url
        stacks[name] = stack
    return stacks


def start_redis(stack: Stack, procs, tmp: Path, free_port: Callable[[], int]) -> None:
    port = free_port()
    directory = tmp / stack.name / "redis"
    directory.mkdir(parents=True)
    stack.redis = procs.start(f"redis-server ({stack.name})", redis_command(port, directory), env=dict(os.environ),
                              log=stack.logs / "redis.log")
    wait_redis(port, stack.redis)
    stack.env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"


def set_up(stack: Stack, *, manage: Callable[[list[str], dict, Path], str], registry_file: Path) -> None:
    """migrate, registry apply, then the bench's callers (``bench/governance.py``): keys, plans, limits."""
    if stack.full:
        recreate_database(stack.database_url)
    log = stack.logs / "setup.log"
    manage(["migrate", "--no-input", "-v0"], stack.env, log)
    manage(["registry", "apply", str(registry_file)], stack.env, log)
    out = manage(["shell", "-c", "from bench.governance import setup; setup()"], stack.env, log)
    line = next(ln for ln in reversed(out.strip().splitlines()) if ln.startswith("{"))
    stack.keys = json.loads(line)["keys"]


def set_up_all(stacks: dict[str, Stack], *, manage, registry_file: Path) -> None:
    """Every stack's setup at once (mostly waiting on Django start-up and migrations)."""
    with ThreadPoolExecutor(max_workers=len(stacks) or 1) as pool:
        for future in [pool.submit(set_up, s, manage=manage, registry_file=registry_file) for s in stacks.values()]:
            future.result()


def serve(stack: Stack, procs, *, root: Path, venv_bin: Path) -> None:
    """The gateway as `make run` serves it, and the Celery worker beside it that writes its ledger."""
    stack.gateway = procs.start(f"gateway ({stack.name})", [str(root / "bin" / "serve")], env=stack.env,
                                log=stack.logs / "gateway.log")
    stack.worker = procs.start(f"metering worker ({stack.name})",
                               [str(venv_bin / "celery"), "-A", "aiplatform", "worker", "--pool", "solo",
                                "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
                                "--without-heartbeat"], env=stack.env, log=stack.logs / "worker.log")
