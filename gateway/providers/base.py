"""The adapter interface every provider module implements, and the upstream target it calls.

An adapter turns a normal-form request into a call to one provider and the provider's answer back
into normal form, with usage (from the provider, else counted by the gateway). Adapters raise
`GatewayError` subclasses only; the pipeline renders them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from gateway.errors import BadRequestError
from gateway.normal import ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse

PROVIDER_KINDS = (
    "openai",
    "openai-compatible",
    "azure-openai",
    "anthropic",
    "bedrock",
    "sagemaker",
    "gemini",
    "demo",
)


@dataclass(frozen=True, slots=True)
class UpstreamTarget:
    """Where and how to call one model endpoint, resolved by routing from the registry.

    `api_key` is the already-resolved secret (may be empty: the default AWS chain, a keyless local
    server). Timeouts are seconds: `connect_timeout` to open a connection, `first_byte_timeout` until
    the first byte of the answer (and between streamed chunks), `total_timeout` the whole call's deadline.
    `config` holds kind-specific settings: `api_version` / `deployment` (azure-openai),
    `anthropic_version`, `default_max_tokens`, `headers`, the sagemaker request/response mapping, ...
    """

    provider_kind: str
    base_url: str = ""
    upstream_model: str = ""
    api_key: str = field(default="", repr=False)
    region: str = ""
    connect_timeout: float = 5.0
    first_byte_timeout: float = 60.0
    total_timeout: float = 600.0
    config: MappingProxyType[str, Any] | dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def host(self) -> str:
        """The upstream's host name, hidden from error messages."""
        return urlsplit(self.base_url).hostname or ""

    def secrets(self) -> tuple[str, ...]:
        """Values that must never reach an application: the API key and the parts of a JSON credential."""
        key = self.api_key
        if not key:
            return ()
        if key.lstrip().startswith("{"):
            try:
                import orjson

                data = orjson.loads(key)
                return (key, *(str(v) for v in data.values() if isinstance(v, str)))
            except ValueError:
                pass
        return (key,)


ChatFn = Callable[[ChatRequest, UpstreamTarget], Awaitable[ChatResponse]]
ChatStreamFn = Callable[[ChatRequest, UpstreamTarget], AsyncIterator[ChatChunk]]
EmbedFn = Callable[[EmbeddingRequest, UpstreamTarget], Awaitable[EmbeddingResponse]]


async def embeddings_unsupported(req: EmbeddingRequest, target: UpstreamTarget) -> EmbeddingResponse:
    """The `embed` of providers that have no embeddings API."""
    raise BadRequestError(
        f"Model '{req.model}' does not support embeddings.", code="unsupported_operation", param="model"
    )


@dataclass(frozen=True, slots=True)
class Adapter:
    """One provider's three operations.

    `chat(req, target) -> ChatResponse`; `chat_stream(req, target)` an async iterator of `ChatChunk`s whose
    last chunk carries `usage` (nothing is sent upstream until the first chunk is awaited; close it with
    `aclose()` when the caller goes away, which closes the upstream response);
    `embed(req, target) -> EmbeddingResponse`.
    """

    kind: str
    chat: ChatFn
    chat_stream: ChatStreamFn
    embed: EmbedFn = embeddings_unsupported
