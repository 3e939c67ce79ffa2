"""Step 1 — authenticate: the presented key must be one the portal issued, alive, and used from an allowed address."""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import re
from datetime import UTC, datetime

from gateway import batch_lines
from gateway.errors import AuthenticationError, PermissionDeniedError
from gateway.metering import Refusal, record_refusal
from gateway.pipeline.context import CallContext
from gateway.state import state

KEY_SHAPE = re.compile(r"^sb-[A-Za-z0-9_-]{32,128}$")
PREFIX_LENGTH = 12


def presented_key(headers: dict[str, str]) -> str | None:
    """The key from ``Authorization: Bearer …`` (OpenAI SDKs, anthropic 2.x) or ``x-api-key`` (older Anthropic SDKs)."""
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else authorization.strip()
    return headers.get("x-api-key")


def _refuse(ctx: CallContext, reason: str, error: Exception, *, key: str = "", grant=None) -> Exception:
    record_refusal(Refusal(
        reason=reason, request_id=ctx.request_id, ip=ctx.client_ip,
        key_prefix=key[:PREFIX_LENGTH] if KEY_SHAPE.match(key or "") else "",
        key_id=getattr(grant, "key_id", None), tenant_id=getattr(grant, "tenant_id", None),
    ))
    return error


@functools.lru_cache(maxsize=4096)
def _networks(allowlist: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Parse an allow-list once, not on every request of its key."""
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in allowlist)


def _ip_allowed(ip: str | None, allowlist: tuple[str, ...]) -> bool:
    if not allowlist:
        return True
    if ip is None:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in _networks(allowlist))


async def authenticate(ctx: CallContext) -> None:
    """Set ``ctx.grant`` or raise: 401 for a missing, malformed, unknown, revoked or expired key; 403 for a refused IP.

    Every refusal is counted and queued for the audit trail with the key's prefix only. A key this
    process does not know yet may have been created a moment ago: the configuration is checked once
    more before it is refused (``state.caught_up``).
    """
    key = presented_key(ctx.headers)
    if key and key.startswith(batch_lines.PREFIX):
        return await _authenticate_line(ctx, key)
    if not key:
        raise _refuse(ctx, "key_missing", AuthenticationError(
            "Missing API key. Send it as 'Authorization: Bearer <key>'; keys are issued in the portal.",
            code="missing_api_key"))
    if not KEY_SHAPE.match(key):
        raise _refuse(ctx, "key_malformed", AuthenticationError(
            "Malformed API key: Switchboard keys look like 'sb-…'.", code="invalid_api_key"))
    digest = hashlib.sha256(key.encode()).hexdigest()
    grant = ctx.snapshot.keys.get(digest)
    if grant is None and (fresh := await state.caught_up(ctx.snapshot)) is not None:
        ctx.snapshot = fresh
        grant = fresh.keys.get(digest)
    if grant is None:
        raise _refuse(ctx, "key_unknown", AuthenticationError(
            f"Incorrect API key provided: {key[:PREFIX_LENGTH]}…. Check the key, or create one in the portal.",
            code="invalid_api_key"), key=key)
    _refuse_unless_alive(ctx, grant, key)
    if not _ip_allowed(ctx.client_ip, grant.ip_allowlist):
        raise _refuse(ctx, "ip_not_allowed", PermissionDeniedError(
            f"API key {grant.key_prefix}… may not be used from {ctx.client_ip}.", code="ip_not_allowed"),
            key=key, grant=grant)
    ctx.grant = grant


def _refuse_unless_alive(ctx: CallContext, grant, key: str) -> None:
    """401 for a revoked or expired key (a live key's, or the one a batch line credential names)."""
    if grant.revoked:
        raise _refuse(ctx, "key_revoked", AuthenticationError(
            f"API key {grant.key_prefix}… has been revoked.", code="api_key_revoked"), key=key, grant=grant)
    if grant.expires_at is not None and grant.expires_at <= datetime.now(UTC):
        raise _refuse(ctx, "key_expired", AuthenticationError(
            f"API key {grant.key_prefix}… has expired (or was rotated out).", code="api_key_expired"),
            key=key, grant=grant)


_LINE_OPERATIONS = frozenset({"chat", "embeddings", "responses", "completions"})


async def _authenticate_line(ctx: CallContext, credential: str) -> None:
    """A batch runner's line credential (``gateway.batch_lines``): the submitting key, for one line of one batch.

    The key must still be alive (revoked or expired stops its batches); its IP allow-list was checked when the
    batch was created from it, so the runner's own address is not held against it.
    """
    if ctx.batch_line is not None:
        return  # already authenticated by the HTTP layer, before it claimed the line
    verified = batch_lines.verified_line(credential) if ctx.operation in _LINE_OPERATIONS else None
    if verified is None:
        raise _refuse(ctx, "batch_credential_invalid", batch_lines.bad_credential())
    line, key_id = verified
    grant = batch_lines.grant_by_id(ctx.snapshot.keys, key_id)
    if grant is None and (fresh := await state.caught_up(ctx.snapshot)) is not None:
        ctx.snapshot = fresh
        grant = batch_lines.grant_by_id(fresh.keys, key_id)
    if grant is None:
        raise _refuse(ctx, "key_unknown", batch_lines.bad_credential())
    _refuse_unless_alive(ctx, grant, "")
    ctx.grant, ctx.batch_line = grant, line
    ctx.request_id = batch_lines.line_request_id(line.batch_id, line.number)
