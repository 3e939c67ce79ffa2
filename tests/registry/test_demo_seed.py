"""`manage.py seed_demo` registers the demo provider and models, with full cards, idempotently."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from registry.lifecycle import lifecycle_headers
from registry.models import ModelAlias, Provider
from registry.selectors import routing_table


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
