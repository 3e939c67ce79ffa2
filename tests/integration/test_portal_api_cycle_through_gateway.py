"""Over the REST API, with personal access tokens, against the real server: request → approve → key →
call the gateway → revoke → the gateway refuses."""

from __future__ import annotations

import httpx
import pytest

from aiplatform.roles import PlatformRole, TenantRole
from portal import services
from registry import services as registry_services
from tests.integration.gateway_setup import wait_for

pytestmark = pytest.mark.integration


def pat(user) -> dict[str, str]:
    _, secret = services.create_personal_access_token(user=user, name="automation")
    return {"authorization": f"Bearer {secret}"}


def test_the_whole_cycle_over_http(server_url, fake_upstream, tenant_a, make_member, make_user):
    owner = make_user("owner@example.com", platform_role=PlatformRole.MODEL_OWNER)
    provider = registry_services.create_provider(actor=None, name="acme", kind="openai-compatible",
                                                 base_url=fake_upstream, api_key="env:SB_TEST_UPSTREAM_KEY")
    endpoint = registry_services.create_endpoint(actor=None, provider=provider, upstream_model="fake-model",
                                                 capabilities=["chat"])
    alias = registry_services.create_alias(actor=None, name="fast-chat", status="approved", owners=[owner])
    registry_services.set_routes(actor=None, alias=alias, routes=[registry_services.RouteSpec(endpoint=endpoint)])
    dev = pat(make_member(tenant_a, TenantRole.DEVELOPER, email="dev@example.com"))
    approver = pat(owner)
    api = httpx.Client(base_url=server_url + "/api")

    app = api.post("/applications/", headers=dev, json={"name": "bot", "environment": "prod",
                                                        "data_classification": "internal"})
    assert app.status_code == 201, app.text
    sub = api.post("/subscriptions/", headers=dev, json={"application": app.json()["id"], "alias": "fast-chat",
                                                         "use_case": "Answer customers", "justification": "Cheap"})
    assert sub.status_code == 201 and sub.json()["status"] == "pending"
    approved = api.post(f"/subscriptions/{sub.json()['id']}/approve/", headers=approver, json={"comment": "ok"})
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    key = api.post("/keys/", headers=dev, json={"application": app.json()["id"]})
    assert key.status_code == 201
    secret = key.json()["key"]

    def call() -> int:
        return httpx.post(f"{server_url}/v1/chat/completions", headers={"authorization": f"Bearer {secret}"},
                          json={"model": "fast-chat", "messages": [{"role": "user", "content": "Hi"}]}).status_code

    wait_for(lambda: call() == 200, what="the gateway to accept the new key")
    revoked = api.post(f"/keys/{key.json()['id']}/revoke/", headers=dev, json={"reason": "rotation drill"})
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    wait_for(lambda: call() == 401, what="the gateway to refuse the revoked key")
