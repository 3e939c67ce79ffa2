"""Django's Redis cache, degrading instead of failing when Redis does not answer.

What this project keeps in the cache is expendable: login-throttling counters (allauth) and the
like. A Redis outage must not turn the page that uses them into a 500, so every operation that
fails with a Redis error (refused, reset, or a socket timeout from ``OPTIONS``) is logged and
answered as a miss: reads return the default, writes are dropped, and ``add`` reports success
(allauth spins on ``add`` for its counter lock, and a lock nobody can take must not block a login).
Throttling is therefore off while Redis is down; ``/readyz`` reports the cache as down through
``check()``, which does not degrade.
"""

from __future__ import annotations

import functools
import uuid

import structlog
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from redis.exceptions import RedisError

log = structlog.get_logger("switchboard.cache")


def _degrading(fallback):
    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except (RedisError, OSError) as exc:
                log.warning("cache_unavailable", operation=method.__name__, error=type(exc).__name__)
                return fallback(*args, **kwargs) if callable(fallback) else fallback

        return wrapper

    return decorate


def _default(key, default=None, *args, **kwargs):
    return default


class RedisCache(DjangoRedisCache):
    """The Redis cache whose operations answer as a miss when Redis fails (see the module docstring)."""

    add = _degrading(True)(DjangoRedisCache.add)
    get = _degrading(_default)(DjangoRedisCache.get)
    set = _degrading(None)(DjangoRedisCache.set)
    touch = _degrading(False)(DjangoRedisCache.touch)
    delete = _degrading(False)(DjangoRedisCache.delete)
    get_many = _degrading({})(DjangoRedisCache.get_many)
    has_key = _degrading(False)(DjangoRedisCache.has_key)
    incr = _degrading(lambda key, delta=1, *args, **kwargs: delta)(DjangoRedisCache.incr)
    set_many = _degrading([])(DjangoRedisCache.set_many)
    delete_many = _degrading(None)(DjangoRedisCache.delete_many)
    clear = _degrading(False)(DjangoRedisCache.clear)

    def check(self) -> None:
        """Write, read back and delete a value; raise when Redis does not do it (for ``/readyz``)."""
        key = self.make_and_validate_key(f"readyz:{uuid.uuid4().hex}")
        client = self._cache.get_client(key, write=True)
        client.set(key, b"1", ex=5)
        if client.get(key) != b"1":
            raise RuntimeError("wrote a value and could not read it back")
        client.delete(key)
