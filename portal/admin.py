"""Read-only admin pages: every change goes through the portal's services (and so the audit trail)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib import admin

from aiplatform.admin import ReadOnlyAdmin
from portal.models import (
    AlertWebhook,
    ApiKey,
    Application,
    AutoApprovalRule,
    BudgetAlert,
    HostingRequest,
    LimitSettings,
    PersonalAccessToken,
    Plan,
    Subscription,
    UsageEvent,
    UsageRollup,
)
from registry.secrets import describe_reference


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


# --- plans, limits and usage (changed through portal.services.limits; written by the gateway and the worker) ---

@admin.register(Plan)
class PlanAdmin(ReadOnlyAdmin):
    list_display = ["name", "requests_per_minute", "tokens_per_minute", "max_concurrency", "burst", "tokens_per_day",
                    "tokens_per_month", "cost_per_day", "cost_per_month", "budget_mode", "redis_failure", "shadow",
                    "default_output_tokens", "updated_at"]
    search_fields = ["name"]


@admin.register(LimitSettings)
class LimitSettingsAdmin(ReadOnlyAdmin):
    list_display = ["level", "owner_id", "plan", "requests_per_minute", "tokens_per_minute", "max_concurrency",
                    "cost_per_day", "cost_per_month", "budget_mode", "shadow", "updated_by", "updated_at"]
    list_filter = ["level", "plan", "shadow"]
    list_select_related = ["plan", "updated_by"]


@admin.register(BudgetAlert)
class BudgetAlertAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "tenant", "level", "owner_id", "measure", "period", "period_start",
                    "threshold_percent", "used", "budget"]
    list_filter = ["level", "measure", "period", "threshold_percent"]
    list_select_related = ["tenant"]


@admin.register(AlertWebhook)
class AlertWebhookAdmin(ReadOnlyAdmin):
    """A webhook's address may carry a token in its path or query: the list shows its scheme and host only, and
    there is no detail page (its title would be the whole address)."""

    list_display = ["destination", "tenant", "signing_secret", "is_active", "created_by", "created_at"]
    list_display_links = None
    list_filter = ["is_active"]
    list_select_related = ["tenant", "created_by"]

    def has_view_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_view_permission(request)

    @admin.display(description="Destination")
    def destination(self, obj: AlertWebhook) -> str:
        parts = urlsplit(obj.url)
        return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"

    @admin.display(description="Signing secret")
    def signing_secret(self, obj: AlertWebhook) -> str:
        return describe_reference(obj.secret_ref) or "—"


@admin.register(UsageRollup)
class UsageRollupAdmin(ReadOnlyAdmin):
    list_display = ["bucket_start", "granularity", "tenant", "application", "key", "alias", "endpoint_id", "requests",
                    "errors", "prompt_tokens", "completion_tokens", "cost"]
    list_filter = ["granularity"]
    search_fields = ["alias", "tenant__slug"]
    list_select_related = ["tenant", "application", "key"]
    show_full_result_count = False  # a large table: no second COUNT(*) per page


@admin.register(UsageEvent)
class UsageEventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "request_id", "tenant", "application", "key", "alias", "operation", "status",
                    "total_tokens", "cost", "total_ms"]
    list_filter = ["operation", "streamed", "usage_source"]
    search_fields = ["request_id", "client_request_id", "alias"]
    list_select_related = ["tenant", "application", "key"]
    show_full_result_count = False  # the ledger: no second COUNT(*) per page
