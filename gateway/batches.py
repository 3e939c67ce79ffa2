"""OpenAI's Batch API (``/v1/batches``): create a batch from an uploaded file, follow it, list, cancel.

``POST /v1/batches`` takes ``input_file_id`` (a ``purpose=batch`` file of the caller's team), ``endpoint``
(``/v1/chat/completions``, ``/v1/embeddings``, ``/v1/responses`` or ``/v1/completions``),
``completion_window`` (``24h``), ``metadata`` and ``output_expires_after`` (how long its output and error
files are kept); it answers at once with the batch ``validating``, and
the workers take it from there (``portal.batch_runner``). Another team's batch id is a 404 like an unknown one.

Not on the chat hot path: each request is a few queries in a worker thread.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import orjson

from gateway.db_thread import in_thread
from gateway.errors import BadRequestError, GatewayError, NotFoundError
from gateway.pipeline.authenticate import authenticate
from gateway.pipeline.context import CallContext
from gateway.wire.openai import invalid_value, missing

_FIELDS = {"input_file_id", "endpoint", "completion_window", "metadata", "output_expires_after"}


class BatchConflictError(GatewayError):
    status = 409
    type = "invalid_request_error"
    code = "batch_not_cancellable"


def _ts(moment) -> int | None:
    return int(moment.timestamp()) if moment else None


def batch_object(batch) -> dict[str, Any]:
    """A ``Batch`` as OpenAI's ``batch`` object."""
    return {
        "id": batch.pk, "object": "batch", "endpoint": batch.endpoint, "model": batch.model or None,
        "errors": {"object": "list", "data": batch.errors} if batch.errors else None,
        "input_file_id": batch.input_file_id, "completion_window": batch.completion_window,
        "status": batch.status, "output_file_id": batch.output_file_id or None,
        "error_file_id": batch.error_file_id or None, "created_at": _ts(batch.created_at),
        "in_progress_at": _ts(batch.in_progress_at), "expires_at": _ts(batch.expires_at),
        "finalizing_at": _ts(batch.finalizing_at), "completed_at": _ts(batch.completed_at),
        "failed_at": _ts(batch.failed_at), "expired_at": _ts(batch.expired_at),
        "cancelling_at": _ts(batch.cancelling_at), "cancelled_at": _ts(batch.cancelled_at),
        "request_counts": {"total": batch.total, "completed": batch.completed, "failed": batch.failed},
        "usage": {"input_tokens": batch.prompt_tokens, "output_tokens": batch.completion_tokens,
                  "total_tokens": batch.prompt_tokens + batch.completion_tokens,
                  "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}},
        "metadata": batch.metadata,
    }


def _metadata(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > 16:
        raise invalid_value("metadata", "expected an object of at most 16 string pairs.")
    for key, item in value.items():
        if not isinstance(item, str) or len(key) > 64 or len(item) > 512:
            raise invalid_value("metadata", "keys are strings of at most 64 characters, values of at most 512.")
    return value


def _output_keep_seconds(value: Any) -> int | None:
    """``output_expires_after``: {"anchor": "created_at", "seconds": 3600..2592000}, as on a file upload."""
    from gateway.files import MAX_KEEP_SECONDS, MIN_KEEP_SECONDS

    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"anchor", "seconds"}:
        raise invalid_value("output_expires_after", "expected an object with 'anchor' and 'seconds'.")
    if value.get("anchor") != "created_at":
        raise invalid_value("output_expires_after.anchor", "the only anchor is 'created_at'.")
    seconds = value.get("seconds")
    if type(seconds) is not int or not MIN_KEEP_SECONDS <= seconds <= MAX_KEEP_SECONDS:
        raise invalid_value("output_expires_after.seconds",
                            f"expected an integer between {MIN_KEEP_SECONDS} and {MAX_KEEP_SECONDS}.")
    return seconds


def _parse_create(raw: bytes) -> dict[str, Any]:
    from portal.services.batches import ENDPOINT_KINDS, WINDOWS

    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequestError("The request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise BadRequestError("The request body must be a JSON object.", code="invalid_json")
    for name in body:
        if name not in _FIELDS:
            raise BadRequestError(f"Unrecognized request argument supplied: {str(name)[:64]}",
                                  code="unknown_parameter", param=str(name)[:64])
    for name in ("input_file_id", "endpoint", "completion_window"):
        if name not in body:
            raise missing(name)
        if not isinstance(body[name], str):
            raise invalid_value(name, "expected a string.")
    if body["endpoint"] not in ENDPOINT_KINDS:
        raise invalid_value("endpoint", f"'{body['endpoint'][:60]}' is not one of {', '.join(ENDPOINT_KINDS)}.")
    if body["completion_window"] not in WINDOWS:
        raise invalid_value("completion_window", "the only completion window is '24h'.")
    body["metadata"] = _metadata(body.get("metadata"))
    body["output_keep_seconds"] = _output_keep_seconds(body.get("output_expires_after"))
    return body


async def create(ctx: CallContext) -> bytes:
    """``POST /v1/batches``"""
    from portal.models import FilePurpose
    from portal.selectors_files import file_of
    from portal.services.batches import create_batch

    await authenticate(ctx)
    body = _parse_create(await ctx.read_body())
    grant = ctx.grant

    def make():
        source = file_of(grant.tenant_id, body["input_file_id"][:40])
        if source is None:
            raise NotFoundError(f"No such File object: {body['input_file_id'][:64]}", param="input_file_id",
                                code="file_not_found")
        if source.purpose != FilePurpose.BATCH:
            raise invalid_value("input_file_id", f"the file's purpose is '{source.purpose}'; a batch reads a file "
                                                 "uploaded with purpose 'batch'.")
        return create_batch(tenant_id=grant.tenant_id, application_id=grant.application_id, key_id=grant.key_id,
                            input_file=source, endpoint=body["endpoint"], completion_window=body["completion_window"],
                            metadata=body["metadata"], output_keep_seconds=body["output_keep_seconds"])

    return orjson.dumps(batch_object(await in_thread(_atomic(make))()))


def _atomic(fn):
    def run():
        from django.db import transaction

        with transaction.atomic():
            return fn()

    return run


async def _found(ctx: CallContext, batch_id: str):
    from portal.selectors_batches import batch_of

    await authenticate(ctx)
    batch = await in_thread(batch_of)(ctx.grant.tenant_id, batch_id[:40])
    if batch is None:
        raise NotFoundError(f"No such Batch object: {batch_id[:64]}", param="batch_id", code="batch_not_found")
    return batch


async def retrieve(ctx: CallContext, batch_id: str) -> bytes:
    """``GET /v1/batches/{id}``"""
    return orjson.dumps(batch_object(await _found(ctx, batch_id)))


async def cancel(ctx: CallContext, batch_id: str) -> bytes:
    """``POST /v1/batches/{id}/cancel``: ``cancelling`` at once, ``cancelled`` when lines in flight are answered."""
    from portal.services.batches import cancel_batch

    batch = await _found(ctx, batch_id)

    if not await in_thread(_atomic(lambda: cancel_batch(batch)))() and batch.status not in ("cancelling", "cancelled"):
        raise BatchConflictError(f"Cannot cancel a batch with status '{batch.status}'.")
    return orjson.dumps(batch_object(batch))


async def list_batches(ctx: CallContext) -> bytes:
    """``GET /v1/batches`` (``after``, ``limit`` from 1 to 100), newest first."""
    from portal.selectors_batches import batches_page

    await authenticate(ctx)
    params = {k: v[-1] for k, v in parse_qs(ctx.query, keep_blank_values=True).items()}
    raw = params.get("limit", "20")
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise invalid_value("limit", "expected an integer between 1 and 100.")
    rows, more = await in_thread(batches_page)(ctx.grant.tenant_id, after=params.get("after") or None,
                                                limit=int(raw))
    data = [batch_object(r) for r in rows]
    return orjson.dumps({"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                         "last_id": data[-1]["id"] if data else None, "has_more": more})
