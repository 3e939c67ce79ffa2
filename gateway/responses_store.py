"""The Responses API's store: a tenant's responses, kept for the retention period, read only by that tenant.

Every read and write is scoped by the calling key's tenant (``StoredResponse.objects.for_tenant``): another
tenant's id is answered exactly like an unknown one (404), so ids cannot be probed across teams.

Cost: one INSERT per stored response (``store`` is on by default, as OpenAI's), one SELECT per call that
continues with ``previous_response_id``; each runs in a worker thread, off the event loop. A call with
``store: false`` and no ``previous_response_id`` touches no table.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from gateway.db_thread import in_thread
from gateway.errors import BadRequestError, NotFoundError
from gateway.models import StoredResponse
from gateway.pipeline.context import CallContext

_MAX_ID = 64


def _not_found(response_id: str, param: str | None = None) -> NotFoundError:
    return NotFoundError(f"Response with id '{response_id[:_MAX_ID]}' not found.", param=param)


def _live(tenant_id: int):
    return StoredResponse.objects.filter(tenant_id=tenant_id, expires_at__gt=timezone.now())


def _save(tenant_id: int, key_id: int, alias: str, body: dict[str, Any], items: list[dict[str, Any]],
          history: list[dict[str, Any]]) -> None:
    StoredResponse.objects.create(
        id=body["id"], tenant_id=tenant_id, key_id=key_id, alias=alias,
        previous_response_id=body.get("previous_response_id") or "", body=body, input=items, history=history,
        expires_at=timezone.now() + timedelta(days=settings.GATEWAY_RESPONSES_RETENTION_DAYS))


async def save(ctx: CallContext, body: dict[str, Any], items: list[dict[str, Any]],
               history: list[dict[str, Any]]) -> None:
    """Keep a finished response (its object, its input and the conversation before it)."""
    await in_thread(_save)(ctx.grant.tenant_id, ctx.grant.key_id, ctx.routing.name, body, items, history)


def _conversation(tenant_id: int, response_id: str) -> list[dict[str, Any]] | None:
    row = _live(tenant_id).filter(pk=response_id).values("history", "input", "body").first()
    if row is None:
        return None
    return [*row["history"], *row["input"], *row["body"].get("output", [])]


async def conversation(ctx: CallContext, response_id: str) -> list[dict[str, Any]]:
    """The items a continuation starts from: everything before the response, then its input and its output.

    404 naming ``previous_response_id`` when it is unknown, expired, another tenant's, or was not stored.
    """
    if len(response_id) > _MAX_ID:
        raise BadRequestError(f"Invalid 'previous_response_id': at most {_MAX_ID} characters.",
                              code="invalid_value", param="previous_response_id")
    found = await in_thread(_conversation)(ctx.grant.tenant_id, response_id)
    if found is None:
        raise NotFoundError(f"Previous response with id '{response_id}' not found. It may have been stored "
                            "with 'store: false', deleted, or expired.", param="previous_response_id")
    return found


def _body(tenant_id: int, response_id: str) -> dict[str, Any] | None:
    return _live(tenant_id).filter(pk=response_id).values_list("body", flat=True).first()


async def body(ctx: CallContext, response_id: str) -> dict[str, Any]:
    """A stored response object; 404 as for an unknown id."""
    found = await in_thread(_body)(ctx.grant.tenant_id, response_id[:_MAX_ID + 1])
    if found is None:
        raise _not_found(response_id)
    return found


def _delete(tenant_id: int, response_id: str) -> bool:
    deleted, _ = _live(tenant_id).filter(pk=response_id).delete()
    return bool(deleted)


async def delete(ctx: CallContext, response_id: str) -> None:
    """Delete a stored response; 404 as for an unknown id."""
    if not await in_thread(_delete)(ctx.grant.tenant_id, response_id[:_MAX_ID + 1]):
        raise _not_found(response_id)


def _input(tenant_id: int, response_id: str) -> list[dict[str, Any]] | None:
    return _live(tenant_id).filter(pk=response_id).values_list("input", flat=True).first()


async def input_items(ctx: CallContext, response_id: str) -> list[dict[str, Any]]:
    """The input items a stored response was created from, in the order they were sent."""
    found = await in_thread(_input)(ctx.grant.tenant_id, response_id[:_MAX_ID + 1])
    if found is None:
        raise _not_found(response_id)
    return found


def purge_expired() -> int:
    """Delete every response past its retention; the number deleted (the housekeeping task)."""
    deleted, _ = StoredResponse.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
