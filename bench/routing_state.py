"""What the routing state costs per call on the hot path (µs, best of 3): the breaker's ``admits()`` + ``record()``
and, for comparison, an in-flight slot taken and given back in the embedded mode; then (issue 13) what routing
itself costs per call: ``candidates()`` for a 1-route and a 3-route alias under each strategy, step 4 as the
pipeline runs it (``choose_route``), and the attempt loop's bookkeeping around one successful try.

    .venv/bin/python bench/routing_state.py                                   # embedded
    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/routing_state.py  # full stack too
    ROUTING_ONLY=1 .venv/bin/python bench/routing_state.py                    # the routing part alone
    PROFILE=1 ROUTING_ONLY=1 .venv/bin/python bench/routing_state.py          # and cProfile of the 3-route calls

The routing part builds its calls as the gateway does, without a server (as tests/gateway/test_route_order.py):
the bench's own chat body parsed by the wire parser, a governed call's prompt estimate already made by the
limits step, the bench registry's routes (three endpoints of one provider, no context window declared, the
bench's prices) and their breaker and latency windows warm (every endpoint recorded, as under load). The
attempt loop is ``gateway.pipeline.call._attempt`` around an upstream call that answers at once; the figure is
the loop minus the same bare ``await`` of that call, i.e. what the loop adds: the deadline, the in-flight slot
(no cap: nothing), the target lookup, the try recorded, both response headers, ``health.record``; on uvloop (the
gateway's loop), whose cached ``loop.time()`` also decides whether a try's target is copied with a shorter
``total_timeout`` (never on a first try there: the copy would cost ~3 µs and the adapter's per-target caches).

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


# --- routing itself (issue 13) ---------------------------------------------------------------------------------

N_ROUTING = int(os.environ.get("N_ROUTING", str(max(1000, N // 4))))
STRATEGIES = ("weighted", "priority", "least-latency", "least-cost", "rules")
# The bench's chat body (bench/chat.lua), as wrk sends it to the alias.
BODY = (b'{"model":"bench-chat-3","messages":[{"role":"system","content":"You are terse."},'
        b'{"role":"user","content":"Say hello to the switchboard in five words."}],"max_tokens":16,"temperature":0}')
_endpoint_ids = iter(range(7 * 10**8, 8 * 10**8))  # ids no gateway records health for


def _routes(count: int, *, context_window: int | None = None):
    from decimal import Decimal

    from registry.selectors import RouteTarget

    weights = (50, 30, 20)[:count] if count > 1 else (100,)
    return tuple(RouteTarget(
        endpoint_id=next(_endpoint_ids), provider_name="bench-upstream", provider_kind="openai-compatible",
        base_url="http://127.0.0.1:1/v1", region="", upstream_model=f"fake-model-{chr(97 + i)}",
        api_key_ref="env:BENCH_UPSTREAM_KEY", provider_config={}, weight=weights[i], priority=0,
        capabilities=frozenset({"chat", "streaming"}), context_window=context_window, connect_timeout=5.0,
        first_byte_timeout=60.0, total_timeout=600.0, input_price_per_mtok=Decimal("0.15"),
        output_price_per_mtok=Decimal("0.60"), price_per_image=Decimal(0), price_per_request=Decimal(0))
        for i in range(count))


def _rules(routes):
    from registry.selectors import RoutingRule

    none = frozenset()
    # One rule that does not match the caller (region eu), then one that does (environment prod).
    return (RoutingRule(none, frozenset({"eu"}), none, none, none, None, None, (routes[0].endpoint_id,)),
            RoutingRule(none, none, frozenset({"prod"}), none, none, None, None,
                        tuple(r.endpoint_id for r in routes[1:] or routes)))


def call_context(count: int, strategy: str, *, context_window: int | None = None):
    """A governed call as it reaches step 4: key granted, body parsed, alias resolved, prompt estimated."""
    from gateway.pipeline.context import CallContext
    from gateway.providers.base import UpstreamTarget
    from gateway.routing.health import health
    from gateway.state import Snapshot
    from gateway.wire.openai import parse_chat_request
    from portal.selectors import KeyGrant
    from registry.selectors import AliasRouting

    routes = _routes(count, context_window=context_window)
    routing = AliasRouting(name="bench-chat-3", kind="chat", status="approved", approved_on=None, deprecated_on=None,
                           sunset_on=None, retired_on=None, replacement=None, routes=routes, strategy=strategy,
                           rules=_rules(routes) if strategy == "rules" else ())
    targets = {r.endpoint_id: UpstreamTarget(provider_kind=r.provider_kind, upstream_model=r.upstream_model,
                                             total_timeout=r.total_timeout) for r in routes}
    ctx = CallContext(request_id="r", client_ip="127.0.0.1", headers={}, operation="chat",
                      snapshot=Snapshot(targets=targets))
    ctx.routing = routing
    ctx.request = parse_chat_request(BODY)
    ctx.prompt_tokens_estimate = 30  # the limits step made it (governed calls); routing reuses it
    ctx.grant = KeyGrant(key_id=1, key_prefix="sb-x", tenant_id=1, tenant_slug="bench", tenant_region="global",
                         application_id=1, application_name="bench", environment="prod",
                         data_classification="internal", aliases=frozenset({"bench-chat-3"}), expires_at=None,
                         revoked=False, ip_allowlist=())
    for i, route in enumerate(routes):  # warm windows, as under load: every endpoint measured
        for _ in range(20):
            health.record(route.endpoint_id, ok=True, ttfb_ms=1.0 + i * 0.1)
    return ctx


def run_on_gateway_loop(coro):
    """On uvloop, as granian serves the gateway: its ``loop.time()`` is the loop's cached clock (one value per loop
    turn), which the attempt loop's deadline arithmetic sees (on asyncio's own loop each call reads the clock)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return asyncio.run(coro, loop_factory=uvloop.new_event_loop)


