"""Plans and limit settings over the REST API: any signed-in user reads plans, platform admins write them; limits of
a key, subscription, application, team or model with the service's permissions; bad values are 400s naming the
field, unknown levels and other teams' owners 404s."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aiplatform.config_version import current
from aiplatform.models import AuditEvent
from aiplatform.roles import TenantRole
from portal import services
from portal.models import LimitSettings, Plan


@pytest.fixture
def api_as(client, token_for):
    """``api_as(user).get / post / patch / put`` with the user's personal access token, JSON bodies."""

    class Api:
        def __init__(self, user):
            self.headers = token_for(user)

        def get(self, path):
            return client.get(path, **self.headers)

        def post(self, path, body):
            return client.post(path, body, content_type="application/json", **self.headers)

        def patch(self, path, body):
            return client.patch(path, body, content_type="application/json", **self.headers)

        def put(self, path, body):
            return client.put(path, body, content_type="application/json", **self.headers)

    return Api


# --- plans ----------------------------------------------------------------------------------------

def test_any_signed_in_user_reads_the_plans(api_as, developer):
    listing = api_as(developer).get("/api/plans/").json()
    standard = api_as(developer).get("/api/plans/standard/").json()

    assert [plan["name"] for plan in listing["results"]] == ["free", "playground", "premium", "standard"]
    assert standard["is_default"] is True
    assert standard["requests_per_minute"] == 600
    assert standard["cost_per_month"] == "1000.000000"
    assert standard["cost_per_day"] is None
    assert standard["budget_mode"] == ""


def test_signing_in_is_required(client):
    assert client.get("/api/plans/").status_code in (401, 403)


def test_an_admin_creates_a_plan(api_as, platform_admin):
    before = current("keys")

    response = api_as(platform_admin).post("/api/plans/", {
        "name": "batch", "requests_per_minute": 100, "cost_per_month": "250.5", "budget_mode": "strict",
        "redis_failure": "fail_closed", "default_output_tokens": 256})

    assert response.status_code == 201
    assert response.json()["name"] == "batch"
    plan = Plan.objects.get(name="batch")
    assert plan.cost_per_month == Decimal("250.5")
    assert plan.redis_failure == "fail_closed"
    assert AuditEvent.objects.filter(action="plan.create", actor=platform_admin).count() == 1
    assert current("keys") > before


def test_an_admin_changes_a_plan_and_the_rest_of_it_stays(api_as, platform_admin):
    before = current("keys")

    response = api_as(platform_admin).patch("/api/plans/free/", {"requests_per_minute": 30, "shadow": True})

    assert response.status_code == 200
    assert response.json()["requests_per_minute"] == 30
    free = Plan.objects.get(name="free")
    assert free.shadow is True
    assert free.tokens_per_minute == 40_000
    assert free.cost_per_day == Decimal("1")
    event = AuditEvent.objects.get(action="plan.update", actor=platform_admin)
    assert event.changes["before"]["requests_per_minute"] == 20
    assert current("keys") > before


def test_a_developer_cannot_create_or_change_a_plan(api_as, developer):
    created = api_as(developer).post("/api/plans/", {"name": "batch"})
    changed = api_as(developer).patch("/api/plans/free/", {"requests_per_minute": 1})
    changed_badly = api_as(developer).patch("/api/plans/free/", {"requests_per_minute": -1})

    assert created.status_code == 403
    assert changed.status_code == 403
    assert changed_badly.status_code == 403  # refused before the body is looked at
    assert not Plan.objects.filter(name="batch").exists()
    assert Plan.objects.get(name="free").requests_per_minute == 20
    assert AuditEvent.objects.filter(action="security.permission_denied", actor=developer).count() == 3


def test_a_plan_keeps_its_name(api_as, platform_admin):
    renamed = api_as(platform_admin).patch("/api/plans/free/", {"name": "gratis"})
    unchanged = api_as(platform_admin).patch("/api/plans/free/", {"name": "free", "burst": 4})

    assert renamed.status_code == 400
    assert "name" in renamed.json()
    assert unchanged.status_code == 200
    assert Plan.objects.filter(name="free", burst=4).exists()


