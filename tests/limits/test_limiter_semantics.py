"""The two limiters agree: the Lua scripts on real Redis and the in-process limiter, call by call.

The embedded mode promises "the same semantics" as the full stack, and the full stack falls back to
the in-process limiter while Redis is down; so random sequences of admissions and settlements over
random limits must get the same answers from both. Then the properties each must hold on its own:
remaining counts never below zero and never rising within a window, a strict budget never exceeded.
"""

from __future__ import annotations

import asyncio
import itertools
import os

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.limits import Demand, Periods
from gateway.limits.local_limiter import LocalLimiter
from gateway.limits.redis_limiter import RedisLimiter
from portal.limits import LimitRule

pytestmark = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (the full-stack test run)")

_owner = itertools.count(1_000_000)
NANO = 1_000_000_000


def _rule(level: str, data: dict) -> LimitRule:
    return LimitRule(level=level, owner_id=next(_owner), **data)


limits = st.fixed_dictionaries({}, optional={
    "requests_per_minute": st.integers(1, 6),
    "tokens_per_minute": st.integers(1, 400),
    "max_concurrency": st.integers(1, 4),
    "burst": st.integers(1, 4),
    "tokens_per_day": st.integers(1, 500),
    "cost_per_day_nano": st.integers(0, 3 * NANO),
    "cost_per_month_nano": st.integers(0, 5 * NANO),
    "strict": st.booleans(),
    "shadow": st.booleans(),
})
# An operation: admit a call (tokens, max cost) or settle the oldest call in flight (actual tokens, cost).
operations = st.lists(
    st.one_of(
        st.tuples(st.just("admit"), st.integers(1, 150), st.integers(0, NANO)),
        st.tuples(st.just("settle"), st.integers(0, 200), st.integers(0, NANO)),
    ),
    min_size=1, max_size=25,
)


async def _run_both(rules: tuple[LimitRule, ...], ops) -> tuple[list, list]:
    shared, local = RedisLimiter(os.environ["REDIS_URL"]), LocalLimiter()
    periods = Periods.at()
    results: dict[str, list] = {"redis": [], "local": []}
    in_flight: dict[str, list] = {"redis": [], "local": []}
    try:
        for n, (op, a, b) in enumerate(ops):
            if op == "admit":
                demand = Demand(request_id=f"r{n}", reserve_tokens=a, max_cost_nano=b)
                for name, admission in (("redis", await shared.admit(rules, demand, periods)),
                                        ("local", local.admit_now(rules, demand, periods))):
                    results[name].append((admission.admitted, admission.refused_what,
                                          admission.requests_remaining, admission.tokens_remaining, admission.shadow))
                    if admission.admitted:
                        in_flight[name].append(admission)
            else:
                for name in ("redis", "local"):
                    if not in_flight[name]:
                        continue
                    admission = in_flight[name].pop(0)
                    if name == "redis":
                        await shared.settle(admission, tokens=a, cost_nano=b, event=b"")
                    else:
                        local.settle_now(admission, tokens=a, cost_nano=b)
    finally:
        await shared.close()
    return results["redis"], results["local"]


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(key=limits, tenant=limits, ops=operations)
def test_the_lua_limiter_and_the_in_process_one_give_the_same_answers(key, tenant, ops):
    rules = (_rule("key", key), _rule("tenant", tenant))
    on_redis, in_process = asyncio.run(_run_both(rules, ops))
    assert on_redis == in_process


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(key=limits, ops=operations)
def test_remaining_counts_never_go_below_zero_nor_rise_within_a_window(key, ops):
    rules = (_rule("key", {**key, "shadow": False}),)
    on_redis, _ = asyncio.run(_run_both(rules, ops))
    requests = [r[2] for r in on_redis if r[2] >= 0]
    tokens = [r[3] for r in on_redis if r[3] >= 0]
    assert all(v >= 0 for v in requests + tokens)
    assert requests == sorted(requests, reverse=True) and tokens == sorted(tokens, reverse=True)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(budget=st.integers(0, 2 * NANO), calls=st.lists(st.integers(0, NANO), min_size=1, max_size=30))
def test_a_strict_budget_never_lets_spend_exceed_it(budget, calls):
    """Calls are admitted at their maximum cost and settle at any cost up to it: the total stays within budget."""
    rule = _rule("key", {"cost_per_day_nano": budget, "strict": True})

    async def run() -> int:
        shared = RedisLimiter(os.environ["REDIS_URL"])
        periods, spent, held = Periods.at(), 0, []
        try:
            for n, cost in enumerate(calls):
                admission = await shared.admit((rule,), Demand(f"s{n}", 10, cost), periods)
                if admission.admitted:
                    held.append((admission, cost))
                if n % 3 == 2:  # some settle while others are still in flight
                    while held:
                        admission, maximum = held.pop()
                        await shared.settle(admission, tokens=10, cost_nano=maximum, event=b"")
                        spent += maximum
            while held:
                admission, maximum = held.pop()
                await shared.settle(admission, tokens=10, cost_nano=maximum, event=b"")
                spent += maximum
        finally:
            await shared.close()
        return spent

    assert asyncio.run(run()) <= budget


def test_counters_of_a_dead_call_are_released_after_the_in_flight_expiry(settings):
    """A gateway killed mid-call never settles: its concurrency slot and reservation expire."""
    settings.GATEWAY_MAX_CALL_SECONDS = 1
    rule = _rule("key", {"max_concurrency": 1, "cost_per_day_nano": NANO, "strict": True})
    client = redis.Redis.from_url(os.environ["REDIS_URL"])

    async def run() -> tuple[bool, bool]:
        shared = RedisLimiter(os.environ["REDIS_URL"])
        try:
            periods = Periods.at()
            first = await shared.admit((rule,), Demand("dead", 1, NANO), periods)
            blocked = await shared.admit((rule,), Demand("next", 1, 1), periods)
            await asyncio.sleep(1.2)
            later = await shared.admit((rule,), Demand("later", 1, NANO), periods)
            return first.admitted and not blocked.admitted, later.admitted
        finally:
            await shared.close()

    blocked_then, admitted_later = asyncio.run(run())
    assert blocked_then and admitted_later
    assert client.zscore(f"sb:l:{rule.counter}:fl", "dead") is None
