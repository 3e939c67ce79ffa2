"""The gateway's normal form: the in-memory records every wire format and adapter translate to and from.

A request arrives in some wire format (OpenAI chat completions, Anthropic messages), is parsed into a
`ChatRequest`, handed to a provider adapter, and the adapter answers with a `ChatResponse` or a stream of
`ChatChunk`s that are rendered back into the caller's wire format. Nothing here does I/O or imports Django.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

Role = Literal["system", "developer", "user", "assistant", "tool"]
UsageSource = Literal["provider", "tokenizer", "estimate"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]


@dataclass(slots=True)
class TextPart:
    """A piece of text inside a message's content list."""

    text: str
    type: Literal["text"] = "text"


@dataclass(slots=True)
class ImagePart:
    """An image inside a message's content: an http(s) URL or a `data:<media type>;base64,...` URL."""

    url: str
    detail: str | None = None
    type: Literal["image"] = "image"

    def inline_data(self) -> tuple[str, str] | None:
        """`(media_type, base64 data)` for a data URL, None for a remote URL."""
        if not self.url.startswith("data:"):
            return None
        header, _, data = self.url.partition(",")
        media_type = header[5:].split(";", 1)[0] or "application/octet-stream"
        return media_type, data


Part = TextPart | ImagePart


@dataclass(slots=True)
class ToolCall:
    """A function call the assistant asked for; `arguments` is the JSON text the model produced."""

    id: str
    name: str
    arguments: str = "{}"

    def arguments_object(self) -> dict[str, Any]:
        """The arguments as a JSON object (Anthropic's, Bedrock's and Gemini's shape); unparsable text under `_raw`."""
        try:
            value = orjson.loads(self.arguments or "{}")
        except orjson.JSONDecodeError:
            return {"_raw": self.arguments}
        return value if isinstance(value, dict) else {"value": value}


@dataclass(slots=True)
class Message:
    """One conversation turn. `content` is a string, a list of parts, or None (assistant turns with tool calls)."""

    role: Role
    content: str | list[Part] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    def text(self) -> str:
        """The message's text parts joined (images left out)."""
        content = self.content
        if content is None:
            return ""
        if isinstance(content, str):
            return content
        return "".join(p.text for p in content if isinstance(p, TextPart))


@dataclass(slots=True)
class Tool:
    """A function the model may call; `parameters` is its JSON schema."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


@dataclass(slots=True)
class ToolChoice:
    """`mode` auto / none / required, or `function` with the function's `name`."""

    mode: Literal["auto", "none", "required", "function"]
    name: str | None = None


@dataclass(slots=True)
class ResponseFormat:
    """`text`, `json_object`, or `json_schema` with OpenAI's `{"name", "schema", "strict", "description"}` object."""

    type: Literal["text", "json_object", "json_schema"]
    json_schema: dict[str, Any] | None = None

    def instruction(self) -> str | None:
        """A system instruction standing in for this format on providers without a JSON mode."""
        if self.type == "text":
            return None
        base = "Respond with a single JSON object and nothing else."
        if self.type == "json_schema" and self.json_schema and self.json_schema.get("schema") is not None:
            return (
                f"{base} It must validate against this JSON schema: {orjson.dumps(self.json_schema['schema']).decode()}"
            )
        return base


@dataclass(slots=True)
class ChatRequest:
    """A chat request in normal form.

    `extra` holds request fields the gateway does not model; they are passed through only to upstreams that
    speak the same wire format they arrived in (`extra_format`), and dropped elsewhere.
    `max_tokens_field` remembers whether the caller said `max_tokens` or `max_completion_tokens`, so an OpenAI
    upstream receives the one it expects. `passthrough_headers` are caller headers meant for upstreams of the
    caller's own wire format (Anthropic's `anthropic-beta` / `anthropic-version`); other upstreams ignore them.
    """

    model: str
    messages: list[Message]
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: list[str] | None = None
    n: int = 1
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    user: str | None = None
    stream: bool = False
    include_usage: bool = False
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    extra: dict[str, Any] = field(default_factory=dict)
    extra_format: Literal["openai", "anthropic"] = "openai"
    passthrough_headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Usage:
    """Token counts of one call, and where they came from: the provider, a tokenizer, or an estimate."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    source: UsageSource = "provider"

    @classmethod
    def of(cls, prompt_tokens: int, completion_tokens: int, source: UsageSource = "provider") -> Usage:
        return cls(prompt_tokens, completion_tokens, prompt_tokens + completion_tokens, source)


@dataclass(slots=True)
class Choice:
    """One alternative answer of a chat response."""

    index: int
    message: Message
    finish_reason: FinishReason | None = "stop"


@dataclass(slots=True)
class ChatResponse:
    """A complete (non-streamed) chat answer."""

    id: str
    model: str
    choices: list[Choice]
    usage: Usage | None = None
    created: int = 0
    system_fingerprint: str | None = None


@dataclass(slots=True)
class ToolCallDelta:
    """A piece of a streamed tool call: the first piece carries `id` and `name`, later ones argument text."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(slots=True)
class ChatChunk:
    """One streaming delta of one choice (`index`). The last chunk of every adapter stream carries `usage`."""

    id: str
    model: str
    created: int = 0
    index: int = 0
    role: str | None = None
    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    finish_reason: FinishReason | None = None
    usage: Usage | None = None


@dataclass(slots=True)
class EmbeddingRequest:
    """Texts (or pre-tokenized inputs, as lists of token ids) to embed."""

    model: str
    input: list[str] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    user: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class EmbeddingResponse:
    """One vector per input, in input order."""

    model: str
    data: list[list[float]]
    usage: Usage


def new_id(prefix: str = "chatcmpl-") -> str:
    """A fresh random response id in OpenAI's style."""
    return prefix + secrets.token_hex(12)


def now() -> int:
    """Unix seconds, as OpenAI's `created` field."""
    return int(time.time())
