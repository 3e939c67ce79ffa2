"""Endpoint health: a circuit breaker per endpoint and a moving window of its time to first byte.

Contract (the attempt loop in ``gateway.pipeline.call`` and the ordering in ``gateway.routing.order`` rely on it):

- ``admits(id)`` — sync, no I/O, O(1). False while the endpoint's circuit is open (the call skips it, never
  waits). Half-open, it is True for at most ``GATEWAY_BREAKER_HALF_OPEN_PROBES`` probe calls at a time: a True
  answer *takes* a probe, which that call's ``record()`` gives back; a probe that never reports (the caller
  asked and then did not call) is given back after ``GATEWAY_BREAKER_OPEN_SECONDS``.
- ``available(id)`` — the same answer as ``admits()`` without taking a probe (to list candidates; take the
  probe with ``admits()`` right before the try).
- ``record(id, ok=, ttfb_ms=)`` — sync, no I/O: one try's outcome (``ok=False`` for a connect error, timeout,
  429 or 5xx: the caller decides). It feeds the failure window and the TTFB window; half-open, it is the
  probe's verdict: a success closes the circuit (and empties its window), a failure opens it again.
- ``latency_ms(id)`` — the mean time to first byte of the successful tries in the window, None if none.
- ``report()`` — one dict per endpoint this process knows: endpoint_id, state (closed | open | half-open),
  error_rate, calls, latency_ms, opened_at (ISO 8601, None when closed).

Rules: the circuit opens when, within the last ``GATEWAY_BREAKER_WINDOW_SECONDS`` (1-second buckets), there
were at least ``GATEWAY_BREAKER_MIN_CALLS`` tries and at least ``GATEWAY_BREAKER_FAILURE_RATE`` of them failed;
it stays open ``GATEWAY_BREAKER_OPEN_SECONDS``, then is half-open until a probe decides.

Full stack (``REDIS_URL``): every process agrees on each circuit. A background task (``start()``) runs ``sync()``
every ``GATEWAY_BREAKER_SYNC_SECONDS``: one script call (one round trip, never per request) that pushes the
counts recorded since the last sync and this process's own transitions, opens a circuit whose shared window
crossed the threshold, hands out the half-open probes, and returns the state and window sums of every
endpoint this process knows plus every endpoint open anywhere. Between syncs a process decides on the shared
sums of the last sync plus its own newer counts, so its own failures take effect at once (and the transition
is pushed at the next sync). The probe budget is global: Redis leases probes to processes (a lease is renewed
by each sync and lapses after ``max(2 s, 4 × sync)`` when its process died), so N processes send at most
``GATEWAY_BREAKER_HALF_OPEN_PROBES`` probes together; a process learns of a half-open circuit, and gets its
probe, at its next sync (≤ one sync interval late). Clocks: open-until times and window buckets are the
processes' wall clocks (NTP-synchronised hosts agree well within a bucket).

Redis down (or no sync for that long): each process falls back to its own in-process breaker, same rules,
logged once (``endpoint_health_redis_unavailable``); no call ever fails because of it. The probe bound is
then N × the budget. Embedded mode (no ``REDIS_URL``): the in-process breaker, the whole truth.

Cost (``bench/routing_state.py``: timeit, best of 3 × 200,000; the 2-CPU dev box with other test suites
running, load average ~3; four runs): ``admits()`` + ``record(ok=True)`` on a closed circuit 0.66–1.06 µs
embedded, 0.79–1.25 µs full stack between syncs, against an aim of 10 µs; ``admits()`` of an endpoint never
recorded 0.07 µs. A sync of 20 known endpoints is one 0.8 ms round trip (0.23 ms of it Redis time), per
process every 0.5 s, off the request path.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from django.conf import settings

from gateway.limits.redis_pipe import Script
from gateway.routing.redis_calls import REDIS_ERRORS, RedisCalls, sync_client

log = structlog.get_logger("switchboard.gateway.routing")

CLOSED, OPEN, HALF_OPEN = 0, 1, 2
STATE_NAMES = ("closed", "open", "half-open")
# What a process tells Redis it did (0: nothing): opened the circuit, or closed it on a probe's success.
_CLAIM_OPENED, _CLAIM_CLOSED = 1, 3
_ROW = 7  # sync arguments per endpoint: id, calls, failures, ttfb sum (µs), ttfb count, claim, probes wanted


@dataclass(slots=True)
class _Circuit:
    """One endpoint as this process sees it. Counts are kept three ways: this process's own window (the
    whole truth embedded, the fallback in the full stack), the shared window at the last sync, and what was
    recorded since (pending) or is on its way to Redis (sending)."""

    state: int = CLOSED
    opened_at: float | None = None
    open_until: float = 0.0
    # Own window: [second, calls, failures, ttfb sum ms, ttfb count] per second, oldest first, and their sums.
    buckets: deque = field(default_factory=deque)
    calls: int = 0
    failures: int = 0
    ttfb_sum: float = 0.0
    ttfb_n: int = 0
    # [calls, failures, ttfb sum ms, ttfb count]: the shared window at the last sync, pending, sending.
    shared: list = field(default_factory=lambda: [0, 0, 0.0, 0])
    pending: list = field(default_factory=lambda: [0, 0, 0.0, 0])
    sending: list = field(default_factory=lambda: [0, 0, 0.0, 0])
    claim: int = 0  # a transition of ours Redis has not heard of: _CLAIM_OPENED or _CLAIM_CLOSED
    changes: int = 0  # bumped by every local transition: a sync reply older than the last one does not undo it
    probes: deque = field(default_factory=deque)  # when each probe taken and not yet recorded lapses
    tokens: int = 0  # full stack: probes Redis leased to this process and not yet taken
    wants_probe: bool = False


class EndpointHealth:
    """The breaker and latency windows of every endpoint (see the module docstring); ``health`` is the process's."""

    def __init__(self, *, redis_url: str | None = None, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._window = settings.GATEWAY_BREAKER_WINDOW_SECONDS
        self._min_calls = settings.GATEWAY_BREAKER_MIN_CALLS
        self._rate = settings.GATEWAY_BREAKER_FAILURE_RATE
        self._open_seconds = settings.GATEWAY_BREAKER_OPEN_SECONDS
        self._probes = settings.GATEWAY_BREAKER_HALF_OPEN_PROBES
        self._sync_seconds = settings.GATEWAY_BREAKER_SYNC_SECONDS
        # How long a sync's view stays trusted; also the probe leases' lifetime in Redis.
        self._shared_ttl = max(2.0, 4 * self._sync_seconds)
        self._url = settings.REDIS_URL if redis_url is None else redis_url
        self._redis: RedisCalls | None = None
        self._shared_until = 0.0  # the clock's time until which the last successful sync's view holds
        self._pushing = bool(self._url)  # counts are kept for the next sync (not while Redis is down)
        self._redis_down_logged = False
        self._id = f"{secrets.token_hex(6)}"  # this process's name on its probe leases
        self._circuits: dict[int, _Circuit] = {}
        self._task: asyncio.Task | None = None

    # --- the hot path -----------------------------------------------------------------------------

    def admits(self, endpoint_id: int) -> bool:
        """Whether a call may try this endpoint now (taking a probe when half-open)."""
        circuit = self._circuits.get(endpoint_id)
        if circuit is None or circuit.state == CLOSED:
            return True
        now = self._clock()
        if circuit.state == OPEN:
            if now < circuit.open_until:
                return False
            circuit.state = HALF_OPEN  # by time, as Redis does: no claim to push
        return self._take_probe(circuit, now)

    def available(self, endpoint_id: int) -> bool:
        """Whether ``admits()`` would say yes now, without taking a probe: for listing candidates, so that only
        the try itself (``admits()`` just before it) takes one. Sync, no I/O; in the full stack a half-open
        endpoint without a probe here asks Redis for one at the next sync."""
        circuit = self._circuits.get(endpoint_id)
        if circuit is None or circuit.state == CLOSED:
            return True
        now = self._clock()
        if circuit.state == OPEN and now < circuit.open_until:
            return False
        if now < self._shared_until:
            if circuit.tokens <= 0:
                circuit.wants_probe = True
                return False
            return True
        return sum(1 for lapses in circuit.probes if lapses > now) < self._probes

    def record(self, endpoint_id: int, *, ok: bool, ttfb_ms: float | None = None) -> None:
        """One try's outcome: counts it, and decides a half-open circuit or opens a closed one past the threshold."""
        circuit = self._circuits.get(endpoint_id)
        if circuit is None:
            circuit = self._circuits[endpoint_id] = _Circuit()
        now = self._clock()
        self._count(circuit, now, ok, ttfb_ms if ok else None)
        if circuit.state != CLOSED:
            if circuit.probes:  # the verdict of a probe (a straggler admitted while closed only counts)
                circuit.probes.popleft()
                if ok:
                    self._close(circuit, endpoint_id)
                else:
                    self._open(circuit, endpoint_id, now)
            return
        if ok:
            return  # a success never pushes the failure share up past the threshold it was under
        calls, failures = self._window_counts(circuit, now < self._shared_until)
        if calls >= self._min_calls and failures >= self._rate * calls:
            self._open(circuit, endpoint_id, now)

    def latency_ms(self, endpoint_id: int) -> float | None:
        """Mean time to first byte (ms) of the window's successful tries; None when it has none."""
        circuit = self._circuits.get(endpoint_id)
        if circuit is None:
            return None
        now = self._clock()
        if now < self._shared_until:
            total = circuit.shared[2] + circuit.sending[2] + circuit.pending[2]
            count = circuit.shared[3] + circuit.sending[3] + circuit.pending[3]
        else:
            self._trim(circuit, now)
            total, count = circuit.ttfb_sum, circuit.ttfb_n
        return round(total / count, 3) if count else None

    # --- transitions and counts -------------------------------------------------------------------

    def _take_probe(self, circuit: _Circuit, now: float) -> bool:
        probes = circuit.probes
        while probes and probes[0] <= now:  # taken and never recorded: given back
            probes.popleft()
        if now < self._shared_until:
            if circuit.tokens <= 0:
                circuit.wants_probe = True  # asked for at the next sync
                return False
            circuit.tokens -= 1
        elif len(probes) >= self._probes:
            return False
        probes.append(now + self._open_seconds)
        return True

    def _open(self, circuit: _Circuit, endpoint_id: int, now: float) -> None:
        circuit.state, circuit.opened_at, circuit.open_until = OPEN, now, now + self._open_seconds
        circuit.probes.clear()
        circuit.tokens = 0
        circuit.claim = _CLAIM_OPENED
        circuit.changes += 1
        calls, failures = self._window_counts(circuit, now < self._shared_until)
        log.warning("endpoint_circuit_opened", endpoint_id=endpoint_id, calls=calls, failures=failures,
                    open_seconds=self._open_seconds)

    def _close(self, circuit: _Circuit, endpoint_id: int) -> None:
        circuit.state, circuit.opened_at, circuit.open_until = CLOSED, None, 0.0
        circuit.probes.clear()
        circuit.tokens = 0
        circuit.buckets.clear()
        circuit.calls = circuit.failures = circuit.ttfb_n = 0
        circuit.ttfb_sum = 0.0
        circuit.shared[:] = circuit.pending[:] = [0, 0, 0.0, 0]
        circuit.claim = _CLAIM_CLOSED
        circuit.changes += 1
        log.info("endpoint_circuit_closed", endpoint_id=endpoint_id)

    def _count(self, circuit: _Circuit, now: float, ok: bool, ttfb_ms: float | None) -> None:
        second = int(now)
        buckets = circuit.buckets
        if buckets and buckets[-1][0] == second:
            bucket = buckets[-1]
        else:
            bucket = [second, 0, 0, 0.0, 0]
            buckets.append(bucket)
            self._trim(circuit, now)
        bucket[1] += 1
        circuit.calls += 1
        failed = 0 if ok else 1
        bucket[2] += failed
        circuit.failures += failed
        if ttfb_ms is not None:
            bucket[3] += ttfb_ms
            bucket[4] += 1
            circuit.ttfb_sum += ttfb_ms
            circuit.ttfb_n += 1
        if self._pushing:
            pending = circuit.pending
            pending[0] += 1
            pending[1] += failed
            if ttfb_ms is not None:
                pending[2] += ttfb_ms
                pending[3] += 1

    def _trim(self, circuit: _Circuit, now: float) -> None:
        horizon = now - self._window
        buckets = circuit.buckets
        while buckets and buckets[0][0] + 1 <= horizon:
            _, calls, failures, ttfb_sum, ttfb_n = buckets.popleft()
            circuit.calls -= calls
            circuit.failures -= failures
            circuit.ttfb_sum -= ttfb_sum
            circuit.ttfb_n -= ttfb_n

    def _window_counts(self, circuit: _Circuit, shared: bool) -> tuple[int, int]:
        if shared:
            return (circuit.shared[0] + circuit.sending[0] + circuit.pending[0],
                    circuit.shared[1] + circuit.sending[1] + circuit.pending[1])
        return circuit.calls, circuit.failures

    # --- what people see --------------------------------------------------------------------------

    def report(self) -> list[dict]:
        """Every endpoint this process knows, as this process sees it now. Read-only, so a page's thread may call
        it while the event loop records (it reads copies, never trims)."""
        now = self._clock()
        shared = now < self._shared_until
        rows = []
        for endpoint_id, circuit in sorted(list(self._circuits.items())):
            if shared:
                totals = [a + b + c for a, b, c in zip(circuit.shared, circuit.sending, circuit.pending, strict=True)]
            else:
                horizon = now - self._window
                totals = [0, 0, 0.0, 0]
                for bucket in list(circuit.buckets):
                    if bucket[0] + 1 > horizon:
                        for i in range(4):
                            totals[i] += bucket[i + 1]
            calls, failures, ttfb_sum, ttfb_n = totals
            state = circuit.state
            if state == OPEN and now >= circuit.open_until:
                state = HALF_OPEN
            rows.append(_row(endpoint_id, state=state, calls=calls, failures=failures,
                             latency_ms=round(ttfb_sum / ttfb_n, 3) if ttfb_n else None, opened_at=circuit.opened_at))
        return rows

    def shared_report(self, endpoint_ids: Iterable[int] | None = None) -> list[dict] | None:
        """The shared view in Redis (blocking; for pages): the given endpoints, else every one a gateway
        recorded in the last day, plus every open one. None without Redis; raises ``REDIS_ERRORS`` when down."""
        if not self._url:
            return None
        ids = list(endpoint_ids) if endpoint_ids is not None else []
        args = self._sync_head(self._clock(), owner="reader", include_known=endpoint_ids is None, count=len(ids))
        for endpoint_id in ids:
            args.extend((endpoint_id, 0, 0, 0, 0, 0, 0))
        with sync_client(self._url) as client:
            reply = client.register_script(SYNC.source)(keys=[], args=args)
        rows = []
        for endpoint_id, state, opened_at_ms, _, calls, failures, ttfb_us, ttfb_n, _ in reply:
            rows.append(_row(int(endpoint_id), state=int(state), calls=int(calls), failures=int(failures),
                             latency_ms=round(int(ttfb_us) / 1000 / int(ttfb_n), 3) if int(ttfb_n) else None,
                             opened_at=int(opened_at_ms) / 1000 if int(state) else None))
        return sorted(rows, key=lambda row: row["endpoint_id"])

    # --- the full stack's sync ----------------------------------------------------------------------

    async def start(self) -> None:
        """Start syncing with Redis every ``GATEWAY_BREAKER_SYNC_SECONDS`` (full stack; embedded: nothing)."""
        if self._url and self._task is None:
            self._task = asyncio.create_task(self._sync_forever(), name="gateway-endpoint-health")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._redis is not None:
            await self._redis.close()
            self._redis = None

    async def _sync_forever(self) -> None:
        while True:
            try:
                await self.sync()
            except Exception:  # one bad reply must not end the task: the next sync tries again
                log.exception("endpoint_health_sync_failed")
            await asyncio.sleep(self._sync_seconds)

    def _sync_head(self, now: float, *, owner: str, include_known: bool, count: int) -> list:
        return [int(now * 1000), int(self._window * 1000), self._min_calls, repr(self._rate),
                int(self._open_seconds * 1000), self._probes, int(self._shared_ttl * 1000), owner,
                1 if include_known else 0, count]

    async def sync(self) -> None:
        """One round trip: push counts and transitions, pull every known circuit's shared state."""
        if not self._url:
            return
        if self._redis is None:
            self._redis = RedisCalls(self._url)
        now = self._clock()
        args = self._sync_head(now, owner=self._id, include_known=False, count=len(self._circuits))
        sent: dict[int, tuple[_Circuit, int, int]] = {}  # id → circuit, its changes when sent, its claim
        for endpoint_id, circuit in self._circuits.items():
            circuit.sending, circuit.pending = circuit.pending, [0, 0, 0.0, 0]
            while circuit.probes and circuit.probes[0] <= now:
                circuit.probes.popleft()
            # The probes in flight keep their leases; unused ones go back (another process may need them),
            # and more are asked for only after a call here was refused one.
            wanted = len(circuit.probes) + (self._probes if circuit.wants_probe else 0)
            circuit.wants_probe = False
            circuit.tokens = 0
            claim, circuit.claim = circuit.claim, 0
            sent[endpoint_id] = (circuit, circuit.changes, claim)
            calls, failures, ttfb_sum, ttfb_n = circuit.sending
            args.extend((endpoint_id, calls, failures, round(ttfb_sum * 1000), ttfb_n, claim, wanted))
        try:
            reply = await self._redis.call(SYNC, args)
        except REDIS_ERRORS as exc:
            self._shared_until = 0.0
            self._pushing = False
            for circuit, _, claim in sent.values():
                circuit.sending = [0, 0, 0.0, 0]  # counted in the own window; stale by the time Redis is back
                circuit.claim = circuit.claim or claim  # still to be told
            if not self._redis_down_logged:
                self._redis_down_logged = True
                log.warning("endpoint_health_redis_unavailable", error=type(exc).__name__,
                            detail="each process keeps its own circuit breakers until Redis answers again")
            return
        if self._redis_down_logged:
            self._redis_down_logged = False
            log.info("endpoint_health_redis_restored")
        self._pushing = True
        self._apply(reply, sent)
        self._shared_until = self._clock() + self._shared_ttl

    def _apply(self, reply: list, sent: dict[int, tuple[_Circuit, int, int]]) -> None:
        for endpoint_id, state, opened_at_ms, until_ms, calls, failures, ttfb_us, ttfb_n, granted in reply:
            endpoint_id = int(endpoint_id)
            circuit, changes_then, _ = sent.get(endpoint_id) or (None, 0, 0)
            if circuit is None:  # open somewhere, unknown here until now
                circuit = self._circuits.setdefault(endpoint_id, _Circuit())
                changes_then = circuit.changes
            circuit.sending = [0, 0, 0.0, 0]
            circuit.shared = [int(calls), int(failures), int(ttfb_us) / 1000, int(ttfb_n)]
            if circuit.changes != changes_then:
                continue  # it changed here while the reply was on its way: the next sync tells Redis
            state = int(state)
            circuit.state = state
            circuit.opened_at = int(opened_at_ms) / 1000 if state != CLOSED else None
            circuit.open_until = int(until_ms) / 1000 if state != CLOSED else 0.0
            if state == HALF_OPEN:
                circuit.tokens = max(0, int(granted) - len(circuit.probes))
            else:
                circuit.tokens = 0
                circuit.probes.clear()


def _row(endpoint_id: int, *, state: int, calls: int, failures: int, latency_ms: float | None,
         opened_at: float | None) -> dict:
    return {"endpoint_id": endpoint_id, "state": STATE_NAMES[state],
            "error_rate": round(failures / calls, 4) if calls else 0.0, "calls": calls, "latency_ms": latency_ms,
            "opened_at": datetime.fromtimestamp(opened_at, UTC).isoformat() if opened_at is not None else None}


# The sync: ARGV = now (ms), window (ms), min calls, failure rate, open (ms), probe budget, probe lease (ms),
# owner, include known (0|1), endpoint count, then per endpoint (_ROW): id, calls, failures, ttfb sum (µs),
# ttfb count, claim (0 none | 1 opened by the owner | 3 closed by the owner's probe), probes wanted (the
# owner's in flight plus any more it asks for; the budget caps the sum over owners).
# Keys per endpoint E: sb:cb:E {st, at, until}; sb:cb:E:w the window, fields "<second>:c|f|t|n";
# sb:cb:E:p the probe leases (owner#k → lease end). sb:cb:tripped: endpoints not closed; sb:cb:known: endpoints
# recorded, by last activity. Returns per endpoint: {id, state, opened at, open until, calls, failures,
# ttfb sum (µs), ttfb count, probes granted}.
SYNC = Script.of(r"""
local now, window, min_calls, rate = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local open_ms, budget, lease, owner = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
local n = tonumber(ARGV[10])
local KNOWN, TRIPPED = 'sb:cb:known', 'sb:cb:tripped'
local second = math.floor(now / 1000)
local horizon = (now - window) / 1000  -- a bucket whose second ends at or before it is out of the window
local rows, order = {}, {}
local function wanted(id, row)
  if rows[id] == nil then rows[id] = row; order[#order + 1] = id end
end
for i = 0, n - 1 do
  local b = 11 + i * 7
  wanted(ARGV[b], {tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4]),
                   tonumber(ARGV[b + 5]), tonumber(ARGV[b + 6])})
end
for _, id in ipairs(redis.call('SMEMBERS', TRIPPED)) do wanted(id, false) end
if ARGV[9] == '1' then
  redis.call('ZREMRANGEBYSCORE', KNOWN, '-inf', now - 86400000)
  for _, id in ipairs(redis.call('ZRANGE', KNOWN, 0, -1)) do wanted(id, false) end
end
local out = {}
for _, id in ipairs(order) do
  local row = rows[id]
  local S = 'sb:cb:' .. id
  local W, P = S .. ':w', S .. ':p'
  local h = redis.call('HMGET', S, 'st', 'at', 'until')
  local st, at, untl = tonumber(h[1]) or 0, tonumber(h[2]) or 0, tonumber(h[3]) or 0
  local was, opened_before = st, at
  local claim, want = 0, 0
  if row then
    claim, want = row[5], row[6]
    if row[1] > 0 then
      redis.call('HINCRBY', W, second .. ':c', row[1])
      if row[2] > 0 then redis.call('HINCRBY', W, second .. ':f', row[2]) end
      if row[4] > 0 then
        redis.call('HINCRBY', W, second .. ':t', row[3])
        redis.call('HINCRBY', W, second .. ':n', row[4])
      end
      redis.call('PEXPIRE', W, window + 2000)
      redis.call('ZADD', KNOWN, now, id)
    end
  end
  if st == 1 and now >= untl then st = 2 end
  if claim == 1 and st ~= 1 then
    st, at, untl = 1, now, now + open_ms
  elseif claim == 3 and st == 2 then
    st = 0
    redis.call('DEL', W, P)
  end
  local c, f, t, tn, stale = 0, 0, 0, 0, {}
  local fields = redis.call('HGETALL', W)
  for j = 1, #fields, 2 do
    local s, kind = string.match(fields[j], '^(%d+):(%a)$')
    if tonumber(s) + 1 <= horizon then
      stale[#stale + 1] = fields[j]
    else
      local v = tonumber(fields[j + 1])
      if kind == 'c' then c = c + v elseif kind == 'f' then f = f + v elseif kind == 't' then t = t + v
      else tn = tn + v end
    end
  end
  if #stale > 0 then redis.call('HDEL', W, unpack(stale)) end
  if st == 0 and c >= min_calls and f > 0 and f >= rate * c then st, at, untl = 1, now, now + open_ms end
  local granted = 0
  if st == 2 then
    redis.call('ZREMRANGEBYSCORE', P, '-inf', now)
    for k = 1, budget do redis.call('ZREM', P, owner .. '#' .. k) end
    granted = math.max(0, math.min(want, budget - redis.call('ZCARD', P)))
    for k = 1, granted do redis.call('ZADD', P, now + lease, owner .. '#' .. k) end
    if granted > 0 then redis.call('PEXPIRE', P, lease) end
  elseif was == 2 then
    redis.call('DEL', P)
  end
  if st == 0 then
    if was ~= 0 or not row then
      redis.call('DEL', S)
      redis.call('SREM', TRIPPED, id)
    end
  elseif st ~= was or at ~= opened_before then
    redis.call('HSET', S, 'st', st, 'at', at, 'until', untl)
    redis.call('PEXPIRE', S, 86400000)
    redis.call('SADD', TRIPPED, id)
  end
  out[#out + 1] = {tonumber(id), st, at, untl, c, f, t, tn, granted}
end
return out
""")

health = EndpointHealth()
