"""A bad registry file changes nothing and lists every problem with file, path and message."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from aiplatform.models import AuditEvent
from registry.as_code import RegistryFileInvalid, apply_registry
from registry.models import ModelAlias, Provider

BAD = """
providers:
  - {name: good, kind: openai-compatible, base_url: "http://127.0.0.1:1/v1"}
models:
  - alias: ok-model
    status: approved
    routes: [{provider: good, upstream_model: m1}]
  - alias: broken
    status: shipped
    routes:
      - {provider: nowhere, upstream_model: m2}
      - {weight: 10}
    pricing: {input_per_mtok: -1}
"""


@pytest.mark.smoke
def test_every_problem_is_listed_and_nothing_is_applied(db, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    err = StringIO()

    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("registry", "apply", str(path), stdout=StringIO(), stderr=err)

    lines = err.getvalue().splitlines()
    assert f"{path}: models[1].status: 'shipped' is not one of draft, evaluating, approved, deprecated, retired" in lines
    assert f"{path}: models[1].routes[0].provider: unknown provider 'nowhere'" in lines
    assert any(line.startswith(f"{path}: models[1].routes[1]: ") and "leads nowhere" in line for line in lines)
    assert f"{path}: models[1].pricing.input_per_mtok: cannot be negative" in lines
    assert len(lines) == 4
    assert not Provider.objects.exists()
    assert not ModelAlias.objects.exists()


def test_a_plain_secret_is_refused_without_being_repeated(db):
    doc = {"providers": [{"name": "p", "kind": "openai", "api_key": "sk-live-abcdef123456"}]}

    with pytest.raises(RegistryFileInvalid) as caught:
        apply_registry(doc, file="f.yaml")

    assert [p.path for p in caught.value.problems] == ["providers[0].api_key"]
    assert "sk-live-abcdef123456" not in str(caught.value)


def test_a_refusal_by_a_service_rolls_back_the_whole_file(db, make_alias):
    make_alias("old-model", status="retired", retired_on="2024-01-01")
    events = AuditEvent.objects.count()
    doc = {
        "providers": [{"name": "fresh", "kind": "demo"}],
        "models": [{"alias": "old-model", "status": "approved"}],
    }

    with pytest.raises(RegistryFileInvalid) as caught:
        apply_registry(doc, file="f.yaml")

    assert caught.value.problems[0].path == "models[0].status"
    assert "retired" in caught.value.problems[0].message
    assert not Provider.objects.filter(name="fresh").exists()
    assert AuditEvent.objects.count() == events


def test_unknown_keys_and_invalid_yaml_are_problems(db):
    with pytest.raises(RegistryFileInvalid) as caught:
        apply_registry({"models": [{"alias": "x", "staus": "approved"}]}, file="f.yaml")
    assert caught.value.problems[0].path == "models[0].staus"

    with pytest.raises(RegistryFileInvalid) as caught:
        apply_registry("models: [\n", file="f.yaml")
    assert "not valid YAML" in caught.value.problems[0].message
