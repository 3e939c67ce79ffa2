"""May this user do this to that object? The one place that answers.

Actions are named ``noun.verb`` and registered with the roles that grant them. Apps add
their own at import time (``portal`` registers ``subscription.approve`` and so on), so every
check in the code base goes through ``can``/``require`` and every refusal is audited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404

from aiplatform.roles import PlatformRole, TenantRole


@dataclass(frozen=True)
class Rule:
    """Who may perform an action.

    Granted to platform admins, to holders of ``platform_roles``, and to members of the
    object's tenant with at least ``tenant_role``. ``also`` is an extra condition that must
    hold for everyone, admins included (e.g. "not your own request"). ``grants`` is a relation to the
    object that is enough on its own, once ``also`` holds (a prompt API's owners decide its subscriptions).
    """

    tenant_role: TenantRole | None = None
    platform_roles: frozenset[str] = field(default_factory=frozenset)
    also: Callable[[Any, Any], bool] | None = None
    grants: Callable[[Any, Any], bool] | None = None


_RULES: dict[str, Rule] = {}


def register(
    action: str,
    *,
    tenant_role: TenantRole | None = None,
    platform_roles: tuple[str, ...] = (),
    also: Callable[[Any, Any], bool] | None = None,
    grants: Callable[[Any, Any], bool] | None = None,
) -> None:
    """Declare who may perform ``action``. Registering the same action twice is a bug."""
    if action in _RULES:
        raise ValueError(f"permission {action!r} is already registered")
    _RULES[action] = Rule(tenant_role=tenant_role, platform_roles=frozenset(platform_roles), also=also,
                          grants=grants)


def _tenant_role(user, tenant) -> TenantRole | None:
    cache = user.__dict__.setdefault("_tenant_roles", {})
    if tenant.pk not in cache:
        from aiplatform.models import Membership

        role = Membership.objects.filter(user=user, tenant=tenant).values_list("role", flat=True).first()
        cache[tenant.pk] = TenantRole(role) if role else None
    return cache[tenant.pk]


def can(user, action: str, obj: Any = None) -> bool:
    """True when ``user`` may perform ``action`` on ``obj`` (a tenant-owned object, or None)."""
    rule = _RULES.get(action)
    if rule is None:
        raise KeyError(f"unknown permission {action!r}")
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if rule.also is not None and not rule.also(user, obj):
        return False
    if user.is_platform_admin or (rule.platform_roles & user.platform_roles):
        return True
    if rule.grants is not None and rule.grants(user, obj):
        return True
    tenant = getattr(obj, "tenant", None)
    if rule.tenant_role is None or tenant is None:
        return False
    held = _tenant_role(user, tenant)
    return held is not None and held.rank >= rule.tenant_role.rank


def require(user, action: str, obj: Any = None) -> None:
    """Raise ``PermissionDenied`` (and audit the refusal) unless ``can`` allows it.

    Call it before opening a transaction: a refusal's audit row written inside one would be
    rolled back with it.
    """
    if can(user, action, obj):
        return
    from aiplatform.audit import record_event

    record_event(
        action="security.permission_denied",
        actor=user if getattr(user, "is_authenticated", False) else None,
        actor_label=None if getattr(user, "is_authenticated", False) else "anonymous",
        target=obj if isinstance(obj, models.Model) else None,
        changes={"attempted": action},
    )
    raise PermissionDenied(f"Your role does not allow this action ({action}).")


def get_for_user_or_404(queryset: models.QuerySet, user, **lookup) -> models.Model:
    """Fetch one tenant-scoped object the user may see, or 404.

    An object that exists but belongs to another tenant is a 404 too (its existence is not
    revealed), and the probe is audited.
    """
    try:
        return queryset.for_user(user).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        pass
    except queryset.model.MultipleObjectsReturned:
        raise Http404 from None
    foreign = queryset.filter(**lookup).first() if _lookup_is_valid(queryset, lookup) else None
    if foreign is not None:
        from aiplatform.audit import record_event

        record_event(
            action="security.cross_tenant_access",
            actor=user if getattr(user, "is_authenticated", False) else None,
            actor_label=None if getattr(user, "is_authenticated", False) else "anonymous",
            target=foreign,
            changes={"lookup": {k: str(v) for k, v in lookup.items()}},
        )
    raise Http404(f"No {queryset.model._meta.verbose_name} matches the given query.")


def _lookup_is_valid(queryset: models.QuerySet, lookup: dict) -> bool:
    try:
        queryset.filter(**lookup).exists()
    except (ValueError, TypeError):
        return False
    return True


# --- the core's own actions ---------------------------------------------------
register("tenant.view", tenant_role=TenantRole.VIEWER, platform_roles=(PlatformRole.AUDITOR,))
register("tenant.update", tenant_role=TenantRole.ADMIN)
register("tenant.manage_members", tenant_role=TenantRole.ADMIN)
register("tenant.delete", tenant_role=TenantRole.OWNER)
register("tenant.create")  # platform admins only
register("platform.manage_roles")  # platform admins only
register("audit.view", tenant_role=TenantRole.ADMIN, platform_roles=(PlatformRole.AUDITOR,))
