"""`registry apply --dry-run` prints the diff and changes nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from aiplatform import config_version
from aiplatform.models import AuditEvent
from registry.models import ModelAlias, Provider

FILE = """
providers:
  - {name: local-openai, kind: openai-compatible, base_url: "http://127.0.0.1:18080/v1", api_key: "env:KEY"}
models:
  - alias: fast-chat
    status: approved
    routes: [{provider: local-openai, upstream_model: gpt-4o-mini}]
"""


@pytest.mark.smoke
def test_dry_run_shows_the_diff_but_changes_nothing(db, tmp_path):
    path = tmp_path / "registry.yaml"
    path.write_text(FILE)
    version, events = config_version.current("registry"), AuditEvent.objects.count()
    out = StringIO()

    call_command("registry", "apply", str(path), "--dry-run", stdout=out)

    assert "created   provider local-openai" in out.getvalue()
    assert "created   model fast-chat" in out.getvalue()
    assert "dry run" in out.getvalue()
    assert not Provider.objects.exists()
    assert not ModelAlias.objects.exists()
    assert AuditEvent.objects.count() == events
    assert config_version.current("registry") == version


def test_dry_run_of_a_change_leaves_the_old_values(db, tmp_path):
    path = tmp_path / "registry.yaml"
    path.write_text(FILE)
    call_command("registry", "apply", str(path), stdout=StringIO())
    path.write_text(FILE.replace("status: approved", "status: deprecated\n    deprecated_on: 2025-01-01"))
    out = StringIO()

    call_command("registry", "apply", str(path), "--dry-run", stdout=out)

    assert "changed   model fast-chat (deprecated_on, status)" in out.getvalue()
    assert ModelAlias.objects.get(name="fast-chat").status == "approved"