def routing_rows() -> list[tuple[str, float]]:
    from gateway.pipeline.route import check_request_fits, choose_route
    from gateway.routing.order import candidates

    rows = []
    for strategy in STRATEGIES:
        for count in (1, 3):
            ctx = call_context(count, strategy)
            rows.append((f"candidates(), {count} route{'s' if count > 1 else ' '}, {strategy}",
                         micros(lambda ctx=ctx: candidates(ctx), N_ROUTING)))
    ctx = call_context(3, "least-latency", context_window=128_000)
    rows.append(("candidates(), 3 routes, least-latency, context windows declared",
                 micros(lambda: candidates(ctx), N_ROUTING)))
    for count in (1, 3):
        ctx = call_context(count, "weighted" if count == 1 else "least-latency")
        label = "1 route , weighted" if count == 1 else "3 routes, least-latency"
        rows.append((f"step 4 as the pipeline runs it (choose_route), {label}",
                     micros(lambda ctx=ctx: choose_route(ctx), N_ROUTING)))
        rows.append((f"check_request_fits() (parse step, reads the routes), {label}",
                     micros(lambda ctx=ctx: check_request_fits(ctx, ctx.request), N_ROUTING)))
    return rows


async def _attempt_loop_micros(ctx, count: int) -> float:
    """µs per call that ``_attempt`` adds around one successful try (its upstream call answers at once)."""
    from gateway.pipeline.call import _attempt

    async def once(target):
        return target

    target = ctx.snapshot.targets[ctx.candidates[0].endpoint_id]
    attempts, headers = ctx.attempts, ctx.response_headers
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        for _ in range(count):
            attempts.clear()
            headers.clear()
            await _attempt(ctx, once)
        looped = time.perf_counter() - began
        began = time.perf_counter()
        for _ in range(count):
            attempts.clear()
            headers.clear()
            await once(target)
        bare = time.perf_counter() - began
        best = min(best, (looped - bare) / count * 1e6)
    return best


def attempt_rows() -> list[tuple[str, float]]:
    from gateway.pipeline.route import choose_route

    rows = []
    for count, strategy in ((1, "weighted"), (3, "least-latency"), (3, "weighted")):
        ctx = call_context(count, strategy)
        choose_route(ctx)
        rows.append((f"attempt loop bookkeeping, one successful try, {count} route{'s' if count > 1 else ' '}, "
                     f"{strategy}", run_on_gateway_loop(_attempt_loop_micros(ctx, N_ROUTING))))

    async def whole(ctx, count: int) -> float:
        from gateway.pipeline.call import _attempt

        async def once(target):
            return target

        best = float("inf")
        for _ in range(3):
            began = time.perf_counter()
            for _ in range(count):
                ctx.attempts.clear()
                ctx.response_headers.clear()
                choose_route(ctx)
                await _attempt(ctx, once)
            best = min(best, (time.perf_counter() - began) / count * 1e6)
        return best

    for count, strategy in ((1, "weighted"), (3, "least-latency"), (3, "weighted")):
        ctx = call_context(count, strategy)
        rows.append((f"routing per call: choose_route + attempt loop, {count} route{'s' if count > 1 else ' '}, "
                     f"{strategy} (await included)", run_on_gateway_loop(whole(ctx, N_ROUTING))))
    return rows


def profile_routing() -> None:
    """cProfile of 3-route least-latency calls (choose_route + the attempt loop): where the µs go."""
    import cProfile
    import pstats

    from gateway.pipeline.call import _attempt
    from gateway.pipeline.route import choose_route

    ctx = call_context(3, "least-latency")

    async def once(target):
        return target

    async def calls(count: int) -> None:
        for _ in range(count):
            ctx.attempts.clear()
            ctx.response_headers.clear()
            choose_route(ctx)
            await _attempt(ctx, once)

    profiler = cProfile.Profile()
    profiler.enable()
    run_on_gateway_loop(calls(N_ROUTING))
    profiler.disable()
    print(f"\ncProfile: {N_ROUTING:,} calls of choose_route + _attempt, 3 routes, least-latency (tottime, µs/call "
          "= tottime ÷ calls of the loop)")
    stats = pstats.Stats(profiler)
    rows = []
    for (path, line, name), (_, ncalls, tottime, cumtime, _) in stats.stats.items():
        short = path.split("/main/")[-1] if "/main/" in path else path.rsplit("/", 1)[-1]
        rows.append((tottime, cumtime, ncalls, f"{short}:{line}({name})"))
    for tottime, cumtime, ncalls, where in sorted(rows, reverse=True)[:22]:
        print(f"  {tottime / N_ROUTING * 1e6:7.3f} µs self  {cumtime / N_ROUTING * 1e6:7.3f} µs incl  "
              f"{ncalls / N_ROUTING:5.1f}/call  {where}")


def routing() -> None:
    print(f"\nrouting (issue 13), N = {N_ROUTING:,} calls, best of 3, µs per call:")
    for label, value in routing_rows() + attempt_rows():
        print(f"{value:7.3f} µs  {label}")
    if os.environ.get("PROFILE", "") not in ("", "0"):
        profile_routing()


if __name__ == "__main__":
    if os.environ.get("ROUTING_ONLY", "") in ("", "0"):
        main()
    routing()