def test_a_plan_name_is_taken_once(api_as, platform_admin):
    response = api_as(platform_admin).post("/api/plans/", {"name": "free"})

    assert response.status_code == 400
    assert "name" in response.json()


BAD_VALUES = [("requests_per_minute", -1), ("requests_per_minute", 0), ("requests_per_minute", "many"),
              ("requests_per_minute", 10_000_001), ("tokens_per_minute", 10**30), ("burst", 1.5),
              ("max_concurrency", True), ("cost_per_month", "-0.01"), ("cost_per_month", "1000000001"),
              ("cost_per_day", "1e400"), ("cost_per_day", "NaN"), ("cost_per_day", "0.0000001"),
              ("budget_mode", "lenient"), ("redis_failure", 3), ("shadow", "maybe"),
              ("default_output_tokens", 0), ("default_output_tokens", 1_000_001), ("colour", "blue")]


@pytest.mark.parametrize(("field", "value"), [*BAD_VALUES, ("name", "Has Spaces"), ("name", "x" * 51),
                                              ("name", "nul\x00")])
def test_a_bad_plan_is_a_400_naming_the_field(api_as, platform_admin, field, value):
    response = api_as(platform_admin).post("/api/plans/", {"name": "batch", field: value})

    assert response.status_code == 400
    assert field in response.json()
    assert not Plan.objects.filter(name="batch").exists()


@pytest.mark.parametrize(("field", "value"), BAD_VALUES)
def test_a_bad_change_is_a_400_naming_the_field(api_as, platform_admin, field, value):
    response = api_as(platform_admin).patch("/api/plans/free/", {field: value})

    assert response.status_code == 400
    assert field in response.json()
    assert not AuditEvent.objects.filter(action="plan.update").exists()


def test_an_unknown_plan_is_a_404(api_as, developer):
    assert api_as(developer).get("/api/plans/platinum/").status_code == 404


# --- limit settings -------------------------------------------------------------------------------

def test_a_developer_sets_a_keys_limits_and_a_put_clears_what_it_leaves_out(api_as, developer, api_key):
    services.set_limits(actor=None, owner=api_key, values={"tokens_per_minute": 9000, "shadow": True})
    before = current("keys")

    response = api_as(developer).put(f"/api/limits/key/{api_key.pk}/",
                                     {"plan": "free", "requests_per_minute": 10, "cost_per_day": "0.5"})

    assert response.status_code == 200
    body = response.json()
    assert body["level"] == "key"
    assert body["owner_id"] == api_key.pk
    assert body["plan"] == "free"
    assert body["plan_in_force"] == "free"
    assert body["requests_per_minute"] == 10
    assert body["tokens_per_minute"] is None
    assert body["shadow"] is False
    assert body["updated_by"] == developer.email
    assert LimitSettings.objects.get(key=api_key).cost_per_day == Decimal("0.5")
    assert AuditEvent.objects.filter(action="limits.set", actor=developer).exists()
    assert current("keys") > before


def test_what_a_get_returns_can_be_put_back(api_as, developer, api_key):
    services.set_limits(actor=None, owner=api_key, values={"requests_per_minute": 7})
    api = api_as(developer)

    body = api.get(f"/api/limits/key/{api_key.pk}/").json()
    again = api.put(f"/api/limits/key/{api_key.pk}/", body)

    assert again.status_code == 200
    assert again.json()["requests_per_minute"] == 7


def test_a_member_reads_the_applications_limits_and_its_default_plan(api_as, tenant_a, make_member, app):
    viewer = make_member(tenant_a, TenantRole.VIEWER)

    body = api_as(viewer).get(f"/api/limits/application/{app.pk}/").json()

    assert body["plan"] is None
    assert body["plan_in_force"] == "standard"
    assert body["requests_per_minute"] is None
    assert body["updated_at"] is None


def test_only_a_platform_admin_sets_an_applications_plan(api_as, developer, platform_admin, app):
    refused = api_as(developer).put(f"/api/limits/application/{app.pk}/", {"plan": "premium"})
    allowed = api_as(platform_admin).put(f"/api/limits/application/{app.pk}/",
                                         {"plan": "premium", "tokens_per_month": 5_000_000})

    assert refused.status_code == 403
    assert AuditEvent.objects.filter(action="security.permission_denied", actor=developer).exists()
    assert allowed.status_code == 200
    assert allowed.json()["plan_in_force"] == "premium"
    assert LimitSettings.objects.get(application=app).tokens_per_month == 5_000_000


