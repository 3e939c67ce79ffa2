"""The gateway, one request at a time. Read top to bottom: this is the whole story.

    1 authenticate  → the key is one the portal issued, alive, from an allowed address — from the
                      headers alone, before the body is read (bounded in size and time)
    2 limits        → (rate limits and budgets: a later issue adds the step here)
    3 guard input   → (PII, secrets, prompt-injection guardrails: a later issue adds the step here)
    4 route         → the alias exists, this key may call it, its lifecycle allows it; pick the endpoint
    5 call          → the provider adapter, streamed or not
    6 guard output  → (a later issue adds the step here)
    7 meter         → one usage event, queued off the request path (inside ``call``)
    8 respond       → the answer in the caller's wire format

Each step takes the ``CallContext`` and either fills in its part or raises a ``GatewayError``,
which the HTTP layer (``gateway.asgi``) renders in the caller's error shape.
"""

from __future__ import annotations

from gateway.pipeline import call
from gateway.pipeline.authenticate import authenticate
from gateway.pipeline.context import CallContext
from gateway.pipeline.route import check_request_fits, choose_route, resolve_alias
from gateway.wire import anthropic as anthropic_wire
from gateway.wire import openai as openai_wire

Result = bytes | call.StreamBody


async def chat_completions(ctx: CallContext) -> Result:
    """``POST /v1/chat/completions``"""
    authenticate(ctx)
    request = openai_wire.parse_chat_request(await ctx.read_body())
    resolve_alias(ctx, request.model, kind="chat")
    check_request_fits(ctx, request)
    choose_route(ctx)
    if request.stream:
        return await call.chat_stream(ctx, request, style="openai")
    return openai_wire.render_chat_response(await call.chat(ctx, request))


async def messages(ctx: CallContext) -> Result:
    """``POST /v1/messages`` — Anthropic's Messages API, on any alias whatever the provider behind it."""
    authenticate(ctx)
    request = anthropic_wire.parse_messages_request(await ctx.read_body())
    resolve_alias(ctx, request.model, kind="chat")
    check_request_fits(ctx, request)
    choose_route(ctx)
    if request.stream:
        return await call.chat_stream(ctx, request, style="anthropic")
    return anthropic_wire.render_message(await call.chat(ctx, request))


async def embeddings(ctx: CallContext) -> Result:
    """``POST /v1/embeddings``"""
    authenticate(ctx)
    request = openai_wire.parse_embedding_request(await ctx.read_body())
    resolve_alias(ctx, request.model, kind="embeddings")
    check_request_fits(ctx, request)
    choose_route(ctx)
    response = await call.embed(ctx, request)
    return openai_wire.render_embeddings(response, request.encoding_format or "float")


async def list_models(ctx: CallContext) -> Result:
    """``GET /v1/models`` — exactly the aliases this key may call."""
    authenticate(ctx)
    from gateway.models_list import render_model_list

    return render_model_list(ctx)


async def retrieve_model(ctx: CallContext, model: str) -> Result:
    """``GET /v1/models/{model}``"""
    authenticate(ctx)
    from gateway.models_list import render_model

    return render_model(ctx, model)
