"""Dedicated hosting: a team asks, a platform admin approves naming the endpoint, and routing can find it."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from portal import services
from portal.models import HostingStatus
from portal.selectors import dedicated_routes, hosting_queue
from registry import services as registry_services
from registry.models import Provider


@pytest.fixture
def hosting(tenant_a, developer, alias):
    return services.request_hosting(actor=developer, tenant=tenant_a, alias=alias, expected_requests_per_minute=600,
                                    expected_tokens_per_minute=200_000, latency_need="interactive", region="eu",
                                    business_case="Checkout assistant at peak season")


@pytest.fixture
def dedicated_endpoint(alias):
    return registry_services.create_endpoint(actor=None, provider=Provider.objects.get(name="acme"),
                                             upstream_model="fast-chat-dedicated-alpha", capabilities=["chat"])


@pytest.mark.smoke
def test_an_approved_request_records_its_endpoint_and_routes_the_team(hosting, platform_admin, dedicated_endpoint,
                                                                       tenant_a):
    assert list(hosting_queue(platform_admin)) == [hosting]

    services.approve_hosting_request(actor=platform_admin, request=hosting, endpoint=dedicated_endpoint,
                                     comment="Capacity reserved")

    hosting.refresh_from_db()
    assert hosting.status == HostingStatus.APPROVED and hosting.endpoint == dedicated_endpoint
    assert dedicated_routes() == {(tenant_a.pk, "fast-chat"): dedicated_endpoint.pk}


def test_rejecting_needs_a_reason_and_approving_twice_is_refused(hosting, platform_admin, dedicated_endpoint):
    with pytest.raises(ValidationError, match="Say why"):
        services.reject_hosting_request(actor=platform_admin, request=hosting, comment="")
    services.reject_hosting_request(actor=platform_admin, request=hosting, comment="Shared capacity suffices")

    with pytest.raises(services.InvalidTransition, match="was rejected"):
        services.approve_hosting_request(actor=platform_admin, request=hosting, endpoint=dedicated_endpoint)


def test_only_platform_admins_decide(hosting, model_owner, dedicated_endpoint):
    with pytest.raises(PermissionDenied):
        services.approve_hosting_request(actor=model_owner, request=hosting, endpoint=dedicated_endpoint)
    assert list(hosting_queue(model_owner)) == []


def test_the_team_may_withdraw_a_pending_request(hosting, developer):
    services.cancel_hosting_request(actor=developer, request=hosting)

    assert hosting.status == HostingStatus.CANCELLED
