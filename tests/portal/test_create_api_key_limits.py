"""``create_api_key`` with limits: the key's own plan and values, and clear errors before anything is made."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from aiplatform.models import AuditEvent
from portal.models import ApiKey, LimitSettings, Plan
from portal.selectors import gateway_limit_table
from portal.services.limits import seed_plans

pytestmark = pytest.mark.django_db


def _create(*extra: str) -> ApiKey:
    out = StringIO()
    call_command("create_api_key", "--tenant", "acme", "--app", "bot", "--models", "fast-chat", "--json", *extra,
                 stdout=out)
    return ApiKey.objects.get(pk=json.loads(out.getvalue())["key_id"])


@pytest.mark.smoke
def test_the_key_gets_its_plan_and_values_and_the_gateway_sees_them(make_alias):
    make_alias("fast-chat")
    seed_plans()
    key = _create("--plan", "free", "--rpm", "50", "--tpm", "9000", "--max-concurrency", "3",
                  "--budget-usd", "0.05", "--budget-period", "day", "--budget-mode", "strict")
    settings = LimitSettings.objects.get(key=key)
    assert settings.plan == Plan.objects.get(name="free")
    assert (settings.requests_per_minute, settings.tokens_per_minute, settings.max_concurrency) == (50, 9000, 3)
    assert settings.cost_per_day == Decimal("0.05") and settings.budget_mode == "strict"
    rule = gateway_limit_table().keys[key.pk]
    # The key's own values replace the plan's; what it does not set comes from the plan (free: $10/month).
    assert (rule.requests_per_minute, rule.cost_per_day_nano, rule.strict) == (50, 50_000_000, True)
    assert rule.cost_per_month_nano == 10 * 10**9 and rule.plan == "free"
    assert AuditEvent.objects.filter(action="limits.set", target_id=str(key.pk)).exists()


@pytest.mark.parametrize("args, message", [
    (("--rpm", "0"), "--rpm must be a positive number"),
    (("--budget-usd", "5"), "go together"),
    (("--budget-usd", "lots", "--budget-period", "day"), "must be an amount"),
    (("--budget-usd", "-1", "--budget-period", "month"), "zero or more"),
    (("--budget-mode", "strict"), "needs --budget-usd"),
    (("--plan", "platinum"), "No plan is called 'platinum'"),
])
def test_bad_limits_are_refused_and_nothing_is_created(make_alias, args, message):
    make_alias("fast-chat")
    with pytest.raises(CommandError, match=message):
        _create(*args)
    assert not ApiKey.objects.exists()
