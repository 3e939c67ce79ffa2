"""Routing rules: what they match (``RoutingRule.matches``) and what the services let them name."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from aiplatform.models import AuditEvent
from portal.models import DataClassification, Environment
from registry import services
from registry.models import RoutingRule as RuleRow
from registry.models.rules import RULE_CLASSIFICATIONS, RULE_ENVIRONMENTS
from registry.selectors import RoutingRule

CALL = {"tenant": "alpha", "region": "eu", "environment": "prod", "classification": "internal",
        "needs": frozenset(), "prompt_tokens": 1000}


def _rule(**conditions) -> RoutingRule:
    fields = {"tenants": frozenset(), "regions": frozenset(), "environments": frozenset(),
              "classifications": frozenset(), "capabilities": frozenset(), "min_prompt_tokens": None,
              "max_prompt_tokens": None, "endpoint_ids": (1,)}
    return RoutingRule(**{**fields, **conditions})


def test_a_rule_without_conditions_matches_any_call():
    assert _rule().matches(**CALL)


@pytest.mark.parametrize(("conditions", "matches"), [
    ({"tenants": frozenset({"alpha", "bravo"})}, True),
    ({"tenants": frozenset({"bravo"})}, False),
    ({"regions": frozenset({"eu"}), "environments": frozenset({"prod"})}, True),
    ({"regions": frozenset({"eu"}), "environments": frozenset({"dev"})}, False),  # all given must match
    ({"classifications": frozenset({"confidential", "internal"})}, True),
    ({"classifications": frozenset({"restricted"})}, False),
    ({"min_prompt_tokens": 1000}, True),  # bounds are inclusive
    ({"min_prompt_tokens": 1001}, False),
    ({"max_prompt_tokens": 1000}, True),
    ({"max_prompt_tokens": 999}, False),
])
def test_what_a_rule_matches(conditions, matches):
    assert _rule(**conditions).matches(**CALL) is matches


def test_a_capability_condition_matches_a_request_that_needs_any_of_them():
    rule = _rule(capabilities=frozenset({"vision", "tools"}))

    assert rule.matches(**{**CALL, "needs": frozenset({"tools", "json_schema"})})
    assert not rule.matches(**CALL)
    assert not rule.matches(**{**CALL, "needs": frozenset({"json_schema"})})


def test_the_condition_values_are_portals():
    # The registry may not import portal; this keeps the two lists one.
    assert RULE_ENVIRONMENTS == tuple(Environment.values)
    assert RULE_CLASSIFICATIONS == tuple(DataClassification.values)


@pytest.fixture
def two_routes(make_provider, make_endpoint, make_alias):
    primary = make_endpoint(make_provider("primary"), "m")
    backup = make_endpoint(make_provider("backup"), "m")
    alias = make_alias("ruled", endpoint=primary, strategy="rules")
    services.set_routes(actor=None, alias=alias, routes=[services.RouteSpec(primary), services.RouteSpec(backup)])
    return alias, primary, backup


def test_rules_are_saved_in_order_and_audited(two_routes, make_tenant):
    alias, primary, backup = two_routes
    make_tenant("alpha")

    services.set_rules(actor=None, alias=alias, rules=[
        services.RuleSpec(endpoints=(backup, primary), tenants=("alpha",), regions=("uk", "eu")),
        services.RuleSpec(endpoints=(primary,), max_prompt_tokens=100)])

    rules = list(RuleRow.objects.filter(alias=alias))
    assert [r.position for r in rules] == [1, 2]
    assert rules[0].regions == ["eu", "uk"]  # one canonical order
    assert [t.route.endpoint for t in rules[0].targets.all()] == [backup, primary]
    event = AuditEvent.objects.get(action="alias.set_rules")
    assert event.changes["rules"][1] == ["1: tenants=alpha regions=eu,uk → backup/m, primary/m",
                                         "2: prompt<=100 → primary/m"]


def test_the_same_rules_again_record_nothing(two_routes):
    alias, primary, _ = two_routes
    rules = [services.RuleSpec(endpoints=(primary,), regions=("eu",))]
    services.set_rules(actor=None, alias=alias, rules=rules)

    services.set_rules(actor=None, alias=alias, rules=rules)

    assert AuditEvent.objects.filter(action="alias.set_rules").count() == 1


def test_a_rule_may_name_only_routes_of_its_alias(two_routes, make_provider, make_endpoint):
    alias, _, _ = two_routes
    elsewhere = make_endpoint(make_provider("elsewhere"), "m")

    with pytest.raises(ValidationError, match="elsewhere/m, which is not a route of ruled"):
        services.set_rules(actor=None, alias=alias, rules=[services.RuleSpec(endpoints=(elsewhere,))])


def test_a_rule_may_not_name_a_shadow_route(two_routes):
    alias, primary, backup = two_routes
    services.set_routes(actor=None, alias=alias, routes=[
        services.RouteSpec(primary), services.RouteSpec(backup, shadow_sample=Decimal("0.5"))])

    with pytest.raises(ValidationError, match="shadow routes never serve callers"):
        services.set_rules(actor=None, alias=alias, rules=[services.RuleSpec(endpoints=(backup,))])


def test_unknown_values_and_teams_are_refused(two_routes):
    alias, primary, _ = two_routes

    with pytest.raises(ValidationError, match="Unknown mars"):
        services.set_rules(actor=None, alias=alias, rules=[services.RuleSpec(endpoints=(primary,), regions=("mars",))])
    with pytest.raises(ValidationError, match="no team nobody"):
        services.set_rules(actor=None, alias=alias, rules=[services.RuleSpec(endpoints=(primary,),
                                                                             tenants=("nobody",))])


def test_rules_need_the_rules_strategy(make_alias):
    alias = make_alias("weighted-chat")
    endpoint = alias.routes.get().endpoint

    with pytest.raises(ValidationError, match="used only by the rules strategy"):
        services.set_rules(actor=None, alias=alias, rules=[services.RuleSpec(endpoints=(endpoint,))])


def test_leaving_the_rules_strategy_is_refused_while_rules_remain(two_routes):
    alias, primary, _ = two_routes
    services.set_rules(actor=None, alias=alias, rules=[services.RuleSpec(endpoints=(primary,))])

    with pytest.raises(ValidationError, match="Remove the 1 routing rule of ruled first"):
        services.update_alias(actor=None, alias=alias, strategy="weighted")


def test_a_route_a_rule_names_cannot_be_removed_or_made_a_shadow(two_routes):
    alias, primary, backup = two_routes
    services.set_rules(actor=None, alias=alias, rules=[services.RuleSpec(endpoints=(backup,))])

    with pytest.raises(ValidationError, match="Routing rule 1 sends calls to backup/m"):
        services.set_routes(actor=None, alias=alias, routes=[services.RouteSpec(primary)])
    with pytest.raises(ValidationError, match="Routing rule 1 sends calls to backup/m"):
        services.set_routes(actor=None, alias=alias, routes=[
            services.RouteSpec(primary), services.RouteSpec(backup, shadow_sample=Decimal("0.2"))])
    assert alias.routes.count() == 2


def test_an_alias_keeps_a_serving_route(two_routes):
    alias, primary, backup = two_routes

    with pytest.raises(ValidationError, match="needs a route that serves callers"):
        services.set_routes(actor=None, alias=alias, routes=[services.RouteSpec(primary, shadow_sample=Decimal(1))])


def test_a_shadow_share_above_one_is_refused(two_routes):
    alias, primary, backup = two_routes

    with pytest.raises(ValidationError, match="less than or equal to 1"):
        services.set_routes(actor=None, alias=alias, routes=[
            services.RouteSpec(primary), services.RouteSpec(backup, shadow_sample=1.5)])


def test_deleting_an_alias_takes_its_rules(two_routes):
    alias, primary, _ = two_routes
    services.set_rules(actor=None, alias=alias, rules=[services.RuleSpec(endpoints=(primary,))])

    services.delete_alias(actor=None, alias=alias)

    assert not RuleRow.objects.exists()
