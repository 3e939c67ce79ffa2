"""The Responses API's steps 5, 6 and 8: answer (whole or streamed) in the ``response`` shape, and store it.

The call itself is a chat call in normal form (``gateway.wire.responses.to_chat``), so it takes the same
governed path as ``/v1/chat/completions``: limits, guardrails, routing with fallback, metering. What this
adds is the shape of the answer and, when ``store`` is on, one row in the tenant's store
(``gateway.responses_store``) written before the caller sees the end of the answer, so a ``GET`` or a
``previous_response_id`` right after finds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import orjson
import structlog

from gateway import responses_store
from gateway.errors import BadRequestError, GatewayError, UpstreamError
from gateway.normal import ChatChunk, ChatRequest
from gateway.pipeline import call
from gateway.pipeline.context import CallContext
from gateway.pipeline.guard import chat_guarded
from gateway.wire import responses as wire
from gateway.wire.openai import invalid_value

log = structlog.get_logger("switchboard.gateway")


@dataclass(slots=True)
class ResponsesCall:
    """What a ``/v1/responses`` call carries besides its chat request: the request as sent, the conversation
    ``previous_response_id`` brought, and the envelope its answer is rendered in."""

    request: wire.ResponsesRequest
    history: list[dict[str, Any]] = field(default_factory=list)
    envelope: wire.Envelope = None  # type: ignore[assignment]


def _store_failed() -> UpstreamError:
    return UpstreamError("The answer could not be stored; call again, or with 'store: false'.",
                         code="response_not_stored")


async def _store(ctx: CallContext, responses: ResponsesCall, body: dict[str, Any]) -> None:
    if responses.request.store:
        await responses_store.save(ctx, body, responses.request.input, responses.history)


class ResponsesFormat:
    """The typed Responses events for a stream (``call.StreamFormat``); the finished response is stored before
    its terminal event is sent."""

    def __init__(self, ctx: CallContext, request: ChatRequest) -> None:
        self.ctx = ctx
        self.responses: ResponsesCall = ctx.surface
        self.stream = wire.ResponsesStream(self.responses.envelope)

    def opening(self) -> bytes:
        return self.stream.opening()

    def chunk(self, chunk: ChatChunk) -> bytes:
        return self.stream.feed(chunk)

    async def closing(self) -> bytes:
        done = self.stream.finish()
        try:
            await _store(self.ctx, self.responses, self.stream.final)
        except Exception:  # the database is away: the caller must not believe it can continue from this answer
            log.exception("response_store_failed", request_id=self.ctx.request_id)
            return self.stream.fail(_store_failed())
        return done

    def error(self, error: GatewayError) -> bytes:
        return self.stream.fail(error)


async def answer(ctx: CallContext) -> bytes | call.StreamBody:
    """Steps 5, 6 and 8 of ``POST /v1/responses``."""
    responses: ResponsesCall = ctx.surface
    if ctx.request.stream:
        return await call.chat_stream(ctx, ctx.request, format=ResponsesFormat)
    body = wire.response_object(responses.envelope, await chat_guarded(ctx, ctx.request, call.chat))
    try:
        await _store(ctx, responses, body)
    except Exception:
        log.exception("response_store_failed", request_id=ctx.request_id)
        raise _store_failed() from None
    return orjson.dumps(body)


async def begin(ctx: CallContext, request: wire.ResponsesRequest) -> ChatRequest:
    """The call's chat request, with the conversation ``previous_response_id`` names (404 when there is none)."""
    history = await responses_store.conversation(ctx, request.previous_response_id) \
        if request.previous_response_id else []
    ctx.surface = ResponsesCall(request, history, wire.Envelope(wire.new_item_id("resp_"), ctx.routing.name, request))
    return wire.to_chat(request, history)


async def retrieve(ctx: CallContext, response_id: str) -> bytes:
    """``GET /v1/responses/{id}``: the stored response object, as it was answered (not replayed as a stream)."""
    if (parse_qs(ctx.query).get("stream") or ["false"])[-1] == "true":
        raise BadRequestError("Streaming a stored response again is not supported; retrieve it without "
                              "'stream'.", code="unsupported_parameter", param="stream")
    return orjson.dumps(await responses_store.body(ctx, response_id))


async def delete(ctx: CallContext, response_id: str) -> bytes:
    """``DELETE /v1/responses/{id}``"""
    await responses_store.delete(ctx, response_id)
    return wire.render_deleted(response_id)


def _paging(query: str) -> tuple[str, str | None, int]:
    params = parse_qs(query, keep_blank_values=True)
    order = (params.get("order") or ["desc"])[-1]
    if order not in ("asc", "desc"):
        raise invalid_value("order", f"'{order[:20]}' is not one of 'asc', 'desc'.")
    after = (params.get("after") or [None])[-1] or None
    raw = (params.get("limit") or ["20"])[-1]
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise invalid_value("limit", f"expected an integer between 1 and 100, but got '{raw[:20]}'.")
    return order, after, int(raw)


async def input_items(ctx: CallContext, response_id: str) -> bytes:
    """``GET /v1/responses/{id}/input_items``: newest first unless ``order=asc``, paged by ``after`` and ``limit``."""
    order, after, limit = _paging(ctx.query)
    items = await responses_store.input_items(ctx, response_id)
    if order == "desc":
        items = items[::-1]
    if after is not None:
        position = next((i for i, item in enumerate(items) if item.get("id") == after), None)
        if position is None:
            raise invalid_value("after", f"no input item of this response has the id '{after[:64]}'.")
        items = items[position + 1:]
    return wire.render_input_items(items[:limit], has_more=len(items) > limit)
