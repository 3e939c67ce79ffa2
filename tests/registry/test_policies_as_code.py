"""Guardrail policies in the registry file: `registry apply` makes them, a second apply changes nothing,
`registry export` gives them back, and a wrong entry is refused naming its path with nothing applied."""

from __future__ import annotations

from io import StringIO

import pytest
import yaml
from django.core.management import call_command

from aiplatform.models import AuditEvent
from registry.as_code import RegistryFileInvalid, apply_registry
from registry.models import Policy
from registry.selectors import policy_table

MODELS = """
providers:
  - {name: local-openai, kind: openai-compatible, base_url: "http://127.0.0.1:18080/v1"}
models:
  - alias: fast-chat
    kind: chat
    status: approved
    routes:
      - {provider: local-openai, upstream_model: gpt-4o-mini, weight: 100}
"""

POLICIES = MODELS + """
policies:
  - name: pii-basic
    applies_to: {aliases: [fast-chat]}
    input:
      - {detector: payment_card, action: block}
      - {detector: email, action: mask}
    output:
      - {detector: email, action: mask}
    unmask_output: true
  - name: eu-residency
    description: EU teams' data stays in the EU
    applies_to: {regions: [eu]}
    residency: {regions: [eu-west-1, eu]}
    payload_logging: off
    enabled: false
"""


def _apply(path, *args) -> str:
    out = StringIO()
    call_command("registry", "apply", str(path), *args, stdout=out)
    return out.getvalue()


def _export() -> str:
    out = StringIO()
    call_command("registry", "export", stdout=out)
    return out.getvalue()


def test_apply_creates_the_policies_and_the_gateway_table_reads_them(db, tmp_path):
    (tmp_path / "r.yaml").write_text(POLICIES)

    output = _apply(tmp_path / "r.yaml")

    assert "created   policy pii-basic" in output
    assert "created   policy eu-residency" in output
    pii = Policy.objects.get(name="pii-basic")
    assert (pii.version, pii.enabled) == (1, True)
    assert [r["detector"] for r in pii.document["input"]] == ["email", "payment_card"]  # the catalogue's order
    assert not Policy.objects.get(name="eu-residency").enabled
    assert [spec.name for spec in policy_table()] == ["pii-basic"]  # only enabled ones reach the gateway
    assert AuditEvent.objects.filter(action="policy.create").count() == 2


def test_a_second_apply_and_an_applied_export_change_nothing(db, tmp_path):
    (tmp_path / "a.yaml").write_text(POLICIES)
    _apply(tmp_path / "a.yaml")
    events = AuditEvent.objects.exclude(action="registry.apply").count()

    assert "0 created, 0 changed" in _apply(tmp_path / "a.yaml")
    first = _export()
    (tmp_path / "b.yaml").write_text(first)
    assert "0 created, 0 changed" in _apply(tmp_path / "b.yaml")

    assert _export() == first
    assert AuditEvent.objects.exclude(action="registry.apply").count() == events
    assert Policy.objects.get(name="pii-basic").version == 1
    exported = {p["name"]: p for p in yaml.safe_load(first)["policies"]}
    assert exported["eu-residency"]["enabled"] is False
    assert exported["eu-residency"]["residency"] == {"regions": ["eu", "eu-west-1"]}


def test_a_changed_rule_makes_a_new_version_and_enabling_does_not(db):
    apply_registry(POLICIES)
    changed = POLICIES.replace("{detector: payment_card, action: block}", "{detector: payment_card, action: mask}")
    changed = changed.replace("    enabled: false\n", "")

    result = apply_registry(changed)

    assert sorted(str(c) for c in result.changes if c.kind == "policy") == [
        "changed   policy eu-residency (enabled)", "changed   policy pii-basic (document)"]
    assert Policy.objects.get(name="pii-basic").version == 2
    assert Policy.objects.get(name="eu-residency").version == 1
    assert Policy.objects.get(name="eu-residency").enabled


def test_a_file_without_policies_leaves_them_and_prune_with_policies_removes_the_unnamed(db):
    apply_registry(POLICIES)

    apply_registry(MODELS, prune=True)
    assert Policy.objects.count() == 2

    apply_registry(MODELS + "policies:\n  - {name: pii-basic, applies_to: {aliases: [fast-chat]}, "
                   "input: [{detector: email, action: mask}]}\n", prune=True)
    assert list(Policy.objects.values_list("name", flat=True)) == ["pii-basic"]
    assert AuditEvent.objects.filter(action="policy.delete").count() == 1


@pytest.mark.parametrize(("entry", "path", "message"), [
    ("{name: p, input: [{detector: email, action: explode}]}", "policies[0].input[0].action", "explode"),
    ("{name: p, input: [{detector: telepathy, action: block}]}", "policies[0].input[0].detector", "telepathy"),
    ("{name: p, applies_to: {aliases: [no-such-model]}}", "policies[0].applies_to.aliases", "no-such-model"),
    ("{name: p, applies_to: {tenants: [no-such-team]}}", "policies[0].applies_to.tenants", "no-such-team"),
    ("{name: 'not a slug!'}", "policies[0].name", "slug"),
    ("{name: p, enabled: maybe}", "policies[0].enabled", "true or false"),
    ("{name: p, colour: red}", "policies[0].colour", "unknown key"),
    ("{input: []}", "policies[0].name", "required"),
])
def test_a_wrong_entry_is_refused_naming_its_path_and_nothing_is_applied(db, entry, path, message):
    with pytest.raises(RegistryFileInvalid) as refused:
        apply_registry(MODELS + f"policies:\n  - {entry}\n")

    problems = [(p.path, p.message) for p in refused.value.problems]
    assert any(where == path and message in text for where, text in problems), problems
    assert not Policy.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="policy.").exists()


def test_a_policy_listed_twice_is_refused(db):
    with pytest.raises(RegistryFileInvalid) as refused:
        apply_registry(MODELS + "policies:\n  - {name: p}\n  - {name: p}\n")
    assert [p.path for p in refused.value.problems] == ["policies[1].name"]
