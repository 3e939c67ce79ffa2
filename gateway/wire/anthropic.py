"""Anthropic's Messages API wire format, both directions.

Inbound (the gateway's own `/v1/messages`, so the Anthropic SDK works on any alias):
`parse_messages_request()` validates a body into a `ChatRequest`; `render_message()` renders a
`ChatResponse` as an Anthropic `message`; `StreamWriter` renders a stream of `ChatChunk`s as Anthropic's
events (message_start, ping, content_block_start/delta/stop, message_delta, message_stop), tool_use included
(ids always `toolu_…`, whatever the upstream's: `tool_use_id()`); `render_error()` gives Anthropic's error body;
`passthrough_headers()` picks the caller's headers meant for Anthropic upstreams.

Outbound (Anthropic upstreams): `request_from_chat()` builds the upstream body, `chat_response_from_message()`
reads its answer and `StreamReader` turns its streaming events into chunks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.errors import BadRequestError, GatewayError
from gateway.normal import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Choice,
    ImagePart,
    Message,
    Part,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
    Usage,
    new_id,
)
from gateway.wire.openai import MAX_OUTPUT_TOKENS, invalid_type, invalid_value, load_json_object, missing

STOP_TO_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
FINISH_TO_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}

ERROR_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
_STATUS_ERROR_TYPE = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    410: "not_found_error",
    413: "request_too_large",
    415: "invalid_request_error",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
}

_MESSAGE_FIELDS = frozenset(
    (
        "model",
        "messages",
        "max_tokens",
        "system",
        "stop_sequences",
        "temperature",
        "top_p",
        "stream",
        "tools",
        "tool_choice",
        "metadata",
    )
)

# --- inbound: /v1/messages request -------------------------------------------------------------------------


def _image_from_block(block: dict[str, Any], param: str) -> ImagePart:
    source = block.get("source")
    if not isinstance(source, dict):
        raise missing(f"{param}.source")
    kind = source.get("type")
    if kind == "base64":
        media_type, data = source.get("media_type"), source.get("data")
        if not isinstance(media_type, str) or not isinstance(data, str):
            raise invalid_value(f"{param}.source", "a base64 source needs string 'media_type' and 'data'.")
        return ImagePart(f"data:{media_type};base64,{data}")
    if kind == "url" and isinstance(source.get("url"), str):
        return ImagePart(source["url"])
    raise invalid_value(f"{param}.source.type", f"image source type '{kind}' is not supported; use 'base64' or 'url'.")


def _tool_result_text(content: Any, param: str) -> str | list[Part]:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise invalid_type(param, "a string or an array of content blocks", content)
    parts: list[Part] = []
    for j, block in enumerate(content):
        if isinstance(block, dict) and block.get("type") == "text":
            text = block.get("text", "")
            if not isinstance(text, str):
                raise invalid_type(f"{param}[{j}].text", "a string", text)
            parts.append(TextPart(text))
        elif isinstance(block, dict) and block.get("type") == "image":
            parts.append(_image_from_block(block, f"{param}[{j}]"))
    if all(isinstance(p, TextPart) for p in parts):
        return "".join(p.text for p in parts)  # type: ignore[union-attr]
    return parts


def _parse_turn(raw: Any, i: int, *, last: bool = False) -> list[Message]:
    param = f"messages[{i}]"
    if not isinstance(raw, dict):
        raise invalid_type(param, "an object", raw)
    role = raw.get("role")
    if role not in ("user", "assistant"):
        raise invalid_value(f"{param}.role", f"'{role}' is not one of 'user', 'assistant'.")
    content = raw.get("content")
    if content is None:
        raise missing(f"{param}.content")
    if not isinstance(content, str | list):
        raise invalid_type(f"{param}.content", "a string or an array of content blocks", content)
    if not content and not (last and role == "assistant"):  # as Anthropic: only a final assistant turn may be empty
        raise invalid_value(f"{param}.content", "messages must have non-empty content (except an optional final "
                                                "assistant message).")
    if isinstance(content, str):
        return [Message(role, content)]
    out: list[Message] = []
    parts: list[Part] = []
    calls: list[ToolCall] = []
    for j, block in enumerate(content):
        p = f"{param}.content[{j}]"
        if not isinstance(block, dict):
            raise invalid_type(p, "an object", block)
        kind = block.get("type")
        if kind == "text":
            text = block.get("text")
            if not isinstance(text, str):
                raise invalid_type(f"{p}.text", "a string", text)
            parts.append(TextPart(text))
        elif kind == "image":
            parts.append(_image_from_block(block, p))
        elif kind == "tool_use" and role == "assistant":
            if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
                raise invalid_value(p, "a tool_use block needs string 'id' and 'name'.")
            calls.append(ToolCall(block["id"], block["name"], orjson.dumps(block.get("input") or {}).decode()))
        elif kind == "tool_result" and role == "user":
            if not isinstance(block.get("tool_use_id"), str):
                raise missing(f"{p}.tool_use_id")
            out.append(
                Message(
                    "tool", _tool_result_text(block.get("content"), f"{p}.content"), tool_call_id=block["tool_use_id"]
                )
            )
        elif kind in ("thinking", "redacted_thinking"):
            continue
        else:
            raise invalid_value(f"{p}.type", f"content block type '{kind}' is not supported here.")
    if role == "assistant":
        out.append(Message("assistant", parts or None, tool_calls=calls or None))
    elif parts:
        out.append(Message("user", parts))
    return out


def _parse_tools(value: Any) -> list[Tool] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise invalid_type("tools", "an array", value)
    tools = []
    for i, raw in enumerate(value):
        if not isinstance(raw, dict):
            raise invalid_type(f"tools[{i}]", "an object", raw)
        if raw.get("type") not in (None, "custom"):
            raise invalid_value(f"tools[{i}].type", f"server tool '{raw.get('type')}' is not supported by the gateway.")
        if not isinstance(raw.get("name"), str):
            raise missing(f"tools[{i}].name")
        schema = raw.get("input_schema")
        if schema is not None and not isinstance(schema, dict):
            raise invalid_type(f"tools[{i}].input_schema", "an object", schema)
        tools.append(Tool(raw["name"], raw.get("description"), schema))
    return tools or None


def _parse_tool_choice(value: Any) -> tuple[ToolChoice | None, bool | None]:
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise invalid_type("tool_choice", "an object", value)
    kind = value.get("type")
    parallel = False if value.get("disable_parallel_tool_use") else None
    if kind == "auto":
        return ToolChoice("auto"), parallel
    if kind == "any":
        return ToolChoice("required"), parallel
    if kind == "none":
        return ToolChoice("none"), parallel
    if kind == "tool":
        if not isinstance(value.get("name"), str):
            raise missing("tool_choice.name")
        return ToolChoice("function", value["name"]), parallel
    raise invalid_value("tool_choice.type", f"'{kind}' is not one of 'auto', 'any', 'tool', 'none'.")


def _max_tokens(value: Any, *, required: bool) -> int | None:
    if value is None:
        if required:
            raise missing("max_tokens")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_type("max_tokens", "a positive integer", value)
    if not 1 <= value <= MAX_OUTPUT_TOKENS:
        raise invalid_value("max_tokens", f"expected a value between 1 and {MAX_OUTPUT_TOKENS}, but got {value}.")
    return value


def parse_messages_request(body: bytes | dict[str, Any], *, counting: bool = False) -> ChatRequest:
    """Validate an Anthropic Messages request into a `ChatRequest` (400 naming the param otherwise).

    `counting`: the body of `/v1/messages/count_tokens`, which has no `max_tokens` (one given is still checked).
    """
    data = body if isinstance(body, dict) else load_json_object(body)
    model = data.get("model")
    if model is None:
        raise missing("model")
    if not isinstance(model, str) or not model:
        raise invalid_type("model", "a non-empty string", model)
    max_tokens = _max_tokens(data.get("max_tokens"), required=not counting)
    raw_messages = data.get("messages")
    if raw_messages is None:
        raise missing("messages")
    if not isinstance(raw_messages, list):
        raise invalid_type("messages", "an array", raw_messages)
    if not raw_messages:
        raise BadRequestError("messages: at least one message is required", code="empty_array", param="messages")

    messages: list[Message] = []
    system = data.get("system")
    if isinstance(system, str):
        if system:
            messages.append(Message("system", system))
    elif isinstance(system, list):
        texts = []
        for j, block in enumerate(system):
            if not isinstance(block, dict) or block.get("type") != "text":
                raise invalid_value(f"system[{j}]", "system blocks must be objects of type 'text'.")
            if not isinstance(block.get("text"), str):
                raise invalid_type(f"system[{j}].text", "a string", block.get("text"))
            texts.append(block["text"])
        if text := "\n\n".join(texts):
            messages.append(Message("system", text))
    elif system is not None:
        raise invalid_type("system", "a string or an array of text blocks", system)
    for i, raw in enumerate(raw_messages):
        messages.extend(_parse_turn(raw, i, last=i == len(raw_messages) - 1))
    if not any(m.role != "system" for m in messages):
        raise invalid_value("messages", "at least one message with content is required.")

    stop = data.get("stop_sequences")
    if stop is not None and not (isinstance(stop, list) and all(isinstance(s, str) for s in stop)):
        raise invalid_type("stop_sequences", "an array of strings", stop)
    temperature = data.get("temperature")
    if temperature is not None and (
        isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 <= temperature <= 1
    ):
        raise invalid_value("temperature", "expected a number between 0 and 1.")
    top_p = data.get("top_p")
    if top_p is not None and (isinstance(top_p, bool) or not isinstance(top_p, int | float) or not 0 <= top_p <= 1):
        raise invalid_value("top_p", "expected a number between 0 and 1.")
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        raise invalid_type("stream", "a boolean", stream)
    metadata = data.get("metadata")
    user = metadata.get("user_id") if isinstance(metadata, dict) else None
    tool_choice, parallel = _parse_tool_choice(data.get("tool_choice"))
    return ChatRequest(
        model=model,
        messages=messages,
        temperature=float(temperature) if temperature is not None else None,
        top_p=float(top_p) if top_p is not None else None,
        max_tokens=max_tokens,
        stop=stop or None,
        tools=_parse_tools(data.get("tools")),
        tool_choice=tool_choice,
        parallel_tool_calls=parallel,
        user=user if isinstance(user, str) else None,
        stream=stream,
        include_usage=True,
        extra={k: v for k, v in data.items() if k not in _MESSAGE_FIELDS},
        extra_format="anthropic",
    )


_VERSION_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def passthrough_headers(headers: dict[str, str]) -> dict[str, str]:
    """The caller's `anthropic-beta` and `anthropic-version`, to send unchanged to Anthropic upstreams.

    A version is passed only when well formed (`YYYY-MM-DD`); otherwise the endpoint's configured one is used.
    """
    out = {}
    if beta := headers.get("anthropic-beta", "").strip():
        out["anthropic-beta"] = beta
    version = headers.get("anthropic-version", "").strip()
    if _VERSION_SHAPE.match(version):
        out["anthropic-version"] = version
    return out


# --- inbound: rendering the gateway's answers as Anthropic's ---------------------------------------------------


def tool_use_id(call_id: str) -> str:
    """The id of a tool call as Anthropic's `toolu_…`, deterministic (``call_abc`` → ``toolu_abc``).

    The caller sends it back in `tool_result.tool_use_id` and in the assistant turn alike, so the upstream
    sees the same id on both sides of the conversation, whatever its own style.
    """
    if call_id.startswith("toolu_"):
        return call_id
    rest = call_id.removeprefix("call_").removeprefix("call-") or new_id("")
    return "toolu_" + _NOT_ID_CHARACTER.sub("_", rest)


_NOT_ID_CHARACTER = re.compile(r"[^A-Za-z0-9_-]")  # Anthropic's tool_use ids match ^[a-zA-Z0-9_-]+$


def message_id(response_id: str) -> str:
    return response_id if response_id.startswith("msg_") else "msg_" + (response_id.split("-", 1)[-1] or new_id(""))


def _usage_dict(usage: Usage | None) -> dict[str, int]:
    if usage is None:
        return {"input_tokens": 0, "output_tokens": 0}
    return {"input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens}


def message_dict(resp: ChatResponse) -> dict[str, Any]:
    """The first choice of a `ChatResponse` as an Anthropic `message` object."""
    choice = resp.choices[0] if resp.choices else Choice(0, Message("assistant", ""), "stop")
    content: list[dict[str, Any]] = []
    text = choice.message.text()
    if text or not choice.message.tool_calls:
        content.append({"type": "text", "text": text})
    for call in choice.message.tool_calls or ():
        content.append({"type": "tool_use", "id": tool_use_id(call.id), "name": call.name,
                        "input": call.arguments_object()})
    return {
        "id": message_id(resp.id),
        "type": "message",
        "role": "assistant",
        "model": resp.model,
        "content": content,
        "stop_reason": FINISH_TO_STOP.get(choice.finish_reason or "stop", "end_turn"),
        "stop_sequence": None,
        "usage": _usage_dict(resp.usage),
    }


def render_message(resp: ChatResponse) -> bytes:
    """An Anthropic Messages API answer."""
    return orjson.dumps(message_dict(resp))


def event(kind: str, data: dict[str, Any]) -> bytes:
    """One Anthropic server-sent event: `event: <type>\\ndata: <json>\\n\\n`."""
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def error_type_for_status(status: int) -> str:
    return _STATUS_ERROR_TYPE.get(status, "api_error")


def error_dict(err: GatewayError) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type_for_status(err.status), "message": err.message}}


def render_error(err: GatewayError) -> bytes:
    """An error in Anthropic's body shape, for the `/v1/messages` surface."""
    return orjson.dumps(error_dict(err))


