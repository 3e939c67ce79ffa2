"""Forms of the portal's pages. They validate shape; services validate meaning."""

from __future__ import annotations

import re
from decimal import Decimal

from django import forms

from aiplatform.roles import Region
from portal.models import DataClassification, Environment, LatencyNeed, Plan
from portal.models.limits import MAX_COST, MAX_RATE, MAX_TOKENS
from portal.usage_selectors import Period
from registry.models import AliasStatus, Endpoint, ModelAlias


class ApplicationForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    environment = forms.ChoiceField(choices=Environment.choices, initial=Environment.DEV)
    data_classification = forms.ChoiceField(choices=DataClassification.choices, initial=DataClassification.INTERNAL,
                                            label="Data it will send",
                                            help_text="The most sensitive data the application sends to models.")


class SubscriptionRequestForm(forms.Form):
    alias = forms.ModelChoiceField(queryset=ModelAlias.objects.filter(
        status__in=[AliasStatus.APPROVED, AliasStatus.EVALUATING]).order_by("name"), to_field_name="name",
        label="Model", empty_label="Choose a model")
    use_case = forms.CharField(max_length=200, label="Use case", help_text="What the application will do with it.")
    justification = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                    help_text="Why this model (cost, quality, data rules...).")


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    comment = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 1}))


class ReasonForm(forms.Form):
    comment = forms.CharField(required=False, max_length=2000)


class KeyForm(forms.Form):
    name = forms.CharField(max_length=100, required=False, help_text="A label, e.g. 'production'.")
    expires_in_days = forms.IntegerField(min_value=1, max_value=3650, required=False, label="Expires in (days)",
                                         help_text="Empty: never expires (revoke it when done).")
    ip_allowlist = forms.CharField(required=False, label="IP allow-list",
                                   help_text="CIDRs, comma-separated; empty: any address.")


class RotateForm(forms.Form):
    overlap_hours = forms.IntegerField(min_value=0, max_value=720, initial=24, label="Overlap (hours)")


class IpAllowlistForm(forms.Form):
    ip_allowlist = forms.CharField(required=False, label="IP allow-list")


class HostingRequestForm(forms.Form):
    alias = forms.ModelChoiceField(queryset=ModelAlias.objects.filter(
        status__in=[AliasStatus.APPROVED, AliasStatus.EVALUATING]).order_by("name"), to_field_name="name",
        label="Model", empty_label="Choose a model")
    expected_requests_per_minute = forms.IntegerField(min_value=1, max_value=10_000_000,
                                                      label="Expected requests per minute")
    expected_tokens_per_minute = forms.IntegerField(min_value=0, max_value=2_000_000_000, required=False,
                                                    label="Expected tokens per minute")
    latency_need = forms.ChoiceField(choices=LatencyNeed.choices, initial=LatencyNeed.STANDARD, label="Latency need")
    region = forms.ChoiceField(choices=Region.choices, initial=Region.GLOBAL)
    business_case = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Business case")


class HostingDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    endpoint = forms.ModelChoiceField(queryset=Endpoint.objects.filter(is_active=True).select_related("provider"),
                                      required=False, empty_label="Serving endpoint…")
    comment = forms.CharField(required=False, max_length=2000)


class AutoApprovalRuleForm(forms.Form):
    alias = forms.ModelChoiceField(queryset=ModelAlias.objects.order_by("name"), to_field_name="name", label="Model")
    environment = forms.ChoiceField(choices=[("", "Any environment"), *Environment.choices], required=False)
    max_data_classification = forms.ChoiceField(choices=DataClassification.choices,
                                                initial=DataClassification.INTERNAL, label="Data up to")


class AccessTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. 'ci'.")
    expires_in_days = forms.IntegerField(min_value=1, max_value=3650, required=False, label="Expires in (days)")


class LimitsForm(forms.Form):
    """A key's or a subscription's plan and limits; every field optional (empty: not set on it).

    A key and a subscription only narrow what their application may do: every level applies to a call.
    """

    plan = forms.ModelChoiceField(queryset=Plan.objects.order_by("name"), to_field_name="name", required=False,
                                  empty_label="No plan of its own", help_text="Its defaults apply where no value is set.")
    requests_per_minute = forms.IntegerField(min_value=1, max_value=MAX_RATE, required=False,
                                             label="Requests per minute")
    tokens_per_minute = forms.IntegerField(min_value=1, max_value=MAX_TOKENS, required=False, label="Tokens per minute",
                                           help_text="Prompt and completion tokens together.")
    max_concurrency = forms.IntegerField(min_value=1, max_value=MAX_RATE, required=False, label="Concurrent calls")
    budget_usd = forms.DecimalField(min_value=Decimal(0), max_value=MAX_COST, max_digits=18, decimal_places=6,
                                    required=False, label="Budget (USD)")
    budget_period = forms.ChoiceField(choices=[("month", "per month"), ("day", "per day")], required=False,
                                      label="Budget period")
    budget_mode = forms.ChoiceField(
        choices=[("soft", "Soft: the call that crosses the budget completes"),
                 ("strict", "Strict: a call is admitted only if its maximum cost fits")],
        required=False, label="Budget mode")

    def limit_values(self) -> dict:
        """What to pass to ``set_limits``: only the fields that were filled in (call after ``is_valid``)."""
        data = self.cleaned_data
        values = {name: data[name] for name in ("requests_per_minute", "tokens_per_minute", "max_concurrency")
                  if data.get(name) is not None}
        if data.get("plan") is not None:
            values["plan"] = data["plan"]
        if data.get("budget_usd") is not None:
            values["cost_per_day" if data.get("budget_period") == "day" else "cost_per_month"] = data["budget_usd"]
        if data.get("budget_usd") is not None or data.get("budget_mode") == "strict":
            values["budget_mode"] = data.get("budget_mode") or "soft"
        return values


class UsageMonthForm(forms.Form):
    """The month of a usage report, ``YYYY-MM``; cleaned to a ``usage_selectors.Period``."""

    month = forms.CharField(max_length=7, label="Month", widget=forms.TextInput(attrs={"type": "month"}))

    def clean_month(self) -> Period:
        value = self.cleaned_data["month"]
        match = re.fullmatch(r"(\d{4})-(0[1-9]|1[0-2])", value)
        if match is None or not 2000 <= int(match[1]) <= 9998:
            raise forms.ValidationError("Give a month as YYYY-MM, e.g. 2026-12.")
        return Period.month(int(match[1]), int(match[2]))


class WebhookForm(forms.Form):
    url = forms.URLField(label="Receiver URL", max_length=500, assume_scheme="https",
                         help_text="Where the team's events are posted, signed the Standard Webhooks way.")
    events = forms.MultipleChoiceField(
        label="Events", required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked to receive every event, including ones added later.")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from portal.webhooks import EVENT_TYPES

        self.fields["events"].choices = list(EVENT_TYPES.items())
