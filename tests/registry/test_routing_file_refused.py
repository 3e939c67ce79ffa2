"""A registry file with bad routing (strategy, rules, shadow, max_in_flight) is refused whole, each problem at its path."""

from __future__ import annotations

import pytest
import yaml

from aiplatform.models import AuditEvent
from registry.as_code import RegistryFileInvalid, apply_registry
from registry.models import ModelAlias, Provider

GOOD = """
providers:
  - {name: primary, kind: openai-compatible, base_url: "http://127.0.0.1:18081/v1"}
  - {name: backup, kind: openai-compatible, base_url: "http://127.0.0.1:18082/v1"}
  - {name: candidate, kind: openai-compatible, base_url: "http://127.0.0.1:18083/v1"}
models:
  - alias: resilient-chat
    status: approved
    strategy: rules
    routes:
      - {provider: primary, upstream_model: m-large, priority: 1}
      - {provider: backup, upstream_model: m-large, priority: 2}
      - {provider: candidate, upstream_model: m-next, shadow: 0.1}
    rules:
      - when: {regions: [eu]}
        use: [{provider: primary, upstream_model: m-large}]
"""


def _doc() -> dict:
    return yaml.safe_load(GOOD)


def _problems(doc: dict) -> list[str]:
    with pytest.raises(RegistryFileInvalid) as caught:
        apply_registry(doc, file="f.yaml")
    assert not Provider.objects.exists()  # nothing half-applied
    return [f"{p.path}: {p.message}" for p in caught.value.problems]


def test_the_good_file_applies(db):
    apply_registry(_doc(), file="f.yaml")

    assert ModelAlias.objects.get(name="resilient-chat").routing_rules.count() == 1


def test_an_unknown_strategy(db):
    doc = _doc()
    doc["models"][0]["strategy"] = "fastest"

    assert _problems(doc) == ["models[0].strategy: 'fastest' is not one of weighted, priority, least-latency, "
                              "least-cost, rules"]


def test_an_unknown_sticky(db):
    doc = _doc()
    doc["models"][0]["sticky"] = "team"

    assert _problems(doc) == ["models[0].sticky: 'team' is not one of application, user"]


def test_an_unknown_condition_key(db):
    doc = _doc()
    doc["models"][0]["rules"][0]["when"] = {"country": ["de"]}

    assert _problems(doc)[0].startswith("models[0].rules[0].when.country: unknown key (known: capabilities, ")


def test_an_unknown_condition_value(db):
    doc = _doc()
    doc["models"][0]["rules"][0]["when"] = {"regions": ["mars"], "capabilities": ["telepathy"]}

    assert _problems(doc) == [
        "models[0].rules[0].when.regions: unknown mars (known: eu, uk, us, us-ca, apac, global)",
        "models[0].rules[0].when.capabilities: unknown telepathy (known: tools, vision, json_schema)",
    ]


def test_a_rule_naming_a_route_the_alias_does_not_have(db):
    doc = _doc()
    doc["models"][0]["rules"][0]["use"] = [{"provider": "backup", "upstream_model": "m-small"}]

    assert _problems(doc) == ["models[0].rules[0].use[0]: backup/m-small is not a route of this model"]


def test_a_rule_naming_a_shadow_route(db):
    doc = _doc()
    doc["models"][0]["rules"][0]["use"] = [{"provider": "candidate", "upstream_model": "m-next"}]

    assert _problems(doc) == ["models[0].rules[0].use[0]: candidate/m-next is a shadow route: shadow routes never "
                              "serve callers"]


def test_a_rule_without_routes(db):
    doc = _doc()
    doc["models"][0]["rules"][0]["use"] = []

    assert _problems(doc)[0].startswith("models[0].rules[0].use: must list the routes to use")


def test_rules_without_the_rules_strategy_are_refused(db):
    doc = _doc()
    doc["models"][0]["strategy"] = "weighted"

    assert _problems(doc) == ["models[0].rules: only strategy rules uses rules (this model's strategy is weighted): "
                              "set strategy: rules or remove them"]


def test_a_rule_naming_an_unknown_team(db, make_tenant):
    make_tenant("alpha")
    doc = _doc()
    doc["models"][0]["rules"][0]["when"] = {"tenants": ["alpha", "alhpa"]}

    assert _problems(doc) == ["models[0].rules[0].when.tenants: no team 'alhpa'"]


def test_a_prompt_range_upside_down(db):
    doc = _doc()
    doc["models"][0]["rules"][0]["when"] = {"min_prompt_tokens": 5000, "max_prompt_tokens": 100}

    assert _problems(doc) == ["models[0].rules[0].when.max_prompt_tokens: cannot be below min_prompt_tokens"]


@pytest.mark.parametrize(("shadow", "message"), [
    (1.5, "must be a share from 0 to 1 (0.1 is a tenth)"),
    (-0.1, "cannot be negative"),
    ("half", "must be a number"),
    (0.12345, "takes at most four decimals"),
])
def test_a_shadow_share_outside_0_to_1(db, shadow, message):
    doc = _doc()
    doc["models"][0]["routes"][2]["shadow"] = shadow

    assert _problems(doc) == [f"models[0].routes[2].shadow: {message}"]


def test_only_shadow_routes(db):
    doc = _doc()
    del doc["models"][0]["rules"]
    doc["models"][0]["routes"] = [doc["models"][0]["routes"][2]]

    assert _problems(doc) == ["models[0].routes: needs a route that serves callers: shadow routes only get a copy "
                              "of calls"]


@pytest.mark.parametrize(("value", "message"), [(-1, "cannot be negative"), (0, "must be more than zero"),
                                                (2.5, "must be a whole number")])
def test_a_bad_max_in_flight(db, value, message):
    doc = _doc()
    doc["models"][0]["routes"][0]["max_in_flight"] = value

    assert _problems(doc) == [f"models[0].routes[0].max_in_flight: {message}"]


def test_a_bad_variant(db):
    doc = _doc()
    doc["models"][0]["routes"][0]["variant"] = "variant a"

    assert _problems(doc)[0].startswith("models[0].routes[0].variant: must be a short label")


def test_every_problem_at_once_and_no_audit_event(db):
    doc = _doc()
    doc["models"][0]["strategy"] = "fastest"
    doc["models"][0]["routes"][2]["shadow"] = 2
    doc["models"][0]["rules"][0]["when"] = {"planet": ["earth"]}

    assert [p.split(":")[0] for p in _problems(doc)] == [
        "models[0].strategy", "models[0].routes[2].shadow", "models[0].rules[0].when.planet"]
    assert not AuditEvent.objects.exists()
