"""Usage over the REST API: a team's consumption and limits for its members, every team's spend and the
chargeback for platform admins and auditors; bad query parameters are 400s naming them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from aiplatform.models import AuditEvent, Tenant
from aiplatform.roles import PlatformRole, TenantRole
from portal import services
from portal.models import UsageRollup
from tests.portal.test_usage_pages import spend


@pytest.fixture
def member_api(client, developer, token_for):
    """GET as the team's developer, with a personal access token."""
    headers = token_for(developer)
    return lambda path: client.get(path, **headers)


@pytest.mark.smoke
def test_a_member_gets_the_months_totals_per_model_and_a_series_per_day(member_api, api_key):
    spend(api_key, cost="0.014")
    spend(api_key, cost="0.021", status=500, error_class="upstream_error")

    body = member_api("/api/teams/alpha/usage/").json()

    assert body["tenant"] == "alpha"
    assert body["granularity"] == "day"
    assert body["totals"]["requests"] == 2
    assert body["totals"]["errors"] == 1
    assert body["totals"]["error_rate"] == 0.5
    assert body["totals"]["cost"] == "0.035000000"
    assert body["by_alias"] == [{"alias": "fast-chat", "totals": body["totals"]}]
    assert body["errors"] == [{"status": 500, "error_class": "upstream_error", "count": 1}]
    assert body["top_keys"][0]["id"] == api_key.pk
    month_start = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    assert body["since"] == month_start.isoformat().replace("+00:00", "Z")
    today = [p for p in body["series"] if p["totals"]["requests"]]
    assert [p["bucket_start"][:10] for p in today] == [f"{timezone.now():%Y-%m-%d}"]


def test_a_day_by_the_hour(member_api, api_key):
    day = timezone.now() - timedelta(days=2)
    spend(api_key, cost="0.5", at=day.replace(hour=9, minute=30))
    spend(api_key, cost="0.25", at=day.replace(hour=9, minute=59))
    spend(api_key, cost="9", at=day.replace(hour=23, minute=59) + timedelta(minutes=2))  # the next day

    body = member_api(f"/api/teams/alpha/usage/?since={day:%Y-%m-%d}&until={day + timedelta(days=1):%Y-%m-%d}"
                      "&granularity=hour").json()

    assert len(body["series"]) == 24
    assert body["series"][9]["totals"]["cost"] == "0.750000000"
    assert body["totals"]["requests"] == 2


