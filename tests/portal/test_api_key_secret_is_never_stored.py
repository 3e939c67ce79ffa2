"""A key's secret is shown once and is nowhere afterwards: not in any table, log line or audit row."""

from __future__ import annotations

import json
import logging
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command

from aiplatform.models import AuditEvent
from portal import services
from portal.models import ApiKey
from portal.models.keys import PREFIX_LENGTH, hash_secret


def everything_stored() -> str:
    """Every row of every model, as text."""
    return "\n".join(repr(row) for model in apps.get_models() for row in model._base_manager.values())


@pytest.mark.smoke
def test_a_key_made_by_the_service_the_api_and_the_command_is_stored_only_as_a_hash(
        app, developer, approved, client, caplog, token_for, django_capture_on_commit_callbacks):
    caplog.set_level(logging.DEBUG)
    with django_capture_on_commit_callbacks(execute=True):
        _, by_service = services.create_api_key(actor=developer, application=app, name="service")
        response = client.post("/api/keys/", {"application": app.pk, "name": "api"}, content_type="application/json",
                               **token_for(developer))
        by_api = response.json()["key"]
        out = StringIO()
        call_command("create_api_key", "--tenant", "alpha", "--app", "cli-bot", "--models", "fast-chat", "--json",
                     stdout=out)
        by_command = json.loads(out.getvalue())["key"]

    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    stored = everything_stored()
    audit = "\n".join(repr(e.__dict__) for e in AuditEvent.objects.all())
    for secret in (by_service, by_api, by_command):
        assert secret.startswith("sb-") and len(secret) >= 43
        assert ApiKey.objects.filter(key_hash=hash_secret(secret), key_prefix=secret[:PREFIX_LENGTH]).exists()
        for haystack in (stored, audit, caplog.text):
            assert secret not in haystack
            assert secret[PREFIX_LENGTH:] not in haystack  # not even the part after the visible prefix


def test_listing_and_reading_keys_never_shows_a_secret(api_key, client, developer, token_for):
    auth = token_for(developer)

    listing = client.get("/api/keys/", **auth).content.decode()
    detail = client.get(f"/api/keys/{api_key.pk}/", **auth).json()
    page = client.get(f"/portal/applications/{api_key.application_id}/", **auth)

    assert api_key.secret not in listing and "key" not in detail
    assert detail["key_prefix"] == api_key.secret[:PREFIX_LENGTH]
    client.force_login(developer)
    page = client.get(f"/portal/applications/{api_key.application_id}/").content.decode()
    assert api_key.key_prefix in page and api_key.secret not in page