def render_stream_error(err: GatewayError) -> bytes:
    """An error after an Anthropic stream began: an `error` event."""
    return event("error", error_dict(err))


@dataclass(slots=True)
class StreamWriter:
    """Renders normal-form chunks as Anthropic streaming events.

    Call `start()` once (message_start and a ping, sent before the upstream answers), `feed(chunk)` per
    chunk, and `finish()` at the end (closing block, message_delta with stop reason and usage, message_stop).
    Only choice 0 is rendered: Anthropic's API has no `n`.
    """

    model: str
    id: str = field(default_factory=lambda: new_id("msg_"))
    _block: int = -1
    _block_kind: str = ""
    _tool_blocks: dict[int, int] = field(default_factory=dict)
    _stop_reason: str = "end_turn"
    _usage: Usage | None = None
    _input_tokens: int = 0

    def start(self, input_tokens: int = 0) -> bytes:
        self._input_tokens = input_tokens
        message = {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 0},
        }
        return event("message_start", {"type": "message_start", "message": message}) + event("ping", {"type": "ping"})

    def _close_block(self) -> bytes:
        if self._block_kind:
            self._block_kind = ""
            return event("content_block_stop", {"type": "content_block_stop", "index": self._block})
        return b""

    def _open_block(self, kind: str, block: dict[str, Any]) -> bytes:
        out = self._close_block()
        self._block += 1
        self._block_kind = kind
        return out + event(
            "content_block_start", {"type": "content_block_start", "index": self._block, "content_block": block}
        )

    def feed(self, chunk: ChatChunk) -> bytes:
        if chunk.usage is not None:
            self._usage = chunk.usage
        if chunk.index != 0:
            return b""
        out = b""
        if chunk.content:
            if self._block_kind != "text":
                out += self._open_block("text", {"type": "text", "text": ""})
            out += event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": self._block,
                    "delta": {"type": "text_delta", "text": chunk.content},
                },
            )
        for tc in chunk.tool_calls or ():
            if tc.id is not None:
                out += self._open_block(
                    "tool_use", {"type": "tool_use", "id": tool_use_id(tc.id), "name": tc.name or "", "input": {}}
                )
                self._tool_blocks[tc.index] = self._block
            if tc.arguments and tc.index in self._tool_blocks:
                out += event(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": self._tool_blocks[tc.index],
                        "delta": {"type": "input_json_delta", "partial_json": tc.arguments},
                    },
                )
        if chunk.finish_reason:
            self._stop_reason = FINISH_TO_STOP.get(chunk.finish_reason, "end_turn")
        return out

    def finish(self) -> bytes:
        out = self._close_block()
        usage = {"output_tokens": self._usage.completion_tokens if self._usage else 0}
        if self._usage is not None:
            usage["input_tokens"] = self._usage.prompt_tokens
        out += event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": self._stop_reason, "stop_sequence": None},
                "usage": usage,
            },
        )
        return out + event("message_stop", {"type": "message_stop"})
