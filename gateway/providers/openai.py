"""OpenAI and OpenAI-compatible upstreams (vLLM, Ollama, Mistral, Together, Groq, LM Studio, ...).

`target.base_url` is the API root including its version (`https://api.openai.com/v1`,
`http://localhost:11434/v1`); requests go to `{base_url}/chat/completions` and `{base_url}/embeddings`
with `Authorization: Bearer <api_key>` when a key is set. `config`: `headers` (extra request headers,
e.g. `OpenAI-Organization`), `stream_usage` (default true: ask for usage in the stream with
`stream_options.include_usage`; set false for servers that refuse the field).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Mapping

import orjson

from gateway.http_clients import (
    error_mapper,
    header_map,
    post_json,
    sse_data,
    stream_error,
    stream_lines,
    upstream_json,
)
from gateway.normal import ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse, now
from gateway.providers.base import Adapter, UpstreamTarget
from gateway.tokens import count_inputs
from gateway.usage import StreamUsage, ensure_usage
from gateway.wire.openai_upstream import (
    chat_request_to_openai,
    chat_response_from_openai,
    chunks_from_openai,
    embedding_request_to_openai,
    embeddings_from_openai,
)


def headers_for(target: UpstreamTarget) -> dict[str, str]:
    headers = {"content-type": "application/json", "accept": "application/json"}
    if target.api_key:
        headers["authorization"] = f"Bearer {target.api_key}"
    headers.update(target.config.get("headers") or {})
    return headers


@functools.lru_cache(maxsize=1024)
def _prepared(target: UpstreamTarget, path: str) -> tuple[str, Mapping[str, str]]:
    """The endpoint's URL and headers, built once per target (and routing snapshot), not on every call."""
    return target.base_url.rstrip("/") + path, header_map(headers_for(target))


async def complete(
    req: ChatRequest, target: UpstreamTarget, url: str, headers: dict[str, str], params: dict[str, str] | None = None
) -> ChatResponse:
    """One non-streamed chat call to an OpenAI-shaped endpoint (shared with azure-openai)."""
    model = target.upstream_model or req.model
    body = orjson.dumps(chat_request_to_openai(req, model))
    raw = await post_json(target, url, body, headers, error_mapper(target), params=params)
    return ensure_usage(chat_response_from_openai(upstream_json(raw, target)), req, model)


async def stream(
    req: ChatRequest, target: UpstreamTarget, url: str, headers: dict[str, str], params: dict[str, str] | None = None
) -> AsyncIterator[ChatChunk]:
    """A streamed chat call to an OpenAI-shaped endpoint; usage arrives on a final chunk of its own."""
    model = target.upstream_model or req.model
    body = orjson.dumps(
        chat_request_to_openai(req, model, stream=True, stream_usage=bool(target.config.get("stream_usage", True)))
    )
    usage = StreamUsage()
    cid, reported_model, created = "", model, 0
    lines = stream_lines(target, url, body, headers, error_mapper(target), params=params)
    try:
        async for line in lines:
            payload = sse_data(line)
            if payload is None or not payload:
                continue
            if payload == "[DONE]":
                # Read on to the end of the body (it ends right here) so the connection returns to the pool.
                continue
            data = upstream_json(payload, target)
            if data.get("error"):
                error = data["error"]
                raise stream_error(target, error.get("message", "") if isinstance(error, dict) else str(error))
            for chunk in chunks_from_openai(data):
                cid, reported_model, created = chunk.id or cid, chunk.model or reported_model, chunk.created or created
                usage.observe(chunk)
                if chunk.usage is not None:
                    chunk.usage = None
                    if (
                        chunk.role is None
                        and chunk.content is None
                        and not chunk.tool_calls
                        and not chunk.finish_reason
                    ):
                        continue
                yield chunk
    finally:
        await lines.aclose()
    yield ChatChunk(cid, reported_model, created or now(), usage=usage.final(req, model))


async def chat(req: ChatRequest, target: UpstreamTarget) -> ChatResponse:
    """POST {base_url}/chat/completions."""
    return await complete(req, target, *_prepared(target, "/chat/completions"))


def chat_stream(req: ChatRequest, target: UpstreamTarget) -> AsyncIterator[ChatChunk]:
    """POST {base_url}/chat/completions with `stream: true`, chunks passed on as they arrive."""
    return stream(req, target, *_prepared(target, "/chat/completions"))


async def embed_at(
    req: EmbeddingRequest,
    target: UpstreamTarget,
    url: str,
    headers: dict[str, str],
    params: dict[str, str] | None = None,
) -> EmbeddingResponse:
    model = target.upstream_model or req.model
    body = orjson.dumps(embedding_request_to_openai(req, model))
    raw = await post_json(target, url, body, headers, error_mapper(target), params=params)
    vectors, usage = embeddings_from_openai(upstream_json(raw, target))
    return EmbeddingResponse(model=model, data=vectors, usage=usage or count_inputs(req.input, model))


async def embed(req: EmbeddingRequest, target: UpstreamTarget) -> EmbeddingResponse:
    """POST {base_url}/embeddings."""
    return await embed_at(req, target, *_prepared(target, "/embeddings"))


ADAPTER = Adapter("openai", chat, chat_stream, embed)
COMPATIBLE_ADAPTER = Adapter("openai-compatible", chat, chat_stream, embed)