def test_a_viewer_cannot_set_a_keys_limits(api_as, tenant_a, make_member, api_key):
    viewer = make_member(tenant_a, TenantRole.VIEWER)

    assert api_as(viewer).put(f"/api/limits/key/{api_key.pk}/", {"requests_per_minute": 1}).status_code == 403
    assert not LimitSettings.objects.filter(key=api_key).exists()


def test_team_caps_are_a_platform_admins_and_have_no_plan(api_as, platform_admin, developer, tenant_a):
    with_plan = api_as(platform_admin).put(f"/api/limits/tenant/{tenant_a.pk}/", {"plan": "free"})
    capped = api_as(platform_admin).put(f"/api/limits/tenant/{tenant_a.pk}/", {"cost_per_month": "900"})
    read = api_as(developer).get(f"/api/limits/tenant/{tenant_a.pk}/")
    refused = api_as(developer).put(f"/api/limits/tenant/{tenant_a.pk}/", {"cost_per_month": "9000"})

    assert with_plan.status_code == 400
    assert "plan" in with_plan.json()
    assert capped.status_code == 200
    assert read.json()["cost_per_month"] == "900.000000"
    assert read.json()["plan_in_force"] is None
    assert refused.status_code == 403
    assert LimitSettings.objects.get(tenant=tenant_a).cost_per_month == Decimal("900")


def test_a_models_cap_is_read_and_set_by_platform_admins(api_as, platform_admin, developer, alias):
    refused = api_as(developer).get(f"/api/limits/alias/{alias.pk}/")
    capped = api_as(platform_admin).put(f"/api/limits/alias/{alias.pk}/", {"requests_per_minute": 5000})

    assert refused.status_code == 403
    assert capped.status_code == 200
    assert LimitSettings.objects.get(alias=alias).requests_per_minute == 5000


@pytest.mark.parametrize(("field", "value"), [("cost_per_month", "100"), ("tokens_per_day", 5), ("budget_mode", "strict")])
def test_a_models_cap_has_no_budget(api_as, platform_admin, alias, field, value):
    response = api_as(platform_admin).put(f"/api/limits/alias/{alias.pk}/", {field: value})

    assert response.status_code == 400
    assert field in response.json()
    assert not LimitSettings.objects.filter(alias=alias).exists()


def test_another_teams_owner_is_not_found(api_as, tenant_b, make_member, app, api_key):
    outsider = make_member(tenant_b, TenantRole.OWNER)

    for level, owner_id in (("application", app.pk), ("key", api_key.pk), ("tenant", app.tenant_id)):
        assert api_as(outsider).get(f"/api/limits/{level}/{owner_id}/").status_code == 404
        assert api_as(outsider).put(f"/api/limits/{level}/{owner_id}/", {"requests_per_minute": 1}).status_code == 404
    assert not LimitSettings.objects.exists()
    assert AuditEvent.objects.filter(action="security.cross_tenant_access", actor=outsider).count() == 6


@pytest.mark.parametrize("path", ["/api/limits/plan/1/", "/api/limits/team/1/", "/api/limits/key/999999/",
                                  "/api/limits/alias/999999/"])
def test_an_unknown_level_or_owner_is_a_404(api_as, platform_admin, path):
    assert api_as(platform_admin).get(path).status_code == 404


@pytest.mark.parametrize(("field", "value"), [*[bad for bad in BAD_VALUES if bad[0] != "default_output_tokens"],
                                              ("plan", "platinum"), ("plan", 7)])
def test_a_bad_limit_is_a_400_naming_the_field(api_as, developer, api_key, field, value):
    response = api_as(developer).put(f"/api/limits/key/{api_key.pk}/", {field: value})

    assert response.status_code == 400
    assert field in response.json()
    assert not LimitSettings.objects.filter(key=api_key).exists()


def test_a_body_that_is_not_an_object_is_a_400(api_as, developer, api_key):
    assert api_as(developer).put(f"/api/limits/key/{api_key.pk}/", [1, 2]).status_code == 400
