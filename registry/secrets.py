"""Secret references: how provider credentials are named, stored and resolved.

The database holds only a *reference*:

- ``env:NAME`` — the environment variable ``NAME`` of the process that calls the provider;
- ``aws-sm:<secret id or ARN>`` — AWS Secrets Manager (through boto3); add ``#field`` to pick
  one field of a JSON secret (``aws-sm:prod/openai#api_key``);
- ``enc:<token>`` — the value encrypted at rest with Fernet, keys from
  ``settings.SECRETS_ENCRYPTION_KEYS`` (newest first, so keys can be rotated);
- empty — no credential (the demo provider, or AWS through the instance role).

A plain value where a reference is expected is *refused* (``SecretReferenceError``); to
store a pasted key, callers encrypt it explicitly with ``encrypt_secret``. Nothing here
logs a resolved value, and ``describe_reference`` is what pages, the admin and the API show.
"""

from __future__ import annotations

import json
import os
import re

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ValidationError

ENV, AWS_SM, ENC = "env", "aws-sm", "enc"
SCHEMES = (ENV, AWS_SM, ENC)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SecretReferenceError(ValidationError):
    """The text is not a secret reference (a plain secret, or a malformed reference)."""


class SecretUnavailable(RuntimeError):
    """A well-formed reference that cannot be resolved right now (unset variable, AWS error, wrong key).

    Its message names the reference, never the value.
    """


def split_reference(reference: str) -> tuple[str, str]:
    """``"env:NAME"`` → ``("env", "NAME")``; raises ``SecretReferenceError`` when it is not a reference."""
    scheme, sep, rest = reference.partition(":")
    if not sep or scheme not in SCHEMES or not rest:
        # Never echo the text: it may be the secret itself.
        raise SecretReferenceError(
            "Not a secret reference. Use env:NAME, aws-sm:<secret id> or enc:<token> "
            "(paste a key into the encrypted field instead of here)."
        )
    if scheme == ENV and not _ENV_NAME.match(rest):
        raise SecretReferenceError("env: needs an environment variable name, like env:OPENAI_API_KEY.")
    return scheme, rest


def validate_reference(reference: str) -> None:
    """Model/form validator: empty or a well-formed reference."""
    if reference:
        split_reference(reference)


def is_reference(text: str) -> bool:
    try:
        validate_reference(text)
    except SecretReferenceError:
        return False
    return True


def describe_reference(reference: str) -> str:
    """What may be shown to people: the reference itself, except an encrypted token's body."""
    if not reference:
        return ""
    scheme, _, _ = reference.partition(":")
    return "enc:(encrypted)" if scheme == ENC else reference


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in settings.SECRETS_ENCRYPTION_KEYS])


def encrypt_secret(plaintext: str) -> str:
    """Encrypt ``plaintext`` with the newest key and return its ``enc:`` reference."""
    if not plaintext:
        raise ValueError("Nothing to encrypt.")
    return f"{ENC}:{_fernet().encrypt(plaintext.encode()).decode()}"


def reencrypt(reference: str) -> str:
    """An ``enc:`` reference re-encrypted with the newest key (after a key rotation); others unchanged."""
    scheme, rest = split_reference(reference)
    if scheme != ENC:
        return reference
    return f"{ENC}:{_fernet().rotate(rest.encode()).decode()}"


def resolve_secret(reference: str) -> str:
    """The secret a reference points to ("" for an empty reference).

    Raises ``SecretReferenceError`` for text that is not a reference and ``SecretUnavailable``
    when it cannot be resolved. Callers keep the value in memory only, never log or store it.
    """
    if not reference:
        return ""
    scheme, rest = split_reference(reference)
    if scheme == ENV:
        value = os.environ.get(rest)
        if value is None:
            raise SecretUnavailable(f"environment variable {rest} is not set")
        return value
    if scheme == ENC:
        try:
            return _fernet().decrypt(rest.encode()).decode()
        except InvalidToken:
            raise SecretUnavailable("an enc: secret cannot be decrypted with SECRETS_ENCRYPTION_KEYS") from None
    return _resolve_aws(rest)


def local_secret_problem(reference: str) -> str | None:
    """Why this reference cannot be resolved here, for the management page; ``None`` when it can.

    Only ``env:`` and ``enc:`` are checked (no network); an ``aws-sm:`` reference is resolved by the
    gateway when it loads, and an unresolvable one is logged there as ``secret_unresolvable``.
    The gateway leaves an endpoint whose secret it cannot resolve out of routing.
    """
    if not reference or split_reference(reference)[0] not in (ENV, ENC):
        return None
    try:
        resolve_secret(reference)
    except SecretUnavailable as exc:
        return str(exc)
    return None


def make_secretsmanager_client(region: str):
    """The boto3 Secrets Manager client (tests stub it with botocore's Stubber)."""
    import boto3

    return boto3.client("secretsmanager", region_name=region)


def _resolve_aws(spec: str) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    secret_id, _, field = spec.partition("#")
    # An ARN names its region (arn:aws:secretsmanager:<region>:...); otherwise the default one.
    parts = secret_id.split(":")
    region = parts[3] if secret_id.startswith("arn:") and len(parts) > 3 else settings.AWS_DEFAULT_REGION
    client = make_secretsmanager_client(region)
    try:
        answer = client.get_secret_value(SecretId=secret_id)
    except (BotoCoreError, ClientError) as exc:
        raise SecretUnavailable(f"AWS secret {secret_id} cannot be read: {type(exc).__name__}") from None
    value = answer.get("SecretString")
    if value is None:
        raise SecretUnavailable(f"AWS secret {secret_id} is binary, not a string")
    if field:
        try:
            value = json.loads(value)[field]
        except (ValueError, KeyError, TypeError):
            raise SecretUnavailable(f"AWS secret {secret_id} has no JSON field {field!r}") from None
    return str(value)
