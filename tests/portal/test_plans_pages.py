"""The plans page, an application's plan and limits, a team's caps and a model's cap: platform admins change them
(audited, the gateways' "keys" version moved), members read their own team's, nobody else's."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aiplatform.config_version import current
from aiplatform.models import AuditEvent
from aiplatform.roles import PlatformRole, TenantRole
from portal import services
from portal.models import AlertWebhook, LimitSettings, Plan

NEW_PLAN = {"name": "batch", "description": "Night jobs", "requests_per_minute": "100", "tokens_per_minute": "500000",
            "max_concurrency": "8", "burst": "20", "tokens_per_day": "", "tokens_per_month": "90000000",
            "cost_per_day": "", "cost_per_month": "250.5", "budget_mode": "strict", "redis_failure": "fail_closed",
            "shadow": "on", "default_output_tokens": "256"}


def _form_of(plan: Plan, **changes) -> dict:
    """The edit form as the page fills it, with ``changes``."""
    data = {name: "" if getattr(plan, name) is None else str(getattr(plan, name))
            for name in (*Plan.VALUE_FIELDS, "budget_mode", "redis_failure", "description", "default_output_tokens")}
    if plan.shadow:
        data["shadow"] = "on"
    return {**data, **changes}


@pytest.fixture
def admin_client(client, platform_admin):
    client.force_login(platform_admin)
    return client


# --- the plans page -------------------------------------------------------------------------------

def test_an_admin_sees_every_plan_with_what_follows_it(admin_client, developer, app, api_key):
    services.set_limits(actor=None, owner=api_key, values={"plan": "premium"})
    revoked, _ = services.create_api_key(actor=developer, application=app)
    services.set_limits(actor=None, owner=revoked, values={"plan": "premium"})
    services.revoke_api_key(actor=developer, key=revoked)

    page = admin_client.get("/portal/plans/").content.decode()

    for name in ("free", "standard", "premium"):
        assert f'id="plan-{name}"' in page
    standard = page[page.index('id="plan-standard"'):page.index('id="new-plan"')]
    assert "1 application (1 by default)" in standard
    premium = page[page.index('id="plan-premium"'):page.index('id="plan-standard"')]
    assert "1 live key<" in premium  # the revoked one does not count
    assert "600 requests/min" in page
    assert "Counters are kept when limits change" in page


def test_the_admin_navigation_links_the_plans_page(client, platform_admin, developer):
    client.force_login(platform_admin)
    assert 'href="/portal/plans/"' in client.get("/portal/").content.decode()
    client.force_login(developer)
    assert 'href="/portal/plans/"' not in client.get("/portal/").content.decode()


def test_an_admin_creates_a_plan(admin_client, platform_admin):
    before = current("keys")

    response = admin_client.post("/portal/plans/", NEW_PLAN)

    assert response.status_code == 302
    plan = Plan.objects.get(name="batch")
    assert plan.requests_per_minute == 100
    assert plan.tokens_per_day is None
    assert plan.cost_per_month == Decimal("250.5")
    assert plan.budget_mode == "strict"
    assert plan.redis_failure == "fail_closed"
    assert plan.shadow is True
    assert plan.default_output_tokens == 256
    assert AuditEvent.objects.filter(action="plan.create", actor=platform_admin).count() == 1
    assert current("keys") > before


def test_an_admin_edits_a_plan_and_is_told_counters_are_kept(admin_client, platform_admin):
    free = Plan.objects.get(name="free")
    before = current("keys")

    form = admin_client.get("/portal/plans/free/").content.decode()
    response = admin_client.post("/portal/plans/free/", _form_of(free, requests_per_minute="30", burst="5"))

    assert "Counters are kept when limits change" in form
    assert 'value="40000"' in form  # the form shows what is set now
    assert response.status_code == 302
    free.refresh_from_db()
    assert free.requests_per_minute == 30
    assert free.burst == 5
    assert free.tokens_per_minute == 40_000
    assert free.cost_per_day == Decimal("1")
    event = AuditEvent.objects.get(action="plan.update", actor=platform_admin)
    assert event.changes["requests_per_minute"] == 30
    assert event.changes["before"]["requests_per_minute"] == 20
    assert current("keys") > before


def test_a_developer_cannot_see_create_or_edit_plans(client, developer):
    client.force_login(developer)

    listing = client.get("/portal/plans/")
    created = client.post("/portal/plans/", NEW_PLAN)
    edited = client.post("/portal/plans/free/", _form_of(Plan.objects.get(name="free"), requests_per_minute="1"))

    assert listing.status_code == 403
    assert created.status_code == 403
    assert edited.status_code == 403
    assert not Plan.objects.filter(name="batch").exists()
    assert Plan.objects.get(name="free").requests_per_minute == 20
    assert AuditEvent.objects.filter(action="security.permission_denied", actor=developer).count() == 3


BAD_VALUES = [("requests_per_minute", "-1"), ("requests_per_minute", "0"), ("requests_per_minute", "many"),
              ("requests_per_minute", "10000001"), ("tokens_per_minute", "1" + "0" * 30), ("burst", "1.5"),
              ("cost_per_month", "-0.01"), ("cost_per_month", "1000000001"), ("cost_per_day", "1e400"),
              ("cost_per_day", "0.0000001"), ("budget_mode", "lenient"), ("redis_failure", "maybe"),
              ("default_output_tokens", "0"), ("default_output_tokens", "1000001")]


@pytest.mark.parametrize(("field", "value"), [*BAD_VALUES, ("name", "Has Spaces"), ("name", "")])
def test_a_bad_value_creates_no_plan(admin_client, field, value):
    response = admin_client.post("/portal/plans/", {**NEW_PLAN, field: value})

    assert response.status_code == 400
    assert 'class="errorlist"' in response.content.decode()
    assert not Plan.objects.filter(name__in=["batch", value]).exists()


def test_a_plan_name_is_taken_once(admin_client):
    response = admin_client.post("/portal/plans/", {**NEW_PLAN, "name": "free"})

    assert response.status_code == 400
    assert "already exists" in response.content.decode()


# Negative, zero, not a number, beyond the model's bound: one of each kind is enough where the fields are shared.
SOME_BAD_VALUES = [BAD_VALUES[0], BAD_VALUES[1], BAD_VALUES[2], BAD_VALUES[4], BAD_VALUES[7]]


@pytest.mark.parametrize(("field", "value"), SOME_BAD_VALUES)
def test_a_bad_value_changes_no_plan(admin_client, field, value):
    free = Plan.objects.get(name="free")

    response = admin_client.post("/portal/plans/free/", _form_of(free, **{field: value}))

    assert response.status_code == 400
    assert 'class="errorlist"' in response.content.decode()
    assert not AuditEvent.objects.filter(action="plan.update").exists()


def test_an_unknown_plan_is_a_404(admin_client):
    assert admin_client.get("/portal/plans/platinum/").status_code == 404


# --- an application's plan ------------------------------------------------------------------------

def test_the_application_page_loads_its_plan_and_limits(client, developer, app):
    client.force_login(developer)

    page = client.get(f"/portal/applications/{app.pk}/").content.decode()

    assert f'hx-get="/portal/applications/{app.pk}/limits/"' in page
    assert f'href="/portal/applications/{app.pk}/limits/"' in page  # without JavaScript, a link


def test_a_member_sees_the_default_plan_in_force_read_only(client, developer, app):
    client.force_login(developer)

    fragment = client.get(f"/portal/applications/{app.pk}/limits/", HTTP_HX_REQUEST="true")

    html = fragment.content.decode()
    assert "<html" not in html
    assert '<strong id="plan-in-force">standard</strong>' in html
    assert "the platform default" in html
    assert "application-limits-form" not in html
    assert "HX-Request" in fragment["Vary"]


def test_an_admin_sets_the_applications_plan_and_limits(client, platform_admin, app):
    client.force_login(platform_admin)
    before = current("keys")

    form = client.get(f"/portal/applications/{app.pk}/limits/").content.decode()
    response = client.post(f"/portal/applications/{app.pk}/limits/",
                           {"plan": "premium", "requests_per_minute": "100", "cost_per_day": "5"})
    shown = client.get(f"/portal/applications/{app.pk}/limits/").content.decode()

    assert 'id="application-limits-form"' in form
    assert response.status_code == 302
    assert response.url == f"/portal/applications/{app.pk}/"
    limits = LimitSettings.objects.get(application=app)
    assert limits.plan.name == "premium"
    assert limits.requests_per_minute == 100
    assert limits.cost_per_day == Decimal("5")
    assert AuditEvent.objects.filter(action="limits.set", actor=platform_admin, target_id=str(app.pk)).exists()
    assert current("keys") > before
    assert '<strong id="plan-in-force">premium</strong>' in shown
    assert "the platform default" not in shown


def test_a_developer_cannot_set_the_applications_plan(client, developer, app):
    client.force_login(developer)

    response = client.post(f"/portal/applications/{app.pk}/limits/", {"plan": "premium"})

    assert response.status_code == 403
    assert not LimitSettings.objects.filter(application=app).exists()


@pytest.mark.parametrize(("field", "value"), [("plan", "platinum"), *SOME_BAD_VALUES])
def test_a_bad_application_limit_is_a_form_error(client, platform_admin, app, field, value):
    client.force_login(platform_admin)

    response = client.post(f"/portal/applications/{app.pk}/limits/", {field: value})

    assert response.status_code == 400
    assert 'class="errorlist"' in response.content.decode()
    assert not LimitSettings.objects.filter(application=app).exists()


def test_another_teams_application_is_not_found(client, tenant_b, make_member, app):
    outsider = make_member(tenant_b, TenantRole.ADMIN)
    client.force_login(outsider)

    assert client.get(f"/portal/applications/{app.pk}/limits/").status_code == 404
    assert client.post(f"/portal/applications/{app.pk}/limits/", {"plan": "free"}).status_code == 404
    assert AuditEvent.objects.filter(action="security.cross_tenant_access", actor=outsider).count() == 2


# --- a team's caps --------------------------------------------------------------------------------

def test_an_admin_sets_a_teams_caps(client, platform_admin, tenant_a):
    client.force_login(platform_admin)
    before = current("keys")

    response = client.post("/portal/teams/alpha/caps/", {"requests_per_minute": "1000", "cost_per_month": "500",
                                                         "budget_mode": "strict"})

    assert response.status_code == 302
    assert response.url == "/teams/alpha/"
    caps = LimitSettings.objects.get(tenant=tenant_a)
    assert caps.requests_per_minute == 1000
    assert caps.cost_per_month == Decimal("500")
    assert caps.budget_mode == "strict"
    assert AuditEvent.objects.filter(action="limits.set", actor=platform_admin, tenant=tenant_a).exists()
    assert current("keys") > before


def test_a_member_sees_the_teams_caps_read_only(client, tenant_a, make_member):
    services.set_limits(actor=None, owner=tenant_a, values={"requests_per_minute": 1000, "cost_per_month": 500})
    viewer = make_member(tenant_a, TenantRole.VIEWER)
    client.force_login(viewer)

    team = client.get("/teams/alpha/").content.decode()
    caps = client.get("/portal/teams/alpha/caps/").content.decode()
    refused = client.post("/portal/teams/alpha/caps/", {"requests_per_minute": "1"})

    assert 'hx-get="/portal/teams/alpha/caps/"' in team
    assert "1,000" in caps
    assert "$500.00" in caps
    assert "team-caps-form" not in caps
    assert refused.status_code == 403
    assert LimitSettings.objects.get(tenant=tenant_a).requests_per_minute == 1000


def test_a_team_without_caps_says_so(client, developer, tenant_a):
    client.force_login(developer)

    assert "No team caps." in client.get("/portal/teams/alpha/caps/").content.decode()


def test_another_teams_member_is_refused_the_caps(client, tenant_a, tenant_b, make_member):
    outsider = make_member(tenant_b, TenantRole.OWNER)
    client.force_login(outsider)

    assert client.get("/portal/teams/alpha/caps/").status_code == 404
    assert client.post("/portal/teams/alpha/caps/", {"requests_per_minute": "1"}).status_code == 404
    assert not LimitSettings.objects.filter(tenant=tenant_a).exists()
    assert AuditEvent.objects.filter(action="security.cross_tenant_access", actor=outsider).exists()


@pytest.mark.parametrize(("field", "value"), [*SOME_BAD_VALUES, ("budget_mode", "lenient")])
def test_a_bad_cap_is_a_form_error(client, platform_admin, tenant_a, field, value):
    client.force_login(platform_admin)

    response = client.post("/portal/teams/alpha/caps/", {field: value})

    assert response.status_code == 400
    assert 'class="errorlist"' in response.content.decode()
    assert not LimitSettings.objects.filter(tenant=tenant_a).exists()


# --- a model's cap --------------------------------------------------------------------------------

def test_an_admin_caps_a_model_across_every_caller(client, platform_admin, alias):
    client.force_login(platform_admin)
    before = current("keys")

    response = client.post("/portal/models/fast-chat/limits/", {"requests_per_minute": "5000",
                                                                "max_concurrency": "64"})
    plans = client.get("/portal/plans/").content.decode()

    assert response.status_code == 302
    cap = LimitSettings.objects.get(alias=alias)
    assert cap.requests_per_minute == 5000
    assert cap.max_concurrency == 64
    assert cap.tokens_per_minute is None
    assert AuditEvent.objects.filter(action="limits.set", actor=platform_admin).exists()
    assert current("keys") > before
    model_caps = plans[plans.index('id="model-caps"'):]
    assert "5,000" in model_caps
    assert 'href="/portal/models/fast-chat/limits/"' in model_caps


def test_a_model_cap_is_for_platform_admins(client, model_owner, alias):
    client.force_login(model_owner)

    assert client.get("/portal/models/fast-chat/limits/").status_code == 403
    assert client.post("/portal/models/fast-chat/limits/", {"requests_per_minute": "1"}).status_code == 403
    assert not LimitSettings.objects.filter(alias=alias).exists()


@pytest.mark.parametrize("value", ["0", "-5", "lots", "10000001"])
def test_a_bad_model_cap_is_a_form_error(client, platform_admin, alias, value):
    client.force_login(platform_admin)

    response = client.post("/portal/models/fast-chat/limits/", {"requests_per_minute": value})

    assert response.status_code == 400
    assert not LimitSettings.objects.filter(alias=alias).exists()


# --- the Django admin -----------------------------------------------------------------------------

@pytest.fixture
def superuser_client(client, make_user):
    root = make_user("super@example.com", platform_role=PlatformRole.PLATFORM_ADMIN, is_superuser=True)
    client.force_login(root)
    return client


@pytest.mark.parametrize("model", ["plan", "limitsettings", "usagerollup", "budgetalert", "alertwebhook",
                                   "usageevent"])
def test_the_admin_lists_plans_limits_and_usage_read_only(superuser_client, api_key, model):
    services.set_limits(actor=None, owner=api_key, values={"requests_per_minute": 5})

    assert superuser_client.get(f"/admin/portal/{model}/").status_code == 200
    assert superuser_client.get(f"/admin/portal/{model}/add/").status_code == 403


def test_the_admin_shows_a_webhooks_scheme_and_host_only(superuser_client, tenant_a):
    webhook = AlertWebhook.objects.create(tenant=tenant_a, url="https://hooks.example.com/services/T0/B0/s3cr3t?x=1",
                                          secret_ref="env:ALERT_WEBHOOK_SECRET")

    listing = superuser_client.get("/admin/portal/alertwebhook/").content.decode()

    assert "https://hooks.example.com" in listing
    assert "s3cr3t" not in listing
    assert superuser_client.get(f"/admin/portal/alertwebhook/{webhook.pk}/change/").status_code in (302, 403)
