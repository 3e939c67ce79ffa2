"""The limiter's lean Redis transport: the same replies as redis-py, each to its own caller, and Redis failures
surfacing as the errors the limiter already treats as "Redis down".

Tests that flush scripts or kill connections use a private redis-server (the shared one is not ours to disturb).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
import uvloop
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway.limits import Demand, Periods
from gateway.limits.limiter import _redis_errors
from gateway.limits.redis_limiter import RedisLimiter
from gateway.limits.redis_pipe import RedisPipe, Script, supports
from portal.limits import LimitRule
from tests.aiplatform.redis_outages import hung_redis_url

pytestmark = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (the full-stack test run)")

ECHO = Script.of("return ARGV[1]")
MIXED = Script.of("return {1, 'two', {3, 'four'}, redis.status_reply('OK'), tonumber(ARGV[1]), ARGV[2]}")
NIL = Script.of("return nil")
FAILS = Script.of("return redis.error_reply('ERR refused on purpose')")
PASSWORD = "pipe-test-secret"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRedis:
    """A redis-server of the test's own (password, Unix socket, DEBUG enabled), which it may stop and restart."""

    def __init__(self, directory: Path) -> None:
        self.port, self.directory = _free_port(), directory
        self.socket_path = str(directory / "redis.sock")
        self.url = f"redis://default:{PASSWORD}@127.0.0.1:{self.port}/3"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--unixsocket", self.socket_path, "--requirepass", PASSWORD, "--enable-debug-command", "yes",
             "--save", "", "--appendonly", "no", "--dir", str(self.directory), "--logfile", ""],
            stdout=subprocess.DEVNULL)
        for _ in range(200):
            try:
                redis.Redis(port=self.port, password=PASSWORD).ping()
                return
            except redis.exceptions.ConnectionError:
                time.sleep(0.02)
        raise RuntimeError("private redis-server did not start")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, password=PASSWORD, db=3)


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    if server.process.poll() is None:
        server.kill()


def _send(pipe: RedisPipe, calls: Sequence[tuple[Script | None, Sequence]]) -> list[asyncio.Future]:
    futures = [asyncio.get_running_loop().create_future() for _ in calls]
    pipe.send([(script, args, future) for (script, args), future in zip(calls, futures, strict=True)])
    return futures


async def _call(pipe: RedisPipe, script: Script, *args) -> object:
    (future,) = _send(pipe, [(script, args)])
    return await future


async def test_replies_are_what_redis_py_returns():
    client = aioredis.Redis.from_url(os.environ["REDIS_URL"])
    pipe = RedisPipe(os.environ["REDIS_URL"], timeout=2)
    try:
        for script, args in ((MIXED, (7, b"\xff\x00raw")), (ECHO, ("text",)), (NIL, ())):
            expected = await client.register_script(script.source)(keys=[], args=list(args))
            assert await _call(pipe, script, *args) == expected
    finally:
        await pipe.close()
        await client.aclose()


def test_many_concurrent_callers_each_get_their_own_reply():
    async def run() -> None:
        pipe = RedisPipe(os.environ["REDIS_URL"], timeout=2)

        async def caller(n: int) -> None:
            for round_ in range(5):
                assert await _call(pipe, ECHO, f"{n}:{round_}") == f"{n}:{round_}".encode()

        try:
            await asyncio.gather(*(caller(n) for n in range(300)))
        finally:
            await pipe.close()

    uvloop.run(run())  # the gateway's loop


async def test_an_error_reply_goes_to_its_caller_only():
    pipe = RedisPipe(os.environ["REDIS_URL"], timeout=2)
    try:
        before, failing, after = _send(pipe, [(ECHO, ("a",)), (FAILS, ()), (ECHO, ("b",))])
        assert await before == b"a"
        with pytest.raises(ResponseError, match="refused on purpose"):
            await failing
        assert await after == b"b"
    finally:
        await pipe.close()


async def test_a_flushed_script_is_sent_again_and_cached(private_redis):
    pipe = RedisPipe(private_redis.url, timeout=2)
    try:
        assert await _call(pipe, ECHO, "first") == b"first"
        private_redis.client().script_flush()
        first, second = _send(pipe, [(ECHO, ("again",)), (MIXED, (1, "x"))])
        assert await first == b"again"
        assert (await second)[0] == 1
        assert private_redis.client().script_exists(ECHO.sha) == [True]
    finally:
        await pipe.close()


async def test_the_urls_db_is_the_one_written(private_redis):
    pipe = RedisPipe(private_redis.url, timeout=2)  # db 3
    try:
        await _call(pipe, Script.of("return redis.call('SET', 'pipe:db', ARGV[1])"), "three")
    finally:
        await pipe.close()
    assert private_redis.client().get("pipe:db") == b"three"


