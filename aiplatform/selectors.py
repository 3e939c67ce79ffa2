"""Read-only queries of the core. Tenant data is always reached through ``for_user``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from django.db.models import QuerySet

from aiplatform.models import AuditEvent, Invitation, Membership, Tenant, User
from aiplatform.models.tenancy import hash_token
from aiplatform.roles import TenantRole


def tenants_for_user(user) -> QuerySet[Tenant]:
    """Tenants the user belongs to (all of them, for platform admins and auditors)."""
    return Tenant.objects.for_user(user).order_by("name")


def memberships_of_user(user) -> QuerySet[Membership]:
    """The user's own memberships, with their tenants."""
    return Membership.objects.filter(user=user, tenant__is_active=True).select_related("tenant")


def members_of_tenant(tenant: Tenant, *, viewer) -> QuerySet[Membership]:
    """Members of ``tenant`` as seen by ``viewer`` (empty when the viewer cannot see it)."""
    return Membership.objects.for_user(viewer).filter(tenant=tenant).select_related("user").order_by("user__email")


def open_invitations_of_tenant(tenant: Tenant, *, viewer) -> QuerySet[Invitation]:
    from django.utils import timezone

    return Invitation.objects.for_user(viewer, min_role=TenantRole.ADMIN).filter(
        tenant=tenant, accepted_at__isnull=True, expires_at__gt=timezone.now()
    )


def active_user_by_email(email: str) -> User | None:
    """The active account with this e-mail address (any case), or None."""
    return User.objects.filter(email__iexact=email.strip(), is_active=True).first()


def invitation_by_token(token: str) -> Invitation | None:
    return Invitation.objects.select_related("tenant").filter(token_hash=hash_token(token)).first()


def audit_events_for(user, *, tenant: Tenant | None = None, action_prefix: str = "", actor: str = "",
                     since: date | None = None, until: date | None = None) -> QuerySet[AuditEvent]:
    """Audit events the user may read, newest first: all for platform admins and auditors, else their admin
    tenants'. Narrowed to a tenant, an action prefix, an actor (part of the label) and UTC days, inclusive."""
    events = AuditEvent.objects.order_by("-seq")
    if not (user.is_platform_admin or user.is_auditor):
        events = events.filter(tenant_id__in=audit_tenants_for(user).values("pk"))
    if tenant is not None:
        events = events.filter(tenant_id=tenant.pk)
    if action_prefix:
        events = events.filter(action__startswith=action_prefix)
    if actor:
        events = events.filter(actor_label__icontains=actor)
    if since:
        events = events.filter(occurred_at__gte=datetime.combine(since, time.min, tzinfo=UTC))
    if until:
        events = events.filter(occurred_at__lt=datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC))
    return events


def audit_tenants_for(user) -> QuerySet[Tenant]:
    """The tenants whose audit events the user may read (every one for platform admins and auditors)."""
    if user.is_platform_admin or user.is_auditor:
        return Tenant.objects.order_by("name")
    admin_of = Membership.objects.filter(user=user, role__in=TenantRole.ADMIN.at_least()).values("tenant_id")
    return Tenant.objects.filter(pk__in=admin_of).order_by("name")


def may_read_audit(user) -> bool:
    """Platform admins, auditors, and admins or owners of at least one team (who see their teams' events)."""
    return (
        user.is_platform_admin
        or user.is_auditor
        or Membership.objects.filter(user=user, role__in=TenantRole.ADMIN.at_least()).exists()
    )


def needs_mfa_enrolment(user) -> bool:
    """A platform admin without a TOTP authenticator (checked once per session request)."""
    if not user.is_platform_admin:
        return False
    from allauth.mfa.models import Authenticator

    return not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
