"""API shapes of the portal. They validate shape; services validate meaning. A secret leaves only once."""

from __future__ import annotations

from rest_framework import serializers

from aiplatform.models import User
from portal.models import (
    ApiKey,
    Application,
    DataClassification,
    Environment,
    HostingRequest,
    LatencyNeed,
    Subscription,
    SubscriptionTransition,
)
from portal.services.keys import MAX_ROTATION_OVERLAP
from registry.models import Endpoint, ModelAlias
from registry.serializers import NamedRelatedField


class ApplicationSerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    tenant_slug = serializers.SlugField(write_only=True, required=False,
                                        help_text="The team to register it in (default: your only team).")
    # An unknown address gets the service's answer for another team's user: the API must not tell which exist.
    owner = NamedRelatedField(slug_field="email", queryset=User.objects.all(), required=False,
                                         allow_null=True,
                                         error_messages={"does_not_exist": "The owner must be a member of the team.",
                                                         "invalid": "The owner must be a member of the team."})
    data_classification = serializers.ChoiceField(choices=DataClassification.choices,
                                                  default=DataClassification.INTERNAL)
    environment = serializers.ChoiceField(choices=Environment.choices, default=Environment.DEV)

    class Meta:
        model = Application
        fields = ["id", "tenant", "tenant_slug", "name", "description", "owner", "data_classification",
                  "environment", "created_at"]
        read_only_fields = ["id", "created_at"]
        validators: list = []  # uniqueness is the service's business


# Statuses are plain strings in the schema: several models have a "status" with different choices, and
# drf-spectacular would otherwise name their enums by hash (a warning `check --deploy` treats as an error).
SUBSCRIPTION_STATUSES = "pending, approved, rejected, suspended or cancelled"


class TransitionSerializer(serializers.ModelSerializer):
    from_status = serializers.CharField(read_only=True, help_text=f"{SUBSCRIPTION_STATUSES}; empty for the request.")
    to_status = serializers.CharField(read_only=True, help_text=SUBSCRIPTION_STATUSES)

    class Meta:
        model = SubscriptionTransition
        fields = ["from_status", "to_status", "actor_label", "reason", "occurred_at"]


class SubscriptionSerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    application = serializers.PrimaryKeyRelatedField(queryset=Application.objects.none())
    alias = NamedRelatedField(slug_field="name", queryset=ModelAlias.objects.all())
    status = serializers.CharField(read_only=True, help_text=SUBSCRIPTION_STATUSES)
    requested_by = serializers.SlugRelatedField(slug_field="email", read_only=True, allow_null=True)
    data_classification = serializers.CharField(source="application.data_classification", read_only=True)
    environment = serializers.CharField(source="application.environment", read_only=True)
    transitions = TransitionSerializer(many=True, read_only=True)

    class Meta:
        model = Subscription
        fields = ["id", "tenant", "application", "alias", "status", "use_case", "justification", "requested_by",
                  "requested_at", "data_classification", "environment", "decided_by_label", "decided_at",
                  "decision_comment", "transitions"]
        read_only_fields = ["id", "status", "requested_at", "decided_by_label", "decided_at", "decision_comment"]
        extra_kwargs = {"use_case": {"required": True, "allow_blank": False}}
        validators: list = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and "application" in self.fields:
            # Only the caller's own applications can be named (others do not exist for them).
            self.fields["application"].queryset = Application.objects.for_user(request.user)


class DecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="",
                                    help_text="Why. Required to reject or suspend; the requester reads it.")


class ApiKeySerializer(serializers.ModelSerializer):
    """A key without its secret (the secret is in ``IssuedKeySerializer``, once)."""

    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    application = serializers.PrimaryKeyRelatedField(queryset=Application.objects.none())
    state = serializers.CharField(read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="email", read_only=True, allow_null=True)
    replaced_by = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    ip_allowlist = serializers.ListField(child=serializers.CharField(max_length=64), required=False, max_length=50,
                                         help_text="CIDRs the key may be used from; empty: any address.")

    class Meta:
        model = ApiKey
        fields = ["id", "tenant", "application", "name", "key_prefix", "state", "created_by", "created_at",
                  "expires_at", "revoked_at", "revoked_reason", "replaced_by", "ip_allowlist", "last_used_at"]
        read_only_fields = ["id", "key_prefix", "created_at", "revoked_at", "revoked_reason", "last_used_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and "application" in self.fields:
            self.fields["application"].queryset = Application.objects.for_user(request.user)


class IssuedKeySerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The secret. Shown in this response only; store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]


class KeyUpdateSerializer(serializers.Serializer):
    ip_allowlist = serializers.ListField(child=serializers.CharField(max_length=64), max_length=50)


class RotateSerializer(serializers.Serializer):
    overlap_hours = serializers.IntegerField(min_value=0, max_value=int(MAX_ROTATION_OVERLAP.total_seconds() // 3600),
                                             default=24,
                                             help_text="How long the old key keeps working alongside the new one.")


class RevokeSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class HostingRequestSerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    tenant_slug = serializers.SlugField(write_only=True, required=False,
                                        help_text="The team asking (default: your only team).")
    alias = NamedRelatedField(slug_field="name", queryset=ModelAlias.objects.all())
    latency_need = serializers.ChoiceField(choices=LatencyNeed.choices, default=LatencyNeed.STANDARD)
    expected_requests_per_minute = serializers.IntegerField(min_value=1, max_value=10_000_000)
    expected_tokens_per_minute = serializers.IntegerField(min_value=0, max_value=2_000_000_000, default=0)
    status = serializers.CharField(read_only=True, help_text="pending, approved, rejected or cancelled")
    requested_by = serializers.SlugRelatedField(slug_field="email", read_only=True, allow_null=True)
    endpoint = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = HostingRequest
        fields = ["id", "tenant", "tenant_slug", "alias", "expected_requests_per_minute",
                  "expected_tokens_per_minute", "latency_need", "region", "business_case", "status", "requested_by",
                  "requested_at", "decided_by_label", "decided_at", "decision_comment", "endpoint"]
        read_only_fields = ["id", "status", "requested_at", "decided_by_label", "decided_at", "decision_comment"]
        extra_kwargs = {"business_case": {"allow_blank": False}}


class HostingApprovalSerializer(DecisionSerializer):
    endpoint = serializers.PrimaryKeyRelatedField(queryset=Endpoint.objects.filter(is_active=True),
                                                  help_text="The registry endpoint that serves this team.")
