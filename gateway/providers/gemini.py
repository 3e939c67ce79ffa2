"""Google Gemini (the Generative Language API) over HTTP (gateway.http_clients).

`base_url` defaults to `https://generativelanguage.googleapis.com/v1beta`; chat goes to
`{base_url}/models/{model}:generateContent`, streaming to `:streamGenerateContent?alt=sse`, embeddings to
`:batchEmbedContents`; the key travels in the `x-goog-api-key` header, never in the URL.
`config`: `headers`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from urllib.parse import quote

import orjson

from gateway.errors import GatewayError
from gateway.http_clients import (
    error_mapper,
    post_json,
    sse_data,
    stream_lines,
    upstream_json,
)
from gateway.normal import ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse
from gateway.providers.base import Adapter, UpstreamTarget
from gateway.tokens import count_inputs, decode_tokens
from gateway.usage import StreamUsage, ensure_usage
from gateway.wire.gemini import StreamReader, chat_response_from_gemini, embed_request, request_from_chat

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/v1beta"


def _url(target: UpstreamTarget, model: str, method: str) -> str:
    base = (target.base_url or DEFAULT_BASE_URL).rstrip("/")
    model = model.removeprefix("models/")
    return f"{base}/models/{quote(model, safe='.-_')}:{method}"


def headers_for(target: UpstreamTarget) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if target.api_key:
        headers["x-goog-api-key"] = target.api_key
    headers.update(target.config.get("headers") or {})
    return headers


def on_error(target: UpstreamTarget):
    """Gemini answers a bad API key with 400 `API_KEY_INVALID`: that is the gateway's key, so a 502, not a 400."""
    generic = error_mapper(target)

    def mapper(status: int, body: bytes, headers: Mapping[str, str]) -> GatewayError:
        if status == 400 and b"API_KEY_INVALID" in body:
            status = 401
        return generic(status, body, headers)

    return mapper


async def chat(req: ChatRequest, target: UpstreamTarget) -> ChatResponse:
    """POST models/{model}:generateContent."""
    model = target.upstream_model or req.model
    body = orjson.dumps(request_from_chat(req))
    raw = await post_json(target, _url(target, model, "generateContent"), body, headers_for(target), on_error(target))
    return ensure_usage(chat_response_from_gemini(upstream_json(raw, target), model), req, model)


async def chat_stream(req: ChatRequest, target: UpstreamTarget) -> AsyncIterator[ChatChunk]:
    """POST models/{model}:streamGenerateContent?alt=sse; usage arrives on a final chunk."""
    model = target.upstream_model or req.model
    body = orjson.dumps(request_from_chat(req))
    reader = StreamReader(model)
    usage = StreamUsage()
    url = _url(target, model, "streamGenerateContent")
    lines = stream_lines(target, url, body, headers_for(target), on_error(target), params={"alt": "sse"})
    try:
        async for line in lines:
            payload = sse_data(line)
            if not payload:
                continue
            data = upstream_json(payload, target)
            if data.get("error"):
                error = data["error"]
                status = error.get("code") if isinstance(error, dict) else None
                raise on_error(target)(status if isinstance(status, int) else 502, payload.encode(), {})
            for chunk in reader.feed(data):
                usage.observe(chunk)
                yield chunk
    finally:
        await lines.aclose()
    usage.provider_usage = reader.usage or usage.provider_usage
    yield ChatChunk(reader.id, reader.model, reader.created, usage=usage.final(req, model))


async def embed(req: EmbeddingRequest, target: UpstreamTarget) -> EmbeddingResponse:
    """POST models/{model}:batchEmbedContents (Gemini reports no token counts: they are counted)."""
    model = target.upstream_model or req.model
    texts = [x if isinstance(x, str) else decode_tokens(x, model) for x in req.input]
    body = orjson.dumps(embed_request(texts, model, req.dimensions))
    raw = await post_json(
        target, _url(target, model, "batchEmbedContents"), body, headers_for(target), on_error(target)
    )
    data = upstream_json(raw, target)
    vectors = [e.get("values") or [] for e in data.get("embeddings") or ()]
    return EmbeddingResponse(model=model, data=vectors, usage=count_inputs(texts, model))


ADAPTER = Adapter("gemini", chat, chat_stream, embed)