async def test_a_unix_socket_url_works(private_redis):
    pipe = RedisPipe(f"unix://:{PASSWORD}@{private_redis.socket_path}?db=3", timeout=2)
    try:
        assert await _call(pipe, ECHO, "over a socket") == b"over a socket"
    finally:
        await pipe.close()


async def test_a_wrong_password_is_a_connection_error(private_redis):
    pipe = RedisPipe(f"redis://:wrong@127.0.0.1:{private_redis.port}/3", timeout=2)
    try:
        with pytest.raises(RedisConnectionError):
            await _call(pipe, ECHO, "x")
    finally:
        await pipe.close()


async def test_a_killed_connection_is_made_again_on_next_use(private_redis):
    pipe = RedisPipe(private_redis.url, timeout=2)
    try:
        assert await _call(pipe, ECHO, "before") == b"before"
        private_redis.client().client_kill_filter(_type="normal")
        await asyncio.sleep(0.05)  # let the loop see the connection close
        assert await _call(pipe, ECHO, "after") == b"after"
    finally:
        await pipe.close()


async def test_a_stopped_server_fails_pending_callers_and_the_next_call_reconnects(private_redis):
    pipe = RedisPipe(private_redis.url, timeout=5)
    try:
        assert await _call(pipe, ECHO, "up") == b"up"
        sleeping, queued = _send(pipe, [(None, ("DEBUG", "SLEEP", "2")), (ECHO, ("queued",))])
        await asyncio.sleep(0.1)  # both written; the server is asleep in the first
        private_redis.kill()
        for future in (sleeping, queued):
            with pytest.raises(RedisConnectionError):
                await future
        with pytest.raises(RedisConnectionError):  # nothing listens: refused at once
            await _call(pipe, ECHO, "down")
        private_redis.start()
        assert await _call(pipe, ECHO, "back") == b"back"
    finally:
        await pipe.close()


@pytest.mark.parametrize("db", [0, 9], ids=["waiting-for-a-reply", "waiting-for-select"])
async def test_a_hung_server_fails_within_the_timeout(db):
    with hung_redis_url() as url:
        pipe = RedisPipe(url.rsplit("/", 1)[0] + f"/{db}", timeout=0.2)
        try:
            async with asyncio.timeout(5):  # a guard against hanging, not a measurement
                with pytest.raises(RedisTimeoutError):
                    await _call(pipe, ECHO, "x")
                with pytest.raises(RedisTimeoutError):  # a new connection, which hangs as well
                    await _call(pipe, ECHO, "y")
        finally:
            await pipe.close()


def test_its_failures_are_what_the_limiter_treats_as_redis_down():
    for error in (RedisConnectionError, RedisTimeoutError):
        assert issubclass(error, _redis_errors())


def test_a_pipe_moves_to_a_new_loop_once_the_old_one_is_closed():
    pipe = RedisPipe(os.environ["REDIS_URL"], timeout=2)
    assert asyncio.run(_call(pipe, ECHO, "one")) == b"one"
    assert asyncio.run(_call(pipe, ECHO, "two")) == b"two"


def test_a_pipe_refuses_a_second_running_loop():
    pipe = RedisPipe(os.environ["REDIS_URL"], timeout=2)
    release, outcome = threading.Event(), {}

    async def hold() -> None:
        await _call(pipe, ECHO, "bound")
        while not release.is_set():
            await asyncio.sleep(0.01)
        await pipe.close()

    holder = threading.Thread(target=asyncio.run, args=(hold(),))
    holder.start()
    try:
        while pipe._loop is None:
            time.sleep(0.01)

        async def intrude() -> None:
            try:
                await _call(pipe, ECHO, "other loop")
            except RuntimeError as exc:
                outcome["error"] = exc

        asyncio.run(intrude())
    finally:
        release.set()
        holder.join(10)
    assert "error" in outcome


def test_urls_it_does_not_take_stay_on_redis_py():
    assert supports("redis://user:pw@127.0.0.1:6379/9")
    assert not supports("rediss://127.0.0.1:6379/9")
    assert not supports("redis://127.0.0.1:6379/9?health_check_interval=30")


def test_the_limiter_admits_through_redis_py_for_such_a_url():
    rule = LimitRule(level="key", owner_id=2_000_001, requests_per_minute=5)

    async def run() -> tuple[bool, bool]:
        limiter = RedisLimiter(os.environ["REDIS_URL"] + "?health_check_interval=30")
        try:
            admission = await limiter.admit((rule,), Demand("pipe-fallback", 10, 0), Periods.at())
            return admission.admitted, limiter._pipe is None
        finally:
            await limiter.close()

    admitted, on_redis_py = asyncio.run(run())
    assert admitted
    assert on_redis_py
