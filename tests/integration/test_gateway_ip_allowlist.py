"""A key limited to IP ranges is refused from anywhere else, with its own error, and the refusal is audited."""

from __future__ import annotations

import pytest

from aiplatform.models import AuditEvent
from portal import services
from portal.models import ApiKey
from tests.integration.gateway_setup import wait_for

pytestmark = pytest.mark.integration

CALL = {"model": "fast-chat", "messages": [{"role": "user", "content": "Hi"}]}


def test_an_address_outside_the_allow_list_is_refused(gateway):
    key = ApiKey.objects.get(pk=gateway.key_id)
    services.set_key_ip_allowlist(actor=None, key=key, ip_allowlist=["10.0.0.0/8"])
    wait_for(lambda: gateway.post("/chat/completions", json=CALL).status_code == 403, what="the new allow-list")

    refused = gateway.post("/chat/completions", json=CALL)
    assert refused.json()["error"]["code"] == "ip_not_allowed" and "127.0.0.1" in refused.json()["error"]["message"]
    wait_for(lambda: AuditEvent.objects.filter(changes__icontains="ip_not_allowed").exists(), what="the audit row")

    services.set_key_ip_allowlist(actor=None, key=key, ip_allowlist=["10.0.0.0/8", "127.0.0.0/8"])
    wait_for(lambda: gateway.post("/chat/completions", json=CALL).status_code == 200, what="the widened allow-list")
