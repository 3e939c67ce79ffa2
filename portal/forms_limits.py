"""Forms of the plans and limits pages. They validate shape (the models' bounds); services validate meaning.

Each form holds every setting of its level: an empty number clears that limit (the plan's value then applies),
so what the form shows after saving is exactly what is set.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.db.models import Model

from portal.models import Plan
from portal.models.limits import MAX_COST, MAX_RATE, MAX_TOKENS, BudgetMode, RedisFailure
from portal.services.limits import SETTABLE
from registry.models.providers import SLUG

MAX_OUTPUT_TOKENS = 1_000_000  # Plan.default_output_tokens' bound


def _count(label: str, maximum: int, **kwargs: Any) -> forms.IntegerField:
    return forms.IntegerField(min_value=1, max_value=maximum, required=False, label=label, **kwargs)


def _dollars(label: str) -> forms.DecimalField:
    return forms.DecimalField(min_value=Decimal(0), max_value=MAX_COST, max_digits=18, decimal_places=6,
                              required=False, label=label, help_text="US dollars.")


def _shown(value: Any) -> Any:
    """A stored value as a form shows it: 1000 rather than 1000.000000."""
    if isinstance(value, Decimal):
        return format(value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize(), "f")
    return value


class LimitValuesForm(forms.Form):
    """Every limit one level may set. ``unset`` says what an empty mode means on this level."""

    unset = "Not set: its plan's ({default} by default)"

    requests_per_minute = _count("Requests per minute", MAX_RATE)
    tokens_per_minute = _count("Tokens per minute", MAX_TOKENS, help_text="Prompt and completion tokens together.")
    max_concurrency = _count("Concurrent calls", MAX_RATE, help_text="Calls in flight at once.")
    burst = _count("Burst", MAX_RATE, help_text="Up to this many requests at once, refilled at the per-minute rate.")
    tokens_per_day = _count("Token budget per day", MAX_TOKENS)
    tokens_per_month = _count("Token budget per month", MAX_TOKENS)
    cost_per_day = _dollars("Cost budget per day")
    cost_per_month = _dollars("Cost budget per month")
    budget_mode = forms.ChoiceField(choices=BudgetMode.choices, required=False, label="Budget mode")
    redis_failure = forms.ChoiceField(choices=RedisFailure.choices, required=False,
                                      label="When the shared limiter (Redis) is unreachable")
    shadow = forms.BooleanField(required=False, label="Shadow mode",
                                help_text="Count and report, never refuse: see what a new limit would refuse first.")

    def __init__(self, *args: Any, instance: Model | None = None, **kwargs: Any) -> None:
        """``instance`` (a plan or limit settings) fills the fields with what is set on it now."""
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {name: _shown(getattr(instance, name, None)) for name in self.base_fields}
        super().__init__(*args, **kwargs)
        for name, default in (("budget_mode", "soft"), ("redis_failure", "fail open")):
            if name in self.fields:
                self.fields[name].choices = [("", self.unset.format(default=default)),
                                             *self.fields[name].choices]

    def limit_values(self) -> dict[str, Any]:
        """Every limit of the form for the service (call after ``is_valid``): ``None`` clears a number."""
        return {name: self.cleaned_data[name] for name in self.fields if name in SETTABLE}


class TeamCapsForm(LimitValuesForm):
    """A team's caps, above every application, subscription and key of the team."""

    unset = "The default: {default}"


class ModelCapForm(LimitValuesForm):
    """A model alias's cap across every caller: its endpoints' capacity."""

    unset = "The default: {default}"
    kept = ("requests_per_minute", "tokens_per_minute", "max_concurrency", "shadow")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in [n for n in self.fields if n not in self.kept]:
            del self.fields[name]


class ApplicationLimitsForm(LimitValuesForm):
    """An application's plan and its own values, which replace the plan's."""

    plan = forms.ModelChoiceField(queryset=Plan.objects.order_by("name"), to_field_name="name", required=False)
    field_order = ["plan"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["plan"].empty_label = f"The platform default ({settings.DEFAULT_PLAN})"

    def limit_values(self) -> dict[str, Any]:
        return {**super().limit_values(), "plan": self.cleaned_data["plan"]}


class PlanForm(LimitValuesForm):
    """A plan's settings (its name is fixed once created)."""

    unset = "The default: {default}"

    description = forms.CharField(max_length=300, required=False)
    default_output_tokens = forms.IntegerField(
        min_value=1, max_value=MAX_OUTPUT_TOKENS, initial=1024, label="Default output tokens",
        help_text="Reserved at admission when a call sets no max_tokens.")
    field_order = ["name", "description"]

    def plan_values(self) -> dict[str, Any]:
        """What ``create_plan`` / ``update_plan`` take (call after ``is_valid``)."""
        return {**self.limit_values(), "description": self.cleaned_data["description"],
                "default_output_tokens": self.cleaned_data["default_output_tokens"]}


class NewPlanForm(PlanForm):
    name = forms.CharField(max_length=50, validators=[SLUG], help_text="Lower-case, e.g. 'batch'. Fixed once created.")

    def plan_values(self) -> dict[str, Any]:
        return {"name": self.cleaned_data["name"], **super().plan_values()}
