"""Usage pages: a team's members see its consumption, limits and what is left, charts and errors; another team's
member is refused; platform admins and auditors see every team's spend and export the chargeback CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from aiplatform.models import AuditEvent, Tenant
from aiplatform.roles import PlatformRole, TenantRole
from portal import services
from portal.models import UsageEvent

_ids = iter(range(1, 10**9))


def spend(key, *, cost: str, at=None, alias: str = "fast-chat", status: int = 200, error_class: str = "",
          prompt: int = 100, completion: int = 50) -> UsageEvent:
    """One call in the ledger, as the gateway's worker writes it."""
    return UsageEvent.objects.create(
        request_id=f"req-{next(_ids)}", occurred_at=at or timezone.now(), tenant_id=key.tenant_id,
        application_id=key.application_id, key=key, alias=alias, operation="chat", prompt_tokens=prompt,
        completion_tokens=completion, total_tokens=prompt + completion, cost=Decimal(cost), total_ms=12.0,
        status=status, error_class=error_class)


@pytest.fixture
def viewer(tenant_a, make_member):
    return make_member(tenant_a, TenantRole.VIEWER, email="viewer@example.com")


@pytest.mark.smoke
def test_a_viewer_sees_this_months_spend_per_model_and_errors(client, viewer, api_key):
    spend(api_key, cost="0.014")
    spend(api_key, cost="0.021")
    spend(api_key, cost="0", status=429, error_class="rate_limited", prompt=0, completion=0)
    spend(api_key, cost="9.99", at=timezone.now() - timedelta(days=40))  # an earlier month
    client.force_login(viewer)

    page = client.get("/portal/teams/alpha/usage/").content.decode()

    assert '<strong id="spend-month">$0.035</strong>' in page
    assert '<strong id="calls-month">3</strong>' in page
    assert '<strong id="tokens-month">300</strong>' in page
    assert '<strong id="error-rate">33.3 %</strong>' in page
    assert "<td>429</td><td>rate_limited</td><td>1</td>" in page
    assert "<td>fast-chat</td><td>3</td>" in page


def test_the_top_applications_and_keys_are_listed_by_spend(client, developer, app, api_key, alias):
    other = services.create_application(actor=developer, tenant=api_key.tenant, name="hr-bot")
    services.grant_subscription(application=other, alias=alias, reason="test")
    other_key, _ = services.create_api_key(actor=developer, application=other, name="hr")
    spend(api_key, cost="0.50")
    spend(other_key, cost="1.25")
    client.force_login(developer)

    page = client.get("/portal/teams/alpha/usage/").content.decode()

    top = page[page.index('id="top-applications"'):page.index('id="top-keys"')]
    assert top.index("hr-bot") < top.index("checkout-bot")
    assert "$1.25" in top
    keys = page[page.index('id="top-keys"'):]
    assert f"{other_key.key_prefix}… hr" in keys


