"""``POST /v1/feedback``: an application rates one of its own calls, named by the gateway's request id.

Not a model call: the key is authenticated from the headers like every call's (before the body is
read), but nothing is limited or metered. The body is validated strictly: ``request_id`` and
``rating`` (``"up"`` | ``"down"``) are required, ``category`` (required for ``"down"``) and
``comment`` (at most 2,000 characters) are optional, and any other field is refused, so a typo never
stores feedback that says less than the caller meant. The answer is ``201`` with the stored feedback.

The database work runs in a thread (``portal.services.feedback.submit_api_feedback``). The ledger
is written a moment after a call ends (the metering worker, a few hundred ms), so an id it does not
know yet is looked up again every ``RETRY_SECONDS`` for up to ``LEDGER_WAIT_SECONDS``. Another
application's id is answered with the same 404 after the same wait, so an answer tells neither
which ids exist nor whose they are.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.db import close_old_connections

from gateway.errors import BadRequestError, NotFoundError
from gateway.pipeline.authenticate import authenticate
from gateway.pipeline.context import CallContext
from gateway.wire.openai import invalid_type, load_json_object, missing

LEDGER_WAIT_SECONDS = 3.0
RETRY_SECONDS = 0.2
FIELDS = ("request_id", "rating", "category", "comment")
REQUIRED = ("request_id", "rating")


def parse_feedback(body: bytes) -> dict[str, str]:
    """The body's four fields as strings ('' when left out), or a 400 naming the first bad field."""
    data: dict[str, Any] = load_json_object(body)
    for name in data:
        if name not in FIELDS:
            raise BadRequestError(f"Unrecognized request argument supplied: {name}", code="unknown_parameter",
                                  param=name)
    values = {}
    for name in FIELDS:
        value = data.get(name)
        if value is None:
            if name in REQUIRED:
                raise missing(name)
            value = ""
        if not isinstance(value, str):
            raise invalid_type(name, "a string", value)
        values[name] = value
    return values


def _submit(key_id: int, values: dict[str, str]):
    from portal.services.feedback import submit_api_feedback

    try:
        return submit_api_feedback(key_id=key_id, **values)
    finally:
        close_old_connections()


def _render(feedback) -> bytes:
    return orjson.dumps({"id": str(feedback.pk), "object": "feedback", "request_id": feedback.request_id,
                         "alias": feedback.alias, "rating": feedback.rating, "category": feedback.category or None,
                         "comment": feedback.comment, "status": feedback.status,
                         "created_at": int(feedback.created_at.timestamp())})


async def submit_feedback(ctx: CallContext) -> bytes:
    """``POST /v1/feedback`` — store (or update) the calling application's feedback on one of its calls."""
    from portal.services.feedback import NotInLedgerYet, UnknownRequestId

    await authenticate(ctx)
    values = parse_feedback(await ctx.read_body())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LEDGER_WAIT_SECONDS
    while True:
        try:
            feedback = await sync_to_async(_submit, thread_sensitive=False)(ctx.grant.key_id, values)
        except ValidationError as exc:
            field, messages = next(iter(exc.message_dict.items())) if hasattr(exc, "error_dict") else (None, exc.messages)
            raise BadRequestError(f"Invalid '{field}': {' '.join(messages)}" if field else " ".join(messages),
                                  code="invalid_value", param=field) from None
        except NotInLedgerYet:
            if loop.time() + RETRY_SECONDS < deadline:
                await asyncio.sleep(RETRY_SECONDS)
                continue
            raise _unknown(values["request_id"]) from None
        except UnknownRequestId:
            await asyncio.sleep(max(deadline - loop.time(), 0))  # as long as an id nobody has
            raise _unknown(values["request_id"]) from None
        return _render(feedback)


def _unknown(request_id: str) -> NotFoundError:
    return NotFoundError(f"No call of this application has the request id '{request_id[:128]}'. Send the "
                         "x-request-id header of an answer your own keys received.", code="request_not_found",
                         param="request_id")
