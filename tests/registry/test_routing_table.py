"""The routing table: an immutable plain-data snapshot of callable aliases for the gateway."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from aiplatform import config_version
from registry import services
from registry.models import Endpoint
from registry.selectors import AliasRouting, routing_table


@pytest.mark.smoke
def test_routes_come_in_fallback_order_with_their_endpoint_facts(make_provider, make_endpoint, make_alias):
    provider = make_provider("vllm", api_key="env:VLLM_KEY", config={"extra_headers": {"x-team": "ml"}})
    primary = make_endpoint(provider, "llama-70b", input_price_per_mtok=Decimal("0.5"), context_window=8192,
                            total_timeout=90)
    backup = make_endpoint(provider, "llama-8b")
    alias = make_alias("chat-default", endpoint=primary)
    services.set_routes(actor=None, alias=alias, routes=[
        services.RouteSpec(backup, weight=100, priority=1), services.RouteSpec(primary, weight=100, priority=0)])

    table = routing_table()

    entry = table["chat-default"]
    assert isinstance(entry, AliasRouting)
    assert [r.upstream_model for r in entry.routes] == ["llama-70b", "llama-8b"]
    first = entry.routes[0]
    assert (first.provider_kind, first.base_url, first.api_key_ref) == ("openai-compatible",
                                                                       "http://127.0.0.1:18080/v1", "env:VLLM_KEY")
    assert first.input_price_per_mtok == Decimal("0.5") and first.context_window == 8192 and first.total_timeout == 90
    assert first.provider_config["extra_headers"]["x-team"] == "ml"
    assert entry.capabilities == {"chat", "streaming"}


def test_the_snapshot_is_immutable_and_holds_no_model_instances(make_alias):
    make_alias("chat-default")
    entry = routing_table()["chat-default"]

    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.status = "retired"
    with pytest.raises(TypeError):
        entry.routes[0].provider_config["x"] = 1
    route = entry.routes[0]
    assert all(not hasattr(getattr(route, f.name), "_meta") for f in dataclasses.fields(route))


def test_drafts_are_left_out_and_lifecycle_facts_are_in(make_alias):
    make_alias("new-chat", status="draft")
    successor = make_alias("chat-2")
    old = make_alias("chat-1")
    services.update_alias(actor=None, alias=old, status="deprecated", replacement=successor)

    table = routing_table()

    assert "new-chat" not in table
    assert table["chat-1"].status == "deprecated"
    assert table["chat-1"].replacement == "chat-2"
    assert table["chat-1"].deprecated_on is not None


def test_routes_through_inactive_endpoints_are_left_out(make_alias):
    alias = make_alias("chat-default")
    endpoint = Endpoint.objects.get(routes__alias=alias)

    services.update_endpoint(actor=None, endpoint=endpoint, is_active=False)

    assert routing_table()["chat-default"].routes == ()


def test_every_change_bumps_the_registry_version(make_alias):
    before = config_version.current("registry")
    alias = make_alias("chat-default")
    after_create = config_version.current("registry")

    services.update_card(actor=None, alias=alias, summary="Hello")

    assert after_create > before
    assert config_version.current("registry") > after_create
