"""Django admin, open to platform admins only, and read-only: for looking things up.

Every change of state goes through a service (which checks permission, writes the audit trail and
bumps the gateway's configuration version); the admin would bypass all three. So users, teams,
memberships, invitations and the audit trail are listed here without add, change or delete, and
``ReadOnlyAdmin`` is the base of the portal's and the registry's admin pages too.
"""

from __future__ import annotations

from django.contrib import admin

from aiplatform.models import AuditEvent, Invitation, Membership, PlatformRoleGrant, Tenant, User


def _platform_admins_only(request) -> bool:
    user = request.user
    return user.is_active and user.is_authenticated and user.is_staff and user.is_platform_admin


admin.site.has_permission = _platform_admins_only


class ReadOnly:
    """Seen by platform admins (without Django model permissions, which Switchboard does not use); never changed."""

    def has_module_permission(self, request) -> bool:
        return _platform_admins_only(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return _platform_admins_only(request)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdmin(ReadOnly, admin.ModelAdmin):
    pass


class MembershipInline(ReadOnly, admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = fields


class PlatformRoleInline(ReadOnly, admin.TabularInline):
    model = PlatformRoleGrant
    fk_name = "user"
    extra = 0
    fields = ["role", "granted_by", "granted_at"]
    readonly_fields = fields


@admin.register(User)
class UserAdmin(ReadOnlyAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_active", "is_staff", "date_joined", "last_login"]
    search_fields = ["email", "full_name"]
    list_filter = ["is_active", "is_staff"]
    fields = ["email", "full_name", "is_active", "is_staff", "last_login", "date_joined"]  # never the password hash
    inlines = [PlatformRoleInline]


@admin.register(Tenant)
class TenantAdmin(ReadOnlyAdmin):
    list_display = ["name", "slug", "region", "cost_centre", "is_active", "created_at"]
    search_fields = ["name", "slug", "cost_centre"]
    list_filter = ["region", "is_active"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "tenant__slug", "tenant__name"]


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ["email", "tenant", "role", "created_at", "expires_at", "accepted_at"]
    exclude = ["token_hash"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["seq", "occurred_at", "actor_label", "action", "target_type", "target_label", "tenant_id", "ip"]
    list_filter = ["action"]
    search_fields = ["action", "actor_label", "target_label", "request_id"]
