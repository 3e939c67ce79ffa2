"""`registry apply` of a file, then `registry export`, gives back an equivalent file."""

from __future__ import annotations

from io import StringIO

import pytest
import yaml
from django.core.management import call_command

from aiplatform.models import AuditEvent
from registry.models import Endpoint, ModelAlias, Provider

FILE = """
providers:
  - name: local-openai
    kind: openai-compatible
    base_url: http://127.0.0.1:18080/v1
    api_key: env:LOCAL_OPENAI_KEY
  - name: bedrock-eu
    kind: bedrock
    region: eu-central-1
models:
  - alias: fast-chat
    kind: chat
    status: approved
    routes:
      - {provider: local-openai, upstream_model: gpt-4o-mini, weight: 100}
    pricing: {input_per_mtok: 0.15, output_per_mtok: 0.6}
    card: {summary: "Quick and cheap.", use_cases: [summarization], license: "Vendor EULA"}
  - alias: claude-sonnet
    kind: chat
    status: deprecated
    deprecated_on: '2025-01-15'
    sunset_on: '2030-06-30'
    replacement: fast-chat
    routes:
      - provider: bedrock-eu
        upstream_model: anthropic.claude-3-5-sonnet
        weight: 70
        pricing: {input_per_mtok: 3, output_per_mtok: 15}
        capabilities: [chat, tools, streaming]
        context_window: 200000
      - provider: local-openai
        upstream_model: gpt-4o-mini
        weight: 30
        priority: 1
        pricing: {input_per_mtok: 0.15, output_per_mtok: 0.6}
  - alias: embed-small
    kind: embeddings
    status: evaluating
    routes:
      - {provider: local-openai, upstream_model: text-embedding-3-small, weight: 100}
    pricing: {input_per_mtok: 0.02}
    timeouts: {connect: 2, first_byte: 10, total: 30}
    card:
      summary: Small embeddings.
      evaluations:
        - {name: MTEB, metric: average, value: 62.3, date: '2024-11-02'}
endpoints:
  - {provider: bedrock-eu, upstream_model: amazon.titan-text-lite, capabilities: [chat]}
"""


def _apply(path, *args) -> str:
    out = StringIO()
    call_command("registry", "apply", str(path), *args, stdout=out)
    return out.getvalue()


def _export() -> str:
    out = StringIO()
    call_command("registry", "export", stdout=out)
    return out.getvalue()


@pytest.mark.smoke
def test_apply_then_export_gives_back_the_file(db, tmp_path):
    path = tmp_path / "registry.yaml"
    path.write_text(FILE)

    output = _apply(path)

    assert "created   model fast-chat" in output
    exported = yaml.safe_load(_export())
    original = yaml.safe_load(FILE)
    assert [p["name"] for p in exported["providers"]] == ["bedrock-eu", "local-openai"]
    assert {p["name"]: p for p in exported["providers"]} == {p["name"]: p for p in original["providers"]}
    assert {m["alias"]: m for m in exported["models"]} == {m["alias"]: m for m in original["models"]}
    assert exported["endpoints"] == original["endpoints"]
    assert ModelAlias.objects.get(name="claude-sonnet").replacement.name == "fast-chat"


def test_the_export_applies_as_unchanged_and_exports_identically(db, tmp_path):
    (tmp_path / "a.yaml").write_text(FILE)
    _apply(tmp_path / "a.yaml")
    first = _export()
    (tmp_path / "b.yaml").write_text(first)
    events_before = AuditEvent.objects.exclude(action="registry.apply").count()

    output = _apply(tmp_path / "b.yaml")

    assert "0 created, 0 changed" in output
    assert "unchanged model claude-sonnet" in output
    assert _export() == first
    assert AuditEvent.objects.exclude(action="registry.apply").count() == events_before


def test_the_export_rebuilds_the_same_registry_elsewhere(db, tmp_path):
    (tmp_path / "a.yaml").write_text(FILE)
    _apply(tmp_path / "a.yaml")
    exported = _export()
    ModelAlias.objects.all().delete()
    Endpoint.objects.all().delete()
    Provider.objects.all().delete()
    (tmp_path / "b.yaml").write_text(exported)

    _apply(tmp_path / "b.yaml")

    assert _export() == exported
    sonnet_routes = ModelAlias.objects.get(name="claude-sonnet").routes.order_by("priority")
    assert [(r.endpoint.upstream_model, r.weight, r.priority) for r in sonnet_routes] == [
        ("anthropic.claude-3-5-sonnet", 70, 0), ("gpt-4o-mini", 30, 1)]


def test_a_changed_file_reports_what_changed_and_audits_each_change(db, tmp_path):
    (tmp_path / "a.yaml").write_text(FILE)
    _apply(tmp_path / "a.yaml")
    changed = FILE.replace("input_per_mtok: 0.15", "input_per_mtok: 0.2").replace(
        'summary: "Quick and cheap."', 'summary: "Quick."')
    (tmp_path / "b.yaml").write_text(changed)

    output = _apply(tmp_path / "b.yaml")

    assert "changed   endpoint local-openai/gpt-4o-mini (input_price_per_mtok)" in output
    assert "changed   model fast-chat (card)" in output
    assert AuditEvent.objects.filter(action="endpoint.update").count() == 1
    assert AuditEvent.objects.filter(action="card.update", target_label="fast-chat").count() == 2


def test_prune_removes_what_the_file_no_longer_mentions(db, tmp_path):
    (tmp_path / "a.yaml").write_text(FILE)
    _apply(tmp_path / "a.yaml")
    doc = yaml.safe_load(FILE)
    doc["models"] = [m for m in doc["models"] if m["alias"] == "fast-chat"]
    del doc["endpoints"]
    doc["providers"] = [p for p in doc["providers"] if p["name"] == "local-openai"]
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(doc))

    without_prune = _apply(tmp_path / "b.yaml")
    assert "removed" not in without_prune.replace("0 removed", "")
    output = _apply(tmp_path / "b.yaml", "--prune")

    assert "removed   model claude-sonnet" in output
    assert "removed   provider bedrock-eu" in output
    assert list(ModelAlias.objects.values_list("name", flat=True)) == ["fast-chat"]
    assert list(Provider.objects.values_list("name", flat=True)) == ["local-openai"]
