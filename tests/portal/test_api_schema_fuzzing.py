"""schemathesis against the portal's part of the OpenAPI schema, on the real server: no 5xx.

Bounded: a fixed number of examples per operation, a fixed seed, no shrinking; the (much longer)
coverage and stateful phases are left out.
"""

from __future__ import annotations

import pytest

from aiplatform import services as core
from aiplatform.roles import PlatformRole, TenantRole
from portal import services
from tests.portal.schemathesis_run import run_schemathesis

PORTAL_PATHS = r"^/api/(applications|subscriptions|keys|hosting-requests)/"
EXAMPLES_PER_OPERATION = 10


@pytest.mark.integration
def test_the_portal_api_answers_every_generated_request_without_a_5xx(server_url, make_user, tenant_a, make_alias,
                                                                       tmp_path):
    fuzzer = make_user("fuzzer@example.com", platform_role=PlatformRole.MODEL_OWNER)
    core.add_member(actor=None, tenant=tenant_a, user=fuzzer, role=TenantRole.DEVELOPER)
    alias = make_alias("fast-chat", owners=[fuzzer])
    app = services.create_application(actor=fuzzer, tenant=tenant_a, name="fuzz-bot")
    services.grant_subscription(application=app, alias=alias, reason="fuzzing")
    services.create_api_key(actor=fuzzer, application=app)
    _, token = services.create_personal_access_token(user=fuzzer, name="schemathesis")
    result = run_schemathesis(server_url, fuzzer, token, tmp_path, paths=PORTAL_PATHS, checks="not_a_server_error",
                              examples=EXAMPLES_PER_OPERATION, seed=20260105)

    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout
