"""Vendor catalogue sync: listings become onboarding candidates; nothing is ever approved by it."""

from __future__ import annotations

from io import StringIO

import boto3
import httpx
import pytest
import respx
from botocore.stub import Stubber
from django.core.management import call_command

from aiplatform.models import AuditEvent
from registry import sync
from registry.models import Endpoint, ModelAlias, UpstreamModel
from registry.selectors import onboarding_candidates
from registry.tasks import sync_catalogues

BASE = "http://vllm.internal:8000/v1"


def openai_list(*ids: str) -> httpx.Response:
    return httpx.Response(200, json={"object": "list", "data": [{"id": i, "object": "model", "owned_by": "vllm"}
                                                                   for i in ids]})


@pytest.fixture
def vllm(make_provider, monkeypatch):
    monkeypatch.setenv("VLLM_TOKEN", "tok-123")
    return make_provider("vllm", base_url=BASE, api_key="env:VLLM_TOKEN")


@respx.mock
def test_new_upstream_models_become_candidates(vllm, make_endpoint):
    make_endpoint(vllm, "llama-70b")
    route = respx.get(f"{BASE}/models").mock(return_value=openai_list("llama-70b", "qwen-32b"))

    report = sync_catalogues()

    assert route.called
    assert route.calls.last.request.headers["Authorization"] == "Bearer tok-123"
    assert report["vllm"] == {"listed": 2, "new": ["llama-70b", "qwen-32b"], "vanished": []}
    assert [m.model_id for m in onboarding_candidates().new] == ["qwen-32b"]
    assert not ModelAlias.objects.exists()
    assert Endpoint.objects.count() == 1


@respx.mock
def test_a_model_that_vanished_upstream_is_flagged_and_sync_is_idempotent(vllm, make_endpoint):
    make_endpoint(vllm, "llama-70b")
    respx.get(f"{BASE}/models").mock(side_effect=[openai_list("llama-70b"), openai_list(), openai_list()])
    sync_catalogues()

    second = sync_catalogues()
    third = sync_catalogues()

    assert second["vllm"]["vanished"] == ["llama-70b"]
    assert third["vllm"] == {"listed": 0, "new": [], "vanished": []}
    assert [str(e) for e in onboarding_candidates().vanished] == ["vllm/llama-70b"]
    assert AuditEvent.objects.filter(action="catalogue.sync").count() == 2


@respx.mock
def test_a_failing_provider_is_reported_and_the_others_still_sync(vllm, make_provider):
    make_provider("demo", kind="demo")
    respx.get(f"{BASE}/models").mock(return_value=httpx.Response(500))

    report = sync_catalogues()

    assert report["vllm"] == {"error": f"GET {BASE}/models answered 500"}
    assert report["demo"]["new"] == ["demo-chat-1", "demo-embed-1"]
    vllm.refresh_from_db()
    assert "500" in vllm.last_sync_error


def test_bedrock_is_listed_through_boto3(make_provider, monkeypatch):
    provider = make_provider("bedrock-eu", kind="bedrock", region="eu-central-1")
    client = boto3.client("bedrock", region_name="eu-central-1", aws_access_key_id="x", aws_secret_access_key="y")
    stubber = Stubber(client)
    stubber.add_response("list_foundation_models", {"modelSummaries": [
        {"modelArn": "arn:aws:bedrock:eu-central-1::foundation-model/anthropic.claude-3-5-sonnet",
         "modelId": "anthropic.claude-3-5-sonnet", "modelName": "Claude 3.5 Sonnet", "providerName": "Anthropic",
         "inputModalities": ["TEXT", "IMAGE"], "outputModalities": ["TEXT"], "responseStreamingSupported": True},
    ]}, {})
    regions = []
    monkeypatch.setattr(sync, "make_bedrock_client", lambda region: regions.append(region) or client)

    with stubber:
        result = sync.sync_provider_catalogue(actor=None, provider=provider)

    stubber.assert_no_pending_responses()
    assert regions == ["eu-central-1"]
    assert result.new == ["anthropic.claude-3-5-sonnet"]
    listed = UpstreamModel.objects.get(provider=provider)
    assert listed.details["vendor"] == "Anthropic" and listed.details["input_modalities"] == ["TEXT", "IMAGE"]


def test_a_bedrock_error_is_a_catalogue_problem(make_provider, monkeypatch):
    provider = make_provider("bedrock-us", kind="bedrock", region="us-east-1")
    client = boto3.client("bedrock", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    stubber = Stubber(client)
    stubber.add_client_error("list_foundation_models", service_error_code="AccessDeniedException", http_status_code=403)
    monkeypatch.setattr(sync, "make_bedrock_client", lambda region: client)

    with stubber, pytest.raises(sync.CatalogueUnavailable, match="AccessDenied|ClientError"):
        sync.sync_provider_catalogue(actor=None, provider=provider)


@respx.mock
def test_the_command_prints_the_candidates(vllm):
    respx.get(f"{BASE}/models").mock(return_value=openai_list("qwen-32b"))
    out = StringIO()

    call_command("sync_catalogue", "--provider", "vllm", stdout=out)

    assert "vllm: 1 listed, 1 new, 0 vanished" in out.getvalue()
    assert "+ qwen-32b" in out.getvalue()