@pytest.mark.smoke
def test_finished_hours_come_from_rollups_and_the_rest_from_the_ledger(member_api, api_key):
    hour = (timezone.now() - timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    # The rollup task has summed this hour: 7 calls, while the ledger holds only one (the rest pruned, say).
    UsageRollup.objects.create(granularity="hour", bucket_start=hour, tenant_id=api_key.tenant_id,
                               application_id=api_key.application_id, key=api_key, alias="fast-chat", requests=7,
                               errors=1, prompt_tokens=700, completion_tokens=70, cost=Decimal("0.7"))
    spend(api_key, cost="0.1", at=hour + timedelta(minutes=5))  # inside the rolled-up hour: not counted again
    spend(api_key, cost="0.2", at=hour + timedelta(hours=1, minutes=5))  # after the newest rollup: the ledger's

    body = member_api(f"/api/teams/alpha/usage/?since={hour:%Y-%m-%dT%H:%M:%SZ}"
                      f"&until={hour + timedelta(hours=2):%Y-%m-%dT%H:%M:%SZ}&granularity=hour").json()

    assert body["totals"]["requests"] == 8
    assert body["totals"]["cost"] == "0.900000000"
    assert [p["totals"]["requests"] for p in body["series"]] == [7, 1]


@pytest.mark.parametrize(("query", "field"), [
    ("since=yesterday", "since"),
    ("until=2026-02-30", "until"),
    ("since=2026-12-10&until=2026-12-01", "until"),
    ("granularity=week", "granularity"),
    ("since=2026-01-01&until=2026-03-01&granularity=hour", "until"),
    ("since=2024-01-01&until=2026-01-01", "until"),
    ("since=0001-01-01T00:00:00Z", "since"),
    ("until=9999-12-31T23:59:59Z", "until"),
])
def test_a_bad_query_is_a_400_naming_the_parameter(member_api, app, query, field):
    response = member_api(f"/api/teams/alpha/usage/?{query}")

    assert response.status_code == 400
    assert field in response.json()


def test_another_teams_usage_is_a_404_and_the_probe_is_audited(client, tenant_b, make_member, token_for, api_key):
    outsider = make_member(tenant_b, TenantRole.OWNER)

    response = client.get("/api/teams/alpha/usage/", **token_for(outsider))
    limits = client.get("/api/teams/alpha/usage/limits/", **token_for(outsider))

    assert response.status_code == 404
    assert limits.status_code == 404
    assert AuditEvent.objects.filter(action="security.cross_tenant_access", actor=outsider).count() == 2


def test_without_credentials_it_is_a_401(client, tenant_a):
    assert client.get("/api/teams/alpha/usage/").status_code == 401


def test_the_limits_in_force_with_what_is_left_paginated(member_api, developer, api_key):
    services.set_limits(actor=developer, owner=api_key, values={"tokens_per_day": 1000, "max_concurrency": 4})
    spend(api_key, cost="0.01", prompt=300, completion=100)

    body = member_api("/api/teams/alpha/usage/limits/?limit=10").json()

    key_line = next(line for line in body["results"] if line["level"] == "key")
    assert key_line["owner_id"] == api_key.pk
    assert key_line["max_concurrency"] == 4
    assert key_line["budgets"] == [{"measure": "tokens", "period": "day", "budget": "1000.000000000",
                                    "used": "400.000000000", "left": "600.000000000", "percent": 40,
                                    "strict": False, "shadow": False}]
    assert body["count"] == 2  # the key and its application (the default plan)


# --- the platform's reports -----------------------------------------------------------------------

@pytest.fixture
def admin_api(client, platform_admin, token_for):
    headers = token_for(platform_admin)
    return lambda path: client.get(path, **headers)


@pytest.fixture
def bravo_spends(api_key, tenant_b, make_member, alias):
    Tenant.objects.filter(pk=tenant_b.pk).update(cost_centre="CC-200")
    dev = make_member(tenant_b, TenantRole.DEVELOPER)
    app = services.create_application(actor=dev, tenant=tenant_b, name="hr-bot")
    services.grant_subscription(application=app, alias=alias, reason="test")
    key, _ = services.create_api_key(actor=dev, application=app)
    spend(key, cost="2.5")
    spend(api_key, cost="0.5")
    return key


def test_every_team_with_its_spend_top_spenders_first(admin_api, bravo_spends, make_tenant):
    make_tenant("charlie", name="Charlie")

    body = admin_api("/api/usage/tenants/").json()

    assert [row["tenant"] for row in body["results"]] == ["bravo", "alpha", "charlie"]
    assert body["results"][0]["totals"]["cost"] == "2.500000000"
    assert body["results"][2]["totals"]["requests"] == 0


def test_the_spend_per_cost_centre(admin_api, bravo_spends):
    body = admin_api(f"/api/usage/cost-centres/?month={timezone.now():%Y-%m}").json()

    assert [(row["cost_centre"], row["tenants"], row["totals"]["cost"]) for row in body["results"]] == [
        ("CC-200", 1, "2.500000000"), ("", 1, "0.500000000")]


def test_the_chargeback_rows_are_the_csvs_and_each_request_is_audited(admin_api, platform_admin, bravo_spends):
    month = f"{timezone.now():%Y-%m}"

    body = admin_api(f"/api/usage/chargeback/?month={month}").json()

    assert body["results"][0] == {"month": month, "cost_centre": "", "tenant": "alpha", "application": "checkout-bot",
                                  "alias": "fast-chat", "requests": 1, "prompt_tokens": 100,
                                  "completion_tokens": 50, "cost": "0.500000000"}
    assert body["results"][1]["tenant"] == "bravo"
    assert AuditEvent.objects.get(action="usage.export").changes["format"] == "json"


def test_an_old_month_is_empty_not_an_error(admin_api, bravo_spends):
    body = admin_api("/api/usage/chargeback/?month=2020-01").json()

    assert body["count"] == 0


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "1999-12", "abcd-ef", "2026-12-01"])
def test_a_bad_month_is_a_400(admin_api, month):
    response = admin_api(f"/api/usage/chargeback/?month={month}")

    assert response.status_code == 400
    assert "month" in response.json()


@pytest.mark.parametrize("path", ["/api/usage/tenants/", "/api/usage/cost-centres/", "/api/usage/chargeback/"])
def test_a_team_owner_may_not_see_every_teams_spend(client, tenant_a, make_member, token_for, path):
    response = client.get(path, **token_for(make_member(tenant_a, TenantRole.OWNER)))

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="usage.export").exists()


def test_an_auditor_sees_every_teams_spend(client, make_user, token_for, bravo_spends):
    auditor = make_user("auditor@example.com", platform_role=PlatformRole.AUDITOR)

    body = client.get("/api/usage/tenants/", **token_for(auditor)).json()

    assert {row["tenant"] for row in body["results"]} == {"alpha", "bravo"}


def test_a_period_in_another_time_zone_is_read_in_utc(member_api, api_key):
    at = datetime.now(UTC) - timedelta(days=1)
    spend(api_key, cost="1", at=at)
    since = (at - timedelta(minutes=1)).astimezone(timezone.get_fixed_timezone(120)).isoformat()

    body = member_api(f"/api/teams/alpha/usage/?since={since.replace('+', '%2B')}&granularity=hour").json()

    assert body["since"].endswith("Z")
    assert body["totals"]["requests"] == 1
