"""The gateway, one request at a time. Read top to bottom: this is the whole story.

    1 authenticate  → the key is one the portal issued, alive, from an allowed address — from the
                      headers alone, before the body is read (bounded in size and time)
      parse         → the body into the normal form; the alias resolved: exists, subscribed, callable
    2 limits        → the call fits every level's rate limits and budgets (one limiter round trip)
    3 guard input   → the applying policies mask, flag or block what the model would read: PII, secrets,
                      prompt injection, deny-listed terms (gateway.pipeline.guard, guardrails)
    4 route         → the endpoints this call may try, in order: the alias's strategy, the team's dedicated
                      endpoint, open circuits skipped, only regions the policies allow (gateway.routing.order)
    5 call          → the provider adapter, streamed or not, falling back along them: retries with backoff,
                      Retry-After, one deadline, in-flight caps, no retry once output was sent
    6 guard output  → the output rules and un-masking over the answer, piece by piece on a stream; a requested
                      JSON schema checked (asked once more, then 502)
    7 finish        → one usage event, and the limits settled, exactly once whatever happened
    8 respond       → the answer in the caller's wire format

Each step takes the ``CallContext`` and either fills in its part or raises a ``GatewayError``,
which the HTTP layer (``gateway.asgi``) renders in the caller's error shape. From step 2 on, the
call is attributed to a key and an alias, and every way out of ``_governed`` passes ``finish``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson

from gateway.pipeline import call
from gateway.pipeline import responses as responses_step
from gateway.pipeline.authenticate import authenticate
from gateway.pipeline.context import CLIENT_CLOSED, CallContext, PromptCall
from gateway.pipeline.finish import finish, status_of
from gateway.pipeline.guard import chat_guarded, guard_input
from gateway.pipeline.limits import admit
from gateway.pipeline.route import check_request_fits, choose_route, resolve_alias, resolve_prompt
from gateway.token_count import count_input_tokens
from gateway.wire import anthropic as anthropic_wire
from gateway.wire import completions as completions_wire
from gateway.wire import openai as openai_wire
from gateway.wire import prompts as prompts_wire
from gateway.wire import responses as responses_wire

Result = bytes | call.StreamBody


async def _governed(ctx: CallContext, answer: Callable[[CallContext], Awaitable[Result]]) -> Result:
    """Steps 2 to 8 of an attributed call; each way out (answer, refusal, error, cancellation) meets ``finish``.

    A stream's body runs after this returns, so it calls ``finish`` itself when it ends.
    """
    try:
        await admit(ctx, ctx.request)  # 2
        await guard_input(ctx)  # 3
        choose_route(ctx)  # 4
        result = await answer(ctx)  # 5, 6, 8
    except BaseException as error:
        # What the upstream already answered (an answer the output guard then blocked) is still metered.
        ctx.ended(status=status_of(error) if isinstance(error, Exception) else CLIENT_CLOSED, usage=ctx.usage,
                  error=error)
        await finish(ctx)
        raise
    if not isinstance(result, call.StreamBody):
        await finish(ctx)  # before the answer is sent, so a killed process cannot lose the event
    return result


async def _chat_openai(ctx: CallContext) -> Result:
    if ctx.request.stream:
        return await call.chat_stream(ctx, ctx.request, format=call.OpenAIChatFormat)
    return openai_wire.render_chat_response(await chat_guarded(ctx, ctx.request, call.chat))


async def _chat_anthropic(ctx: CallContext) -> Result:
    if ctx.request.stream:
        return await call.chat_stream(ctx, ctx.request, format=call.AnthropicFormat)
    return anthropic_wire.render_message(await chat_guarded(ctx, ctx.request, call.chat))


async def _complete_text(ctx: CallContext) -> Result:
    if ctx.request.stream:
        return await call.chat_stream(ctx, ctx.request, format=call.CompletionFormat)
    return completions_wire.render_completion(await chat_guarded(ctx, ctx.request, call.chat))


async def _embed(ctx: CallContext) -> Result:
    response = await call.embed(ctx, ctx.request)
    return openai_wire.render_embeddings(response, ctx.request.encoding_format or "float")


async def chat_completions(ctx: CallContext) -> Result:
    """``POST /v1/chat/completions``"""
    await authenticate(ctx)
    ctx.request = openai_wire.parse_chat_request(await ctx.read_body())
    await resolve_alias(ctx, ctx.request.model, kind="chat")
    check_request_fits(ctx, ctx.request)
    return await _governed(ctx, _chat_openai)


async def prompt(ctx: CallContext, reference: str) -> Result:
    """``POST /v1/prompts/<slug>[@version|@label]`` — a prompt API: the version's messages rendered with the
    caller's variables, answered as a chat completion by the version's model, through the same steps."""
    await authenticate(ctx)
    version = await resolve_prompt(ctx, reference)  # the key's subscription to the prompt; ctx.routing: its model
    ctx.prompt = PromptCall(slug=version.slug, version=version.number)
    ctx.request = prompts_wire.parse_prompt_request(await ctx.read_body(), version)
    check_request_fits(ctx, ctx.request)
    return await _governed(ctx, _chat_openai)


async def messages(ctx: CallContext) -> Result:
    """``POST /v1/messages`` — Anthropic's Messages API, on any alias whatever the provider behind it."""
    await authenticate(ctx)
    ctx.request = anthropic_wire.parse_messages_request(await ctx.read_body())
    ctx.request.passthrough_headers = anthropic_wire.passthrough_headers(ctx.headers)
    await resolve_alias(ctx, ctx.request.model, kind="chat")
    check_request_fits(ctx, ctx.request)
    return await _governed(ctx, _chat_anthropic)


