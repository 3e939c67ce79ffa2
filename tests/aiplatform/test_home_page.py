"""The home page says what to do next: models, the playground, teams, applications and keys, approvals."""

from __future__ import annotations

import pytest

from aiplatform.roles import PlatformRole, TenantRole
from portal import services


@pytest.mark.smoke
def test_it_links_to_the_catalogue_and_the_playground(client, make_user):
    client.force_login(make_user())

    page = client.get("/").text

    assert 'href="/models/"' in page
    assert 'href="/playground/"' in page


def test_a_member_sees_their_teams_applications_and_keys(client, tenant_a, tenant_b, make_member):
    developer = make_member(tenant_a, TenantRole.DEVELOPER)
    services.create_application(actor=developer, tenant=tenant_a, name="checkout-bot")
    services.create_application(actor=None, tenant=tenant_b, name="other-teams-bot")
    client.force_login(developer)

    page = client.get("/").text

    assert "checkout-bot" in page
    assert "other-teams-bot" not in page
    assert f'href="/teams/{tenant_a.slug}/"' in page


def test_someone_without_a_team_is_told_how_to_get_one(client, make_user):
    client.force_login(make_user())

    page = client.get("/").text

    assert "You are not in a team yet" in page
    assert "Ask a team admin to invite you" in page


def test_platform_admins_are_offered_to_create_a_team(client, make_user, settings):
    settings.REQUIRE_ADMIN_MFA = False
    client.force_login(make_user(platform_role=PlatformRole.PLATFORM_ADMIN))

    assert 'href="/teams/new/"' in client.get("/").text


def test_approvers_see_the_requests_waiting_for_them(client, make_user, make_tenant, make_member):
    from registry import services as registry_services
    from registry.models import Provider

    owner = make_user("owner@example.com", platform_role=PlatformRole.MODEL_OWNER)
    provider = Provider.objects.create(name="acme", kind="openai-compatible", base_url="http://127.0.0.1:9/v1")
    endpoint = registry_services.create_endpoint(actor=None, provider=provider, upstream_model="m", capabilities=["chat"])
    alias = registry_services.create_alias(actor=None, name="fast-chat", kind="chat", status="approved", owners=[owner])
    registry_services.set_routes(actor=None, alias=alias, routes=[registry_services.RouteSpec(endpoint=endpoint)])
    tenant = make_tenant()
    developer = make_member(tenant, TenantRole.DEVELOPER)
    app = services.create_application(actor=developer, tenant=tenant, name="checkout-bot")
    services.request_subscription(actor=developer, application=app, alias=alias, use_case="Summarise tickets")
    client.force_login(owner)

    page = client.get("/").text

    assert "1 request waiting" in page
    assert "Summarise tickets" in page
