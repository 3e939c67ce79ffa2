"""A provider key that cannot travel in an HTTP header is a clear sync error, not a 500 (issue 19.12)."""

from __future__ import annotations

import pytest
import respx

from registry.models import Provider

BASE = "http://vllm.internal:8000/v1"


@pytest.mark.parametrize("key", ["clé-ünïcode", "tok\n123"])
@respx.mock
def test_syncing_with_an_unusable_key_says_why(admin_client, make_provider, monkeypatch, key):
    monkeypatch.setenv("VLLM_TOKEN", key)
    make_provider("vllm", base_url=BASE, api_key="env:VLLM_TOKEN")
    route = respx.get(f"{BASE}/models")

    response = admin_client.post("/api/providers/vllm/sync/")

    assert response.status_code == 502
    assert "printable ASCII" in response.json()["detail"]
    assert key not in response.json()["detail"]
    assert "printable ASCII" in Provider.objects.get(name="vllm").last_sync_error
    assert not route.called
