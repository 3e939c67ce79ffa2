"""The shared limiter: the Lua scripts of ``gateway.limits.scripts`` over Redis.

ADMIT and SETTLE, the hot path, go through ``RedisPipe`` (one lean pipelined connection per event
loop); everything else (the stream replay, ``peek``, ``seed_spend``) through one pooled redis-py client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from django.conf import settings

from gateway.limits import Admission, Demand, Periods
from gateway.limits.redis_pipe import Call, RedisPipe, Script, supports
from gateway.limits.scripts import ADMIT, SETTLE
from portal.limits import LimitRule

_NONE = -1


def _rule_args(rule: LimitRule) -> list:
    def v(value: int | None) -> int:
        return _NONE if value is None else value

    return [rule.counter, v(rule.requests_per_minute), v(rule.tokens_per_minute), v(rule.max_concurrency),
            v(rule.burst), v(rule.tokens_per_day), v(rule.tokens_per_month), v(rule.cost_per_day_nano),
            v(rule.cost_per_month_nano), 1 if rule.strict else 0, 1 if rule.shadow else 0]


def _settle_args(rule: LimitRule) -> list:
    in_flight = rule.max_concurrency is not None or rule.strict
    return [rule.counter, 0 if rule.tokens_per_minute is None else 1, 1 if in_flight else 0,
            1 if rule.strict else 0, 1 if rule.has_budget else 0]


def _int(value) -> int:
    return int(value) if value is not None else 0


class _GroupCommit:
    """Script calls made in the same event-loop turn go to Redis as one pipelined round trip.

    Each caller still awaits its own reply (so a settled event is in the stream before its response
    ends); under concurrency, many calls share one send and one read. Measured in ``bench/``: the
    client's CPU per admit + settle halves at concurrency 64, and nothing is lost at concurrency 1
    (a turn with one call is one plain round trip). The batch goes through ``RedisPipe`` (a quarter to
    a third of redis-py's CPU per call, see its docstring), or redis-py for URLs it does not take.
    """

    def __init__(self, send: Callable[[list[Call]], None]) -> None:
        self._send = send
        self._queued: list[Call] = []

    def call(self, script, args: list) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self._queued:
            loop.call_soon(self._start)
        self._queued.append((script, args, future))
        return future

    def _start(self) -> None:
        batch, self._queued = self._queued, []
        self._send(batch)


def _via_redis_py(client) -> Callable[[list[Call]], None]:
    """The batch as a redis-py pipeline of ``Script`` calls (for ``rediss://`` and URLs with options)."""

    async def send(batch: list[Call]) -> None:
        try:
            if len(batch) == 1:
                script, args, future = batch[0]
                results = [await script(keys=[], args=args)]
            else:
                async with client.pipeline(transaction=False) as pipe:
                    for script, args, _ in batch:
                        await script(keys=[], args=args, client=pipe)
                    results = await pipe.execute(raise_on_error=False)
        except BaseException as exc:  # the round trip failed: every call in it fails the same way
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else ConnectionError(str(exc)))
            return
        for (_, _, future), result in zip(batch, results, strict=True):
            if future.done():  # its caller was cancelled
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    def start(batch: list[Call]) -> None:
        asyncio.ensure_future(send(batch))

    return start


class RedisLimiter:
    """Admit and settle with one round trip each; raises ``redis`` / ``OSError`` errors when Redis fails."""

    def __init__(self, url: str | None = None) -> None:
        self._url = url or settings.REDIS_URL
        self._client = None
        self._pipe: RedisPipe | None = None
        self._admit = None
        self._settle = None
        self._group: _GroupCommit | None = None

    def _redis(self):
        if self._client is None:
            import redis.asyncio as aioredis
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            timeout = settings.REDIS_TIMEOUT_SECONDS
            # No retries: a failure must fall back (or fail closed) within one timeout, not three.
            self._client = aioredis.Redis.from_url(self._url, socket_timeout=timeout,
                                                   socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0),
                                                   max_connections=256)
            if supports(self._url):
                self._pipe = RedisPipe(self._url, timeout=timeout)
                self._admit, self._settle = Script.of(ADMIT), Script.of(SETTLE)
                self._group = _GroupCommit(self._pipe.send)
            else:
                self._admit = self._client.register_script(ADMIT)
                self._settle = self._client.register_script(SETTLE)
                self._group = _GroupCommit(_via_redis_py(self._client))
        return self._client

    async def admit(self, rules: Sequence[LimitRule], demand: Demand, periods: Periods) -> Admission:
        self._redis()
        args = [demand.request_id, demand.reserve_tokens, demand.max_cost_nano, periods.day, periods.day_ttl,
                periods.day_reset_ms, periods.month, periods.month_ttl, periods.month_reset_ms,
                settings.GATEWAY_MAX_CALL_SECONDS * 1000, len(rules)]
        for rule in rules:
            args.extend(_rule_args(rule))
        result = await self._group.call(self._admit, args)
        admitted, index, what, retry, rl, rr, rt, tl, tr, tt, shadow = result
        return Admission(
            admitted=bool(admitted), refused_by=rules[index - 1] if index else None,
            refused_what=what.decode() if isinstance(what, bytes) else what, retry_after_ms=max(_int(retry), 0),
            request_limit=_int(rl), requests_remaining=_int(rr), requests_reset_ms=max(_int(rt), 0),
            token_limit=_int(tl), tokens_remaining=_int(tr), tokens_reset_ms=max(_int(tt), 0),
            shadow=shadow.decode() if isinstance(shadow, bytes) else shadow, via="redis", rules=tuple(rules),
            demand=demand, periods=periods)

    async def settle(self, admission: Admission | None, *, tokens: int, cost_nano: int, event: bytes,
                     rules: Sequence[LimitRule] = ()) -> None:
        """Charge the actual use, release what admission held, and append ``event`` to the usage stream."""
        self._redis()
        periods = (admission.periods if admission is not None else None) or Periods.at()
        charged = admission.rules if admission is not None and admission.admitted else tuple(rules)
        reserved = admission.demand.reserve_tokens if admission is not None and admission.demand else 0
        args = [admission.demand.request_id if admission is not None and admission.demand else "", tokens,
                cost_nano, reserved, periods.day, periods.day_ttl, periods.month, periods.month_ttl,
                settings.USAGE_STREAM, event, len(charged)]
        for rule in charged:
            args.extend(_settle_args(rule))
        await self._group.call(self._settle, args)

    async def append_events(self, events: Sequence[bytes]) -> None:
        """Append usage events to the stream (a replayed journal); one pipelined round trip."""
        client = self._redis()
        async with client.pipeline(transaction=False) as pipe:
            for event in events:
                pipe.xadd(settings.USAGE_STREAM, {"e": event})
            await pipe.execute()

    async def close(self) -> None:
        if self._pipe is not None:
            await self._pipe.close()
            self._pipe = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def peek(self, rules: Sequence[LimitRule], periods: Periods) -> list[dict[str, int]]:
        """What each level has used right now (for ``GET /v1/usage``); one pipelined round trip, no changes."""
        client = self._redis()
        async with client.pipeline(transaction=False) as pipe:
            for rule in rules:
                prefix = f"sb:l:{rule.counter}"
                pipe.get(f"{prefix}:rpm")
                pipe.get(f"{prefix}:tpm")
                pipe.zcard(f"{prefix}:fl")
                pipe.hmget(f"{prefix}:b:{periods.day}", "tok", "cost")
                pipe.hmget(f"{prefix}:b:{periods.month}", "tok", "cost")
            values = await pipe.execute()
        used = []
        for i in range(len(rules)):
            rpm, tpm, flight, day, month = values[i * 5:(i + 1) * 5]
            used.append({"requests_this_minute": _int(rpm), "tokens_this_minute": _int(tpm), "in_flight": _int(flight),
                         "tokens_today": _int(day[0]), "cost_today_nano": _int(day[1]),
                         "tokens_this_month": _int(month[0]), "cost_this_month_nano": _int(month[1])})
        return used

    async def seed_spend(self, spend: dict[tuple[str, str], tuple[int, int]], periods: Periods) -> int:
        """Raise budget counters to at least the ledger's figures (after a Redis loss); returns how many."""
        client = self._redis()
        raise_to = client.register_script(_RAISE_TO)
        for (counter, period), (tokens, cost) in spend.items():
            ttl = periods.day_ttl if len(period) == 8 else periods.month_ttl
            await raise_to(keys=[f"sb:l:{counter}:b:{period}"], args=[tokens, cost, ttl])
        return len(spend)


# Atomic "at least": a settle landing between a read and a write must not be overwritten.
_RAISE_TO = """
local c = redis.call('HMGET', KEYS[1], 'tok', 'cost')
if tonumber(c[1] or '0') < tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 'tok', ARGV[1]) end
if tonumber(c[2] or '0') < tonumber(ARGV[2]) then redis.call('HSET', KEYS[1], 'cost', ARGV[2]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""
