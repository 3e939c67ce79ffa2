"""The routing snapshot the gateway codes against: strategy, sticky, rules, shadow routes, variants, caps."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from aiplatform import config_version
from registry import services
from registry.selectors import AliasRouting, RouteTarget, RoutingRule, routing_table


@pytest.fixture
def resilient(make_provider, make_endpoint, make_alias):
    """An alias on the rules strategy: two serving routes (variants a, b), one shadow, two rules."""
    primary = make_endpoint(make_provider("primary"), "m-large", max_in_flight=32,
                            capabilities=["chat", "vision", "streaming"])
    backup = make_endpoint(make_provider("backup"), "m-large", capabilities=["chat", "streaming"])
    candidate = make_endpoint(make_provider("candidate"), "m-next", capabilities=["chat"])
    alias = make_alias("resilient-chat", endpoint=primary, strategy="rules", sticky="user")
    services.set_routes(actor=None, alias=alias, routes=[
        services.RouteSpec(primary, priority=1, variant="a"),
        services.RouteSpec(backup, priority=2, variant="b"),
        services.RouteSpec(candidate, shadow_sample=Decimal("0.1")),
    ], rules=[
        services.RuleSpec(endpoints=(primary,), regions=("eu",), environments=("prod",)),
        services.RuleSpec(endpoints=(backup, primary), capabilities=("vision",)),
    ])
    return alias, primary, backup, candidate


@pytest.mark.smoke
def test_the_alias_carries_its_strategy_sticky_and_rules(resilient):
    _, primary, backup, _ = resilient

    entry = routing_table()["resilient-chat"]

    assert entry.strategy == "rules"
    assert entry.sticky == "user"
    assert entry.rules == (
        RoutingRule(tenants=frozenset(), regions=frozenset({"eu"}), environments=frozenset({"prod"}),
                    classifications=frozenset(), capabilities=frozenset(), min_prompt_tokens=None,
                    max_prompt_tokens=None, endpoint_ids=(primary.pk,)),
        RoutingRule(tenants=frozenset(), regions=frozenset(), environments=frozenset(), classifications=frozenset(),
                    capabilities=frozenset({"vision"}), min_prompt_tokens=None, max_prompt_tokens=None,
                    endpoint_ids=(backup.pk, primary.pk)),
    )


def test_routes_carry_variant_shadow_share_and_cap(resilient):
    entry = routing_table()["resilient-chat"]

    by_provider = {r.provider_name: r for r in entry.routes}
    assert (by_provider["primary"].variant, by_provider["primary"].max_in_flight) == ("a", 32)
    assert (by_provider["backup"].variant, by_provider["backup"].max_in_flight) == ("b", None)
    assert by_provider["candidate"].shadow_sample == 0.1
    assert isinstance(by_provider["candidate"].shadow_sample, float)
    assert by_provider["primary"].shadow_sample == 0.0


def test_shadow_routes_are_in_the_routes_last_and_not_in_the_capabilities(resilient):
    entry = routing_table()["resilient-chat"]

    assert [r.provider_name for r in entry.routes] == ["primary", "backup", "candidate"]
    assert entry.capabilities == {"chat", "streaming"}  # the shadow has no streaming, and does not count


def test_a_rule_leaves_out_a_route_the_snapshot_leaves_out(resilient):
    _, primary, backup, _ = resilient

    services.update_endpoint(actor=None, endpoint=backup, is_active=False)

    assert routing_table()["resilient-chat"].rules[1].endpoint_ids == (primary.pk,)


def test_the_new_fields_have_defaults_so_older_callers_keep_working(make_alias):
    make_alias("plain")

    entry = routing_table()["plain"]

    assert (entry.strategy, entry.sticky, entry.rules) == ("weighted", "", ())
    route = entry.routes[0]
    assert (route.variant, route.shadow_sample, route.max_in_flight) == ("", 0.0, None)
    names = [f.name for f in dataclasses.fields(AliasRouting)]
    assert names[names.index("routes"):][:4] == ["routes", "strategy", "sticky", "rules"]  # appended after routes
    assert [f.name for f in dataclasses.fields(RouteTarget)][-3:] == ["variant", "shadow_sample", "max_in_flight"]


def test_the_rules_are_immutable(resilient):
    rule = routing_table()["resilient-chat"].rules[0]

    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.regions = frozenset()


def test_the_routing_table_takes_the_same_queries_however_many_aliases_and_rules(
        resilient, make_provider, make_endpoint, make_alias, django_assert_num_queries):
    with django_assert_num_queries(4):  # aliases, routes, rules, the rules' targets
        routing_table()
    for n in range(3):
        endpoint = make_endpoint(make_provider(f"extra-{n}"), "m")
        alias = make_alias(f"more-{n}", endpoint=endpoint, strategy="rules")
        services.set_rules(actor=None, alias=alias, rules=[
            services.RuleSpec(endpoints=(endpoint,), tenants=()),
            services.RuleSpec(endpoints=(endpoint,), min_prompt_tokens=10)])

    with django_assert_num_queries(4):
        table = routing_table()

    assert len(table) == 4


def test_rules_strategy_and_route_changes_bump_the_registry_version(resilient):
    alias, primary, _, _ = resilient
    before = config_version.current("registry")

    services.set_rules(actor=None, alias=alias, rules=[services.RuleSpec(endpoints=(primary,))])
    after_rules = config_version.current("registry")
    services.set_rules(actor=None, alias=alias, rules=[])
    services.update_alias(actor=None, alias=alias, strategy="least-cost")
    after_strategy = config_version.current("registry")

    assert after_rules > before
    assert after_strategy > after_rules
