"""In-flight caps: at most an endpoint's ``max_in_flight`` calls to it at a time, across every gateway process.

Contract: ``await acquire(endpoint_id, cap, wait=)`` returns a ``Slot`` (``await slot.release()`` when the
try ends; idempotent) or None when all ``cap`` slots stayed taken for ``wait`` seconds (the caller tries the
next route, or answers 503 with ``Retry-After``). ``cap=None`` returns the shared no-op slot: no I/O, no state.

Full stack (``REDIS_URL``): one sorted set per endpoint, ``sb:if:<id>``, of slot ids scored by the end of their
lease (ms). ``ACQUIRE`` (Lua, atomic) drops lapsed leases, counts, and adds the slot if under the cap; release
is a ``ZREM``. Each process renews the leases of the slots it holds every ``LEASE_SECONDS / 3`` in one
pipelined round trip (``start()``), so a long stream keeps its slot and the slots of a process that was
killed are free again within ``LEASE_SECONDS``. While full, a waiter is woken at once by a release in its own
process and polls Redis every ``POLL_SECONDS`` for releases elsewhere. Lease times are the processes' wall
clocks (NTP-synchronised hosts agree far within a lease).

Redis down: each process allows ``max(1, cap // GATEWAY_PROCESSES)`` calls in flight on its own (the limiter's
outage share), logged once when it starts (``inflight_redis_unavailable``) and when it ends; Redis is tried
again after ``_RETRY_REDIS_AFTER`` seconds. Embedded mode: in-process counts, the whole truth.

Cost: ``cap=None`` returns before any work (the awaited coroutine only); with a cap, full stack, one round trip
to acquire and one to release, each grouped with the other Redis calls of the same loop turn; embedded,
acquire + release 1.1 µs together (``bench/routing_state.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import time
from collections.abc import Callable, Iterable

import structlog
from django.conf import settings

from gateway.limits.redis_pipe import Script
from gateway.routing.redis_calls import REDIS_ERRORS, RedisCalls, sync_client

log = structlog.get_logger("switchboard.gateway.routing")

LEASE_SECONDS = 15.0  # a slot's lease; the holder renews it every third of that
POLL_SECONDS = 0.05  # how often a waiter looks for a slot freed by another process
_RETRY_REDIS_AFTER = 1.0  # after a failure, slots are counted in-process for this long before Redis is tried again

# ARGV: key, now (ms), lease end (ms), cap, slot id → 1 taken, 0 full.
ACQUIRE = Script.of(r"""
redis.call('ZREMRANGEBYSCORE', ARGV[1], '-inf', ARGV[2])
if redis.call('ZCARD', ARGV[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', ARGV[1], ARGV[3], ARGV[5])
redis.call('PEXPIRE', ARGV[1], math.ceil(tonumber(ARGV[3]) - tonumber(ARGV[2])))
return 1
""")


def _key(endpoint_id: int) -> str:
    return f"sb:if:{endpoint_id}"


class Slot:
    """One of an endpoint's in-flight slots, held until ``release()``."""

    __slots__ = ("endpoint_id", "_owner", "_member")

    def __init__(self, endpoint_id: int, owner: InflightCaps | _LocalSlots | None, member: str | None = None) -> None:
        self.endpoint_id = endpoint_id
        self._owner = owner
        self._member = member  # the slot's id in Redis; None: counted in-process

    async def release(self) -> None:
        """Give the slot back (again: nothing). Never raises: a slot Redis could not be told of lapses."""
        owner, self._owner = self._owner, None
        if owner is not None:
            await owner.give_back(self.endpoint_id, self._member)


NO_SLOT = Slot(0, None)  # for endpoints without a cap: releasing it does nothing


class _LocalSlots:
    """In-process counts per endpoint: the embedded mode's, and the full stack's share while Redis is down."""

    def __init__(self, notify: Callable[[int], None], *, share: int = 1) -> None:
        self._notify = notify
        self.share = max(1, share)
        self.held: dict[int, int] = {}

    def take(self, endpoint_id: int, cap: int) -> Slot | None:
        held = self.held.get(endpoint_id, 0)
        if held >= max(1, cap // self.share):
            return None
        self.held[endpoint_id] = held + 1
        return Slot(endpoint_id, self)

    async def give_back(self, endpoint_id: int, member: str | None) -> None:
        held = self.held.get(endpoint_id, 0) - 1
        if held > 0:
            self.held[endpoint_id] = held
        else:
            self.held.pop(endpoint_id, None)
        self._notify(endpoint_id)


class InflightCaps:
    """Every endpoint's in-flight slots for this process (see the module docstring); ``caps`` is the process's."""

    def __init__(self, *, redis_url: str | None = None, clock: Callable[[], float] = time.time,
                 processes: int | None = None) -> None:
        self._url = settings.REDIS_URL if redis_url is None else redis_url
        self._clock = clock
        self._redis: RedisCalls | None = None
        self._waiters: dict[int, list[asyncio.Future]] = {}
        self._local = _LocalSlots(self._wake_one)
        self._fallback = _LocalSlots(self._wake_one, share=processes or settings.GATEWAY_PROCESSES)
        self._held: dict[str, int] = {}  # slot id in Redis → endpoint id, renewed by the task
        self._ids = itertools.count(1)
        self._prefix = secrets.token_hex(6)
        self._redis_down_until = 0.0  # monotonic
        self._redis_down_logged = False
        self._task: asyncio.Task | None = None

    async def acquire(self, endpoint_id: int, cap: int | None, *, wait: float) -> Slot | None:
        """A slot of ``endpoint_id`` (one of ``cap``), waiting up to ``wait`` s for one; None if none came free."""
        if cap is None:
            return NO_SLOT
        slot = await self._take(endpoint_id, cap)
        if slot is not None or wait <= 0:
            return slot
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while (remaining := deadline - loop.time()) > 0:
            # Embedded, only a release here frees a slot: wait for it. Shared, poll for releases elsewhere too.
            await self._wait_for_release(endpoint_id, remaining if not self._url else min(POLL_SECONDS, remaining))
            slot = await self._take(endpoint_id, cap)
            if slot is not None:
                return slot
        return None

    async def _take(self, endpoint_id: int, cap: int) -> Slot | None:
        if not self._url:
            return self._local.take(endpoint_id, cap)
        if time.monotonic() >= self._redis_down_until:
            if self._redis is None:
                self._redis = RedisCalls(self._url)
            member = f"{self._prefix}:{next(self._ids)}"
            now_ms = int(self._clock() * 1000)
            try:
                taken = await self._redis.call(
                    ACQUIRE, (_key(endpoint_id), now_ms, now_ms + int(LEASE_SECONDS * 1000), cap, member))
            except REDIS_ERRORS as exc:
                self._redis_down_until = time.monotonic() + _RETRY_REDIS_AFTER
                if not self._redis_down_logged:
                    self._redis_down_logged = True
                    log.warning("inflight_redis_unavailable", error=type(exc).__name__,
                                processes=self._fallback.share,
                                detail="each process allows max(1, cap // processes) calls in flight per endpoint")
            else:
                if self._redis_down_logged:
                    self._redis_down_logged = False
                    log.info("inflight_redis_restored")
                if not taken:
                    return None
                self._held[member] = endpoint_id
                return Slot(endpoint_id, self, member)
        return self._fallback.take(endpoint_id, cap)

    async def give_back(self, endpoint_id: int, member: str | None) -> None:
        """A Redis slot's release (in-process slots go back to their ``_LocalSlots``)."""
        self._held.pop(member, None)
        try:
            await self._redis.call(None, ("ZREM", _key(endpoint_id), member))
        except REDIS_ERRORS as exc:  # its lease lapses on its own
            log.debug("inflight_release_failed", endpoint_id=endpoint_id, error=type(exc).__name__)
        self._wake_one(endpoint_id)

    def _wake_one(self, endpoint_id: int) -> None:
        waiters = self._waiters.get(endpoint_id)
        while waiters:
            future = waiters.pop(0)
            if not future.done():
                future.set_result(None)
                return

    async def _wait_for_release(self, endpoint_id: int, timeout: float) -> None:
        future = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(endpoint_id, [])
        waiters.append(future)
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await future
        finally:
            if future in waiters:
                waiters.remove(future)
            if not waiters:
                self._waiters.pop(endpoint_id, None)

    # --- leases ---------------------------------------------------------------------------------

    async def renew(self) -> None:
        """Extend the lease of every slot this process holds in Redis: one pipelined round trip."""
        if not self._held or self._redis is None:
            return
        until = int((self._clock() + LEASE_SECONDS) * 1000)
        by_endpoint: dict[int, list] = {}
        for member, endpoint_id in self._held.items():
            by_endpoint.setdefault(endpoint_id, []).extend((until, member))
        calls = [self._redis.call(None, ("ZADD", _key(endpoint_id), "XX", *pairs))
                 for endpoint_id, pairs in by_endpoint.items()]
        calls += [self._redis.call(None, ("PEXPIRE", _key(endpoint_id), int(LEASE_SECONDS * 1000)))
                  for endpoint_id in by_endpoint]
        results = await asyncio.gather(*calls, return_exceptions=True)
        failed = next((r for r in results if isinstance(r, BaseException)), None)
        if failed is not None:
            log.warning("inflight_renew_failed", error=type(failed).__name__, slots=len(self._held))

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(LEASE_SECONDS / 3)
            try:
                await self.renew()
            except Exception:  # the next round tries again
                log.exception("inflight_renew_crashed")

    async def start(self) -> None:
        """Start renewing this process's leases (full stack; embedded: nothing)."""
        if self._url and self._task is None:
            self._task = asyncio.create_task(self._renew_forever(), name="gateway-inflight-leases")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._redis is not None:
            await self._redis.close()
            self._redis = None

    # --- what people see --------------------------------------------------------------------------

    def in_flight(self, endpoint_ids: Iterable[int]) -> dict[int, int]:
        """Calls in flight per endpoint (blocking; for pages): every process's from Redis, else this process's."""
        ids = list(endpoint_ids)
        if not self._url:
            return {endpoint_id: self._local.held.get(endpoint_id, 0) for endpoint_id in ids}
        now_ms = int(self._clock() * 1000)
        with sync_client(self._url) as client:
            pipe = client.pipeline(transaction=False)
            for endpoint_id in ids:
                pipe.zcount(_key(endpoint_id), f"({now_ms}", "+inf")
            counts = pipe.execute()
        return dict(zip(ids, (int(count) for count in counts), strict=True))


caps = InflightCaps()


async def acquire(endpoint_id: int, cap: int | None, *, wait: float) -> Slot | None:
    """One of ``cap`` in-flight slots of the endpoint (``caps.acquire``); None when none came free in ``wait`` s."""
    if cap is None:
        return NO_SLOT
    return await caps.acquire(endpoint_id, cap, wait=wait)
