"""`manage.py seed_demo` registers the demo provider and models, with full cards, idempotently."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from registry.lifecycle import lifecycle_headers
from registry.models import ModelAlias, Policy, Provider
from registry.selectors import policy_table, routing_table
from registry.services_policies import set_policy_enabled


@pytest.mark.smoke
def test_the_demo_seed_registers_a_callable_demo_chat(db):
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())  # again: nothing new

    assert Provider.objects.get(name="demo").kind == "demo"
    chat = ModelAlias.objects.get(name="demo-chat")
    assert chat.status == "approved" and chat.card.summary and chat.card.evaluations and chat.card.version == 1
    table = routing_table()
    assert table["demo-chat"].routes[0].provider_kind == "demo"
    assert table["demo-chat"].routes[0].api_key_ref == ""
    assert "streaming" in table["demo-chat"].capabilities
    assert table["demo-embed"].kind == "embeddings"
    assert lifecycle_headers(table["demo-chat"]) == {}


def test_the_demo_seed_offers_the_baseline_policy_disabled_and_leaves_an_admins_choice(db):
    call_command("seed_demo", stdout=StringIO())
    baseline = Policy.objects.get(name="baseline")
    assert not baseline.enabled  # the demo answers as before until an admin turns it on
    assert {r["detector"] for r in baseline.document["input"]} >= {"email", "payment_card", "prompt_injection"}
    assert policy_table() == ()

    set_policy_enabled(actor=None, policy=baseline, enabled=True)
    call_command("seed_demo", stdout=StringIO())
    assert [p.name for p in policy_table()] == ["baseline"]  # seeding again leaves it as the admin set it
