"""Operations that change the core's state: tenants, members, invitations, platform roles.

Each checks permission first (``actor=None`` means the system itself: commands, seed, tasks)
— outside the transaction, so that the audit row of a refusal is not rolled back with it —
then writes in one transaction and records its audit event in that transaction.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from aiplatform.audit import record_event
from aiplatform.models import Invitation, Membership, PlatformRoleGrant, Tenant, User
from aiplatform.models.tenancy import hash_token
from aiplatform.permissions import require
from aiplatform.roles import PlatformRole, Region, TenantRole

INVITATION_VALIDITY = timedelta(days=7)


def _require(actor: User | None, action: str, obj=None) -> None:
    if actor is not None:
        require(actor, action, obj)


def create_tenant(
    *,
    actor: User | None,
    slug: str,
    name: str,
    region: str = Region.GLOBAL,
    cost_centre: str = "",
    owner: User | None = None,
) -> Tenant:
    """Create a team; ``owner`` (default: the actor) becomes its first owner."""
    _require(actor, "tenant.create")
    with transaction.atomic():
        tenant = Tenant(slug=slug, name=name, region=region, cost_centre=cost_centre)
        tenant.full_clean()
        tenant.save()
        record_event(
            action="tenant.create",
            actor=actor,
            tenant=tenant,
            target=tenant,
            changes={"slug": slug, "name": name, "region": region, "cost_centre": cost_centre},
        )
        first_owner = owner or actor
        if first_owner is not None:
            membership = Membership.objects.create(tenant=tenant, user=first_owner, role=TenantRole.OWNER)
            record_event(
                action="membership.create",
                actor=actor,
                tenant=tenant,
                target=membership,
                changes={"user": first_owner.email, "role": TenantRole.OWNER},
            )
        return tenant


def update_tenant(*, actor: User | None, tenant: Tenant, name: str, region: str, cost_centre: str) -> Tenant:
    _require(actor, "tenant.update", tenant)
    with transaction.atomic():
        before = {"name": tenant.name, "region": tenant.region, "cost_centre": tenant.cost_centre}
        tenant.name, tenant.region, tenant.cost_centre = name, region, cost_centre
        tenant.full_clean()
        tenant.save(update_fields=["name", "region", "cost_centre"])
        after = {"name": name, "region": region, "cost_centre": cost_centre}
        record_event(
            action="tenant.update",
            actor=actor,
            target=tenant,
            changes={k: [before[k], after[k]] for k in after if before[k] != after[k]},
        )
        return tenant


def _owners_left(tenant: Tenant, excluding: Membership) -> bool:
    return Membership.objects.filter(tenant=tenant, role=TenantRole.OWNER).exclude(pk=excluding.pk).exists()


def add_member(*, actor: User | None, tenant: Tenant, user: User, role: str) -> Membership:
    """Add ``user`` to ``tenant`` with ``role``; adding an existing member is refused."""
    _require(actor, "tenant.manage_members", tenant)
    _check_role_grant(actor, tenant, role)
    with transaction.atomic():
        if Membership.objects.filter(tenant=tenant, user=user).exists():
            raise ValidationError(f"{user.email} is already a member of {tenant.name}.")
        membership = Membership.objects.create(tenant=tenant, user=user, role=role)
        record_event(
            action="membership.create", actor=actor, target=membership, changes={"user": user.email, "role": role}
        )
        return membership


def change_member_role(*, actor: User | None, membership: Membership, role: str) -> Membership:
    _require(actor, "tenant.manage_members", membership.tenant)
    _check_role_grant(actor, membership.tenant, role)
    _check_role_grant(actor, membership.tenant, membership.role)  # an admin cannot demote an owner
    with transaction.atomic():
        if (
            membership.role == TenantRole.OWNER
            and role != TenantRole.OWNER
            and not _owners_left(membership.tenant, membership)
        ):
            raise ValidationError("A team needs at least one owner; make someone else owner first.")
        before = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        record_event(
            action="membership.change_role",
            actor=actor,
            target=membership,
            changes={"user": membership.user.email, "role": [before, role]},
        )
        return membership


def remove_member(*, actor: User | None, membership: Membership) -> None:
    _require(actor, "tenant.manage_members", membership.tenant)
    _check_role_grant(actor, membership.tenant, membership.role)
    with transaction.atomic():
        if membership.role == TenantRole.OWNER and not _owners_left(membership.tenant, membership):
            raise ValidationError("A team needs at least one owner; make someone else owner first.")
        record_event(
            action="membership.delete",
            actor=actor,
            target=membership,
            changes={"user": membership.user.email, "role": membership.role},
        )
        membership.delete()


def _check_role_grant(actor: User | None, tenant: Tenant, role: str) -> None:
    """Only owners (and platform admins) may hand out or take away the owner role."""
    if role not in TenantRole.values:
        raise ValidationError(f"Unknown role {role!r}.")
    if role == TenantRole.OWNER and actor is not None:
        require(actor, "tenant.delete", tenant)  # owner-level action


def invite_member(*, actor: User | None, tenant: Tenant, email: str, role: str) -> tuple[Invitation, str]:
    """Invite ``email`` to ``tenant``. Returns the invitation and its token (sent by e-mail, stored hashed)."""
    _require(actor, "tenant.manage_members", tenant)
    _check_role_grant(actor, tenant, role)
    email = email.strip().lower()
    with transaction.atomic():
        if Membership.objects.filter(tenant=tenant, user__email__iexact=email).exists():
            raise ValidationError({"email": f"{email} is already a member of {tenant.name}."})
        token = secrets.token_urlsafe(32)
        invitation = Invitation.objects.create(
            tenant=tenant,
            email=email,
            role=role,
            token_hash=hash_token(token),
            invited_by=actor,
            expires_at=timezone.now() + INVITATION_VALIDITY,
        )
        record_event(action="invitation.create", actor=actor, target=invitation, changes={"email": email, "role": role})
        link = settings.SITE_URL.rstrip("/") + reverse("invitation_accept", args=[token])
        transaction.on_commit(
            lambda: send_mail(
                subject=f"You are invited to {tenant.name} on Switchboard",
                message=f"{actor.email if actor else 'Switchboard'} invited you to join {tenant.name} as {role}.\n\n"
                f"Accept within 7 days: {link}\n",
                from_email=None,
                recipient_list=[email],
                fail_silently=True,
            )
        )
        return invitation, token


def accept_invitation(*, invitation: Invitation, user: User) -> Membership:
    """Join the invited tenant. The signed-in user's e-mail must be the invited one."""
    if user.email.lower() != invitation.email.lower():
        # Recorded outside any transaction so the refusal is kept.
        record_event(
            action="security.invitation_mismatch", actor=user, target=invitation, changes={"invited": invitation.email}
        )
        raise ValidationError("This invitation was sent to another e-mail address.")
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if not invitation.is_open:
            raise ValidationError("This invitation has expired or was already used.")
        membership, created = Membership.objects.get_or_create(
            tenant=invitation.tenant, user=user, defaults={"role": invitation.role}
        )
        invitation.accepted_at, invitation.accepted_by = timezone.now(), user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        record_event(
            action="invitation.accept",
            actor=user,
            target=invitation,
            changes={"role": membership.role, "already_member": not created},
        )
        return membership


def grant_platform_role(*, actor: User | None, user: User, role: str) -> PlatformRoleGrant:
    _require(actor, "platform.manage_roles")
    with transaction.atomic():
        if role not in PlatformRole.values:
            raise ValidationError(f"Unknown platform role {role!r}.")
        grant, created = PlatformRoleGrant.objects.get_or_create(user=user, role=role, defaults={"granted_by": actor})
        if role == PlatformRole.PLATFORM_ADMIN and not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
        if created:
            record_event(action="platform_role.grant", actor=actor, target=user, changes={"role": role})
        user.__dict__.pop("_platform_roles", None)
        return grant


def revoke_platform_role(*, actor: User | None, user: User, role: str) -> None:
    _require(actor, "platform.manage_roles")
    with transaction.atomic():
        deleted, _ = PlatformRoleGrant.objects.filter(user=user, role=role).delete()
        if role == PlatformRole.PLATFORM_ADMIN and user.is_staff:
            user.is_staff = user.is_superuser = False
            user.save(update_fields=["is_staff", "is_superuser"])
        if deleted:
            record_event(action="platform_role.revoke", actor=actor, target=user, changes={"role": role})
        user.__dict__.pop("_platform_roles", None)
