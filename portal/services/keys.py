"""API keys (create, rotate with an overlap, revoke, IP allow-list) and personal access tokens.

A secret is generated here, returned once to the caller, and otherwise exists only as its
SHA-256: never in the database, the audit trail or a log line.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from aiplatform import config_version
from aiplatform.audit import record_event
from aiplatform.models import User
from portal.models import ApiKey, Application, PersonalAccessToken
from portal.models.keys import PREFIX_LENGTH, hash_secret
from portal.services.transitions import actor_label, check_permission

KEY_SCHEME = "sb-"
TOKEN_SCHEME = "sbp-"
DEFAULT_ROTATION_OVERLAP = timedelta(hours=24)
MAX_ROTATION_OVERLAP = timedelta(days=30)
MAX_ALLOWLIST_ENTRIES = 50


def new_secret(scheme: str) -> str:
    """``scheme`` followed by 43 random URL-safe characters (256 bits)."""
    return scheme + secrets.token_urlsafe(32)


def clean_ip_allowlist(entries: Iterable[str] | str | None) -> list[str]:
    """CIDRs (or single addresses) in their canonical form; a bad entry is a ValidationError naming it."""
    if entries is None:
        return []
    if isinstance(entries, str):
        entries = entries.replace(",", "\n").splitlines()
    cleaned: list[str] = []
    for entry in entries:
        entry = str(entry).strip()
        if not entry:
            continue
        try:
            network = str(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValidationError({"ip_allowlist": f"{entry!r} is not an IP address or CIDR range."}) from None
        if network not in cleaned:
            cleaned.append(network)
    if len(cleaned) > MAX_ALLOWLIST_ENTRIES:
        raise ValidationError({"ip_allowlist": f"At most {MAX_ALLOWLIST_ENTRIES} ranges."})
    return cleaned


def _check_expiry(expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})


def _issue(*, application: Application, actor: User | None, name: str, expires_at: datetime | None,
           ip_allowlist: list[str], allowed_aliases: list[str] | None = None) -> tuple[ApiKey, str]:
    secret = new_secret(KEY_SCHEME)
    key = ApiKey.objects.create(
        tenant_id=application.tenant_id, application=application, name=(name or "").strip()[:100],
        key_prefix=secret[:PREFIX_LENGTH], key_hash=hash_secret(secret), created_by=actor, expires_at=expires_at,
        ip_allowlist=ip_allowlist, allowed_aliases=allowed_aliases or [],
    )
    return key, secret


def _refuse_playground(application: Application) -> None:
    if application.is_playground:
        raise ValidationError({"application": "The playground's keys are personal and managed by the portal: "
                                              "open the playground, or register an application for your own key."})


def _audit_key(key: ApiKey) -> dict:
    return {"prefix": key.key_prefix, "application": key.application.name, "name": key.name,
            "expires_at": key.expires_at, "ip_allowlist": key.ip_allowlist, "allowed_aliases": key.allowed_aliases}


def create_api_key(
    *,
    actor: User | None,
    application: Application,
    name: str = "",
    expires_at: datetime | None = None,
    ip_allowlist: Iterable[str] | str | None = None,
    allowed_aliases: Iterable[str] | None = None,
) -> tuple[ApiKey, str]:
    """Issue a key for ``application``. Returns the key and its secret — the only time the secret exists.

    ``allowed_aliases``: the models this key may call, a restriction within the application's subscriptions
    (the gateway refuses any other with 403 ``model_not_allowed_for_key``); empty or None: all of them.
    """
    check_permission(actor, "key.manage", application)
    _refuse_playground(application)
    _check_expiry(expires_at)
    allowlist = clean_ip_allowlist(ip_allowlist)
    with transaction.atomic():
        key, secret = _issue(application=application, actor=actor, name=name, expires_at=expires_at,
                             ip_allowlist=allowlist, allowed_aliases=sorted(set(allowed_aliases or ())))
        record_event(action="api_key.create", actor=actor, target=key, changes=_audit_key(key))
        config_version.bump("keys")
        return key, secret


def rotate_api_key(
    *, actor: User | None, key: ApiKey, overlap: timedelta = DEFAULT_ROTATION_OVERLAP
) -> tuple[ApiKey, str]:
    """Issue a successor of ``key`` (same application, name, allow-list, model list and lifetime); the old key keeps
    working for ``overlap`` and then expires, so callers can switch without downtime."""
    check_permission(actor, "key.manage", key)
    if overlap < timedelta(0) or overlap > MAX_ROTATION_OVERLAP:
        raise ValidationError({"overlap": f"The overlap must be between 0 and {MAX_ROTATION_OVERLAP.days} days."})
    with transaction.atomic():
        old = ApiKey.objects.select_for_update(of=("self",)).select_related("application").get(pk=key.pk)
        _refuse_playground(old.application)
        if old.is_revoked:
            raise ValidationError("A revoked key cannot be rotated; create a new key.")
        if old.replaced_by_id is not None:
            raise ValidationError("This key was already rotated; rotate its successor instead.")
        if old.is_expired:
            raise ValidationError("An expired key cannot be rotated; create a new key.")
        now = timezone.now()
        new, secret = _issue(application=old.application, actor=actor, name=old.name,
                             expires_at=_same_lifetime(old, now), ip_allowlist=list(old.ip_allowlist),
                             allowed_aliases=list(old.allowed_aliases))
        overlap_ends = now + overlap
        old.expires_at = min(old.expires_at, overlap_ends) if old.expires_at else overlap_ends
        old.replaced_by = new
        old.save(update_fields=["expires_at", "replaced_by"])
        record_event(action="api_key.rotate", actor=actor, target=old,
                     changes={"prefix": old.key_prefix, "new_key_id": new.pk, "new_prefix": new.key_prefix,
                              "old_key_expires_at": old.expires_at})
        record_event(action="api_key.create", actor=actor, target=new,
                     changes={**_audit_key(new), "rotated_from": old.pk})
        config_version.bump("keys")
        key.expires_at, key.replaced_by_id = old.expires_at, new.pk
        return new, secret


def _same_lifetime(old: ApiKey, now: datetime) -> datetime | None:
    """The successor's expiry: as long from now as the old key was given (never: never)."""
    if old.expires_at is None:
        return None
    try:
        return now + (old.expires_at - old.created_at)
    except OverflowError:  # an expiry near the end of the calendar
        return old.expires_at


