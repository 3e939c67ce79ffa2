"""API shapes of usage: the query parameters (validated strictly) and the answers. Costs are US dollars as
decimal strings with nine places, like the ledger; periods are half-open, ``[since, until)``, in UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from rest_framework import serializers

from portal.usage_selectors import DAY, HOUR, Period

DATETIME_FORMATS = ["iso-8601", "%Y-%m-%d"]
MAX_DAYS = {HOUR: 31, DAY: 366}  # so a series has at most 744 hours or 366 days
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
_YEARS = (2000, 9998)


def _in_years(moment: datetime, name: str) -> None:
    if not _YEARS[0] <= moment.year <= _YEARS[1]:
        raise serializers.ValidationError({name: f"Give a time between the years {_YEARS[0]} and {_YEARS[1]}."})


class UsageQuerySerializer(serializers.Serializer):
    """``since`` and ``until`` (ISO 8601 times or dates, UTC unless an offset is given) and the series' step."""

    since = serializers.DateTimeField(required=False, input_formats=DATETIME_FORMATS,
                                      help_text="Start, included (default: the start of until's month, else of this month; UTC).")
    until = serializers.DateTimeField(required=False, input_formats=DATETIME_FORMATS,
                                      help_text="End, excluded (default: the end of since's month).")
    granularity = serializers.ChoiceField(choices=[(HOUR, "hour"), (DAY, "day")], default=DAY,
                                          help_text=f"The series' step: hour (up to {MAX_DAYS[HOUR]} days) "
                                                    f"or day (up to {MAX_DAYS[DAY]} days).")

    def validate(self, data: dict) -> dict:
        since, until = data.get("since"), data.get("until")
        for name, moment in (("since", since), ("until", until)):
            if moment is not None:
                _in_years(moment, name)
        if since is None:
            since = Period.month_of(until - timedelta(microseconds=1) if until else timezone.now()).since
        if until is None:
            until = Period.month_of(since).until
        if until <= since:
            raise serializers.ValidationError({"until": "until must be later than since."})
        granularity = data["granularity"]
        if until - since > timedelta(days=MAX_DAYS[granularity]):
            raise serializers.ValidationError(
                {"until": f"With granularity {granularity} a period is at most {MAX_DAYS[granularity]} days."})
        return {"period": Period(since.astimezone(UTC), until.astimezone(UTC)), "granularity": granularity}


class MonthQuerySerializer(serializers.Serializer):
    month = serializers.CharField(required=False, max_length=7, help_text="YYYY-MM (default: this month, UTC).")

    def validate_month(self, value: str) -> Period:
        match = _MONTH.fullmatch(value)
        if match is None or not _YEARS[0] <= int(match[1]) <= _YEARS[1]:
            raise serializers.ValidationError("Give a month as YYYY-MM, e.g. 2026-12.")
        return Period.month(int(match[1]), int(match[2]))

    def validate(self, data: dict) -> dict:
        return {"period": data.get("month") or Period.month_of(timezone.now())}


# --- answers --------------------------------------------------------------------------------------

def _cost(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=24, decimal_places=9, read_only=True, **kwargs)


class TotalsSerializer(serializers.Serializer):
    requests = serializers.IntegerField(read_only=True)
    errors = serializers.IntegerField(read_only=True, help_text="Calls answered with status 400 or more.")
    error_rate = serializers.FloatField(read_only=True, help_text="errors / requests, 0 to 1.")
    prompt_tokens = serializers.IntegerField(read_only=True)
    completion_tokens = serializers.IntegerField(read_only=True)
    tokens = serializers.IntegerField(read_only=True, help_text="Prompt and completion tokens.")
    cost = _cost(help_text="US dollars.")


class SeriesPointSerializer(serializers.Serializer):
    bucket_start = serializers.DateTimeField(read_only=True)
    totals = TotalsSerializer(read_only=True)


class AliasUsageSerializer(serializers.Serializer):
    alias = serializers.CharField(source="name", read_only=True)
    totals = TotalsSerializer(read_only=True)


class ApplicationUsageSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    totals = TotalsSerializer(read_only=True)


class KeyUsageSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True, help_text="The key's prefix and label.")
    application = serializers.CharField(read_only=True)
    totals = TotalsSerializer(read_only=True)


class ErrorCountSerializer(serializers.Serializer):
    status = serializers.IntegerField(read_only=True)
    error_class = serializers.CharField(read_only=True)
    count = serializers.IntegerField(read_only=True)


class TeamUsageSerializer(serializers.Serializer):
    tenant = serializers.CharField(source="tenant.slug", read_only=True)
    since = serializers.DateTimeField(source="period.since", read_only=True)
    until = serializers.DateTimeField(source="period.until", read_only=True)
    granularity = serializers.CharField(read_only=True, help_text="hour or day")
    totals = TotalsSerializer(read_only=True)
    by_alias = AliasUsageSerializer(many=True, read_only=True)
    series = SeriesPointSerializer(many=True, read_only=True, help_text="Every hour or day of the period, zeros included.")
    top_applications = ApplicationUsageSerializer(many=True, read_only=True)
    top_keys = KeyUsageSerializer(many=True, read_only=True)
    errors = ErrorCountSerializer(many=True, read_only=True,
                                  help_text="Failed calls by status and error class (within the ledger's retention).")


class BudgetUseSerializer(serializers.Serializer):
    measure = serializers.CharField(read_only=True, help_text="cost (US dollars) or tokens")
    period = serializers.CharField(read_only=True, help_text="day or month (UTC)")
    budget = _cost()
    used = _cost()
    left = _cost()
    percent = serializers.IntegerField(read_only=True, help_text="Used, percent of the budget (at most 999).")
    strict = serializers.BooleanField(read_only=True)
    shadow = serializers.BooleanField(read_only=True)


class LimitLineSerializer(serializers.Serializer):
    level = serializers.CharField(read_only=True, help_text="tenant, application, subscription or key")
    owner_id = serializers.IntegerField(read_only=True)
    label = serializers.CharField(read_only=True)
    alias = serializers.CharField(read_only=True, help_text="The model, for a subscription; empty: every model.")
    plan = serializers.CharField(source="rule.plan", read_only=True)
    requests_per_minute = serializers.IntegerField(source="rule.requests_per_minute", read_only=True, allow_null=True)
    tokens_per_minute = serializers.IntegerField(source="rule.tokens_per_minute", read_only=True, allow_null=True)
    max_concurrency = serializers.IntegerField(source="rule.max_concurrency", read_only=True, allow_null=True)
    burst = serializers.IntegerField(source="rule.burst", read_only=True, allow_null=True)
    strict = serializers.BooleanField(source="rule.strict", read_only=True)
    shadow = serializers.BooleanField(source="rule.shadow", read_only=True)
    budgets = BudgetUseSerializer(many=True, read_only=True)


class TenantSpendSerializer(serializers.Serializer):
    tenant = serializers.CharField(source="tenant.slug", read_only=True)
    name = serializers.CharField(source="tenant.name", read_only=True)
    cost_centre = serializers.CharField(source="tenant.cost_centre", read_only=True)
    totals = TotalsSerializer(read_only=True)


class CostCentreSpendSerializer(serializers.Serializer):
    cost_centre = serializers.CharField(read_only=True, help_text="Empty: teams without one.")
    tenants = serializers.IntegerField(read_only=True)
    totals = TotalsSerializer(read_only=True)


class ChargebackRowSerializer(serializers.Serializer):
    """The CSV's columns."""

    month = serializers.CharField(read_only=True)
    cost_centre = serializers.CharField(read_only=True)
    tenant = serializers.CharField(read_only=True)
    application = serializers.CharField(read_only=True)
    alias = serializers.CharField(read_only=True)
    requests = serializers.IntegerField(read_only=True)
    prompt_tokens = serializers.IntegerField(read_only=True)
    completion_tokens = serializers.IntegerField(read_only=True)
    cost = _cost()
