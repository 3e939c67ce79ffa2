"""Amazon Bedrock through boto3's bedrock-runtime: Converse, ConverseStream, and InvokeModel for embeddings.

`upstream_model` is the model or inference-profile id (`anthropic.claude-3-5-haiku-20241022-v1:0`,
`us.amazon.nova-pro-v1:0`); `region` picks the regional client; `base_url`, when set, overrides the
endpoint (VPC endpoints). `api_key` is the secret: JSON AWS credentials, or empty for the instance role.
`config`: `additional_model_request_fields` (e.g. `{"top_k": 50}`), `max_attempts` (boto3 retries,
default 1: the router does fallbacks), `input_type` (Cohere embeddings).
The blocking boto3 calls run on the AWS thread pool; a stream's events are read one thread hop each.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson

from gateway.errors import UpstreamError, upstream_error_for_status
from gateway.normal import ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse, Usage
from gateway.providers import aws
from gateway.providers.base import Adapter, UpstreamTarget
from gateway.tokens import count_inputs, decode_tokens
from gateway.usage import StreamUsage, ensure_usage
from gateway.wire.bedrock import (
    ConverseStreamError,
    ConverseStreamReader,
    chat_response_from_converse,
    converse_kwargs,
)

SERVICE = "bedrock-runtime"


def _kwargs(req: ChatRequest, target: UpstreamTarget) -> dict[str, Any]:
    additional = dict(target.config.get("additional_model_request_fields") or {})
    if req.extra_format == "anthropic" and "top_k" in req.extra:
        additional.setdefault("top_k", req.extra["top_k"])
    return converse_kwargs(req, target.upstream_model or req.model, additional or None)


async def chat(req: ChatRequest, target: UpstreamTarget) -> ChatResponse:
    """bedrock-runtime Converse."""
    kwargs = _kwargs(req, target)
    client = await aws.aclient_for(SERVICE, target)
    data = await aws.run_blocking(target, client.converse, **kwargs)
    model = target.upstream_model or req.model
    return ensure_usage(chat_response_from_converse(data, model), req, model)


async def stream_chunks(
    events: AsyncIterator[dict[str, Any]], req: ChatRequest, target: UpstreamTarget
) -> AsyncIterator[ChatChunk]:
    """ConverseStream events → chunks, usage (from the `metadata` event, else counted) on a final chunk."""
    model = target.upstream_model or req.model
    reader = ConverseStreamReader(model)
    usage = StreamUsage()
    async for ev in events:
        try:
            chunks = reader.feed(ev)
        except ConverseStreamError as exc:
            status = aws.STATUS_OF_CODE.get(exc.code, 502)
            raise upstream_error_for_status(
                status, f"{exc.code}: {exc.message}", provider=target.provider_kind, secrets=target.secrets()
            ) from exc
        for chunk in chunks:
            usage.observe(chunk)
            yield chunk
    usage.provider_usage = reader.usage or usage.provider_usage
    yield ChatChunk(reader.id, reader.model, reader.created, usage=usage.final(req, model))


async def chat_stream(req: ChatRequest, target: UpstreamTarget) -> AsyncIterator[ChatChunk]:
    """bedrock-runtime ConverseStream; closing the iterator closes the event stream."""
    kwargs = _kwargs(req, target)
    deadline = asyncio.get_running_loop().time() + target.total_timeout
    client = await aws.aclient_for(SERVICE, target)
    response = await aws.run_blocking(target, client.converse_stream, **kwargs)
    stream = response["stream"]
    events = aws.iterate_blocking(target, stream, deadline)
    chunks = stream_chunks(events, req, target)
    try:
        async for chunk in chunks:
            yield chunk
    finally:
        await chunks.aclose()
        await events.aclose()
        stream.close()


async def embed(req: EmbeddingRequest, target: UpstreamTarget) -> EmbeddingResponse:
    """InvokeModel with the embedding model's own body: Titan (one text per call) or Cohere (a batch)."""
    model = target.upstream_model or req.model
    texts = [x if isinstance(x, str) else decode_tokens(x, model) for x in req.input]
    client = await aws.aclient_for(SERVICE, target)

    async def invoke(body: dict[str, Any]) -> dict[str, Any]:
        response = await aws.run_blocking(
            target,
            client.invoke_model,
            modelId=model,
            body=orjson.dumps(body),
            contentType="application/json",
            accept="application/json",
        )
        raw = await aws.run_blocking(target, response["body"].read)
        return orjson.loads(raw)

    if "cohere" in model:
        data = await invoke({"texts": texts, "input_type": target.config.get("input_type") or "search_document"})
        vectors = data.get("embeddings")
        if isinstance(vectors, dict):
            vectors = vectors.get("float")
        if not isinstance(vectors, list):
            raise UpstreamError(
                f"{target.provider_kind} error: unexpected embeddings answer", provider=target.provider_kind
            )
        return EmbeddingResponse(model, vectors, count_inputs(texts, model))
    vectors, prompt_tokens, counted = [], 0, True
    for text in texts:
        body: dict[str, Any] = {"inputText": text}
        if req.dimensions:
            body["dimensions"] = req.dimensions
        data = await invoke(body)
        vectors.append(data.get("embedding") or [])
        if data.get("inputTextTokenCount") is None:
            counted = False
        prompt_tokens += int(data.get("inputTextTokenCount") or 0)
    if counted:
        return EmbeddingResponse(model, vectors, Usage(prompt_tokens, 0, prompt_tokens, "provider"))
    return EmbeddingResponse(model, vectors, count_inputs(texts, model))


ADAPTER = Adapter("bedrock", chat, chat_stream, embed)
