"""In-flight caps per endpoint: at most ``cap`` calls at a time, across processes in the full stack (two
``InflightCaps`` instances on the same Redis stand for two gateway processes), in-process when embedded.

Lease times use a controllable clock; the only real waits are the short ``wait`` budgets of the API itself.
"""

from __future__ import annotations

import asyncio
import os
import random

import pytest
import redis
from structlog.testing import capture_logs

from gateway.routing import inflight
from gateway.routing.inflight import NO_SLOT, InflightCaps
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
    endpoint_id = random.randint(10**8, 10**9)
    yield endpoint_id
    if REDIS_URL:
        with redis.Redis.from_url(REDIS_URL) as client:
            client.delete(f"sb:if:{endpoint_id}")


async def take(caps: InflightCaps, endpoint: int, cap: int, times: int) -> list:
    return [await caps.acquire(endpoint, cap, wait=0) for _ in range(times)]


# --- no cap ------------------------------------------------------------------------------------------

async def test_no_cap_is_a_no_op_slot():
    slot = await inflight.acquire(1, None, wait=1.0)
    assert slot is NO_SLOT
    await slot.release()
    await slot.release()


# --- embedded ----------------------------------------------------------------------------------------

async def test_embedded_cap_refuses_once_full():
    caps = InflightCaps(redis_url="")
    first, second = await take(caps, 1, 2, 2)
    assert first is not None
    assert second is not None
    assert await caps.acquire(1, 2, wait=0) is None


async def test_embedded_waits_for_a_release_then_gets_the_slot():
    caps = InflightCaps(redis_url="")
    (held,) = await take(caps, 1, 1, 1)
    waiting = asyncio.ensure_future(caps.acquire(1, 1, wait=5.0))
    await asyncio.sleep(0)
    assert not waiting.done()
    await held.release()
    assert await waiting is not None


async def test_embedded_gives_up_after_the_wait():
    caps = InflightCaps(redis_url="")
    await take(caps, 1, 1, 1)
    assert await caps.acquire(1, 1, wait=0.05) is None


async def test_release_is_idempotent():
    caps = InflightCaps(redis_url="")
    first, _ = await take(caps, 1, 2, 2)
    await first.release()
    await first.release()  # must not free the other call's slot
    assert await caps.acquire(1, 2, wait=0) is not None
    assert await caps.acquire(1, 2, wait=0) is None


async def test_caps_are_per_endpoint():
    caps = InflightCaps(redis_url="")
    await take(caps, 1, 1, 1)
    assert await caps.acquire(2, 1, wait=0) is not None


# --- the full stack: one cap across processes ------------------------------------------------------

def two_processes(clock: Clock) -> tuple[InflightCaps, InflightCaps]:
    return InflightCaps(redis_url=REDIS_URL, clock=clock), InflightCaps(redis_url=REDIS_URL, clock=clock)


@needs_redis
async def test_the_cap_holds_across_processes(clock, endpoint):
    a, b = two_processes(clock)
    assert await a.acquire(endpoint, 2, wait=0) is not None
    assert await b.acquire(endpoint, 2, wait=0) is not None
    assert await a.acquire(endpoint, 2, wait=0) is None
    assert await b.acquire(endpoint, 2, wait=0) is None
    assert a.in_flight([endpoint]) == {endpoint: 2}
    await a.stop()
    await b.stop()


@needs_redis
async def test_a_release_in_another_process_is_seen_by_a_waiter(clock, endpoint):
    a, b = two_processes(clock)
    held = await b.acquire(endpoint, 1, wait=0)
    waiting = asyncio.ensure_future(a.acquire(endpoint, 1, wait=5.0))
    await asyncio.sleep(0.06)  # a has polled at least once and found it full
    assert not waiting.done()
    await held.release()
    assert await waiting is not None
    await a.stop()
    await b.stop()


@needs_redis
async def test_waiting_then_none_when_nothing_is_released(clock, endpoint):
    a, b = two_processes(clock)
    await b.acquire(endpoint, 1, wait=0)
    assert await a.acquire(endpoint, 1, wait=0.12) is None
    await a.stop()
    await b.stop()


@needs_redis
async def test_a_killed_process_slots_are_reclaimed_when_their_lease_ends(clock, endpoint):
    a, b = two_processes(clock)
    await a.acquire(endpoint, 1, wait=0)  # then a is killed: never releases, never renews
    clock.advance(inflight.LEASE_SECONDS - 1)
    assert await b.acquire(endpoint, 1, wait=0) is None
    clock.advance(1.001)
    assert await b.acquire(endpoint, 1, wait=0) is not None
    await b.stop()


@needs_redis
async def test_the_holder_renews_its_lease_for_a_long_call(clock, endpoint):
    a, b = two_processes(clock)
    await a.acquire(endpoint, 1, wait=0)
    clock.advance(inflight.LEASE_SECONDS - 1)
    await a.renew()
    clock.advance(inflight.LEASE_SECONDS - 1)
    assert await b.acquire(endpoint, 1, wait=0) is None
    await a.stop()
    await b.stop()


async def test_with_redis_down_each_process_takes_its_share_and_says_so(settings):
    settings.GATEWAY_PROCESSES = 2
    caps = InflightCaps(redis_url=down_redis_url())
    with capture_logs() as logs:
        slots = await take(caps, 1, 4, 3)
    assert [slot is not None for slot in slots] == [True, True, False]  # 4 // 2 processes
    assert [entry["event"] for entry in logs] == ["inflight_redis_unavailable"]
    await slots[0].release()
    assert await caps.acquire(1, 4, wait=0) is not None
    await caps.stop()
