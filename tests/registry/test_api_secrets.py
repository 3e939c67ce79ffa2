"""The API never returns a secret: references are shown, encrypted tokens masked, pasted keys encrypted."""

from __future__ import annotations

import json

import pytest

from registry.models import Provider
from registry.secrets import resolve_secret

SECRET = "sk-live-4b8e1d0c9a7f6e52"


@pytest.mark.smoke
def test_a_pasted_key_is_stored_encrypted_and_never_returned(admin_client):
    created = admin_client.post("/api/providers/", {
        "name": "openai", "kind": "openai", "api_key_value": SECRET,
    }, content_type="application/json")
    listing = admin_client.get("/api/providers/")
    detail = admin_client.get("/api/providers/openai/")

    assert created.status_code == 201, created.json()
    provider = Provider.objects.get(name="openai")
    assert provider.api_key.startswith("enc:") and resolve_secret(provider.api_key) == SECRET
    for response in (created, listing, detail):
        body = response.content.decode()
        assert SECRET not in body
        assert provider.api_key not in body
    assert detail.json()["api_key"] == "enc:(encrypted)"


def test_a_plain_key_in_the_reference_field_is_refused(admin_client):
    response = admin_client.post("/api/providers/", {"name": "openai", "kind": "openai", "api_key": SECRET},
                                 content_type="application/json")

    assert response.status_code == 400
    assert SECRET not in json.dumps(response.json())
    assert not Provider.objects.exists()


def test_a_reference_is_shown_as_it_is(admin_client):
    admin_client.post("/api/providers/", {"name": "vllm", "kind": "openai-compatible",
                                          "base_url": "http://vllm:8000/v1", "api_key": "env:VLLM_KEY"},
                      content_type="application/json")

    assert admin_client.get("/api/providers/vllm/").json()["api_key"] == "env:VLLM_KEY"
