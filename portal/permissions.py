"""Who may do what in the portal. Imported once from ``PortalConfig.ready``.

Team members work on their own team's applications, subscriptions and keys (viewers read,
developers and up change). Subscription requests are decided by platform admins and by model
owners named on the requested alias; nobody decides their own request. Dedicated hosting and
auto-approval rules are for platform admins.
"""

from __future__ import annotations

from aiplatform.permissions import register
from aiplatform.roles import PlatformRole, TenantRole


def is_alias_approver(user, alias) -> bool:
    """Platform admins, and model owners named on ``alias``; for a prompt API's alias, its owners (the prompt's)."""
    if user.is_platform_admin:
        return True
    if alias is None:
        return False
    if alias.kind == "prompt":
        return alias.owners.filter(pk=user.pk).exists()
    return PlatformRole.MODEL_OWNER in user.platform_roles and alias.owners.filter(pk=user.pk).exists()


def _owns_prompt_of(user, request) -> bool:
    """A subscription to a prompt API is decided by the prompt's owners, whatever their platform role."""
    alias = getattr(request, "alias", None)
    return alias is not None and alias.kind == "prompt" and alias.owners.filter(pk=user.pk).exists()


def _may_decide(user, request) -> bool:
    """``request`` is a Subscription or HostingRequest (or None: "is this person an approver at all")."""
    if request is None:
        return True
    if request.requested_by_id is not None and request.requested_by_id == user.pk:
        return False
    return is_alias_approver(user, request.alias)


register("application.view", tenant_role=TenantRole.VIEWER, platform_roles=(PlatformRole.AUDITOR,))
register("application.manage", tenant_role=TenantRole.DEVELOPER)
register("subscription.request", tenant_role=TenantRole.DEVELOPER)
register("subscription.cancel", tenant_role=TenantRole.DEVELOPER)
register("subscription.decide", platform_roles=(PlatformRole.MODEL_OWNER,), also=_may_decide, grants=_owns_prompt_of)
register("key.manage", tenant_role=TenantRole.DEVELOPER)
register("hosting.request", tenant_role=TenantRole.DEVELOPER)
register("hosting.cancel", tenant_role=TenantRole.DEVELOPER)
register("hosting.decide", also=_may_decide)  # platform admins only (and never their own request)
register("auto_approval.manage")  # platform admins only
# Limits on a key or a subscription only narrow what the application's plan allows (every level applies),
# so a team's developers may set them; the application's plan, team caps, model caps and plans are admins'.
register("limits.narrow", tenant_role=TenantRole.DEVELOPER)
register("limits.manage")  # platform admins only
register("usage.view_all", platform_roles=(PlatformRole.AUDITOR,))  # every team's spend, chargeback
register("endpoint.view_health", platform_roles=(PlatformRole.MODEL_OWNER,))  # circuits, errors, latency, in flight


def _may_review_feedback(user, obj) -> bool:
    """``obj`` is a Feedback, a ModelAlias, or None ("does this person review feedback at all")."""
    if obj is None:
        return True
    from registry.models import ModelAlias

    alias = obj if isinstance(obj, ModelAlias) else ModelAlias.objects.filter(name=obj.alias).first()
    return is_alias_approver(user, alias) if alias is not None else user.is_platform_admin


# Feedback on a model's answers is reviewed (triaged, resolved, exported) by its owners and platform admins.
register("feedback.review", platform_roles=(PlatformRole.MODEL_OWNER,), also=_may_review_feedback)


def _may_compare_variants(user, alias) -> bool:
    """``alias`` is a ModelAlias: its owners and platform admins compare its variants, across every team."""
    return alias is not None and is_alias_approver(user, alias)


register("variants.compare", platform_roles=(PlatformRole.MODEL_OWNER,), also=_may_compare_variants)


def _may_view_shadows(user, alias) -> bool:
    """``alias`` is a ModelAlias, or None ("does this person compare shadow traffic at all")."""
    return alias is None or is_alias_approver(user, alias)


# Shadow traffic's answers (any team's mirrored calls) are compared by the alias's owners and platform admins.
register("shadow.view", platform_roles=(PlatformRole.MODEL_OWNER,), also=_may_view_shadows)


def may_view_guardrails(user) -> bool:
    """Platform auditors and admins (every team's decisions) and the admins of a team (their team's)."""
    from aiplatform.models import Membership

    if user.is_platform_admin or user.is_auditor:
        return True
    return Membership.objects.filter(user=user, role__in=TenantRole.ADMIN.at_least()).exists()


def may_dry_run(user) -> bool:
    """Platform auditors and admins, and the developers (and up) of any team."""
    from aiplatform.models import Membership

    if user.is_platform_admin or user.is_auditor:
        return True
    return Membership.objects.filter(user=user, role__in=TenantRole.DEVELOPER.at_least()).exists()


# Guardrail decisions: a team's admins read their team's (checked per team), auditors every team's.
register("guardrails.view", tenant_role=TenantRole.ADMIN, platform_roles=(PlatformRole.AUDITOR,))
# The dry-run keeps nothing; a team's developers try the policies that may apply to their calls.
register("guardrails.dry_run", tenant_role=TenantRole.DEVELOPER, platform_roles=(PlatformRole.AUDITOR,))
# A call's kept text is read by platform auditors alone (not platform admins without the auditor role).
register("payload.view", platform_roles=(PlatformRole.AUDITOR,), also=lambda user, obj: user.is_auditor)
