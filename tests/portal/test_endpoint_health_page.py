"""The endpoint health page: admins and model owners see every endpoint's circuit, error rate, calls, time to
first byte and calls in flight; developers are refused. The gateway's state is arranged on fresh instances
(one more "process"), pushed to Redis in the full stack."""

from __future__ import annotations

import asyncio

import pytest
import redis
from django.conf import settings

from aiplatform.roles import TenantRole
from gateway.routing import report
from gateway.routing.health import EndpointHealth
from gateway.routing.inflight import InflightCaps
from registry import services as registry_services
from registry.models import Provider


@pytest.fixture
def gateway_view(monkeypatch):
    """The report's health and in-flight state, fresh for this test (its Redis keys removed afterwards)."""
    health, caps = EndpointHealth(), InflightCaps()
    monkeypatch.setattr(report, "health", health)
    monkeypatch.setattr(report, "caps", caps)
    touched: list[int] = []
    yield health, caps, touched
    if settings.REDIS_URL:
        with redis.Redis.from_url(settings.REDIS_URL) as client:
            for endpoint_id in touched:
                client.delete(f"sb:cb:{endpoint_id}", f"sb:cb:{endpoint_id}:w", f"sb:cb:{endpoint_id}:p",
                              f"sb:if:{endpoint_id}")
                client.srem("sb:cb:tripped", endpoint_id)
                client.zrem("sb:cb:known", endpoint_id)


@pytest.fixture
def endpoints(db, gateway_view):
    """A failing endpoint (circuit open) and a healthy one with a cap of 4 and one call in flight."""
    health, caps, touched = gateway_view
    provider = Provider.objects.filter(name="acme").first() or registry_services.create_provider(
        actor=None, name="acme", kind="openai-compatible", base_url="http://127.0.0.1:9/v1")
    failing = registry_services.create_endpoint(actor=None, provider=provider, upstream_model="flaky-model",
                                                capabilities=["chat"])
    healthy = registry_services.create_endpoint(actor=None, provider=provider, upstream_model="steady-model",
                                                capabilities=["chat"], max_in_flight=4)
    touched.extend([failing.pk, healthy.pk])
    for _ in range(5):
        health.record(failing.pk, ok=False)
    health.record(healthy.pk, ok=True, ttfb_ms=120)

    async def arrange() -> None:
        await caps.acquire(healthy.pk, 4, wait=0)
        await health.sync()
        await health.stop()

    asyncio.run(arrange())
    return failing, healthy


def test_an_admin_sees_every_endpoint_with_its_circuit(client, platform_admin, endpoints):
    failing, healthy = endpoints
    client.force_login(platform_admin)
    page = client.get("/portal/endpoints/health/").content.decode()
    failing_row = page.split(f'id="endpoint-{failing.pk}"')[1].split("</tr>")[0]
    healthy_row = page.split(f'id="endpoint-{healthy.pk}"')[1].split("</tr>")[0]
    assert ">open<" in failing_row
    assert "100.0 %" in failing_row
    assert "flaky-model" in failing_row
    assert "acme" in failing_row
    assert ">closed<" in healthy_row
    assert "120 ms" in healthy_row
    assert "1 / 4" in healthy_row


def test_open_circuits_are_listed_first(client, platform_admin, endpoints):
    failing, healthy = endpoints
    client.force_login(platform_admin)
    page = client.get("/portal/endpoints/health/").content.decode()
    assert page.index(f'id="endpoint-{failing.pk}"') < page.index(f'id="endpoint-{healthy.pk}"')


def test_a_model_owner_may_see_it(client, make_user, endpoints):
    from aiplatform.roles import PlatformRole

    client.force_login(make_user(platform_role=PlatformRole.MODEL_OWNER))
    assert client.get("/portal/endpoints/health/").status_code == 200


def test_a_developer_is_refused(client, tenant_a, make_member, endpoints):
    client.force_login(make_member(tenant_a, TenantRole.DEVELOPER))
    assert client.get("/portal/endpoints/health/").status_code == 403


def test_the_portal_menu_links_it_for_admins_only(client, platform_admin, tenant_a, make_member, db):
    client.force_login(platform_admin)
    assert "/portal/endpoints/health/" in client.get("/portal/").content.decode()
    client.force_login(make_member(tenant_a, TenantRole.DEVELOPER))
    assert "/portal/endpoints/health/" not in client.get("/portal/").content.decode()
