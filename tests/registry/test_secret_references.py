"""Provider credentials are secret references: never plain text in the database, the logs or the API."""

from __future__ import annotations

import json
import logging

import boto3
import pytest
from botocore.stub import Stubber
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.db import connection

from registry import secrets, services
from registry.secrets import SecretReferenceError, SecretUnavailable, encrypt_secret, resolve_secret

SECRET = "sk-live-7f3a9c2e1b5d4f60"


@pytest.mark.smoke
def test_env_references_resolve_from_the_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_KEY", SECRET)

    assert resolve_secret("env:OPENAI_KEY") == SECRET
    assert resolve_secret("") == ""
    with pytest.raises(SecretUnavailable, match="NOT_SET"):
        resolve_secret("env:NOT_SET")


@pytest.mark.smoke
def test_encrypted_values_round_trip_and_survive_a_key_rotation(settings):
    old_key = settings.SECRETS_ENCRYPTION_KEYS[0]
    reference = encrypt_secret(SECRET)
    assert reference.startswith("enc:") and SECRET not in reference

    settings.SECRETS_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old_key]  # a new key, newest first

    assert resolve_secret(reference) == SECRET
    rotated = secrets.reencrypt(reference)
    settings.SECRETS_ENCRYPTION_KEYS = settings.SECRETS_ENCRYPTION_KEYS[:1]
    assert resolve_secret(rotated) == SECRET
    with pytest.raises(SecretUnavailable):
        resolve_secret(reference)


def test_aws_secrets_manager_references_resolve_through_boto3(monkeypatch):
    client = boto3.client("secretsmanager", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    stubber = Stubber(client)
    stubber.add_response("get_secret_value", {"SecretString": json.dumps({"api_key": SECRET})},
                         {"SecretId": "prod/openai"})
    monkeypatch.setattr(secrets, "make_secretsmanager_client", lambda region: client)

    with stubber:
        assert resolve_secret("aws-sm:prod/openai#api_key") == SECRET


@pytest.mark.smoke
@pytest.mark.parametrize("text", [SECRET, "Bearer abc", "env:", "env:not a name", "vault:x"])
def test_anything_but_a_reference_is_refused_without_being_echoed(text):
    with pytest.raises(SecretReferenceError) as caught:
        secrets.validate_reference(text)

    assert text not in str(caught.value) or text in ("env:",)


def test_a_provider_cannot_be_given_a_plain_key(db):
    with pytest.raises(ValidationError) as caught:
        services.create_provider(actor=None, name="openai", kind="openai", api_key=SECRET)

    assert "api_key" in caught.value.message_dict
    assert SECRET not in str(caught.value)


def test_no_plaintext_in_the_database_or_the_logs(db, caplog):
    caplog.set_level(logging.DEBUG)

    provider = services.create_provider(actor=None, name="openai", kind="openai", api_key=encrypt_secret(SECRET))
    services.update_provider(actor=None, provider=provider, api_key=encrypt_secret(SECRET + "-2"))
    assert resolve_secret(provider.api_key) == SECRET + "-2"

    with connection.cursor() as cursor:
        for table in ("registry_provider", "aiplatform_auditevent"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 (fixed table names)
            dump = repr(cursor.fetchall())
            assert SECRET not in dump
            assert provider.api_key not in dump or table == "registry_provider"
    assert SECRET not in caplog.text
