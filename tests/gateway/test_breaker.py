"""The per-endpoint circuit breaker: opens at the threshold, skips while open, probes when half-open, and
agrees across gateway processes through Redis (two ``EndpointHealth`` instances stand for two processes).

Time is a controllable clock, never a sleep. Defaults (settings): a 30 s window, 5 calls, 50 % failures,
15 s open, 1 probe.
"""

from __future__ import annotations

import os
import random

import pytest
import redis
from structlog.testing import capture_logs

from gateway.routing.health import EndpointHealth
from tests.aiplatform.redis_outages import down_redis_url

REDIS_URL = os.environ.get("REDIS_URL", "")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="needs Redis (the full-stack test run)")


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Nothing here touches Django's cache."""
    yield


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def endpoint():
    """An endpoint id no other test uses; its keys are removed from Redis afterwards."""
    endpoint_id = random.randint(10**8, 10**9)
    yield endpoint_id
    if REDIS_URL:
        with redis.Redis.from_url(REDIS_URL) as client:
            client.delete(f"sb:cb:{endpoint_id}", f"sb:cb:{endpoint_id}:w", f"sb:cb:{endpoint_id}:p")
            client.srem("sb:cb:tripped", endpoint_id)
            client.zrem("sb:cb:known", endpoint_id)


def embedded(clock: Clock) -> EndpointHealth:
    return EndpointHealth(redis_url="", clock=clock)


def fail(health: EndpointHealth, endpoint: int, times: int = 1) -> None:
    for _ in range(times):
        health.record(endpoint, ok=False)


def state_of(health: EndpointHealth, endpoint: int) -> str:
    return next(row["state"] for row in health.report() if row["endpoint_id"] == endpoint)


# --- the in-process breaker (embedded mode, and the full stack's fallback) ---------------------------

def test_an_unknown_endpoint_is_admitted(clock):
    assert embedded(clock).admits(7)


def test_fewer_than_the_minimum_calls_never_open(clock):
    health = embedded(clock)
    fail(health, 1, times=4)
    assert health.admits(1)


def test_it_opens_at_the_threshold(clock):
    health = embedded(clock)
    fail(health, 1, times=4)
    fail(health, 1)
    assert not health.admits(1)
    assert state_of(health, 1) == "open"


def test_a_failure_share_under_the_rate_keeps_it_closed(clock):
    health = embedded(clock)
    for _ in range(3):
        health.record(1, ok=True)
    fail(health, 1, times=2)  # 2 of 5: 40 %
    assert health.admits(1)


def test_failures_older_than_the_window_do_not_count(clock):
    health = embedded(clock)
    fail(health, 1, times=4)
    clock.advance(31)
    fail(health, 1)
    assert health.admits(1)


def test_open_it_is_skipped_until_the_open_time_ends(clock):
    health = embedded(clock)
    fail(health, 1, times=5)
    clock.advance(14.9)
    assert not health.admits(1)
    clock.advance(0.2)
    assert health.admits(1)  # half-open: this call is the probe


def test_half_open_lets_through_only_the_probe_budget(clock, settings):
    settings.GATEWAY_BREAKER_HALF_OPEN_PROBES = 2
    health = embedded(clock)
    fail(health, 1, times=5)
    clock.advance(15)
    assert [health.admits(1) for _ in range(3)] == [True, True, False]
    assert state_of(health, 1) == "half-open"


def test_available_answers_like_admits_without_taking_the_probe(clock):
    health = embedded(clock)
    fail(health, 1, times=5)
    assert not health.available(1)
    clock.advance(15)
    assert health.available(1)
    assert health.available(1)
    assert health.admits(1)
    assert not health.available(1)  # the one probe is out


def test_a_probe_success_closes_it_with_an_empty_window(clock):
    health = embedded(clock)
    fail(health, 1, times=5)
    clock.advance(15)
    assert health.admits(1)
    health.record(1, ok=True, ttfb_ms=80)
    assert state_of(health, 1) == "closed"
    fail(health, 1, times=4)  # the window restarted: four failures are under the minimum again
    assert health.admits(1)


def test_a_probe_failure_opens_it_again(clock):
    health = embedded(clock)
    fail(health, 1, times=5)
    clock.advance(15)
    assert health.admits(1)
    fail(health, 1)
    assert not health.admits(1)
    clock.advance(14.9)
    assert not health.admits(1)
    clock.advance(0.2)
    assert health.admits(1)


def test_a_probe_that_never_reports_is_given_back(clock):
    health = embedded(clock)
    fail(health, 1, times=5)
    clock.advance(15)
    assert health.admits(1)  # taken, then the caller never called it
    assert not health.admits(1)
    clock.advance(15)
    assert health.admits(1)


def test_latency_is_the_mean_time_to_first_byte_of_the_window(clock):
    health = embedded(clock)
    assert health.latency_ms(1) is None
    health.record(1, ok=True, ttfb_ms=100)
    health.record(1, ok=True, ttfb_ms=300)
    health.record(1, ok=False)  # a failure has no time to first byte
    assert health.latency_ms(1) == 200
    clock.advance(31)
    assert health.latency_ms(1) is None


def test_the_report_says_state_error_rate_calls_latency_and_since_when(clock):
    health = embedded(clock)
    health.record(1, ok=True, ttfb_ms=50)
    fail(health, 2, times=5)
    rows = {row["endpoint_id"]: row for row in health.report()}
    assert rows[1] == {"endpoint_id": 1, "state": "closed", "error_rate": 0.0, "calls": 1, "latency_ms": 50.0,
                       "opened_at": None}
    assert rows[2]["state"] == "open"
    assert rows[2]["error_rate"] == 1.0
    assert rows[2]["calls"] == 5
    assert rows[2]["opened_at"] == "2027-01-15T08:00:00+00:00"


