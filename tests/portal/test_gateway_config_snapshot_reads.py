"""The gateway's snapshot is read as of one set of config versions (issue 13, item 6).

A reload reads the rows between two reads of the versions and reads again when a change committed in
between; secrets and tokenizers come after the reads. The integration test of the same claim, against
the real server, is tests/integration/test_config_poller_stays_awake.py.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from aiplatform.models.config_version import ConfigVersion
from gateway import state as gateway_state
from gateway import tokens
from portal import selectors as portal_selectors
from registry import selectors
from tests.integration.gateway_setup import create_key

pytestmark = pytest.mark.smoke

REGISTRY = """
providers:
  - {name: demo-local, kind: demo}
models:
  - alias: early-chat
    kind: chat
    status: approved
    routes: [{provider: demo-local, upstream_model: demo-model, weight: 100}]
"""


@pytest.fixture
def registry_applied(tmp_path):
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY)
    call_command("registry", "apply", str(path), stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_a_change_committed_during_a_read_makes_the_reload_read_again(registry_applied, monkeypatch):
    real_routing_table, calls = selectors.routing_table, []

    def routing_table_then_a_commit():
        calls.append(1)
        table = real_routing_table()
        if len(calls) == 1:  # another process creates a key between this read and the key table's
            create_key("acme", "bot", ["early-chat"])
        return table

    monkeypatch.setattr(selectors, "routing_table", routing_table_then_a_commit)

    snapshot = gateway_state._load(gateway_state.Snapshot())

    assert len(calls) == 2
    assert snapshot.versions == dict(ConfigVersion.objects.values_list("namespace", "version"))
    assert len(snapshot.keys) == 1 and set(snapshot.routing) == {"early-chat"}


@pytest.mark.django_db(transaction=True)
def test_a_reload_loads_the_tokenizers_of_its_endpoints_after_reading_the_database(registry_applied, monkeypatch):
    order, real_key_table = [], portal_selectors.gateway_key_table
    monkeypatch.setattr(portal_selectors, "gateway_key_table", lambda: order.append("keys") or real_key_table())
    monkeypatch.setattr(tokens, "warm", lambda *names: order.append(names))

    snapshot = gateway_state._load(gateway_state.Snapshot())

    assert order == ["keys", ("o200k_base",)]  # the demo endpoint counts as gpt-4o
    assert set(snapshot.routing) == {"early-chat"}


@pytest.mark.django_db(transaction=True)
def test_a_reload_with_nothing_moved_keeps_the_snapshot(registry_applied):
    loaded = gateway_state._load(gateway_state.Snapshot())

    assert gateway_state._load(loaded) is loaded
