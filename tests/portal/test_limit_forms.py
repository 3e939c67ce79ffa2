"""The key, subscription request and approval forms take a plan and limits (saved through ``set_limits``, audited);
the application page shows the limits in force."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aiplatform.models import AuditEvent
from aiplatform.roles import TenantRole
from portal import services
from portal.models import ApiKey, LimitSettings, Subscription

KEY_LIMITS = {"key-plan": "premium", "key-requests_per_minute": "50", "key-tokens_per_minute": "20000",
              "key-max_concurrency": "4", "key-budget_usd": "0.05", "key-budget_period": "day",
              "key-budget_mode": "strict"}


@pytest.mark.smoke
def test_a_key_is_created_with_its_plan_and_limits(client, developer, app, approved):
    client.force_login(developer)

    shown = client.post(f"/portal/applications/{app.pk}/keys", {"name": "prod", **KEY_LIMITS})

    assert shown.status_code == 302
    limits = LimitSettings.objects.get(key=ApiKey.objects.get())
    assert limits.plan.name == "premium"
    assert limits.requests_per_minute == 50
    assert limits.tokens_per_minute == 20000
    assert limits.max_concurrency == 4
    assert limits.cost_per_day == Decimal("0.05")
    assert limits.cost_per_month is None
    assert limits.budget_mode == "strict"
    assert AuditEvent.objects.filter(action="limits.set", actor=developer).count() == 1


def test_a_monthly_soft_budget_is_the_default(client, developer, app, approved):
    client.force_login(developer)

    client.post(f"/portal/applications/{app.pk}/keys", {"key-budget_usd": "12.5"})

    limits = LimitSettings.objects.get(key=ApiKey.objects.get())
    assert limits.cost_per_month == Decimal("12.5")
    assert limits.budget_mode == "soft"


def test_a_key_without_limits_has_no_settings_of_its_own(client, developer, app, approved):
    client.force_login(developer)

    client.post(f"/portal/applications/{app.pk}/keys", {"name": "plain"})

    assert ApiKey.objects.count() == 1
    assert not LimitSettings.objects.filter(level="key").exists()


@pytest.mark.parametrize(("field", "value"), [("key-requests_per_minute", "0"), ("key-plan", "platinum"),
                                              ("key-budget_usd", "-1"), ("key-budget_period", "week")])
def test_a_bad_limit_issues_no_key(client, developer, app, approved, field, value):
    client.force_login(developer)

    response = client.post(f"/portal/applications/{app.pk}/keys", {"name": "prod", field: value})

    assert response.status_code == 400
    assert not ApiKey.objects.exists()
    assert 'class="errorlist"' in response.content.decode()


def test_a_viewer_is_refused_and_the_refusal_stays_audited(client, tenant_a, make_member, app, approved):
    viewer = make_member(tenant_a, TenantRole.VIEWER)
    client.force_login(viewer)

    response = client.post(f"/portal/applications/{app.pk}/keys", KEY_LIMITS)

    assert response.status_code == 403
    assert not ApiKey.objects.exists()
    assert AuditEvent.objects.filter(action="security.permission_denied", actor=viewer).exists()


def test_a_subscription_is_requested_with_its_limits(client, developer, app, alias):
    client.force_login(developer)

    client.post(f"/portal/applications/{app.pk}/subscriptions",
                {"alias": "fast-chat", "use_case": "Support", "sub-plan": "free", "sub-tokens_per_minute": "5000"})

    limits = LimitSettings.objects.get(subscription=Subscription.objects.get())
    assert limits.plan.name == "free"
    assert limits.tokens_per_minute == 5000


def test_a_platform_admin_approves_with_limits(client, platform_admin, pending):
    client.force_login(platform_admin)

    client.post(f"/portal/approvals/subscriptions/{pending.pk}",
                {"decision": "approve", f"limits-{pending.pk}-requests_per_minute": "120",
                 f"limits-{pending.pk}-budget_usd": "100"})

    pending.refresh_from_db()
    assert pending.status == "approved"
    limits = LimitSettings.objects.get(subscription=pending)
    assert limits.requests_per_minute == 120
    assert limits.cost_per_month == Decimal("100")


def test_the_admins_queue_shows_the_limit_fields(client, platform_admin, pending):
    client.force_login(platform_admin)

    page = client.get("/portal/approvals/").content.decode()

    assert f'name="limits-{pending.pk}-requests_per_minute"' in page
    assert f'id="id_limits-{pending.pk}-plan_{pending.pk}"' in page


def test_a_model_owner_outside_the_team_approves_without_limits(client, model_owner, pending):
    client.force_login(model_owner)

    page = client.get("/portal/approvals/").content.decode()
    refused = client.post(f"/portal/approvals/subscriptions/{pending.pk}",
                          {"decision": "approve", f"limits-{pending.pk}-requests_per_minute": "120"}, follow=True)

    assert "limits-" not in page
    assert "approve without them" in refused.content.decode()
    pending.refresh_from_db()
    assert pending.status == "pending"
    assert not LimitSettings.objects.filter(subscription=pending).exists()


def test_the_application_page_shows_the_limits_in_force(client, developer, app, api_key):
    services.set_limits(actor=developer, owner=api_key, values={"requests_per_minute": 50, "max_concurrency": 2})
    client.force_login(developer)

    page = client.get(f"/portal/applications/{app.pk}/").content.decode()

    limits = page[page.index('id="limits"'):]
    assert f"{api_key.key_prefix}…" in limits
    assert "50 calls/min" in limits
    assert "2 at once" in limits
    assert "standard" in limits  # the application follows the default plan
