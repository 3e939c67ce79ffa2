"""API shapes of plans and limit settings. They validate shape (the models' bounds) strictly: a field the API does
not know is a 400 naming it, not ignored; services validate meaning. Costs are US dollars as decimal strings."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portal.forms_limits import MAX_OUTPUT_TOKENS
from portal.limits_selectors import plan_in_force
from portal.models import LimitSettings, Plan
from portal.models.limits import MAX_COST, MAX_RATE, MAX_TOKENS, BudgetMode, RedisFailure
from registry.models.providers import SLUG
from registry.serializers import NamedRelatedField


def _count(maximum: int, **kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=maximum, required=False, allow_null=True, **kwargs)


def _dollars(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=18, decimal_places=6, min_value=Decimal(0),
                                    max_value=Decimal(MAX_COST), required=False, allow_null=True,
                                    help_text="US dollars.", **kwargs)


class StrictSerializer(serializers.Serializer):
    """Refuses a field it does not know (read-only ones, as a GET returns them, are accepted and ignored)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(str(name) for name in set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({unknown[0]: ["Not a field of this resource."]})
        return super().to_internal_value(data)


class LimitValuesSerializer(StrictSerializer):
    """Every limit a level may set; ``null`` (or left out, in a PUT) is "no limit of this kind here"."""

    requests_per_minute = _count(MAX_RATE)
    tokens_per_minute = _count(MAX_TOKENS, help_text="Prompt and completion tokens together.")
    max_concurrency = _count(MAX_RATE, help_text="Calls in flight at once.")
    burst = _count(MAX_RATE, help_text="Token bucket: up to this many requests at once, refilled at the "
                                       "per-minute rate.")
    tokens_per_day = _count(MAX_TOKENS)
    tokens_per_month = _count(MAX_TOKENS)
    cost_per_day = _dollars()
    cost_per_month = _dollars()
    budget_mode = serializers.ChoiceField(choices=BudgetMode.choices, required=False, allow_blank=True,
                                          help_text="soft or strict; empty: the plan's (soft by default).")
    redis_failure = serializers.ChoiceField(choices=RedisFailure.choices, required=False, allow_blank=True,
                                            help_text="fail_open or fail_closed; empty: the plan's (fail_open by "
                                                      "default). A strict budget always fails closed.")
    shadow = serializers.BooleanField(required=False, help_text="Count and report, never refuse.")


class PlanSerializer(LimitValuesSerializer):
    """A plan: the default limits of the applications, subscriptions and keys that follow it."""

    name = serializers.CharField(max_length=50, validators=[SLUG], help_text="Fixed once created.")
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)
    default_output_tokens = serializers.IntegerField(
        min_value=1, max_value=MAX_OUTPUT_TOKENS, required=False,
        help_text="Output tokens reserved at admission when a call sets no max_tokens (default 1024).")
    is_default = serializers.SerializerMethodField(help_text="Applications that name no plan follow this one.")
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    @extend_schema_field(bool)
    def get_is_default(self, plan: Plan) -> bool:
        return plan.name == settings.DEFAULT_PLAN


class PlanUpdateSerializer(PlanSerializer):
    """A plan's changes (PATCH): any of its settings but its name, which is fixed (sent unchanged, it is ignored)."""

    name = serializers.CharField(read_only=True)


class LimitSettingsSerializer(LimitValuesSerializer):
    """The limits set on one key, subscription, application, team (``tenant``) or model (``alias``).

    A PUT sets them all: a limit left out is cleared. ``plan`` is for keys, subscriptions and applications.
    """

    level = serializers.CharField(read_only=True, help_text="key, subscription, application, tenant or alias")
    owner_id = serializers.IntegerField(read_only=True)
    plan = NamedRelatedField(slug_field="name", queryset=Plan.objects.all(), required=False, allow_null=True,
                             help_text="The plan it follows (keys, subscriptions, applications); null: none of "
                                       "its own (an application then follows the platform default).")
    plan_in_force = serializers.SerializerMethodField(
        help_text="The plan whose values apply where none is set here (an application's own or the default).")
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)
    updated_by = serializers.EmailField(source="updated_by.email", read_only=True, allow_null=True,
                                        help_text="Who set them last; null: nobody yet, or the system.")

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_plan_in_force(self, limits: LimitSettings) -> str | None:
        plan = plan_in_force(limits)
        return plan.name if plan is not None else None


