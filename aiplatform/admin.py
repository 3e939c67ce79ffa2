"""Django admin, open to platform admins only. The audit trail is read-only here."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from aiplatform.models import AuditEvent, Invitation, Membership, PlatformRoleGrant, Tenant, User


def _platform_admins_only(request) -> bool:
    user = request.user
    return user.is_active and user.is_authenticated and user.is_staff and user.is_platform_admin


admin.site.has_permission = _platform_admins_only


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class PlatformRoleInline(admin.TabularInline):
    model = PlatformRoleGrant
    fk_name = "user"
    extra = 0
    readonly_fields = ["granted_by", "granted_at"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_active", "is_staff", "date_joined", "last_login"]
    search_fields = ["email", "full_name"]
    list_filter = ["is_active", "is_staff"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name",)}),
        ("Status", {"fields": ("is_active", "is_staff", "last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    readonly_fields = ["last_login", "date_joined"]
    filter_horizontal: list = []
    inlines = [PlatformRoleInline]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "region", "cost_centre", "is_active", "created_at"]
    search_fields = ["name", "slug", "cost_centre"]
    list_filter = ["region", "is_active"]
    inlines = [MembershipInline]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "tenant", "role", "created_at", "expires_at", "accepted_at"]
    exclude = ["token_hash"]
    readonly_fields = ["accepted_at", "accepted_by", "invited_by"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["seq", "occurred_at", "actor_label", "action", "target_type", "target_label", "tenant_id", "ip"]
    list_filter = ["action"]
    search_fields = ["action", "actor_label", "target_label", "request_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
