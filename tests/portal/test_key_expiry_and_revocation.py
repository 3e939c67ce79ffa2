"""Expiry and revocation as the gateway sees them: still listed for a while, marked, then gone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from aiplatform.models import AuditEvent
from portal import services
from portal.models import ApiKey
from portal.selectors import gateway_key_table


def test_a_key_with_an_expiry_carries_it_to_the_gateway(app, developer, approved):
    expires = timezone.now() + timedelta(days=3)
    key, _ = services.create_api_key(actor=developer, application=app, expires_at=expires)

    assert gateway_key_table()[key.key_hash].expires_at == expires


def test_an_expiry_in_the_past_is_refused(app, developer):
    with pytest.raises(ValidationError, match="future"):
        services.create_api_key(actor=developer, application=app, expires_at=timezone.now() - timedelta(seconds=1))


@pytest.mark.smoke
def test_a_revoked_key_is_marked_then_forgotten(api_key, developer):
    services.revoke_api_key(actor=developer, key=api_key, reason="leaked in a log")

    assert gateway_key_table()[api_key.key_hash].revoked is True
    assert AuditEvent.objects.get(action="api_key.revoke").changes["reason"] == "leaked in a log"
    ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=timezone.now() - timedelta(days=8))
    assert api_key.key_hash not in gateway_key_table()


def test_an_expired_key_is_listed_for_a_week(api_key):
    ApiKey.objects.filter(pk=api_key.pk).update(expires_at=timezone.now() - timedelta(days=1))
    assert gateway_key_table()[api_key.key_hash].expires_at < timezone.now()

    ApiKey.objects.filter(pk=api_key.pk).update(expires_at=timezone.now() - timedelta(days=8))
    assert api_key.key_hash not in gateway_key_table()


def test_revoking_twice_is_refused(api_key, developer):
    services.revoke_api_key(actor=developer, key=api_key)

    with pytest.raises(ValidationError, match="already revoked"):
        services.revoke_api_key(actor=developer, key=api_key)


def test_a_key_of_a_deactivated_team_counts_as_revoked(api_key, tenant_a):
    tenant_a.is_active = False
    tenant_a.save()

    assert gateway_key_table()[api_key.key_hash].revoked is True
