"""What does the full stack's limiter cost per call, client and server? CPU per call, measured.

    .venv/bin/python bench/redis_clients.py           # starts a private redis-server itself
    PYTHONPATH=/tmp/hiredis .venv/bin/python bench/redis_clients.py   # with hiredis (pip install --target)

One process runs the gateway's own Lua scripts (``gateway/limits/scripts.py``: ADMIT, then SETTLE
with a usage event XADDed) N times against a private redis-server, with the bench plan's rule
(requests and tokens per minute, burst, concurrency, a soft daily budget), at concurrency 1, 16
and 64, and prints calls per second, this process's CPU per call (admit + settle) and the
redis-server's CPU per call. Two ways of calling:

- ``per call``: what ``gateway/limits/redis_limiter.py`` does — one EVALSHA to admit and one to
  settle, each through redis-py's asyncio client with the gateway's options (0.5 s timeouts, no
  retries, a pool of up to 256 connections);
- ``batched``: the calls that are waiting at the same moment share one pipelined round trip (one
  batch per event-loop turn; each caller still waits for its own reply before going on), a sketch
  of what "group commit" in the limiter would cost;
- ``lean``: the same batching with no redis-py at all: a minimal ``asyncio.Protocol`` writing
  ``hiredis.pack_command`` bytes, one ``transport.write`` per loop turn, replies parsed by
  ``hiredis.Reader`` into a FIFO of futures (no timeouts, no error handling: the floor);
- ``pipe``: what the limiter runs now (issue 17): ``gateway/limits/redis_pipe.py`` (the lean
  connection plus timeouts, NOSCRIPT recovery, error replies) fed by a copy of ``_GroupCommit``.

The parser redis-py picked (hiredis when importable) is printed first.
"""

from __future__ import annotations

import asyncio
import collections
import importlib.util
import os
import resource
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import hiredis
import orjson
import uvloop

ROOT = Path(__file__).resolve().parent.parent
N = int(os.environ.get("N", "6000"))
CLK_TCK = os.sysconf("SC_CLK_TCK")



def _load(name: str):
    """A module of ``gateway/limits/`` without importing the package (it imports Django models)."""
    spec = importlib.util.spec_from_file_location(f"limit_{name}", ROOT / "gateway" / "limits" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


scripts = _load("scripts")
redis_pipe = _load("redis_pipe")

# bench/governance.py's plan as the limiter sends it: counter, rpm, tpm, concurrency, burst, tokens/day,
# tokens/month, cost/day (nano), cost/month, strict, shadow (-1: no such limit).
RULE = ["application:1", 10_000_000, 10**12, 1_000_000, 10_000_000, -1, -1, 10**15, -1, 0, 0]
EVENT = orjson.dumps({
    "request_id": "0" * 32, "client_request_id": "", "occurred_at": "2026-12-02T01:00:00.000000+00:00",
    "tenant_id": 1, "application_id": 1, "key_id": 1, "alias": "bench-chat", "endpoint_id": 1,
    "provider_kind": "openai-compatible", "operation": "chat", "streamed": False, "prompt_tokens": 12,
    "completion_tokens": 8, "total_tokens": 20, "usage_source": "provider", "cost": "0.0000066",
    "ttfb_ms": 1.2, "total_ms": 1.9, "status": 200, "error_class": "", "shadow_limits": ""})


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def admit_args(rid: str) -> list:
    return [rid, 60, 0, "20261202", 86_400, 80_000_000, "202612", 2_600_000, 2_500_000_000, 900_000, 1, *RULE]


def settle_args(rid: str) -> list:
    return [rid, 20, 6600, 60, "20261202", 86_400, "202612", 2_600_000, "sb:usage", EVENT, 1,
            RULE[0], 1, 1, 0, 1]


def client():
    import redis.asyncio as aioredis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return aioredis.Redis.from_url(URL, socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0),
                                   max_connections=256)


class Batcher:
    """Calls waiting at the same moment go out as one pipeline; each caller gets its own reply."""

    def __init__(self, redis, admit, settle) -> None:
        self.redis, self.scripts = redis, {"admit": admit, "settle": settle}
        self.queue: list[tuple[str, list, asyncio.Future]] = []
        self.scheduled = False

    def call(self, which: str, args: list) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self.queue.append((which, args, future))
        if not self.scheduled:
            self.scheduled = True
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self.flush()))
        return future

    async def flush(self) -> None:
        batch, self.queue, self.scheduled = self.queue, [], False
        async with self.redis.pipeline(transaction=False) as pipe:
            for which, args, _ in batch:
                pipe.evalsha(self.scripts[which].sha, 0, *args)
            replies = await pipe.execute()
        for (_, _, future), reply in zip(batch, replies, strict=True):
            future.set_result(reply)