def revoke_api_key(*, actor: User | None, key: ApiKey, reason: str = "") -> ApiKey:
    """Stop the key now: every gateway process refuses it within about a second. Revoking twice is refused."""
    check_permission(actor, "key.manage", key)
    with transaction.atomic():
        key_now = ApiKey.objects.select_for_update(of=("self",)).select_related("application").get(pk=key.pk)
        if key_now.is_revoked:
            raise ValidationError(f"Key {key_now.key_prefix}… was already revoked.")
        key_now.revoked_at, key_now.revoked_by = timezone.now(), actor
        key_now.revoked_reason = (reason or "").strip()[:500]
        key_now.save(update_fields=["revoked_at", "revoked_by", "revoked_reason"])
        record_event(action="api_key.revoke", actor=actor, actor_label=actor_label(actor), target=key_now,
                     changes={"prefix": key_now.key_prefix, "reason": key_now.revoked_reason})
        config_version.bump("keys")
        key.revoked_at, key.revoked_by, key.revoked_reason = key_now.revoked_at, actor, key_now.revoked_reason
        return key_now


def set_key_ip_allowlist(*, actor: User | None, key: ApiKey, ip_allowlist: Iterable[str] | str | None) -> ApiKey:
    """Limit where the key may be used from (CIDRs); an empty list allows any address."""
    check_permission(actor, "key.manage", key)
    allowlist = clean_ip_allowlist(ip_allowlist)
    with transaction.atomic():
        key_now = ApiKey.objects.select_for_update().get(pk=key.pk)
        before = list(key_now.ip_allowlist)
        if before != allowlist:
            key_now.ip_allowlist = allowlist
            key_now.save(update_fields=["ip_allowlist"])
            record_event(action="api_key.set_ip_allowlist", actor=actor, target=key_now,
                         changes={"prefix": key_now.key_prefix, "ip_allowlist": [before, allowlist]})
            config_version.bump("keys")
        key.ip_allowlist = allowlist
        return key_now


# --- personal access tokens ---------------------------------------------------------------------

def create_personal_access_token(
    *, user: User, name: str, expires_at: datetime | None = None
) -> tuple[PersonalAccessToken, str]:
    """A token for the REST API acting as ``user``. Returns it with its secret, shown once."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Name the token after what uses it (e.g. 'ci')."})
    _check_expiry(expires_at)
    with transaction.atomic():
        secret = new_secret(TOKEN_SCHEME)
        token = PersonalAccessToken.objects.create(user=user, name=name[:100], token_prefix=secret[:PREFIX_LENGTH],
                                                   token_hash=hash_secret(secret), expires_at=expires_at)
        record_event(action="access_token.create", actor=user, target=token,
                     changes={"name": token.name, "prefix": token.token_prefix, "expires_at": expires_at})
        return token, secret


def revoke_personal_access_token(*, user: User, token: PersonalAccessToken) -> PersonalAccessToken:
    """Only the token's owner revokes it (others never see it)."""
    if token.user_id != user.pk:
        raise ValidationError("This is not your token.")
    with transaction.atomic():
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            record_event(action="access_token.revoke", actor=user, target=token, changes={"prefix": token.token_prefix})
        return token
