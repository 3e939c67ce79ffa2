"""The Django admin shows the registry but cannot change it (changes must be audited), nor show a secret."""

from __future__ import annotations

from registry.secrets import encrypt_secret

SECRET = "sk-admin-0a1b2c3d4e5f"


def test_the_admin_lists_providers_without_their_secrets(admin_client, make_provider):
    provider = make_provider("openai", kind="openai", api_key=encrypt_secret(SECRET))

    listing = admin_client.get("/admin/registry/provider/")
    detail = admin_client.get(f"/admin/registry/provider/{provider.pk}/change/")

    assert listing.status_code == 200 and detail.status_code == 200
    for response in (listing, detail):
        assert SECRET.encode() not in response.content
        assert provider.api_key.encode() not in response.content
    assert admin_client.get("/admin/registry/provider/add/").status_code == 403
