"""API shapes of the registry. They validate shape; services validate meaning. No secret ever leaves."""

from __future__ import annotations

from rest_framework import serializers

from aiplatform.models import User
from registry.models import AliasKind, AliasStatus, Capability, Endpoint, ModelAlias, ModelCard, Provider
from registry.models.aliases import MODEL_KINDS
from registry.models.cards import CARD_FIELDS
from registry.secrets import describe_reference, is_reference


class NamedRelatedField(serializers.SlugRelatedField):
    """A related object named by a slug (name, e-mail); a NUL in the name is refused as invalid.

    PostgreSQL refuses NUL in text, so the lookup was a DataError, a 500. DRF's CharField checks this;
    its SlugRelatedField does not.
    """

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


class ProviderSerializer(serializers.ModelSerializer):
    api_key = serializers.CharField(
        required=False, allow_blank=True, max_length=4000,
        help_text="A secret reference (env:NAME, aws-sm:<id>). Reads show it, with enc: tokens masked.",
    )
    api_key_value = serializers.CharField(
        write_only=True, required=False, allow_blank=False, max_length=4000, style={"input_type": "password"},
        help_text="A key to store encrypted (it becomes an enc: reference). Never returned.",
    )

    class Meta:
        model = Provider
        fields = ["name", "kind", "base_url", "region", "api_key", "api_key_value", "config", "is_active",
                  "last_synced_at", "last_sync_error"]
        read_only_fields = ["last_synced_at", "last_sync_error"]

    def validate_api_key(self, value: str) -> str:
        if value and not is_reference(value):
            raise serializers.ValidationError("Give a secret reference (env:NAME, aws-sm:<id>); "
                                              "send a key to store encrypted as api_key_value.")
        return value

    def to_representation(self, instance: Provider) -> dict:
        data = super().to_representation(instance)
        data["api_key"] = describe_reference(instance.api_key)
        return data

class EndpointSerializer(serializers.ModelSerializer):
    provider = NamedRelatedField(slug_field="name", queryset=Provider.objects.all())
    capabilities = serializers.ListField(child=serializers.ChoiceField(choices=Capability.choices), required=False)

    class Meta:
        model = Endpoint
        fields = ["id", "provider", "upstream_model", "region", "capabilities", "context_window", "connect_timeout",
                  "first_byte_timeout", "total_timeout", "input_price_per_mtok", "output_price_per_mtok",
                  "price_per_image", "price_per_request", "max_in_flight", "is_active"]
        validators: list = []  # uniqueness is the service's (and the database's) business

class RouteSerializer(serializers.Serializer):
    endpoint = serializers.PrimaryKeyRelatedField(queryset=Endpoint.objects.select_related("provider"))
    provider = serializers.CharField(source="endpoint.provider.name", read_only=True)
    upstream_model = serializers.CharField(source="endpoint.upstream_model", read_only=True)
    region = serializers.CharField(source="endpoint.effective_region", read_only=True)
    weight = serializers.IntegerField(min_value=0, default=100)
    priority = serializers.IntegerField(min_value=0, default=0)
    variant = serializers.CharField(max_length=32, allow_blank=True, default="")
    shadow_sample = serializers.DecimalField(max_digits=5, decimal_places=4, min_value=0, max_value=1, default=0,
                                             help_text="Above 0: a shadow route (never serves callers).")

class EvaluationSerializer(serializers.Serializer):
    name = serializers.CharField()
    metric = serializers.CharField()
    value = serializers.FloatField()
    date = serializers.DateField()

class ModelCardSerializer(serializers.ModelSerializer):
    use_cases = serializers.ListField(child=serializers.SlugField(), required=False)
    evaluations = EvaluationSerializer(many=True, required=False)
    note = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=500,
                                 help_text="Why this change (kept in the card's history).")
    updated_by = serializers.SlugRelatedField(slug_field="email", read_only=True, allow_null=True)

    class Meta:
        model = ModelCard
        fields = [*CARD_FIELDS, "note", "version", "updated_at", "updated_by"]
        read_only_fields = ["version", "updated_at", "updated_by"]

class ModelCardVersionSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    content = serializers.JSONField()
    changed_fields = serializers.ListField(child=serializers.CharField())
    note = serializers.CharField()
    created_at = serializers.DateTimeField()
    created_by = serializers.EmailField(source="created_by.email", read_only=True, allow_null=True)

class ModelAliasSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=MODEL_KINDS, default=AliasKind.CHAT)
    status = serializers.ChoiceField(choices=AliasStatus.choices, default=AliasStatus.DRAFT)
    replacement = NamedRelatedField(slug_field="name", queryset=ModelAlias.objects.all(), required=False,
                                               allow_null=True)
    owners = NamedRelatedField(slug_field="email", queryset=User.objects.all(), many=True, required=False)
    routes = RouteSerializer(many=True, required=False)
    capabilities = serializers.SerializerMethodField()
    summary = serializers.SerializerMethodField()
    use_cases = serializers.SerializerMethodField()

    class Meta:
        model = ModelAlias
        fields = ["name", "kind", "status", "approved_on", "deprecated_on", "sunset_on", "retired_on", "replacement",
                  "owners", "strategy", "sticky", "routes", "capabilities", "summary", "use_cases", "created_at",
                  "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        validators: list = []

    def get_capabilities(self, alias: ModelAlias) -> list[str]:
        routes = [r for r in alias.routes.all() if not r.is_shadow]  # shadows never serve callers
        if not routes:
            return []
        common = set.intersection(*(set(r.endpoint.capabilities) for r in routes))
        return [c for c in Capability.values if c in common]

    def _card(self, alias: ModelAlias) -> ModelCard | None:
        return getattr(alias, "card", None)

    def get_summary(self, alias: ModelAlias) -> str:
        card = self._card(alias)
        return card.summary if card else ""

    def get_use_cases(self, alias: ModelAlias) -> list[str]:
        card = self._card(alias)
        return list(card.use_cases) if card else []

class CandidateSerializer(serializers.Serializer):
    provider = serializers.CharField(source="provider.name")
    model_id = serializers.CharField()
    details = serializers.JSONField()
    first_seen_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()

class SyncResultSerializer(serializers.Serializer):
    provider = serializers.CharField()
    listed = serializers.IntegerField()
    new = serializers.ListField(child=serializers.CharField())
    vanished = serializers.ListField(child=serializers.CharField())