class LeanPipe(asyncio.Protocol):
    """A minimal pipelined connection: hiredis packs and parses, a FIFO of futures, one write per loop turn."""

    def __init__(self) -> None:
        self.reader = hiredis.Reader(notEnoughData=Ellipsis)
        self.waiting: collections.deque[asyncio.Future] = collections.deque()
        self.out: list[bytes] = []
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not Ellipsis:
            future = self.waiting.popleft()
            if not future.done():
                future.set_result(reply)

    def call(self, *command) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        if not self.out:
            asyncio.get_running_loop().call_soon(self.flush)
        self.out.append(hiredis.pack_command(command))
        self.waiting.append(future)
        return future

    def flush(self) -> None:
        out, self.out = self.out, []
        self.transport.write(b"".join(out))


class PipeGroupCommit:
    """What the limiter's ``_GroupCommit`` does: the calls of one loop turn handed to ``RedisPipe.send`` at once."""

    def __init__(self, pipe) -> None:
        self.pipe, self.queue = pipe, []

    def call(self, script, args: list) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self.queue:
            loop.call_soon(self.start)
        self.queue.append((script, args, future))
        return future

    def start(self) -> None:
        batch, self.queue = self.queue, []
        self.pipe.send(batch)


async def measure(name: str, call, concurrency: int, redis_pid: int) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one():
        async with gate:
            await call()

    for _ in range(200):
        await call()
    cpu0, srv0, t0 = cpu_seconds(), process_cpu_seconds(redis_pid), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(N)))
    wall, cpu, srv = time.perf_counter() - t0, cpu_seconds() - cpu0, process_cpu_seconds(redis_pid) - srv0
    print(f"{name:<9} c={concurrency:<3} {N / wall:8,.0f} calls/s  client {cpu / N * 1e6:5.0f} µs CPU per call "
          f"(admit + settle)  redis-server {srv / N * 1e6:4.0f} µs", flush=True)


async def main(redis_pid: int) -> None:
    redis = client()
    admit, settle = redis.register_script(scripts.ADMIT), redis.register_script(scripts.SETTLE)
    await admit(keys=[], args=admit_args("warm"))
    await settle(keys=[], args=settle_args("warm"))
    connection = await redis.connection_pool.get_connection()
    print(f"redis-py parser: {type(connection._parser).__name__}; N = {N} calls per cell", flush=True)
    await redis.connection_pool.release(connection)

    async def per_call():
        rid = uuid.uuid4().hex
        await admit(keys=[], args=admit_args(rid))
        await settle(keys=[], args=settle_args(rid))

    batcher = Batcher(redis, admit, settle)

    async def batched():
        rid = uuid.uuid4().hex
        await batcher.call("admit", admit_args(rid))
        await batcher.call("settle", settle_args(rid))

    host, port = URL.split("//")[1].split("/")[0].split(":")
    _, lean = await asyncio.get_running_loop().create_connection(LeanPipe, host, int(port))

    async def lean_call():
        rid = uuid.uuid4().hex
        await lean.call("EVALSHA", admit.sha, 0, *admit_args(rid))
        await lean.call("EVALSHA", settle.sha, 0, *settle_args(rid))

    pipe = redis_pipe.RedisPipe(URL, timeout=0.5)
    group = PipeGroupCommit(pipe)
    admit_script, settle_script = redis_pipe.Script.of(scripts.ADMIT), redis_pipe.Script.of(scripts.SETTLE)

    async def pipe_call():
        rid = uuid.uuid4().hex
        await group.call(admit_script, admit_args(rid))
        await group.call(settle_script, settle_args(rid))

    for concurrency in (1, 16, 64):
        await measure("per call", per_call, concurrency, redis_pid)
        await measure("batched", batched, concurrency, redis_pid)
        await measure("lean", lean_call, concurrency, redis_pid)
        await measure("pipe", pipe_call, concurrency, redis_pid)
        await redis.delete("sb:usage")
    await pipe.close()
    await redis.aclose()


if __name__ == "__main__":
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    URL = f"redis://127.0.0.1:{port}/0"
    directory = Path(tempfile.mkdtemp(prefix="switchboard-redis-bench-"))
    cmd = [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(port), "--bind", "127.0.0.1",
           "--save", "", "--appendonly", "no", "--dir", str(directory), "--logfile", ""]
    if os.geteuid() == 0 and shutil.which("setpriv"):
        os.chmod(directory, 0o777)
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", *cmd]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        pid = server.pid
        # With setpriv, redis-server is setpriv's exec'd image: the same pid.
        uvloop.run(main(pid))
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)
