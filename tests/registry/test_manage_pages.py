"""Platform admins manage providers, endpoints, models and routes from the registry's pages."""

from __future__ import annotations

import httpx
import pytest
import respx

from registry.models import Endpoint, ModelAlias, Provider, UpstreamModel
from registry.secrets import resolve_secret

SECRET = "sk-page-91c2d3e4f5a6b7c8"


@pytest.mark.smoke
def test_an_admin_onboards_a_model_end_to_end(admin_client):
    assert admin_client.post("/models/manage/providers/new", {
        "name": "vllm", "kind": "openai-compatible", "base_url": "http://vllm:8000/v1", "api_key_value": SECRET,
        "is_active": "on",
    }).status_code == 302
    assert admin_client.post("/models/manage/endpoints/new", {
        "provider": "vllm", "upstream_model": "llama-70b", "capabilities": ["chat", "streaming"],
        "connect_timeout": 5, "first_byte_timeout": 30, "total_timeout": 300, "input_price_per_mtok": "0.5",
        "output_price_per_mtok": "1.5", "price_per_image": 0, "price_per_request": 0, "is_active": "on",
    }).status_code == 302
    assert admin_client.post("/models/manage/models/new", {
        "name": "chat-default", "kind": "chat", "status": "approved",
    }).status_code == 302
    endpoint = Endpoint.objects.get(upstream_model="llama-70b")
    assert admin_client.post("/models/manage/models/chat-default/routes", {
        "endpoint": endpoint.pk, "weight": 100, "priority": 0,
    }).status_code == 302

    provider = Provider.objects.get(name="vllm")
    assert resolve_secret(provider.api_key) == SECRET
    assert ModelAlias.objects.get(name="chat-default").routes.get().endpoint == endpoint
    manage_page = admin_client.get("/models/manage/")
    assert SECRET.encode() not in manage_page.content
    assert provider.api_key.encode() not in manage_page.content
    assert b"enc:(encrypted)" in manage_page.content
    edit_page = admin_client.get("/models/manage/providers/vllm/")
    assert provider.api_key.encode() not in edit_page.content


def test_saving_a_provider_without_a_new_key_keeps_the_encrypted_one(admin_client):
    admin_client.post("/models/manage/providers/new", {"name": "openai", "kind": "openai", "api_key_value": SECRET})

    admin_client.post("/models/manage/providers/openai/", {"kind": "openai", "region": "us", "is_active": "on"})

    provider = Provider.objects.get(name="openai")
    assert provider.region == "us" and resolve_secret(provider.api_key) == SECRET


def test_a_plain_key_in_the_reference_field_is_refused(admin_client):
    response = admin_client.post("/models/manage/providers/new", {"name": "openai", "kind": "openai", "api_key": SECRET})

    assert response.status_code == 200
    assert SECRET.encode() not in response.content
    assert not Provider.objects.exists()


def test_employees_cannot_reach_the_management_pages(employee_client, make_alias):
    make_alias("fast-chat")

    for url in ("/models/manage/", "/models/manage/providers/new", "/models/manage/models/fast-chat/"):
        assert employee_client.get(url).status_code == 403


@respx.mock
def test_an_admin_syncs_a_catalogue_and_sees_candidates(admin_client, make_provider):
    make_provider("vllm", base_url="http://vllm:8000/v1")
    respx.get("http://vllm:8000/v1/models").mock(return_value=httpx.Response(200, json={"data": [{"id": "qwen-32b"}]}))

    admin_client.post("/models/manage/providers/vllm/sync")
    page = admin_client.get("/models/manage/")

    assert b"qwen-32b" in page.content
    admin_client.post(f"/models/manage/candidates/{UpstreamModel.objects.get().pk}/dismiss")
    assert b"qwen-32b" not in admin_client.get("/models/manage/").content


def test_every_management_form_renders(admin_client, make_alias):
    alias = make_alias("fast-chat", card={"summary": "Quick.", "evaluations": [
        {"name": "MMLU", "metric": "accuracy", "value": 0.7, "date": "2025-01-01"}]})
    endpoint = alias.routes.get().endpoint

    for url in ("/models/manage/", "/models/manage/providers/new", "/models/manage/providers/acme/",
                "/models/manage/endpoints/new", f"/models/manage/endpoints/{endpoint.pk}/",
                "/models/manage/models/new", "/models/manage/models/fast-chat/", "/models/fast-chat/edit"):
        assert admin_client.get(url).status_code == 200, url


def test_an_admin_deprecates_a_model_from_its_page(admin_client, make_alias):
    make_alias("chat-2")
    make_alias("chat-1")

    response = admin_client.post("/models/manage/models/chat-1/", {
        "kind": "chat", "status": "deprecated", "sunset_on": "2099-01-01", "replacement": "chat-2",
    })

    assert response.status_code == 302
    alias = ModelAlias.objects.get(name="chat-1")
    assert (alias.status, str(alias.sunset_on), alias.replacement.name) == ("deprecated", "2099-01-01", "chat-2")
    assert alias.deprecated_on is not None
