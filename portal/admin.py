"""Read-only admin pages: every change goes through the portal's services (and so the audit trail)."""

from __future__ import annotations

from django.contrib import admin

from portal.models import ApiKey, Application, AutoApprovalRule, HostingRequest, PersonalAccessToken, Subscription


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdmin):
    list_display = ["name", "tenant", "environment", "data_classification", "owner", "created_at"]
    list_filter = ["environment", "data_classification"]
    search_fields = ["name", "tenant__slug"]


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ["application", "alias", "tenant", "status", "requested_at", "decided_by_label"]
    list_filter = ["status"]


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = ["key_prefix", "application", "tenant", "created_at", "expires_at", "revoked_at", "last_used_at"]
    exclude = ["key_hash"]


@admin.register(HostingRequest)
class HostingRequestAdmin(ReadOnlyAdmin):
    list_display = ["alias", "tenant", "status", "requested_at", "endpoint"]
    list_filter = ["status"]


@admin.register(AutoApprovalRule)
class AutoApprovalRuleAdmin(ReadOnlyAdmin):
    list_display = ["alias", "environment", "max_data_classification", "is_active", "created_at"]


@admin.register(PersonalAccessToken)
class PersonalAccessTokenAdmin(ReadOnlyAdmin):
    list_display = ["name", "user", "token_prefix", "created_at", "expires_at", "revoked_at", "last_used_at"]
    exclude = ["token_hash"]
