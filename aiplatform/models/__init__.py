from aiplatform.models.audit import AuditEvent
from aiplatform.models.config_version import ConfigVersion
from aiplatform.models.identity import PlatformRoleGrant, User
from aiplatform.models.tenancy import Invitation, Membership, Tenant, TenantOwned, TenantScopedQuerySet

__all__ = [
    "AuditEvent",
    "ConfigVersion",
    "Invitation",
    "Membership",
    "PlatformRoleGrant",
    "Tenant",
    "TenantOwned",
    "TenantScopedQuerySet",
    "User",
]
