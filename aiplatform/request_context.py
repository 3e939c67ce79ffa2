"""Per-request facts (request id, client IP) that deep code may need without a request object.

The audit trail reads them so that a service called from a view, a DRF endpoint or the
gateway records the same request id the caller sees in ``x-request-id``.
"""

from __future__ import annotations

import re
import secrets
import uuid
from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
client_ip_var: ContextVar[str | None] = ContextVar("client_ip", default=None)

_ACCEPTABLE_INCOMING_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def new_request_id(incoming: str | None = None) -> str:
    """Keep a well-formed id a proxy already assigned; otherwise mint one."""
    if incoming and _ACCEPTABLE_INCOMING_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


def mint_request_id() -> str:
    """An id nobody outside chose: the gateway keys its usage ledger on it (32 hex digits, 128 random bits;
    ``token_hex`` rather than ``uuid4().hex``: the same shape without building a UUID object per call)."""
    return secrets.token_hex(16)


def well_formed_incoming_id(incoming: str | None) -> str:
    """The caller's id when it is well formed (kept for searching, never trusted as a key), else ''."""
    return incoming if incoming and _ACCEPTABLE_INCOMING_ID.match(incoming) else ""


def current_request_id() -> str | None:
    return request_id_var.get()


def current_client_ip() -> str | None:
    return client_ip_var.get()
