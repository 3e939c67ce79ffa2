"""Rotation: a successor key, and the old one keeps working until the overlap window ends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from portal import services
from portal.models import ApiKey
from portal.models.keys import hash_secret
from portal.selectors import gateway_key_table


@pytest.mark.smoke
def test_the_old_key_works_until_the_overlap_ends(api_key, developer):
    before = timezone.now()
    new, secret = services.rotate_api_key(actor=developer, key=api_key, overlap=timedelta(hours=2))

    api_key.refresh_from_db()
    table = gateway_key_table()
    old_grant, new_grant = table[api_key.key_hash], table[hash_secret(secret)]
    assert api_key.replaced_by == new and api_key.is_active and api_key.state == "rotating"
    assert before + timedelta(hours=2) <= old_grant.expires_at <= timezone.now() + timedelta(hours=2)
    assert new_grant.expires_at is None and not new_grant.revoked
    assert old_grant.aliases == new_grant.aliases == frozenset({"fast-chat"})


def test_with_no_overlap_the_old_key_stops_at_once(api_key, developer):
    services.rotate_api_key(actor=developer, key=api_key, overlap=timedelta(0))

    api_key.refresh_from_db()
    assert api_key.is_expired and api_key.state == "rotated out"


def test_the_successor_keeps_the_allow_list_and_lifetime(app, developer, approved):
    key, _ = services.create_api_key(actor=developer, application=app, expires_at=timezone.now() + timedelta(days=30),
                                     ip_allowlist=["10.0.0.0/8"])

    new, _ = services.rotate_api_key(actor=developer, key=key)

    assert new.ip_allowlist == ["10.0.0.0/8"]
    assert timedelta(days=29) < new.expires_at - timezone.now() <= timedelta(days=30)


def test_a_key_is_rotated_once_and_a_revoked_key_not_at_all(api_key, developer):
    new, _ = services.rotate_api_key(actor=developer, key=api_key)
    with pytest.raises(ValidationError, match="already rotated"):
        services.rotate_api_key(actor=developer, key=ApiKey.objects.get(pk=api_key.pk))

    services.revoke_api_key(actor=developer, key=new)
    with pytest.raises(ValidationError, match="revoked key cannot be rotated"):
        services.rotate_api_key(actor=developer, key=new)


def test_the_overlap_is_bounded(api_key, developer):
    with pytest.raises(ValidationError, match="overlap"):
        services.rotate_api_key(actor=developer, key=api_key, overlap=timedelta(days=31))
