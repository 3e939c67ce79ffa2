"""URL fields take only http:// and https:// URLs, on every way in: a `javascript:` licence link was stored
XSS on the card page (issue 19.4)."""

from __future__ import annotations

import pytest

from registry.as_code import RegistryFileInvalid, apply_registry
from registry.models import ModelCard, Provider

BAD_URLS = ["javascript:alert(document.cookie)", " JavaScript:alert(1)", "data:text/html,<script>alert(1)</script>",
            "//evil.example/x", "http://", "https://exa mple.com/"]


@pytest.fixture
def owner_client(client, model_owner, make_alias):
    make_alias("fast-chat").owners.add(model_owner)
    client.force_login(model_owner)
    return client


@pytest.mark.parametrize("url", BAD_URLS)
def test_the_card_api_refuses_a_licence_link_that_is_not_http(owner_client, url):
    response = owner_client.patch("/api/models/fast-chat/card/", {"license_url": url}, content_type="application/json")

    assert response.status_code == 400
    assert "license_url" in response.json()
    assert ModelCard.objects.get(alias__name="fast-chat").license_url == ""


def test_the_card_api_takes_an_https_licence_link(owner_client):
    response = owner_client.patch("/api/models/fast-chat/card/", {"license_url": "https://vendor.example/eula"},
                                  content_type="application/json")

    assert response.status_code == 200
    assert ModelCard.objects.get(alias__name="fast-chat").license_url == "https://vendor.example/eula"


def test_the_card_page_refuses_a_javascript_licence_link(owner_client):
    response = owner_client.post("/models/fast-chat/edit", {"summary": "x", "license_url": "javascript:alert(1)"})

    assert response.status_code == 400  # the form again, with the error
    assert "http:// or https://" in response.content.decode()
    assert ModelCard.objects.get(alias__name="fast-chat").license_url == ""


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://files.example/v1"])
def test_the_provider_api_refuses_a_base_url_that_is_not_http(admin_client, url):
    response = admin_client.post("/api/providers/", {"name": "evil", "kind": "openai", "base_url": url},
                                 content_type="application/json")

    assert response.status_code == 400
    assert "base_url" in response.json()
    assert not Provider.objects.filter(name="evil").exists()


def test_registry_apply_refuses_a_javascript_licence_link(db):
    doc = {"models": [{"alias": "fast-chat", "status": "draft", "card": {"license_url": "javascript:alert(1)"}}]}

    with pytest.raises(RegistryFileInvalid) as refused:
        apply_registry(doc)

    assert [p.path for p in refused.value.problems] == ["models[0].card.license_url"]
