"""What the routing state costs per call on the hot path (µs, best of 3): the breaker's ``admits()`` + ``record()``
and, for comparison, an in-flight slot taken and given back in the embedded mode.

    .venv/bin/python bench/routing_state.py                                   # embedded
    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/routing_state.py  # full stack too

"Full stack, between syncs" is the same code path a gateway process runs while its last sync with Redis is
fresh (counts also kept for the next push); it makes no I/O. The sync itself (one script call every
``GATEWAY_BREAKER_SYNC_SECONDS`` per process) is timed separately, for 20 known endpoints, as a round trip.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiplatform.settings")
os.environ.setdefault("DATA_DIR", "/tmp/switchboard-routing-state")

import django  # noqa: E402

django.setup()

from gateway.routing.health import EndpointHealth  # noqa: E402
from gateway.routing.inflight import InflightCaps  # noqa: E402

N = int(os.environ.get("N", "200000"))


def micros(call, number: int = N) -> float:
    return min(timeit.repeat(call, number=number, repeat=3)) / number * 1e6


def per_call(health: EndpointHealth) -> None:
    if health.admits(7):
        health.record(7, ok=True, ttfb_ms=42.0)


def main() -> None:
    embedded = EndpointHealth(redis_url="")
    rows = [("breaker: admits() + record(ok), closed, embedded", lambda: per_call(embedded)),
            ("breaker: admits() alone, unknown endpoint", lambda: embedded.admits(8)),
            ("breaker: latency_ms()", lambda: embedded.latency_ms(7))]
    url = os.environ.get("REDIS_URL", "")
    shared = None
    if url:
        shared = EndpointHealth(redis_url=url)
        for endpoint_id in range(1, 21):
            shared.record(10**8 + endpoint_id, ok=True, ttfb_ms=40.0)
        asyncio.run(shared.sync())  # a fresh view: the hot path then runs as between two syncs
        shared._shared_until = float("inf")  # noqa: SLF001  (keep it fresh for the whole measurement)
        rows.insert(1, ("breaker: admits() + record(ok), closed, full stack between syncs", lambda: per_call(shared)))
    for label, call in rows:
        print(f"{micros(call):7.3f} µs  {label}")

    caps = InflightCaps(redis_url="")

    async def slot_cycle(count: int) -> float:
        began = time.perf_counter()
        for _ in range(count):
            slot = await caps.acquire(9, 4, wait=0)
            await slot.release()
        return (time.perf_counter() - began) / count * 1e6

    print(f"{min(asyncio.run(slot_cycle(N // 4)) for _ in range(3)):7.3f} µs  in-flight: acquire + release, "
          "embedded (await included)")
    if shared is not None:
        async def syncs(count: int) -> float:
            began = time.perf_counter()
            for _ in range(count):
                await shared.sync()
            return (time.perf_counter() - began) / count * 1e3

        import redis

        client = redis.Redis.from_url(url)
        before = client.info("commandstats").get("cmdstat_evalsha", {})
        print(f"{asyncio.run(syncs(500)):7.3f} ms  breaker: one sync round trip, 20 endpoints (client + Redis)")
        after = client.info("commandstats").get("cmdstat_evalsha", {})
        calls = after.get("calls", 0) - before.get("calls", 0)
        if calls:
            note = "" if calls == 500 else f" (other clients' EVALSHA mixed in: {calls} calls)"
            print(f"{(after['usec'] - before['usec']) / calls / 1000:7.3f} ms  of it in Redis per sync{note}")
        client.delete(*(f"sb:cb:{10**8 + i}{suffix}" for i in range(1, 21) for suffix in ("", ":w", ":p")))
        client.zrem("sb:cb:known", *(10**8 + i for i in range(1, 21)))


if __name__ == "__main__":
    main()
