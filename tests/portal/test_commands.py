"""The operator commands: create_api_key makes what is missing and prints the secret once; revoke_api_key."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from aiplatform.models import AuditEvent, Tenant
from portal.models import ApiKey, Application, Subscription
from portal.models.keys import hash_secret
from portal.selectors import gateway_key_table


def create(*args: str) -> str:
    out = StringIO()
    call_command("create_api_key", *args, stdout=out)
    return out.getvalue()


@pytest.mark.smoke
def test_create_api_key_makes_team_app_subscriptions_and_key(make_alias):
    make_alias("fast-chat")
    make_alias("embed-small", kind="embeddings")

    output = create("--tenant", "acme", "--app", "checkout-bot", "--models", "fast-chat,embed-small", "--json")

    data = json.loads(output)
    assert set(data) == {"key", "key_id"} and isinstance(data["key_id"], str)
    key = ApiKey.objects.get(pk=int(data["key_id"]))
    assert key.key_hash == hash_secret(data["key"])
    assert Tenant.objects.filter(slug="acme").exists() and Application.objects.filter(name="checkout-bot").exists()
    subs = Subscription.objects.filter(application=key.application)
    assert {(s.alias.name, s.status, s.decided_by_label) for s in subs} == {
        ("fast-chat", "approved", "system"), ("embed-small", "approved", "system")}
    assert gateway_key_table()[key.key_hash].aliases == {"fast-chat", "embed-small"}
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"tenant.create", "application.create", "subscription.request", "subscription.approve",
            "api_key.create"} <= actions


def test_running_it_again_reuses_what_exists(make_alias):
    make_alias("fast-chat")
    first = json.loads(create("--tenant", "acme", "--app", "bot", "--models", "fast-chat", "--json"))
    second = json.loads(create("--tenant", "acme", "--app", "bot", "--models", "fast-chat", "--json"))

    assert first["key"] != second["key"]
    assert Application.objects.count() == 1 and Subscription.objects.count() == 1


def test_without_json_it_says_the_key_is_shown_once(make_alias):
    make_alias("fast-chat")

    output = create("--tenant", "acme", "--app", "bot", "--models", "fast-chat", "--expires-in-days", "7")

    key = ApiKey.objects.get()
    assert "shown this once" in output and key.expires_at is not None
    assert output.strip().splitlines()[-1].startswith("sb-")


def test_an_unknown_alias_creates_nothing(make_alias):
    make_alias("fast-chat")

    with pytest.raises(CommandError, match="Unknown model alias.*no-such-model"):
        create("--tenant", "acme", "--app", "bot", "--models", "fast-chat,no-such-model", "--json")

    assert not Tenant.objects.filter(slug="acme").exists()
    assert not ApiKey.objects.exists() and not Application.objects.exists()


def test_revoke_api_key(make_alias):
    make_alias("fast-chat")
    key_id = json.loads(create("--tenant", "acme", "--app", "bot", "--models", "fast-chat", "--json"))["key_id"]
    out = StringIO()

    call_command("revoke_api_key", key_id, stdout=out)

    key = ApiKey.objects.get(pk=key_id)
    assert key.revoked_at is not None and gateway_key_table()[key.key_hash].revoked
    assert f"Revoked key {key_id}" in out.getvalue()
    with pytest.raises(CommandError, match="already revoked"):
        call_command("revoke_api_key", key_id, stdout=StringIO())
    with pytest.raises(CommandError, match="No API key with id 424242"):
        call_command("revoke_api_key", "424242", stdout=StringIO())
