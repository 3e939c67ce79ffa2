"""The registry in the Django admin: read-only, for looking things up.

Changes go through the registry's pages, API or ``manage.py registry apply`` so that each is
audited and bumps the config version; the admin would bypass both. Credentials show as
references, encrypted ones masked.
"""

from __future__ import annotations

from django.contrib import admin

from aiplatform.admin import ReadOnlyAdmin
from registry.models import Endpoint, ModelAlias, ModelCard, ModelCardVersion, Provider, Route, UpstreamModel
from registry.secrets import describe_reference


@admin.register(Provider)
class ProviderAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "base_url", "region", "credential", "is_active", "last_synced_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]
    exclude = ["api_key"]
    readonly_fields = ["credential"]

    @admin.display(description="Credential")
    def credential(self, obj: Provider) -> str:
        return describe_reference(obj.api_key) or "—"


@admin.register(Endpoint)
class EndpointAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "context_window", "input_price_per_mtok", "output_price_per_mtok", "is_active"]
    list_filter = ["provider", "is_active"]
    search_fields = ["upstream_model", "provider__name"]


class RouteInline(admin.TabularInline):
    model = Route
    extra = 0

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ModelAlias)
class ModelAliasAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "status", "deprecated_on", "sunset_on", "replacement"]
    list_filter = ["status", "kind"]
    search_fields = ["name"]
    inlines = [RouteInline]


@admin.register(ModelCard)
class ModelCardAdmin(ReadOnlyAdmin):
    list_display = ["alias", "version", "updated_at", "updated_by"]
    search_fields = ["alias__name", "summary"]


@admin.register(ModelCardVersion)
class ModelCardVersionAdmin(ReadOnlyAdmin):
    list_display = ["card", "version", "created_at", "created_by", "note"]


@admin.register(UpstreamModel)
class UpstreamModelAdmin(ReadOnlyAdmin):
    list_display = ["provider", "model_id", "first_seen_at", "last_seen_at", "vanished_at", "dismissed"]
    list_filter = ["provider", "dismissed"]
    search_fields = ["model_id"]
