"""Which calls are mirrored to a shadow route, and how many shadow calls one process runs at once — no server.

The end-to-end behaviour (a real gateway, fake upstreams, the stored results) is in
tests/integration/test_shadow_traffic.py.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from gateway import metering
from gateway.metering import UsageEvent
from gateway.normal import ChatResponse, Choice, EmbeddingRequest, Message, Usage
from gateway.routing import shadow
from tests.gateway.test_route_order import context, route


def test_a_shadow_route_gets_about_its_share_of_the_calls():
    candidate = route("candidate", shadow=0.25)
    ctx = context([route("primary"), candidate])

    drawn = Counter(shadow.pick(ctx) is candidate for _ in range(4000))

    assert 850 <= drawn[True] <= 1150  # 1000 expected; the bounds are about five standard deviations wide


def test_two_shadow_routes_each_get_their_own_share():
    first, second = route("first", shadow=0.2), route("second", shadow=0.3)
    ctx = context([route("primary"), first, second])

    drawn = Counter(getattr(shadow.pick(ctx), "provider_name", None) for _ in range(4000))

    assert 650 <= drawn["first"] <= 950  # 800 expected
    assert 1000 <= drawn["second"] <= 1400  # 1200 expected
    assert drawn[None] == 4000 - drawn["first"] - drawn["second"]


def test_an_alias_without_shadow_routes_is_never_mirrored():
    ctx = context([route("primary"), route("backup", priority=1)])

    assert all(shadow.pick(ctx) is None for _ in range(1000))


def test_a_share_of_one_mirrors_every_chat_call_and_no_embedding():
    candidate = route("candidate", shadow=1.0)
    chat = context([route("primary"), candidate])
    embed = context([route("primary"), candidate], request=EmbeddingRequest(model="a", input=["x"]))

    assert all(shadow.pick(chat) is candidate for _ in range(100))
    assert shadow.pick(embed) is None


def test_a_shadow_whose_endpoint_has_no_target_is_not_mirrored():
    candidate = route("candidate", shadow=1.0)
    ctx = context([route("primary"), candidate])
    del ctx.snapshot.targets[candidate.endpoint_id]  # e.g. its secret cannot be resolved

    assert shadow.pick(ctx) is None


def _event(request_id: str) -> UsageEvent:
    return UsageEvent(request_id=request_id, occurred_at=datetime.now(UTC), tenant_id=1, application_id=1, key_id=1,
                      alias="a", endpoint_id=1, provider_kind="openai-compatible", operation="chat", streamed=False,
                      prompt_tokens=10, completion_tokens=3, total_tokens=13, usage_source="provider",
                      cost=Decimal("0.00001"), ttfb_ms=5.0, total_ms=6.0, status=200)


class _SlowAdapter:
    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.calls = 0

    async def chat(self, request, target):
        self.calls += 1
        await self.release.wait()
        return ChatResponse(id="x", model="m", choices=[Choice(0, Message(role="assistant", content="from shadow"))],
                            usage=Usage.of(7, 2))


@pytest.fixture
def slow_adapter(monkeypatch, settings):
    settings.GATEWAY_SHADOW_MAX_IN_FLIGHT = 2
    adapter = _SlowAdapter()
    monkeypatch.setattr(shadow, "adapter_for", lambda kind: adapter)
    monkeypatch.setattr(metering, "_shadows", [])
    return adapter


async def test_mirror_returns_at_once_and_drops_beyond_the_process_bound(slow_adapter):
    candidate = route("candidate", shadow=1.0, price_in="3", price_out="4")
    dropped_before = shadow.counts["dropped"]
    for n in range(3):
        ctx = context([route("primary"), candidate])
        ctx.shadow_route, ctx.answer_text = candidate, "from primary"
        shadow.mirror(ctx, _event(f"r{n}"))  # sync: it cannot wait for the shadow

    await asyncio.sleep(0.01)
    assert slow_adapter.calls == 2  # the third was beyond GATEWAY_SHADOW_MAX_IN_FLIGHT
    assert shadow.counts["dropped"] == dropped_before + 1
    assert shadow.in_flight() == 2
    slow_adapter.release.set()
    await shadow.stop()
    [first, second] = metering._shadows
    assert {first.request_id, second.request_id} == {"r0", "r1"}
    assert (first.primary_text, first.shadow_text, first.shadow_status) == ("from primary", "from shadow", 200)
    assert first.shadow_cost == Decimal(7 * 3 + 2 * 4) / 1_000_000  # at the shadow endpoint's prices
    assert first.primary_cost == Decimal("0.00001")


def test_a_call_whose_routes_a_rule_chose_is_never_mirrored():
    from gateway.routing.order import candidates
    from registry.selectors import RoutingRule

    eu, candidate = route("eu"), route("candidate", shadow=1.0)
    only_eu = RoutingRule(frozenset(), frozenset({"eu"}), frozenset(), frozenset(), frozenset(), None, None,
                          (eu.endpoint_id,))
    ruled = context([eu, candidate], strategy="rules", rules=[only_eu], region="eu")
    candidates(ruled)
    assert shadow.pick(ruled) is None  # the rule says where this call's data may go; the shadow is not there

    unruled = context([eu, candidate], strategy="rules", rules=[only_eu], region="global")
    candidates(unruled)
    assert shadow.pick(unruled) is candidate
