"""Step 4's choices, without a server: which routes a call tries, in which order, for each strategy.

The end-to-end behaviour (real upstreams, two processes) is in tests/integration/test_gateway_routing.py;
these pin the rules themselves, quickly and for many calls.
"""

from __future__ import annotations

import itertools
from collections import Counter
from decimal import Decimal

import pytest

from gateway.errors import UpstreamError, UpstreamRateLimitError, UpstreamTimeoutError
from gateway.normal import ChatRequest, ImagePart, Message, ResponseFormat, TextPart, Tool
from gateway.pipeline.call import _pause_before_retry, retry_after_seconds
from gateway.pipeline.context import CallContext
from gateway.providers.base import UpstreamTarget
from gateway.routing.health import health
from gateway.routing.order import candidates, variant_of
from gateway.state import Snapshot
from portal.selectors import KeyGrant
from registry.selectors import AliasRouting, RouteTarget, RoutingRule

_ids = itertools.count(900_000)  # endpoint ids no other test records health for


def route(provider: str, *, weight: int = 100, priority: int = 0, capabilities=("chat",), window=None,
          price_in: str = "1", price_out: str = "2", variant: str = "", shadow: float = 0.0) -> RouteTarget:
    return RouteTarget(
        endpoint_id=next(_ids), provider_name=provider, provider_kind="openai-compatible", base_url="http://x/v1",
        region="", upstream_model="m", api_key_ref="", provider_config={}, weight=weight, priority=priority,
        capabilities=frozenset(capabilities), context_window=window, connect_timeout=1, first_byte_timeout=1,
        total_timeout=10, input_price_per_mtok=Decimal(price_in), output_price_per_mtok=Decimal(price_out),
        price_per_image=Decimal(0), price_per_request=Decimal(0), variant=variant, shadow_sample=shadow)


def context(routes, *, strategy="weighted", sticky="", rules=(), request=None, region="global",
            application_id=1) -> CallContext:
    routing = AliasRouting(name="a", kind="chat", status="approved", approved_on=None, deprecated_on=None,
                           sunset_on=None, retired_on=None, replacement=None, routes=tuple(routes),
                           strategy=strategy, sticky=sticky, rules=tuple(rules))
    targets = {r.endpoint_id: UpstreamTarget(provider_kind=r.provider_kind) for r in routes}
    ctx = CallContext(request_id="r", client_ip=None, headers={}, operation="chat", snapshot=Snapshot(targets=targets))
    ctx.routing = routing
    ctx.request = request or ChatRequest(model="a", messages=[Message(role="user", content="Hi")])
    ctx.grant = KeyGrant(key_id=1, key_prefix="sb-x", tenant_id=1, tenant_slug="acme", tenant_region=region,
                         application_id=application_id, application_name="app", environment="prod",
                         data_classification="internal", aliases=frozenset({"a"}), expires_at=None, revoked=False,
                         ip_allowlist=())
    return ctx


def names(ctx: CallContext) -> list[str]:
    return [r.provider_name for r in candidates(ctx)]


def test_weighted_draws_within_the_first_priority_and_keeps_the_rest_as_fallback():
    routes = [route("stable", weight=90), route("canary", weight=10), route("backup", priority=1)]
    firsts = Counter(names(context(routes))[0] for _ in range(2000))
    assert 130 <= firsts["canary"] <= 280 and firsts["backup"] == 0
    assert names(context(routes))[-1] == "backup"  # always the last resort


def test_priority_is_a_strict_order():
    routes = [route("primary", priority=1, weight=1), route("backup", priority=2, weight=100)]
    assert all(names(context(routes, strategy="priority")) == ["primary", "backup"] for _ in range(50))


def test_sticky_by_application_and_by_user_gives_the_same_route_every_time():
    routes = [route("left", weight=50, variant="a"), route("right", weight=50, variant="b")]
    by_app = {names(context(routes, sticky="application", application_id=7))[0] for _ in range(30)}
    assert len(by_app) == 1
    spread = Counter()
    for user in range(200):
        request = ChatRequest(model="a", messages=[Message(role="user", content="Hi")], user=f"u{user}")
        chosen = {names(context(routes, sticky="user", request=request))[0] for _ in range(3)}
        assert len(chosen) == 1
        spread[chosen.pop()] += 1
    assert 60 <= spread["left"] <= 140  # users are split by the weights


def test_shadow_routes_never_serve_and_open_circuits_are_skipped():
    live, shadow, broken = route("live"), route("candidate", shadow=0.1), route("broken", priority=1)
    for _ in range(10):
        health.record(broken.endpoint_id, ok=False)
    assert names(context([live, shadow, broken], strategy="priority")) == ["live"]


