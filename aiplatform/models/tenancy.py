"""Tenants (teams), their members, invitations, and the tenant-scoping query layer.

Every model that belongs to a tenant inherits ``TenantOwned``; its default manager is
a ``TenantScopedQuerySet``, and selectors reach tenant data only through
``for_user()``. That is the one place tenant isolation is enforced.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from aiplatform.roles import Region, TenantRole


class TenantScopedQuerySet(models.QuerySet):
    """Rows visible to a user: those of tenants they belong to (with at least ``min_role``).

    Platform admins and auditors see every tenant's rows. Models whose tenant is reached
    through a relation set ``tenant_path`` (for example ``"application__tenant"``).
    """

    def _tenant_path(self) -> str:
        return getattr(self.model, "tenant_path", "tenant")

    def for_user(self, user, *, min_role: TenantRole = TenantRole.VIEWER) -> TenantScopedQuerySet:
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        if user.is_platform_admin or (user.is_auditor and min_role == TenantRole.VIEWER):
            return self.all()
        path = self._tenant_path()
        tenant_ids = Membership.objects.filter(user=user, role__in=min_role.at_least()).values("tenant_id")
        return self.filter(**{f"{path}__in": tenant_ids})

    def for_tenant(self, tenant: Tenant) -> TenantScopedQuerySet:
        return self.filter(**{self._tenant_path(): tenant})


class Tenant(models.Model):
    """A team: the unit that owns applications, subscriptions, keys and spend."""

    slug = models.SlugField(
        max_length=63,
        unique=True,
        validators=[RegexValidator(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$", "Lower-case letters, digits and dashes.")],
    )
    name = models.CharField(max_length=200)
    region = models.CharField(
        max_length=16, choices=Region.choices, default=Region.GLOBAL, help_text="Where its data may be processed."
    )
    cost_centre = models.CharField(max_length=64, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantScopedQuerySet.as_manager()
    tenant_path = "pk"

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def tenant(self) -> Tenant:
        """A tenant is its own tenant, so permission checks treat it like any tenant object."""
        return self


class TenantOwned(models.Model):
    """Abstract base for every model that belongs to exactly one tenant."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        abstract = True


class Membership(models.Model):
    """A user's role in a tenant."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=TenantRole.choices, default=TenantRole.DEVELOPER)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="one_membership_per_tenant")]
        ordering = ["tenant__name", "user__email"]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.tenant}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Invitation(models.Model):
    """An invitation to join a tenant. Its token is sent by e-mail and stored only hashed."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=TenantRole.choices, default=TenantRole.DEVELOPER)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.tenant}"

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.expires_at > timezone.now()
