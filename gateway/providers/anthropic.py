"""Anthropic's Messages API as an upstream: normal form ↔ Anthropic, streaming events → chunks.

Requests go to `{base_url}/v1/messages` (`base_url` `https://api.anthropic.com`, with or without `/v1`)
with `x-api-key` and `anthropic-version`. `config`: `anthropic_version` (default `2023-06-01`),
`default_max_tokens` (Anthropic requires `max_tokens`; default 4096), `headers` (e.g. `anthropic-beta`).
The caller's own `anthropic-beta` and (well-formed) `anthropic-version` headers, when it sent them on the
Anthropic surface (`ChatRequest.passthrough_headers`), win over the endpoint's: the caller asked for that
API behaviour. `count_tokens()` asks Anthropic's `POST /v1/messages/count_tokens`. Anthropic has no
embeddings API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson

from gateway.errors import UpstreamError
from gateway.http_clients import error_mapper, post_json, sse_data, stream_error, stream_lines, upstream_json
from gateway.normal import ChatChunk, ChatRequest, ChatResponse, now
from gateway.providers.base import Adapter, UpstreamTarget
from gateway.usage import StreamUsage, ensure_usage
from gateway.wire.anthropic_upstream import (
    AnthropicStreamError,
    StreamReader,
    chat_response_from_message,
    request_from_chat,
)

DEFAULT_VERSION = "2023-06-01"


def messages_url(target: UpstreamTarget, path: str = "/messages") -> str:
    base = (target.base_url or "https://api.anthropic.com").rstrip("/")
    return base + (path if base.endswith("/v1") else "/v1" + path)


def headers_for(target: UpstreamTarget, req: ChatRequest | None = None) -> dict[str, str]:
    headers = {
        "content-type": "application/json",
        "accept": "application/json",
        "anthropic-version": target.config.get("anthropic_version") or DEFAULT_VERSION,
    }
    if target.api_key:
        headers["x-api-key"] = target.api_key
    headers.update(target.config.get("headers") or {})
    if req is not None:
        headers.update(req.passthrough_headers)
    return headers


def _body(req: ChatRequest, target: UpstreamTarget, stream: bool) -> bytes:
    model = target.upstream_model or req.model
    default = int(target.config.get("default_max_tokens") or 4096)
    return orjson.dumps(request_from_chat(req, model, default_max_tokens=default, stream=stream))


async def chat(req: ChatRequest, target: UpstreamTarget) -> ChatResponse:
    """POST /v1/messages and translate the answer."""
    raw = await post_json(
        target, messages_url(target), _body(req, target, False), headers_for(target, req), error_mapper(target)
    )
    resp = chat_response_from_message(upstream_json(raw, target))
    return ensure_usage(resp, req, target.upstream_model or req.model)


async def chat_stream(req: ChatRequest, target: UpstreamTarget) -> AsyncIterator[ChatChunk]:
    """POST /v1/messages with `stream: true`; Anthropic's events become chunks, usage on a final chunk."""
    model = target.upstream_model or req.model
    reader = StreamReader(model=model)
    usage = StreamUsage()
    lines = stream_lines(
        target, messages_url(target), _body(req, target, True), headers_for(target, req), error_mapper(target)
    )
    try:
        async for line in lines:
            payload = sse_data(line)
            if not payload:
                continue
            try:
                chunks = reader.feed(upstream_json(payload, target))
            except AnthropicStreamError as exc:
                raise stream_error(target, exc.message, exc.status) from exc
            for chunk in chunks:
                usage.observe(chunk)
                yield chunk
    finally:
        await lines.aclose()
    if reader.usage is not None:
        usage.provider_usage = reader.usage
    yield ChatChunk(reader.id, reader.model, reader.created or now(), usage=usage.final(req, model))


# What a Messages body has that count_tokens refuses (it counts input only).
_NOT_COUNTED = frozenset({"max_tokens", "temperature", "top_p", "top_k", "stop_sequences", "metadata", "stream",
                          "service_tier"})


async def count_tokens(req: ChatRequest, target: UpstreamTarget) -> int:
    """POST /v1/messages/count_tokens: the provider's own count of the request's input tokens."""
    body = request_from_chat(req, target.upstream_model or req.model)
    body = {k: v for k, v in body.items() if k not in _NOT_COUNTED}
    raw = await post_json(target, messages_url(target, "/messages/count_tokens"), orjson.dumps(body),
                          headers_for(target, req), error_mapper(target))
    count = upstream_json(raw, target).get("input_tokens")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise UpstreamError(f"{target.provider_kind} error: count_tokens answered without 'input_tokens'",
                            provider=target.provider_kind)
    return count


ADAPTER = Adapter("anthropic", chat, chat_stream)
