"""A key's model list restricts it within its application's subscriptions (the gateway's key table)."""

from __future__ import annotations

import json
from io import StringIO

from django.core.management import call_command

from portal import services
from portal.models import ApiKey
from portal.selectors import gateway_key_table


def create(models: str, app: str = "checkout-bot") -> ApiKey:
    out = StringIO()
    call_command("create_api_key", "--tenant", "acme", "--app", app, "--models", models, "--json", stdout=out)
    return ApiKey.objects.get(pk=json.loads(out.getvalue())["key_id"])


def test_a_key_sees_only_its_list_of_its_applications_subscriptions(make_alias):
    for name in ("fast-chat", "demo-chat", "other-chat"):
        make_alias(name)
    wide = create("fast-chat,demo-chat,other-chat")
    narrow = create("fast-chat")  # same application: subscribed to all three

    table = gateway_key_table()
    assert table[wide.key_hash].aliases == {"fast-chat", "demo-chat", "other-chat"}
    assert table[narrow.key_hash].aliases == {"fast-chat"}
    assert table[narrow.key_hash].withheld == {"demo-chat", "other-chat"}


def test_a_listed_model_the_application_is_not_subscribed_to_stays_out(approved, app):
    key = ApiKey.objects.get(pk=services.create_api_key(actor=None, application=app,
                                                        allowed_aliases=["fast-chat", "not-subscribed"])[0].pk)

    assert gateway_key_table()[key.key_hash].aliases == {"fast-chat"}


def test_a_key_without_a_list_sees_every_subscription(api_key):
    grant = gateway_key_table()[api_key.key_hash]
    assert grant.withheld == frozenset() and grant.aliases == {"fast-chat"}


def test_rotation_keeps_the_model_list(make_alias):
    make_alias("fast-chat")
    make_alias("demo-chat")
    create("fast-chat,demo-chat")
    old = create("fast-chat")

    new, _ = services.rotate_api_key(actor=None, key=old)

    assert new.allowed_aliases == ["fast-chat"]
