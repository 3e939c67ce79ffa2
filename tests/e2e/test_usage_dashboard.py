"""In the browser: a team member opens the team's usage page from the team page and sees the spend charts drawn;
a platform admin opens every team's spend and downloads the chargeback CSV; no page breaks the CSP."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from aiplatform.roles import PlatformRole, TenantRole
from portal import services
from portal.models import UsageEvent
from registry import services as registry_services
from tests.conftest import PASSWORD

pytestmark = pytest.mark.e2e


def sign_in(page, email: str) -> list[str]:
    """Sign in; the list collects every Content-Security-Policy violation the console reports from then on."""
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page.locator(".who")).to_have_text(email)
    return violations


@pytest.fixture
def team_with_spend(tenant_a, make_member, make_user):
    tenant_a.cost_centre = "CC-100"
    tenant_a.save()
    developer = make_member(tenant_a, TenantRole.DEVELOPER, email="dev@example.com")
    alias = registry_services.create_alias(actor=None, name="fast-chat", status="approved")
    app = services.create_application(actor=developer, tenant=tenant_a, name="checkout-bot")
    services.grant_subscription(application=app, alias=alias, reason="test")
    key, _ = services.create_api_key(actor=developer, application=app, name="prod")
    services.set_limits(actor=developer, owner=key, values={"cost_per_day": Decimal("0.05")})
    for n, cost in enumerate(["0.014", "0.021", "0"]):
        UsageEvent.objects.create(
            request_id=f"e2e-{n}", occurred_at=timezone.now(), tenant=tenant_a, application=app, key=key,
            alias="fast-chat", operation="chat", prompt_tokens=100, completion_tokens=50, total_tokens=150,
            cost=Decimal(cost), total_ms=20.0, status=200 if cost != "0" else 429,
            error_class="" if cost != "0" else "rate_limited")
    return key


def test_a_member_sees_the_charts_and_what_is_left(page, server_url, team_with_spend):
    violations = sign_in(page, "dev@example.com")

    page.goto("/portal/teams/alpha/")
    page.get_by_role("link", name="Usage and spend").click()
    page.wait_for_load_state("networkidle")

    expect(page.get_by_role("heading", name="Alpha usage")).to_be_visible()
    expect(page.locator("#spend-month")).to_have_text("$0.035")
    for chart in ("#chart-daily svg", "#chart-hourly svg"):
        svg = page.locator(chart)
        expect(svg).to_be_visible()
        box = svg.bounding_box()
        assert box["width"] > 300
        assert box["height"] > 50
        assert svg.locator("rect").count() > 1
    today = page.locator("#chart-hourly svg g.series rect").nth(timezone.now().hour)
    assert today.bounding_box()["height"] > 1  # this hour's column is drawn, not flat
    expect(page.locator("#limits")).to_contain_text("$0.035 of $0.05 per day")
    expect(page.locator("#errors")).to_contain_text("rate_limited")
    assert violations == []


def test_an_admin_exports_the_chargeback(page, server_url, team_with_spend, make_user):
    make_user("root@example.com", platform_role=PlatformRole.PLATFORM_ADMIN)
    violations = sign_in(page, "root@example.com")

    page.get_by_role("link", name="Spend", exact=True).click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#cost-centres")).to_contain_text("CC-100")
    expect(page.locator("#chart-daily svg")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Export chargeback CSV").click()

    lines = open(download.value.path(), encoding="utf-8").read().splitlines()
    assert lines[0] == "month,cost_centre,tenant,application,alias,requests,prompt_tokens,completion_tokens,cost"
    assert lines[1] == f"{timezone.now():%Y-%m},CC-100,alpha,checkout-bot,fast-chat,3,300,150,0.035000000"
    assert violations == []
