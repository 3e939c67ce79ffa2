"""schemathesis over the whole REST API as a platform admin, on the real server: no 5xx, and every answer
matches the OpenAPI schema at /api/schema/ (fields that may be null are marked nullable) (issue 19.17).

Bounded: a fixed seed, a few examples per operation, no shrinking; the stateful phase is left out.
"""

from __future__ import annotations

import pytest

from aiplatform import services as core
from aiplatform.roles import PlatformRole, TenantRole
from portal import services
from registry import services as registry_services
from tests.portal.schemathesis_run import run_schemathesis

EXAMPLES_PER_OPERATION = 5


@pytest.mark.integration
def test_every_api_answer_matches_the_schema(server_url, make_user, tenant_a, tmp_path):
    admin = make_user("fuzzing-admin@example.com", platform_role=PlatformRole.PLATFORM_ADMIN)
    core.add_member(actor=None, tenant=tenant_a, user=admin, role=TenantRole.ADMIN)
    # The demo provider lists its catalogue without a network call, so a sync answers 200, not 502.
    provider = registry_services.create_provider(actor=None, name="acme", kind="demo")
    endpoint = registry_services.create_endpoint(actor=None, provider=provider, upstream_model="m1",
                                                 capabilities=["chat"])
    alias = registry_services.create_alias(actor=None, name="fast-chat", status="approved", owners=[admin])
    registry_services.set_routes(actor=None, alias=alias, routes=[registry_services.RouteSpec(endpoint=endpoint)])
    app = services.create_application(actor=admin, tenant=tenant_a, name="fuzz-bot")
    services.grant_subscription(application=app, alias=alias, reason="fuzzing")
    services.create_api_key(actor=admin, application=app)
    _, token = services.create_personal_access_token(user=admin, name="schemathesis")
    result = run_schemathesis(server_url, admin, token, tmp_path, paths=r"^/api/",
                              checks="not_a_server_error,response_schema_conformance",
                              examples=EXAMPLES_PER_OPERATION, seed=20261201)

    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout
