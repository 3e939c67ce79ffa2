"""The routing state's Redis connection: breaker syncs and in-flight slots, grouped per event-loop turn.

Calls made in one loop turn go out as one pipelined round trip and each caller awaits its own reply,
as the limiter's calls do (``gateway.limits.redis_limiter``): through ``RedisPipe`` (the limiter's lean
connection: a quarter of redis-py's CPU per call) or, for URLs it does not take (``rediss://``, options),
a redis-py pipeline. Every call has the ``REDIS_TIMEOUT_SECONDS`` timeout; failures raise one of
``REDIS_ERRORS``, which callers treat as "Redis is down".
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from redis.exceptions import RedisError

from gateway.limits.redis_pipe import Call, RedisPipe, Script, supports

REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)


class RedisCalls:
    """Script calls (``Script``) and plain commands (``script=None``) to one Redis, one round trip per loop turn."""

    def __init__(self, url: str, *, timeout: float | None = None) -> None:
        self._url = url
        self._timeout = settings.REDIS_TIMEOUT_SECONDS if timeout is None else timeout
        self._pipe = RedisPipe(url, timeout=self._timeout) if supports(url) else None
        self._client = None  # redis-py, only for URLs RedisPipe does not take
        self._queued: list[Call] = []

    def call(self, script: Script | None, args: Sequence[Any]) -> asyncio.Future:
        """The reply of ``EVALSHA script 0 *args`` (or of the command ``args``), sent with this turn's others."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self._queued:
            loop.call_soon(self._send)
        self._queued.append((script, args, future))
        return future

    def _send(self) -> None:
        batch, self._queued = self._queued, []
        if self._pipe is not None:
            self._pipe.send(batch)
        else:
            asyncio.ensure_future(self._send_redis_py(batch))

    async def _send_redis_py(self, batch: list[Call]) -> None:
        if self._client is None:
            import redis.asyncio as aioredis
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            self._client = aioredis.Redis.from_url(self._url, socket_timeout=self._timeout,
                                                   socket_connect_timeout=self._timeout, retry=Retry(NoBackoff(), 0))
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for script, args, _ in batch:
                    if script is None:
                        pipe.execute_command(*args)
                    else:
                        pipe.eval(script.source, 0, *args)
                results = await pipe.execute(raise_on_error=False)
        except Exception as exc:  # the round trip failed: every call in it fails the same way
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, _, future), result in zip(batch, results, strict=True):
            if future.done():  # its caller was cancelled
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def close(self) -> None:
        if self._pipe is not None:
            await self._pipe.close()
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def sync_client(url: str):
    """A blocking redis-py client with the short timeouts, for the pages' reads (``/readyz``, the health page)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    timeout = settings.REDIS_TIMEOUT_SECONDS
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                retry=Retry(NoBackoff(), 0))
