"""A platform admin sets an alias's strategy, sticky, routes' variants and shadow shares, an endpoint's cap and
the routing rules from the registry's pages."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from aiplatform.models import AuditEvent
from registry import services
from registry.models import Endpoint, ModelAlias, Route, RoutingRule


@pytest.fixture
def two_routes(make_provider, make_endpoint, make_alias):
    primary = make_endpoint(make_provider("primary"), "m")
    backup = make_endpoint(make_provider("backup"), "m")
    alias = make_alias("ruled", endpoint=primary)
    services.set_routes(actor=None, alias=alias, routes=[services.RouteSpec(primary), services.RouteSpec(backup)])
    return alias, primary, backup


def _rules_strategy(alias: ModelAlias) -> None:
    services.update_alias(actor=None, alias=alias, strategy="rules")


@pytest.mark.smoke
def test_an_admin_sets_the_strategy_and_sticky(admin_client, two_routes):
    response = admin_client.post("/models/manage/models/ruled/", {
        "kind": "chat", "status": "approved", "strategy": "least-latency", "sticky": "application"})

    assert response.status_code == 302
    alias = ModelAlias.objects.get(name="ruled")
    assert (alias.strategy, alias.sticky) == ("least-latency", "application")
    event = AuditEvent.objects.filter(action="alias.update").latest("seq")
    assert event.changes["strategy"] == ["weighted", "least-latency"]


def test_a_form_without_a_strategy_keeps_the_aliases(admin_client, two_routes):
    alias, _, _ = two_routes
    services.update_alias(actor=None, alias=alias, strategy="priority")

    admin_client.post("/models/manage/models/ruled/", {"kind": "chat", "status": "approved"})

    assert ModelAlias.objects.get(name="ruled").strategy == "priority"


def test_an_admin_adds_a_shadow_route_with_a_variant(admin_client, two_routes, make_provider, make_endpoint):
    candidate = make_endpoint(make_provider("candidate"), "m-next")

    response = admin_client.post("/models/manage/models/ruled/routes", {
        "endpoint": candidate.pk, "weight": 100, "priority": 0, "variant": "next", "shadow_sample": "0.25"})

    assert response.status_code == 302
    route = Route.objects.get(endpoint=candidate)
    assert (route.variant, route.shadow_sample) == ("next", Decimal("0.25"))
    page = admin_client.get("/models/manage/models/ruled/").content.decode()
    assert "shadow</span> 0.25" in page


def test_updating_one_route_keeps_the_others_variants(admin_client, two_routes):
    _, primary, backup = two_routes
    admin_client.post("/models/manage/models/ruled/routes", {"endpoint": primary.pk, "weight": 50, "priority": 0,
                                                             "variant": "a"})

    admin_client.post("/models/manage/models/ruled/routes", {"endpoint": backup.pk, "weight": 50, "priority": 0,
                                                             "variant": "b"})

    assert Route.objects.get(endpoint=primary).variant == "a"


@pytest.mark.parametrize(("shadow", "message"), [("1.5", "less than or equal to 1"), ("-1", "greater than or equal")])
def test_a_shadow_share_outside_0_to_1_is_refused_on_its_field(admin_client, two_routes, shadow, message):
    _, primary, _ = two_routes

    response = admin_client.post("/models/manage/models/ruled/routes", {
        "endpoint": primary.pk, "weight": 100, "priority": 0, "shadow_sample": shadow})

    assert response.status_code == 400
    assert message in response.context["route_form"].errors["shadow_sample"][0]


def test_the_last_serving_route_cannot_become_a_shadow(admin_client, make_alias):
    alias = make_alias("single")
    endpoint = alias.routes.get().endpoint

    response = admin_client.post("/models/manage/models/single/routes", {
        "endpoint": endpoint.pk, "weight": 100, "priority": 0, "shadow_sample": "0.5"})

    assert response.status_code == 400
    assert "needs a route that serves callers" in response.context["route_form"].errors["shadow_sample"][0]
    assert not Route.objects.get(endpoint=endpoint).is_shadow


def test_an_admin_caps_an_endpoint(admin_client, two_routes):
    _, primary, _ = two_routes
    fields = {"capabilities": ["chat"], "connect_timeout": 5, "first_byte_timeout": 60, "total_timeout": 600,
              "input_price_per_mtok": 0, "output_price_per_mtok": 0, "price_per_image": 0, "price_per_request": 0,
              "is_active": "on"}

    refused = admin_client.post(f"/models/manage/endpoints/{primary.pk}/", {**fields, "max_in_flight": 0})
    saved = admin_client.post(f"/models/manage/endpoints/{primary.pk}/", {**fields, "max_in_flight": 16})

    assert "max_in_flight" in refused.context["form"].errors
    assert saved.status_code == 302
    assert Endpoint.objects.get(pk=primary.pk).max_in_flight == 16
    assert b"16" in admin_client.get("/models/manage/models/ruled/").content


@pytest.mark.smoke
def test_an_admin_adds_and_removes_rules(admin_client, two_routes, make_tenant):
    alias, primary, backup = two_routes
    make_tenant("alpha")
    _rules_strategy(alias)

    first = admin_client.post("/models/manage/models/ruled/rules", {
        "regions": ["eu"], "environments": ["prod"], "use_1": primary.pk, "use_2": backup.pk})
    second = admin_client.post("/models/manage/models/ruled/rules", {
        "tenants": "alpha", "min_prompt_tokens": 30000, "use_1": backup.pk, "position": 1})

    assert (first.status_code, second.status_code) == (302, 302)
    rules = list(RoutingRule.objects.filter(alias=alias))
    assert [r.tenants for r in rules] == [["alpha"], []]
    assert [t.route.endpoint for t in rules[1].targets.all()] == [primary, backup]
    page = admin_client.get("/models/manage/models/ruled/").content.decode()
    assert "regions eu; environments prod" in page
    assert "tenants alpha; prompt tokens from 30000" in page

    admin_client.post("/models/manage/models/ruled/rules/1/remove")

    assert list(RoutingRule.objects.filter(alias=alias).values_list("regions", flat=True)) == [["eu"]]


def test_a_rule_for_an_unknown_team_is_refused_on_its_field(admin_client, two_routes):
    alias, primary, _ = two_routes
    _rules_strategy(alias)

    response = admin_client.post("/models/manage/models/ruled/rules", {"tenants": "nobody", "use_1": primary.pk})

    assert response.status_code == 400
    assert response.context["rule_form"].errors["tenants"] == ["Rule 1: no team nobody."]
    assert not RoutingRule.objects.exists()


def test_a_rule_may_use_only_the_aliases_serving_routes(admin_client, two_routes, make_provider, make_endpoint):
    alias, _, _ = two_routes
    _rules_strategy(alias)
    elsewhere = make_endpoint(make_provider("elsewhere"), "m")

    response = admin_client.post("/models/manage/models/ruled/rules", {"use_1": elsewhere.pk})

    assert response.status_code == 400
    assert "use_1" in response.context["rule_form"].errors


def test_rules_need_the_rules_strategy(admin_client, two_routes):
    _, primary, _ = two_routes

    page = admin_client.get("/models/manage/models/ruled/").content.decode()
    response = admin_client.post("/models/manage/models/ruled/rules", {"use_1": primary.pk})

    assert "choose it above to add them" in page
    assert response.status_code == 400
    assert "used only by the rules strategy" in response.context["rule_form"].non_field_errors()[0]


def test_leaving_the_rules_strategy_asks_to_remove_the_rules_first(admin_client, two_routes):
    alias, primary, _ = two_routes
    _rules_strategy(alias)
    services.set_rules(actor=None, alias=alias, rules=[services.RuleSpec(endpoints=(primary,))])

    response = admin_client.post("/models/manage/models/ruled/", {"kind": "chat", "status": "approved",
                                                                 "strategy": "weighted"})

    assert response.status_code == 400
    assert "Remove the 1 routing rule" in response.context["form"].errors["strategy"][0]
    assert ModelAlias.objects.get(name="ruled").strategy == "rules"


def test_a_route_a_rule_uses_is_kept_with_a_message(admin_client, two_routes):
    alias, primary, backup = two_routes
    _rules_strategy(alias)
    services.set_rules(actor=None, alias=alias, rules=[services.RuleSpec(endpoints=(backup,))])

    response = admin_client.post(f"/models/manage/models/ruled/routes/{backup.pk}/remove", follow=True)

    assert "Routing rule 1 sends calls to backup/m" in response.content.decode()
    assert alias.routes.count() == 2


def test_the_page_runs_no_inline_script(admin_client, two_routes):
    alias, primary, _ = two_routes
    _rules_strategy(alias)
    services.set_rules(actor=None, alias=alias, rules=[services.RuleSpec(endpoints=(primary,), regions=("eu",))])

    page = admin_client.get("/models/manage/models/ruled/").content.decode()

    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
    assert " on" + "click=" not in page


def test_the_card_leaves_shadow_routes_out(admin_client, two_routes):
    _, primary, backup = two_routes
    alias = ModelAlias.objects.get(name="ruled")
    services.set_routes(actor=None, alias=alias, routes=[
        services.RouteSpec(primary), services.RouteSpec(backup, shadow_sample=Decimal("0.1"))])

    card = admin_client.get("/models/ruled/")

    assert [r.endpoint for r in card.context["routes"]] == [primary]
