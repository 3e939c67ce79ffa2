"""The catalogue: every signed-in employee searches and filters approved models."""

from __future__ import annotations

from decimal import Decimal

import pytest

from registry.models import ModelAlias


@pytest.fixture
def catalogue(make_provider, make_endpoint, make_alias):
    vllm = make_provider("vllm")
    bedrock = make_provider("bedrock-eu", kind="bedrock", region="eu-central-1")
    make_alias("cheap-chat", endpoint=make_endpoint(vllm, "llama-8b", input_price_per_mtok=Decimal("0.10")),
               card={"summary": "Small and fast.", "use_cases": ["summarization"]})
    make_alias("vision-chat", endpoint=make_endpoint(bedrock, "claude", capabilities=["chat", "vision", "tools"],
                                                     input_price_per_mtok=Decimal("3")),
               card={"summary": "Reads images.", "use_cases": ["document-analysis"]})
    make_alias("embed-small", kind="embeddings",
               endpoint=make_endpoint(vllm, "bge-small", capabilities=["embeddings"], input_price_per_mtok=Decimal("0.02")))
    make_alias("old-chat", status="deprecated", endpoint=make_endpoint(vllm, "llama-7b"))
    make_alias("gone-chat", status="retired", endpoint=make_endpoint(vllm, "llama-1"))
    make_alias("draft-chat", status="draft", endpoint=make_endpoint(vllm, "llama-x"))


def names(response) -> list[str]:
    return [entry.name for entry in response.context["entries"]]


@pytest.mark.smoke
def test_the_catalogue_lists_available_models(employee_client, catalogue):
    response = employee_client.get("/models/")

    assert response.status_code == 200
    assert names(response) == ["cheap-chat", "embed-small", "old-chat", "vision-chat"]


@pytest.mark.parametrize(("query", "expected"), [
    ("q=images", ["vision-chat"]),
    ("q=LLAMA-8", ["cheap-chat"]),
    ("q=summarization", ["cheap-chat"]),
    ("capability=vision", ["vision-chat"]),
    ("capability=chat&capability=tools", ["vision-chat"]),
    ("capability=embeddings", ["embed-small"]),
    ("use_case=document-analysis", ["vision-chat"]),
    ("provider=bedrock-eu", ["vision-chat"]),
    ("status=deprecated", ["old-chat"]),
    ("status=retired", ["gone-chat"]),
    ("max_input_price=0.5", ["cheap-chat", "embed-small", "old-chat"]),
    ("max_input_price=0.05", ["embed-small"]),
    ("provider=vllm&capability=chat&max_input_price=0.12", ["cheap-chat"]),
])
def test_filters(employee_client, catalogue, query, expected):
    assert names(employee_client.get(f"/models/?{query}")) == expected


def test_drafts_are_for_admins_and_their_owners(client, catalogue, employee, model_owner, platform_admin):
    client.force_login(employee)
    assert names(client.get("/models/?status=draft")) == []

    ModelAlias.objects.get(name="draft-chat").owners.add(model_owner)
    client.force_login(model_owner)
    assert names(client.get("/models/?status=draft")) == ["draft-chat"]

    client.force_login(platform_admin)
    assert names(client.get("/models/?status=draft")) == ["draft-chat"]


def test_no_match_shows_an_empty_state(employee_client, catalogue):
    response = employee_client.get("/models/?q=nothing-like-this")

    assert b"No model matches these filters." in response.content


def test_htmx_gets_only_the_results(employee_client, catalogue):
    response = employee_client.get("/models/?capability=vision", headers={"HX-Request": "true"})

    assert b"<html" not in response.content
    assert b"vision-chat" in response.content and b"cheap-chat" not in response.content


def test_signed_out_visitors_are_sent_to_sign_in(client, catalogue):
    assert client.get("/models/").status_code == 302


def test_the_use_case_filter_offers_the_tags_of_cards(employee_client, catalogue):
    choices = dict(employee_client.get("/models/").context["form"].fields["use_case"].choices)

    assert {"summarization", "document-analysis"} <= set(choices)
