"""The roles a person can hold: in a tenant (team), and on the platform as a whole."""

from __future__ import annotations

from django.db import models


class TenantRole(models.TextChoices):
    """Roles inside one tenant, weakest first. Each includes what the weaker ones may do."""

    VIEWER = "viewer", "Viewer"
    DEVELOPER = "developer", "Developer"
    ADMIN = "admin", "Admin"
    OWNER = "owner", "Owner"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self) -> list[str]:
        """This role and every stronger one (for ``role__in`` filters)."""
        return [role.value for role in TenantRole if role.rank >= self.rank]


_RANK = {role: i for i, role in enumerate(TenantRole)}


class PlatformRole(models.TextChoices):
    """Roles across all tenants."""

    PLATFORM_ADMIN = "platform-admin", "Platform admin"
    MODEL_OWNER = "model-owner", "Model owner"
    AUDITOR = "auditor", "Auditor"


class Region(models.TextChoices):
    """Where a tenant's data may be processed; geo and residency policies read it."""

    EU = "eu", "European Union"
    UK = "uk", "United Kingdom"
    US = "us", "United States"
    US_CA = "us-ca", "United States — California"  # CCPA: a policy can apply to California teams
    APAC = "apac", "Asia-Pacific"
    GLOBAL = "global", "Global (no restriction)"
