"""`registry apply` of strategies, sticky, rules, shadow routes and max_in_flight, and `registry export` back."""

from __future__ import annotations

from decimal import Decimal

import pytest
import yaml

from aiplatform.models import AuditEvent
from registry.as_code import apply_registry, dump_yaml, export_registry
from registry.models import Endpoint, ModelAlias

PROVIDERS = """
providers:
  - {name: primary, kind: openai-compatible, base_url: "http://127.0.0.1:18081/v1"}
  - {name: backup, kind: openai-compatible, base_url: "http://127.0.0.1:18082/v1"}
  - {name: candidate, kind: openai-compatible, base_url: "http://127.0.0.1:18083/v1"}
"""

MODELS = """
models:
  - alias: resilient-chat
    kind: chat
    status: approved
    strategy: rules
    sticky: user
    routes:
      - {provider: primary, upstream_model: m-large, priority: 1, variant: a, max_in_flight: 32}
      - {provider: backup, upstream_model: m-large, priority: 2, variant: b}
      - {provider: candidate, upstream_model: m-next, shadow: 0.1}
    rules:
      - when: {regions: [eu], environments: [prod]}
        use: [{provider: primary, upstream_model: m-large}]
      - when: {capabilities: [vision]}
        use: [{provider: backup, upstream_model: m-large}]
      - when: {min_prompt_tokens: 30000}
        use: [{provider: backup, upstream_model: m-large}]
"""

FILE = PROVIDERS + MODELS


@pytest.mark.smoke
def test_the_example_applies_and_exports_back_the_same(db):
    apply_registry(FILE, file="routing.yaml")

    exported = {m["alias"]: m for m in export_registry()["models"]}["resilient-chat"]
    expected = yaml.safe_load(MODELS)["models"][0]
    for route in expected["routes"][:2]:
        route["weight"] = 100  # the export always writes a serving route's weight
    assert exported == expected


def test_the_example_is_stored_as_the_gateway_needs_it(db):
    apply_registry(FILE, file="routing.yaml")

    alias = ModelAlias.objects.get(name="resilient-chat")
    routes = {r.endpoint.provider.name: r for r in alias.routes.select_related("endpoint__provider")}
    assert (alias.strategy, alias.sticky) == ("rules", "user")
    assert routes["candidate"].shadow_sample == Decimal("0.1")
    assert routes["primary"].variant == "a"
    assert Endpoint.objects.get(provider__name="primary").max_in_flight == 32
    assert Endpoint.objects.get(provider__name="backup").max_in_flight is None
    assert alias.routing_rules.count() == 3


def test_applying_the_export_changes_nothing(db):
    apply_registry(FILE, file="a.yaml")
    first = dump_yaml(export_registry())
    events = AuditEvent.objects.exclude(action="registry.apply").count()

    result = apply_registry(first, file="b.yaml")

    assert result.count("changed") == 0
    assert dump_yaml(export_registry()) == first
    assert AuditEvent.objects.exclude(action="registry.apply").count() == events


def test_the_export_rebuilds_the_rules_elsewhere(db):
    apply_registry(FILE, file="a.yaml")
    exported = dump_yaml(export_registry())
    ModelAlias.objects.all().delete()

    apply_registry(exported, file="b.yaml")

    assert dump_yaml(export_registry()) == exported


def test_a_changed_rule_is_reported_and_audited_once(db):
    apply_registry(FILE, file="a.yaml")

    result = apply_registry(FILE.replace("regions: [eu]", "regions: [eu, uk]"), file="b.yaml")

    assert "changed   model resilient-chat (rules)" in [str(c) for c in result.changes]
    event = AuditEvent.objects.filter(action="alias.set_rules").latest("seq")
    assert event.changes["rules"][1][0] == "1: regions=eu,uk environments=prod → primary/m-large"


def test_leaving_the_rules_strategy_with_a_file_without_rules_removes_them(db):
    apply_registry(FILE, file="a.yaml")
    doc = yaml.safe_load(FILE)
    model = doc["models"][0]
    model["strategy"] = "priority"
    del model["rules"]

    apply_registry(doc, file="b.yaml")

    alias = ModelAlias.objects.get(name="resilient-chat")
    assert alias.strategy == "priority"
    assert alias.routing_rules.count() == 0


def test_a_route_and_the_rule_naming_it_go_together(db):
    apply_registry(FILE, file="a.yaml")
    doc = yaml.safe_load(FILE)
    model = doc["models"][0]
    model["routes"] = [r for r in model["routes"] if r["provider"] != "backup"]
    model["rules"] = model["rules"][:1]

    apply_registry(doc, file="b.yaml")

    alias = ModelAlias.objects.get(name="resilient-chat")
    assert sorted(alias.routes.values_list("endpoint__provider__name", flat=True)) == ["candidate", "primary"]
    assert alias.routing_rules.count() == 1


def test_a_plain_alias_exports_without_the_new_keys(db):
    apply_registry(PROVIDERS + """
models:
  - alias: plain
    status: approved
    routes: [{provider: primary, upstream_model: m}]
""", file="a.yaml")

    model = export_registry()["models"][0]

    assert model["routes"] == [{"provider": "primary", "upstream_model": "m", "weight": 100}]
    assert not {"strategy", "sticky", "rules"} & set(model)
