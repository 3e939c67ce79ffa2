"""API keys of applications, and personal access tokens of people (for the REST API).

Neither secret is stored: only its SHA-256 (the secrets are long and random, so a fast hash is
right; the gateway hashes every presented key) and its first characters, to recognise it.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone

from aiplatform.models import TenantOwned
from portal.models.applications import Application

PREFIX_LENGTH = 12


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey(TenantOwned):
    """A key an application presents to the gateway (``sb-…``)."""

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="keys")
    name = models.CharField(max_length=100, blank=True, help_text="A label, e.g. 'production' or 'ci'.")
    key_prefix = models.CharField(max_length=PREFIX_LENGTH, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never (until revoked).")
    revoked_at = models.DateTimeField(null=True, blank=True, db_index=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    revoked_reason = models.CharField(max_length=500, blank=True)
    replaced_by = models.OneToOneField("self", on_delete=models.SET_NULL, null=True, blank=True,
                                       related_name="replaces", help_text="The key this one was rotated into.")
    ip_allowlist = models.JSONField(default=list, blank=True, help_text="CIDRs it may be used from; empty: any.")
    allowed_aliases = models.JSONField(
        default=list, blank=True,
        help_text="Model aliases this key may call, among its application's subscriptions; empty: all of them.")
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.key_prefix}… ({self.application.name})" if self.application_id else f"{self.key_prefix}…"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return not self.is_revoked and not self.is_expired

    @property
    def state(self) -> str:
        if self.is_revoked:
            return "revoked"
        if self.is_expired:
            return "rotated out" if self.replaced_by_id else "expired"
        if self.replaced_by_id:
            return "rotating"
        return "active"


class PersonalAccessToken(models.Model):
    """A person's token for the REST API (``sbp-…``); it acts with that person's permissions."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens")
    name = models.CharField(max_length=100)
    token_prefix = models.CharField(max_length=PREFIX_LENGTH)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "personal access token"

    def __str__(self) -> str:
        return f"{self.name} ({self.token_prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())