def test_the_charts_are_inline_svg_with_a_column_per_day_and_hour(client, viewer, api_key):
    spend(api_key, cost="0.20")
    client.force_login(viewer)

    page = client.get("/portal/teams/alpha/usage/").content.decode()

    daily = page[page.index('id="chart-daily"'):page.index('id="chart-hourly"')]
    hourly = page[page.index('id="chart-hourly"'):]
    days_in_month = (timezone.now().replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    assert daily.count("<rect x=") == days_in_month.day + 1  # the background and one column a day
    assert hourly.count("<rect x=") == 24 + 1
    assert f"{timezone.now():%H}: $0.20, 1 calls" in hourly
    assert "<script" not in daily
    assert "style=" not in daily


def test_a_budget_shows_what_was_used_and_what_is_left(client, developer, api_key):
    services.set_limits(actor=developer, owner=api_key, values={"cost_per_day": Decimal("0.05"),
                                                                "requests_per_minute": 50, "budget_mode": "strict"})
    spend(api_key, cost="0.014")
    spend(api_key, cost="0.014")
    client.force_login(developer)

    page = client.get("/portal/teams/alpha/usage/").content.decode()

    limits = page[page.index('id="limits"'):]
    assert "$0.028 of $0.05 per day" in limits
    assert "$0.022 left · strict" in limits
    assert 'value="56"' in limits  # the meter: 56 % used
    assert "50 calls/min" in limits


def test_the_applications_plan_is_a_limit_in_force(client, developer, api_key):
    client.force_login(developer)

    page = client.get("/portal/teams/alpha/usage/").content.decode()

    limits = page[page.index('id="limits"'):]
    assert "checkout-bot" in limits
    assert "standard" in limits  # the default plan every application without one follows


def test_an_empty_month_says_so(client, viewer, app):
    client.force_login(viewer)

    page = client.get("/portal/teams/alpha/usage/").content.decode()

    assert "No calls this month." in page


def test_another_teams_member_gets_the_same_404_as_for_its_team_page(client, tenant_b, make_member, api_key):
    spend(api_key, cost="1.00")
    outsider = make_member(tenant_b, TenantRole.OWNER, email="outsider@example.com")
    client.force_login(outsider)

    usage = client.get("/portal/teams/alpha/usage/")
    team = client.get("/teams/alpha/")

    assert usage.status_code == 404
    assert team.status_code == 404
    assert AuditEvent.objects.filter(action="security.cross_tenant_access", actor=outsider).count() == 2


def test_an_auditor_sees_a_teams_usage(client, make_user, api_key):
    spend(api_key, cost="0.30")
    client.force_login(make_user("auditor@example.com", platform_role=PlatformRole.AUDITOR))

    page = client.get("/portal/teams/alpha/usage/").content.decode()

    assert '<strong id="spend-month">$0.30</strong>' in page


def test_the_team_page_links_to_its_usage(client, viewer, tenant_a):
    client.force_login(viewer)

    page = client.get("/teams/alpha/").content.decode()

    assert 'href="/portal/teams/alpha/usage/"' in page


# --- the platform's pages -------------------------------------------------------------------------

@pytest.fixture
def two_teams_spending(api_key, tenant_b, make_member, alias):
    Tenant.objects.filter(pk=api_key.tenant_id).update(cost_centre="CC-100")
    Tenant.objects.filter(pk=tenant_b.pk).update(cost_centre="CC-200")
    bravo_dev = make_member(tenant_b, TenantRole.DEVELOPER)
    bravo_app = services.create_application(actor=bravo_dev, tenant=tenant_b, name="=HYPERLINK(\"http://x\")")
    services.grant_subscription(application=bravo_app, alias=alias, reason="test")
    bravo_key, _ = services.create_api_key(actor=bravo_dev, application=bravo_app)
    spend(api_key, cost="0.014")
    spend(api_key, cost="0.006")
    spend(bravo_key, cost="2.5", prompt=1000, completion=500)
    return bravo_key


def test_the_platform_page_lists_top_spenders_and_cost_centres(client, platform_admin, two_teams_spending):
    client.force_login(platform_admin)

    page = client.get("/portal/usage/").content.decode()

    top = page[page.index('id="top-spenders"'):page.index('id="cost-centres"')]
    assert top.index("Bravo") < top.index("Alpha")
    centres = page[page.index('id="cost-centres"'):page.index('id="all-teams"')]
    assert "<td>CC-200</td><td>1</td><td>1</td><td>$2.50</td>" in centres
    assert "<td>CC-100</td><td>1</td><td>2</td><td>$0.02</td>" in centres
    assert '<strong id="spend-total">$2.52</strong>' in page


@pytest.mark.smoke
def test_the_chargeback_csv_has_a_row_per_team_application_and_model(client, platform_admin, two_teams_spending):
    client.force_login(platform_admin)
    month = f"{timezone.now():%Y-%m}"

    response = client.get(f"/portal/usage/chargeback.csv?month={month}")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["month", "cost_centre", "tenant", "application", "alias", "requests", "prompt_tokens",
                       "completion_tokens", "cost"]
    assert rows[1] == [month, "CC-100", "alpha", "checkout-bot", "fast-chat", "2", "200", "100", "0.020000000"]
    assert rows[2] == [month, "CC-200", "bravo", "'=HYPERLINK(\"http://x\")", "fast-chat", "1", "1000", "500",
                       "2.500000000"]
    assert len(rows) == 3


def test_every_export_is_audited(client, platform_admin, two_teams_spending):
    client.force_login(platform_admin)

    client.get("/portal/usage/chargeback.csv?month=2026-01")

    event = AuditEvent.objects.get(action="usage.export")
    assert event.actor == platform_admin
    assert event.changes["month"] == "2026-01"


def test_an_auditor_may_export(client, make_user, two_teams_spending):
    client.force_login(make_user("auditor@example.com", platform_role=PlatformRole.AUDITOR))

    response = client.get(f"/portal/usage/chargeback.csv?month={timezone.now():%Y-%m}")

    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/portal/usage/", "/portal/usage/chargeback.csv?month=2026-01"])
def test_a_team_admin_may_not_see_every_teams_spend(client, tenant_a, make_member, path):
    client.force_login(make_member(tenant_a, TenantRole.OWNER))

    response = client.get(path)

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="usage.export").exists()


@pytest.mark.parametrize("month", ["2026-13", "26-01", "2026-1", "x", "1999-12"])
def test_a_bad_month_is_a_400(client, platform_admin, month):
    client.force_login(platform_admin)

    page = client.get(f"/portal/usage/?month={month}")
    export = client.get(f"/portal/usage/chargeback.csv?month={month}")

    assert page.status_code == 400
    assert export.status_code == 400
