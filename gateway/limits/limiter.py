"""The limiter the gateway uses: Redis when configured, the in-process one otherwise or as a fallback."""

from __future__ import annotations

import time
from collections.abc import Sequence

import structlog
from django.conf import settings

from gateway.limits import Admission, Demand, LimiterUnavailable, Periods
from gateway.limits.local_limiter import LocalLimiter
from portal.limits import LimitRule

log = structlog.get_logger("switchboard.gateway.limits")

_RETRY_REDIS_AFTER = 1.0  # seconds: after a failure, calls go local for this long instead of waiting on Redis


def _redis_errors() -> tuple[type[BaseException], ...]:
    from redis.exceptions import RedisError

    return RedisError, OSError, TimeoutError


class Limiter:
    def __init__(self) -> None:
        self._shared = None
        self._local: LocalLimiter | None = None
        self._fallback: LocalLimiter | None = None
        self._redis_down_until = 0.0
        self.fallbacks = 0  # calls admitted by the fallback since start (exported by /healthz later)

    @property
    def shared(self):
        if self._shared is None and settings.REDIS_URL:
            from gateway.limits.redis_limiter import RedisLimiter

            self._shared = RedisLimiter()
        return self._shared

    @property
    def local(self) -> LocalLimiter:
        """The embedded mode's limiter (the whole truth in one process)."""
        if self._local is None:
            self._local = LocalLimiter(flight_ttl_ms=settings.GATEWAY_MAX_CALL_SECONDS * 1000)
        return self._local

    @property
    def fallback(self) -> LocalLimiter:
        """Stands in for Redis while it is unreachable: each process enforces 1/N of every limit."""
        if self._fallback is None:
            self._fallback = LocalLimiter(share=settings.GATEWAY_PROCESSES,
                                          flight_ttl_ms=settings.GATEWAY_MAX_CALL_SECONDS * 1000)
        return self._fallback

    async def admit(self, rules: Sequence[LimitRule], demand: Demand) -> Admission:
        periods = Periods.at()
        shared = self.shared
        if shared is None:
            return self.local.admit_now(rules, demand, periods)
        if time.monotonic() >= self._redis_down_until:
            try:
                return await shared.admit(rules, demand, periods)
            except _redis_errors() as exc:
                self._redis_down_until = time.monotonic() + _RETRY_REDIS_AFTER
                log.warning("limiter_redis_unavailable", error=type(exc).__name__)
        closed = [r for r in rules if r.fail_closed or (r.strict and r.has_budget)]
        if closed:
            raise LimiterUnavailable(closed[0].counter)
        self.fallbacks += 1
        return self.fallback.admit_now(rules, demand, periods)

    async def settle(self, admission: Admission | None, *, tokens: int, cost_nano: int, event: bytes,
                     rules: Sequence[LimitRule] = (), journal=None) -> None:
        """Settle the call and record its event exactly once: in the Redis stream, else in the journal."""
        via = admission.via if admission is not None else ("redis" if self.shared is not None else "local")
        if via == "redis" and self.shared is not None:
            try:
                await self.shared.settle(admission, tokens=tokens, cost_nano=cost_nano, event=event, rules=rules)
                return
            except _redis_errors() as exc:
                # Counters it held expire on their own; the event must not be lost: the journal keeps it and
                # the flusher replays it into the stream once Redis answers again.
                self._redis_down_until = time.monotonic() + _RETRY_REDIS_AFTER
                log.warning("limiter_settle_failed", error=type(exc).__name__)
        else:
            target = self.local if self.shared is None else self.fallback
            target.settle_now(admission, tokens=tokens, cost_nano=cost_nano, rules=rules)
        journal.append(event)

    async def close(self) -> None:
        if self._shared is not None:
            await self._shared.close()
            self._shared = None


limiter = Limiter()
