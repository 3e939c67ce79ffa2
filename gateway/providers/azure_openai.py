"""Azure OpenAI: OpenAI's wire format behind a per-deployment URL and an `api-key` header.

Requests go to `{base_url}/openai/deployments/{deployment}/chat/completions?api-version={api_version}`
(and `/embeddings`). `config`: `deployment` (default: `upstream_model`), `api_version` (default
`2024-10-21`), `auth: "bearer"` to send the key as an Entra ID bearer token instead of `api-key`,
`headers`, `stream_usage`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

from gateway.normal import ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse
from gateway.providers import openai
from gateway.providers.base import Adapter, UpstreamTarget

DEFAULT_API_VERSION = "2024-10-21"


def headers_for(target: UpstreamTarget) -> dict[str, str]:
    headers = {"content-type": "application/json", "accept": "application/json"}
    if target.api_key:
        if target.config.get("auth") == "bearer":
            headers["authorization"] = f"Bearer {target.api_key}"
        else:
            headers["api-key"] = target.api_key
    headers.update(target.config.get("headers") or {})
    return headers


def deployment_url(target: UpstreamTarget, operation: str) -> tuple[str, dict[str, str]]:
    """The deployment's URL for `operation` (`chat/completions`, `embeddings`) and its query parameters."""
    deployment = target.config.get("deployment") or target.upstream_model
    url = f"{target.base_url.rstrip('/')}/openai/deployments/{quote(deployment, safe='')}/{operation}"
    return url, {"api-version": target.config.get("api_version") or DEFAULT_API_VERSION}


async def chat(req: ChatRequest, target: UpstreamTarget) -> ChatResponse:
    """POST the deployment's chat/completions."""
    url, params = deployment_url(target, "chat/completions")
    return await openai.complete(req, target, url, headers_for(target), params)


def chat_stream(req: ChatRequest, target: UpstreamTarget) -> AsyncIterator[ChatChunk]:
    """Stream the deployment's chat/completions (Azure's leading content-filter chunk is skipped)."""
    url, params = deployment_url(target, "chat/completions")
    return openai.stream(req, target, url, headers_for(target), params)


async def embed(req: EmbeddingRequest, target: UpstreamTarget) -> EmbeddingResponse:
    """POST the deployment's embeddings."""
    url, params = deployment_url(target, "embeddings")
    return await openai.embed_at(req, target, url, headers_for(target), params)


ADAPTER = Adapter("azure-openai", chat, chat_stream, embed)
