"""Prompt APIs in the registry file (issue 16, part 3): `registry apply` makes them with their versions and
labels, a second apply and an applied export change nothing, and a file that edits a published version, uses
an undeclared variable or points a label at nothing is refused naming its path, with nothing applied."""

from __future__ import annotations

import pytest
import yaml

from aiplatform.models import AuditEvent
from aiplatform.roles import PlatformRole, TenantRole
from registry.as_code import RegistryFileInvalid, apply_registry, export_registry
from registry.models import ModelAlias, PromptApi, PromptVersion
from registry.selectors_prompts import resolve

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]

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

PROMPTS = MODELS + """
prompts:
  - slug: summarise
    title: Summarise in bullets
    team: alpha
    owners: [author@example.com]
    versions:
      - model: fast-chat
        template: "Summarise {{ text }} in {{ n }} bullets"
        variables: [{name: text}, {name: n, type: integer, default: 3}]
        temperature: 0.2
        note: First
      - model: fast-chat
        template: "In {{ n }} bullets: {{ text }}"
        system_prompt: Be terse.
        variables: [{name: text}, {name: n, type: integer, default: 3}]
        max_tokens: 300
      - model: fast-chat
        template: "Draft: {{ text }}"
        variables: [{name: text}]
        published: false
    labels: {production: 1, staging: 2}
"""


@pytest.fixture
def author(tenant_a, make_member):
    return make_member(tenant_a, TenantRole.DEVELOPER, email="author@example.com")


def test_apply_makes_prompts_and_an_export_applies_to_no_change(author):
    result = apply_registry(PROMPTS)
    assert "created   prompt summarise" in [str(c) for c in result.changes]
    assert [resolve(ref).number for ref in ("summarise", "summarise@staging", "summarise@2")] == [1, 2, 2]
    v1 = resolve("summarise@1")
    assert (v1.template, str(v1.temperature), v1.variables[1]["default"]) == (
        "Summarise {{ text }} in {{ n }} bullets", "0.20", 3)
    assert PromptVersion.objects.get(number=3).status == "draft"
    assert list(PromptApi.objects.get().owners.values_list("email", flat=True)) == ["author@example.com"]

    again = apply_registry(PROMPTS)
    assert [c for c in again.changes if c.action != "unchanged"] == []
    exported = export_registry()
    assert exported["prompts"][0]["labels"] == {"production": 1, "staging": 2}
    assert exported["prompts"][0]["versions"][2]["published"] is False
    assert [c for c in apply_registry(yaml.safe_dump(exported)).changes if c.action != "unchanged"] == []
    # The prompt's own alias (what teams subscribe to) is not a model of the file: never exported, never pruned.
    assert "summarise" not in {m["alias"] for m in exported["models"]}
    assert [c for c in apply_registry(yaml.safe_dump(exported), prune=True).changes if c.action == "removed"] == []
    assert ModelAlias.objects.filter(name="summarise", kind="prompt").exists()


@pytest.mark.parametrize(("edit", "path", "message"), [
    (lambda f: f.replace("Summarise {{ text }} in", "Sum up {{ text }} in"), "prompts[0].versions[0]",
     "version 1 of summarise is published and differs"),
    (lambda f: f.replace("Draft: {{ text }}", "Draft: {{ text }} for {{ reader }}"),
     "prompts[0].versions[2].template", "undefined variable reader"),
    (lambda f: f.replace("staging: 2", "staging: 7"), "prompts[0].labels.staging", "points at nothing"),
    (lambda f: f.replace("staging: 2", "staging: 3"), "prompts[0].labels.staging", "version 3 is not published"),
    (lambda f: f.replace("team: alpha", "team: nowhere"), "prompts[0].team", "no team 'nowhere'"),
    (lambda f: f.replace("model: fast-chat\n        template: \"Draft", "model: missing\n        template: \"Draft"),
     "prompts[0].versions[2].model", "unknown model 'missing'"),
])
def test_a_wrong_file_is_refused_naming_its_path(author, edit, path, message):
    apply_registry(PROMPTS)
    before = list(PromptVersion.objects.values_list("number", "template", "status"))
    with pytest.raises(RegistryFileInvalid) as refused:
        apply_registry(edit(PROMPTS))
    assert any(p.path == path and message in p.message for p in refused.value.problems), refused.value.problems
    assert list(PromptVersion.objects.values_list("number", "template", "status")) == before


def test_with_approval_the_apply_requests_instead_of_publishing(author, make_user):
    file = PROMPTS.replace("    owners: [author@example.com]\n",
                           "    owners: [author@example.com]\n    requires_approval: true\n")
    file = file[:file.index("    labels:")]  # labels need published versions
    result = apply_registry(file, actor=make_user("admin@example.com", platform_role=PlatformRole.PLATFORM_ADMIN))
    assert "requested prompt version summarise@1 (published)" in [str(c) for c in result.changes]
    assert set(PromptVersion.objects.values_list("status", flat=True)) == {"pending", "draft"}
    assert AuditEvent.objects.filter(action="prompt.change_request").count() == 2  # versions 1 and 2
