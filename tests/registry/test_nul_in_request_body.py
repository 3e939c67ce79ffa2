"""A NUL character in a name looked up from a JSON body is a 400, never a database error (found by schemathesis)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("body", [{"provider": "ac\u0000me", "upstream_model": "m1"}])
def test_an_endpoint_naming_a_provider_with_a_nul_is_refused(admin_client, make_provider, body):
    make_provider("acme")

    response = admin_client.post("/api/endpoints/", body, content_type="application/json")

    assert response.status_code == 400
    assert "provider" in response.json()


def test_an_application_owner_with_a_nul_is_refused(admin_client, platform_admin, make_tenant):
    from aiplatform import services as core
    from aiplatform.roles import TenantRole

    core.add_member(actor=None, tenant=make_tenant("alpha"), user=platform_admin, role=TenantRole.ADMIN)

    response = admin_client.post("/api/applications/", {"name": "bot", "owner": "a\u0000@example.com"},
                                 content_type="application/json")

    assert response.status_code == 400
    assert "owner" in response.json()
