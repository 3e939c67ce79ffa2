"""The REST API carries an alias's strategy and sticky, a route's variant and shadow share, an endpoint's cap."""

from __future__ import annotations

from decimal import Decimal

from registry import services
from registry.models import Route


def test_an_admin_sets_strategy_variants_and_a_shadow_route(admin_client, make_provider, make_endpoint):
    primary = make_endpoint(make_provider("primary"), "m", max_in_flight=8)
    candidate = make_endpoint(make_provider("candidate"), "m-next")

    response = admin_client.post("/api/models/", {
        "name": "ab-chat", "status": "approved", "strategy": "weighted", "sticky": "user",
        "routes": [{"endpoint": primary.pk, "variant": "a"}, {"endpoint": candidate.pk, "shadow_sample": "0.2"}],
    }, content_type="application/json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["strategy"], body["sticky"]) == ("weighted", "user")
    assert Route.objects.get(endpoint=candidate).shadow_sample == Decimal("0.2")
    assert {r["variant"] for r in body["routes"]} == {"a", ""}
    assert admin_client.get(f"/api/endpoints/{primary.pk}/").json()["max_in_flight"] == 8


def test_the_api_cannot_remove_a_route_a_rule_names(admin_client, make_provider, make_endpoint, make_alias):
    primary = make_endpoint(make_provider("primary"), "m")
    backup = make_endpoint(make_provider("backup"), "m")
    alias = make_alias("ruled", endpoint=primary, strategy="rules")
    services.set_routes(actor=None, alias=alias, routes=[services.RouteSpec(primary), services.RouteSpec(backup)],
                        rules=[services.RuleSpec(endpoints=(backup,))])

    response = admin_client.patch("/api/models/ruled/", {"routes": [{"endpoint": primary.pk}]},
                                  content_type="application/json")

    assert response.status_code == 400
    assert alias.routes.count() == 2