async def embeddings(ctx: CallContext) -> Result:
    """``POST /v1/embeddings``"""
    await authenticate(ctx)
    ctx.request = openai_wire.parse_embedding_request(await ctx.read_body())
    await resolve_alias(ctx, ctx.request.model, kind="embeddings")
    check_request_fits(ctx, ctx.request)
    return await _governed(ctx, _embed)


async def list_models(ctx: CallContext) -> Result:
    """``GET /v1/models`` — exactly the aliases this key may call."""
    await authenticate(ctx)
    from gateway.models_list import render_model_list

    return render_model_list(ctx)


async def retrieve_model(ctx: CallContext, model: str) -> Result:
    """``GET /v1/models/{model}``"""
    await authenticate(ctx)
    from gateway.models_list import render_model

    return render_model(ctx, model)


async def usage(ctx: CallContext) -> Result:
    """``GET /v1/usage`` — the calling key's limits, what is left, and what it used this period."""
    await authenticate(ctx)
    from gateway.usage_report import render_usage

    return await render_usage(ctx)


# --- legacy completions and token counting (issue 18) ---------------------------------------------


async def completions(ctx: CallContext) -> Result:
    """``POST /v1/completions`` — legacy text completions, on any chat alias: the prompt is one user message."""
    await authenticate(ctx)
    ctx.request = completions_wire.parse_completion_request(await ctx.read_body())
    await resolve_alias(ctx, ctx.request.model, kind="chat")
    check_request_fits(ctx, ctx.request)
    return await _governed(ctx, _complete_text)


async def count_message_tokens(ctx: CallContext) -> Result:
    """``POST /v1/messages/count_tokens`` — Anthropic's token counting, on any chat alias.

    Authenticated and checked like a call (the key, its subscription, the alias callable), but not a model
    call: no usage event, no limits charged (``gateway.token_count``).
    """
    from gateway.token_count import count_input_tokens

    await authenticate(ctx)
    ctx.request = anthropic_wire.parse_messages_request(await ctx.read_body(), counting=True)
    ctx.request.passthrough_headers = anthropic_wire.passthrough_headers(ctx.headers)
    await resolve_alias(ctx, ctx.request.model, kind="chat")
    return orjson.dumps({"input_tokens": await count_input_tokens(ctx, ctx.request)})


async def count_response_tokens(ctx: CallContext) -> Result:
    """``POST /v1/responses/input_tokens`` — what a ``/v1/responses`` call with this body would read, in tokens.

    Not a model call: no usage event and no limit is charged (as ``/v1/messages/count_tokens``).
    """
    await authenticate(ctx)
    wanted = responses_wire.parse_responses_request(await ctx.read_body())
    await resolve_alias(ctx, wanted.model, kind="chat")
    count = await count_input_tokens(ctx, await responses_step.begin(ctx, wanted))
    return orjson.dumps({"object": "response.input_tokens", "input_tokens": count})


# --- the Responses API (issue 18) -----------------------------------------------------------------


async def responses(ctx: CallContext) -> Result:
    """``POST /v1/responses`` — OpenAI's Responses API, on any chat alias whatever the provider behind it."""
    await authenticate(ctx)
    wanted = responses_wire.parse_responses_request(await ctx.read_body())
    await resolve_alias(ctx, wanted.model, kind="chat")
    ctx.request = await responses_step.begin(ctx, wanted)  # with the conversation previous_response_id names
    check_request_fits(ctx, ctx.request, max_tokens_param="max_output_tokens")
    return await _governed(ctx, responses_step.answer)


async def retrieve_response(ctx: CallContext, response_id: str) -> Result:
    """``GET /v1/responses/{id}`` — a stored response of the caller's team."""
    await authenticate(ctx)
    return await responses_step.retrieve(ctx, response_id)


async def delete_response(ctx: CallContext, response_id: str) -> Result:
    """``DELETE /v1/responses/{id}``"""
    await authenticate(ctx)
    return await responses_step.delete(ctx, response_id)


async def response_input_items(ctx: CallContext, response_id: str) -> Result:
    """``GET /v1/responses/{id}/input_items``"""
    await authenticate(ctx)
    return await responses_step.input_items(ctx, response_id)