def test_least_latency_prefers_the_faster_endpoint_and_measures_unknown_ones_first():
    slow, fast, new = route("slow"), route("fast"), route("new")
    for _ in range(5):
        health.record(slow.endpoint_id, ok=True, ttfb_ms=300)
        health.record(fast.endpoint_id, ok=True, ttfb_ms=20)
    firsts = Counter(names(context([slow, fast], strategy="least-latency"))[0] for _ in range(1000))
    assert firsts["fast"] >= 900 and firsts["slow"] >= 10  # one call in twenty explores
    assert names(context([slow, fast, new], strategy="least-latency"))[0] in {"new", "slow", "fast"}
    assert Counter(names(context([slow, fast, new], strategy="least-latency"))[0] for _ in range(200))["new"] >= 180


def test_least_cost_orders_by_the_price_of_this_call():
    dear, cheap = route("dear", price_in="10", price_out="30"), route("cheap", price_in="0.1", price_out="0.4")
    assert names(context([dear, cheap], strategy="least-cost")) == ["cheap", "dear"]


def test_rules_pick_the_first_matching_rule_and_only_its_routes():
    us, eu, vision = route("us"), route("eu"), route("vision", capabilities=("chat", "vision"))
    rules = [RoutingRule(frozenset(), frozenset({"eu"}), frozenset(), frozenset(), frozenset(), None, None,
                         (eu.endpoint_id,)),
             RoutingRule(frozenset(), frozenset(), frozenset(), frozenset(), frozenset({"vision"}), None, None,
                         (vision.endpoint_id,))]
    picture = ChatRequest(model="a", messages=[Message(role="user", content=[
        TextPart(text="What is it?"), ImagePart(url="data:image/png;base64,AA==")])])
    assert names(context([us, eu, vision], strategy="rules", rules=rules)) == ["us", "eu", "vision"]
    assert names(context([us, eu, vision], strategy="rules", rules=rules, region="eu")) == ["eu"]
    assert names(context([us, eu, vision], strategy="rules", rules=rules, request=picture)) == ["vision"]


def test_a_request_goes_where_its_needs_and_its_length_fit():
    plain, tools = route("plain"), route("tools", capabilities=("chat", "tools"))
    asks_tools = ChatRequest(model="a", messages=[Message(role="user", content="Hi")],
                             tools=[Tool(name="f", description="", parameters={})])
    assert names(context([plain, tools], strategy="priority", request=asks_tools)) == ["tools"]
    json_schema = ChatRequest(model="a", messages=[Message(role="user", content="Hi")],
                              response_format=ResponseFormat(type="json_schema", json_schema={"name": "x"}))
    assert names(context([plain, tools], strategy="priority", request=json_schema)) == ["plain", "tools"]  # none can
    small, big = route("small", window=1000), route("big", window=100_000)
    long = ChatRequest(model="a", messages=[Message(role="user", content="word " * 4000)])
    assert names(context([small, big], strategy="priority", request=long)) == ["big"]
    assert names(context([small, big], strategy="priority")) == ["small", "big"]


def test_the_variant_is_the_routes_label_else_its_endpoint():
    assert variant_of(route("p", variant="b")) == "b"
    assert variant_of(route("p")) == "p/m"


@pytest.mark.parametrize(("error", "tries", "last", "expected"), [
    (UpstreamError("x", upstream_status=500), 1, False, "backoff"),
    (UpstreamError("x", upstream_status=500), 2, False, None),  # GATEWAY_ROUTE_ATTEMPTS tries per route
    (UpstreamTimeoutError("x"), 1, True, None),  # a timed-out endpoint is not asked again
    (UpstreamRateLimitError("x", upstream_status=429, headers={"Retry-After": "30"}), 1, False, None),
    (UpstreamRateLimitError("x", upstream_status=429, headers={"Retry-After": "1"}), 1, True, 1.0),
    (UpstreamRateLimitError("x", upstream_status=429, headers={"Retry-After": "60"}), 1, True, None),
    (UpstreamError("x", upstream_status=401, code="upstream_auth_failed"), 1, False, None),
])
def test_when_an_endpoint_is_tried_again(error, tries, last, expected):
    pause = _pause_before_retry(error, tries, last_route=last)
    if expected == "backoff":
        assert 0 <= pause <= 0.1
    else:
        assert pause == expected


def test_retry_after_takes_seconds_or_an_http_date():
    assert retry_after_seconds(UpstreamError("x", headers={"retry-after": "2.5"})) == 2.5
    assert retry_after_seconds(UpstreamError("x", headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0
    assert retry_after_seconds(UpstreamError("x", headers={"Retry-After": "soon"})) is None
    assert retry_after_seconds(UpstreamError("x")) is None
