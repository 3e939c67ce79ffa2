"""The gateway's key table: plain data, only approved and unsuspended aliases, two queries."""

from __future__ import annotations

import dataclasses

import pytest

from portal import services
from portal.selectors import KeyGrant, gateway_key_table


@pytest.mark.smoke
def test_a_key_grant_carries_what_the_gateway_needs(api_key, app, tenant_a):
    grant = gateway_key_table()[api_key.key_hash]

    assert isinstance(grant, KeyGrant) and dataclasses.is_dataclass(grant)
    assert grant == KeyGrant(
        key_id=api_key.pk, key_prefix=api_key.secret[:12], tenant_id=tenant_a.pk, tenant_slug="alpha",
        tenant_region=tenant_a.region, application_id=app.pk, application_name="checkout-bot", environment="dev",
        data_classification="internal", aliases=frozenset({"fast-chat"}), expires_at=None, revoked=False,
        ip_allowlist=(),
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        grant.revoked = True  # type: ignore[misc]


def test_only_approved_unsuspended_subscriptions_give_aliases(api_key, app, developer, model_owner, make_alias,
                                                              approved):
    pending_alias = make_alias("pending-model", owners=[model_owner])
    rejected_alias = make_alias("rejected-model", owners=[model_owner])
    services.request_subscription(actor=developer, application=app, alias=pending_alias, use_case="later")
    rejected = services.request_subscription(actor=developer, application=app, alias=rejected_alias, use_case="no")
    services.reject_subscription(actor=model_owner, subscription=rejected, comment="no")

    assert gateway_key_table()[api_key.key_hash].aliases == {"fast-chat"}

    services.suspend_subscription(actor=model_owner, subscription=approved, comment="cost review")
    assert gateway_key_table()[api_key.key_hash].aliases == frozenset()


def test_another_teams_subscriptions_do_not_leak_into_a_key(api_key, tenant_b, make_member, make_alias):
    other_dev = make_member(tenant_b)
    theirs = make_alias("their-model")
    their_app = services.create_application(actor=other_dev, tenant=tenant_b, name="their-bot")
    services.grant_subscription(application=their_app, alias=theirs, reason="test")

    assert "their-model" not in gateway_key_table()[api_key.key_hash].aliases


def test_the_ip_allow_list_reaches_the_gateway_in_canonical_form(api_key, developer):
    services.set_key_ip_allowlist(actor=developer, key=api_key, ip_allowlist="10.1.2.3/8, 192.168.0.7, 2001:db8::/32")

    assert gateway_key_table()[api_key.key_hash].ip_allowlist == ("10.0.0.0/8", "192.168.0.7/32", "2001:db8::/32")


def test_a_bad_allow_list_entry_is_named(api_key, developer):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="'10.0.0.300' is not an IP address"):
        services.set_key_ip_allowlist(actor=developer, key=api_key, ip_allowlist=["10.0.0.300"])


def test_the_table_is_two_queries_however_many_keys(app, developer, approved, django_assert_max_num_queries):
    for _ in range(5):
        services.create_api_key(actor=developer, application=app)

    with django_assert_max_num_queries(2):
        table = gateway_key_table()

    assert len(table) == 5 and all(g.aliases == {"fast-chat"} for g in table.values())