# --- shared through Redis (the full stack) -------------------------------------------------------------

def two_processes(clock: Clock) -> tuple[EndpointHealth, EndpointHealth]:
    return EndpointHealth(redis_url=REDIS_URL, clock=clock), EndpointHealth(redis_url=REDIS_URL, clock=clock)


@needs_redis
async def test_a_process_own_failures_open_it_there_at_once_and_everywhere_after_a_sync(clock, endpoint):
    a, b = two_processes(clock)
    await a.sync()
    await b.sync()
    fail(a, endpoint, times=5)
    assert not a.admits(endpoint)
    assert b.admits(endpoint)  # not told yet
    await a.sync()
    await b.sync()
    assert not b.admits(endpoint)
    assert state_of(b, endpoint) == "open"
    await a.stop()
    await b.stop()


@needs_redis
async def test_failures_spread_over_processes_add_up(clock, endpoint):
    a, b = two_processes(clock)
    fail(a, endpoint, times=3)  # neither process alone has the minimum five calls
    await a.sync()
    fail(b, endpoint, times=2)
    assert b.admits(endpoint)
    await b.sync()
    await a.sync()
    assert not a.admits(endpoint)
    assert not b.admits(endpoint)
    await a.stop()
    await b.stop()


async def _opened_then_half_open(a: EndpointHealth, b: EndpointHealth, clock: Clock, endpoint: int) -> None:
    fail(a, endpoint, times=5)
    await a.sync()
    await b.sync()
    clock.advance(15)
    await a.sync()
    await b.sync()


@needs_redis
async def test_the_probe_budget_is_shared_by_the_processes(clock, endpoint):
    a, b = two_processes(clock)
    await _opened_then_half_open(a, b, clock, endpoint)
    assert not a.admits(endpoint)  # half-open: each asks Redis for a probe at its next sync
    assert not b.admits(endpoint)
    await a.sync()
    await b.sync()
    assert a.admits(endpoint)
    assert not b.admits(endpoint)  # the one probe is a's
    await a.stop()
    await b.stop()


@needs_redis
async def test_available_asks_redis_for_a_probe_without_taking_it(clock, endpoint):
    a, b = two_processes(clock)
    await _opened_then_half_open(a, b, clock, endpoint)
    assert not a.available(endpoint)  # no probe leased here yet: asked for at the next sync
    await a.sync()
    assert a.available(endpoint)
    assert a.admits(endpoint)
    assert not a.available(endpoint)
    await a.stop()
    await b.stop()


@needs_redis
async def test_a_probe_success_in_one_process_closes_it_in_all(clock, endpoint):
    a, b = two_processes(clock)
    await _opened_then_half_open(a, b, clock, endpoint)
    a.admits(endpoint)
    await a.sync()
    assert a.admits(endpoint)
    a.record(endpoint, ok=True, ttfb_ms=120)
    assert state_of(a, endpoint) == "closed"
    await a.sync()
    await b.sync()
    assert b.admits(endpoint)
    assert state_of(b, endpoint) == "closed"
    await a.stop()
    await b.stop()


@needs_redis
async def test_a_probe_failure_in_one_process_opens_it_again_in_all(clock, endpoint):
    a, b = two_processes(clock)
    await _opened_then_half_open(a, b, clock, endpoint)
    a.admits(endpoint)
    await a.sync()
    assert a.admits(endpoint)
    fail(a, endpoint)
    await a.sync()
    await b.sync()
    assert not b.admits(endpoint)
    assert state_of(b, endpoint) == "open"
    await a.stop()
    await b.stop()


@needs_redis
async def test_a_dead_process_probe_lease_lapses(clock, endpoint):
    a, b = two_processes(clock)
    await _opened_then_half_open(a, b, clock, endpoint)
    a.admits(endpoint)
    await a.sync()
    assert a.admits(endpoint)  # then a dies with its probe in flight
    await a.stop()
    b.admits(endpoint)
    await b.sync()
    assert not b.admits(endpoint)
    clock.advance(2.5)  # the lease: max(2 s, 4 syncs)
    await b.sync()
    assert b.admits(endpoint)
    await b.stop()


@needs_redis
async def test_an_endpoint_open_elsewhere_is_known_to_a_process_that_never_called_it(clock, endpoint):
    a, b = two_processes(clock)
    fail(a, endpoint, times=5)
    await a.sync()
    await b.sync()
    assert not b.admits(endpoint)
    await a.stop()
    await b.stop()


@needs_redis
async def test_the_shared_report_is_the_same_from_any_process(clock, endpoint):
    a, b = two_processes(clock)
    a.record(endpoint, ok=True, ttfb_ms=100)
    fail(a, endpoint, times=1)
    await a.sync()
    row = b.shared_report([endpoint])[0]
    assert row["state"] == "closed"
    assert row["calls"] == 2
    assert row["error_rate"] == 0.5
    assert row["latency_ms"] == 100.0
    await a.stop()


async def test_with_redis_down_each_process_keeps_its_own_breaker(clock):
    health = EndpointHealth(redis_url=down_redis_url(), clock=clock)
    with capture_logs() as logs:
        await health.sync()
        await health.sync()
    assert [entry["event"] for entry in logs] == ["endpoint_health_redis_unavailable"]
    fail(health, 1, times=5)
    assert not health.admits(1)
    clock.advance(15)
    assert health.admits(1)  # the in-process probe budget
    assert not health.admits(1)
    health.record(1, ok=True)
    assert health.admits(1)
    await health.stop()
