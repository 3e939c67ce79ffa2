"""Anthropic's Messages API towards Anthropic upstreams.

`request_from_chat()` builds the upstream body (system prompt lifted out, tool results as user turns,
`response_format` as a system instruction), `chat_response_from_message()` reads the answer and
`StreamReader` turns the streaming events into normal-form chunks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.errors import BadRequestError
from gateway.normal import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Choice,
    Message,
    Part,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    Usage,
    new_id,
    now,
)
from gateway.wire.anthropic import ERROR_TYPE_STATUS, STOP_TO_FINISH


def _block_of(part: Part) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    inline = part.inline_data()
    if inline is not None:
        return {"type": "image", "source": {"type": "base64", "media_type": inline[0], "data": inline[1]}}
    return {"type": "image", "source": {"type": "url", "url": part.url}}


def _blocks(content: str | list[Part] | None) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return [_block_of(p) for p in content if not (isinstance(p, TextPart) and not p.text)]


def request_from_chat(
    req: ChatRequest, model: str, *, default_max_tokens: int = 4096, stream: bool = False
) -> dict[str, Any]:
    """The Anthropic Messages body for `req`: system prompt lifted out, tool results as user turns.

    `response_format` becomes a system instruction (Anthropic has no JSON mode); temperature is capped at 1.
    """
    if req.n > 1:
        raise BadRequestError(
            "This model does not support 'n' greater than 1.", code="unsupported_parameter", param="n"
        )
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in req.messages:
        if message.role in ("system", "developer"):
            system.append(message.text())
            continue
        if message.role == "tool":
            content = message.content
            result: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id or "",
                "content": content if isinstance(content, str) else _blocks(content),
            }
            blocks = [result]
            role = "user"
        elif message.role == "assistant":
            role = "assistant"
            blocks = _blocks(message.content)
            for call in message.tool_calls or ():
                blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments_object()})
        else:
            role = "user"
            blocks = _blocks(message.content)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    instruction = req.response_format.instruction() if req.response_format else None
    if instruction:
        system.append(instruction)

    body: dict[str, Any] = {"model": model, "messages": turns, "max_tokens": req.max_tokens or default_max_tokens}
    if req.extra and req.extra_format == "anthropic":
        body.update(req.extra)
    if system:
        body["system"] = "\n\n".join(s for s in system if s)
    if req.temperature is not None:
        body["temperature"] = min(req.temperature, 1.0)
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.stop:
        body["stop_sequences"] = req.stop
    if req.user:
        body["metadata"] = {"user_id": req.user}
    if req.tools and not (req.tool_choice and req.tool_choice.mode == "none" and not _has_tool_turns(req)):
        body["tools"] = [
            {
                "name": t.name,
                "description": t.description or "",
                "input_schema": t.parameters or {"type": "object", "properties": {}},
            }
            for t in req.tools
        ]
        choice = _tool_choice(req.tool_choice, req.parallel_tool_calls)
        if choice is not None:
            body["tool_choice"] = choice
    if stream:
        body["stream"] = True
    return body


def _has_tool_turns(req: ChatRequest) -> bool:
    return any(m.role == "tool" or m.tool_calls for m in req.messages)


def _tool_choice(choice: ToolChoice | None, parallel: bool | None) -> dict[str, Any] | None:
    if choice is None and parallel is None:
        return None
    mode = choice.mode if choice else "auto"
    out: dict[str, Any] = {"type": {"auto": "auto", "required": "any", "none": "none", "function": "tool"}[mode]}
    if mode == "function":
        out["name"] = choice.name  # type: ignore[union-attr]
    if parallel is False and mode != "none":
        out["disable_parallel_tool_use"] = True
    return out


def usage_from_anthropic(data: Any) -> Usage | None:
    if not isinstance(data, dict) or data.get("input_tokens") is None:
        return None
    prompt = (
        int(data.get("input_tokens") or 0)
        + int(data.get("cache_creation_input_tokens") or 0)
        + int(data.get("cache_read_input_tokens") or 0)
    )
    return Usage.of(prompt, int(data.get("output_tokens") or 0), "provider")


def chat_response_from_message(data: dict[str, Any]) -> ChatResponse:
    """An Anthropic `message` in normal form (thinking blocks are left out)."""
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in data.get("content") or ():
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text", ""))
        elif kind == "tool_use":
            calls.append(
                ToolCall(block.get("id", ""), block.get("name", ""), orjson.dumps(block.get("input") or {}).decode())
            )
    finish = STOP_TO_FINISH.get(data.get("stop_reason") or "end_turn", "stop")
    message = Message("assistant", "".join(texts) if texts or not calls else None, tool_calls=calls or None)
    return ChatResponse(
        id=data.get("id") or new_id("msg_"),
        model=data.get("model") or "",
        choices=[Choice(0, message, finish)],  # type: ignore[arg-type]
        usage=usage_from_anthropic(data.get("usage")),
        created=now(),
    )


class AnthropicStreamError(Exception):
    """An `error` event inside an Anthropic stream."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = ERROR_TYPE_STATUS.get(error_type, 500)


@dataclass(slots=True)
class StreamReader:
    """Turns Anthropic streaming events (parsed `data:` payloads) into normal-form chunks.

    `feed(event)` returns the chunks for one event; `usage` holds the provider's counts once known.
    An `error` event raises `AnthropicStreamError`.
    """

    id: str = ""
    model: str = ""
    created: int = field(default_factory=now)
    input_tokens: int = 0
    output_tokens: int = 0
    saw_usage: bool = False
    done: bool = False
    _tools: dict[int, int] = field(default_factory=dict)

    def _chunk(self, **kw: Any) -> ChatChunk:
        return ChatChunk(self.id, self.model, self.created, **kw)

    @property
    def usage(self) -> Usage | None:
        return Usage.of(self.input_tokens, self.output_tokens, "provider") if self.saw_usage else None

    def feed(self, ev: dict[str, Any]) -> list[ChatChunk]:
        kind = ev.get("type")
        if kind == "content_block_delta":
            delta = ev.get("delta") or {}
            dkind = delta.get("type")
            if dkind == "text_delta":
                return [self._chunk(content=delta.get("text", ""))]
            if dkind == "input_json_delta" and ev.get("index") in self._tools:
                return [
                    self._chunk(
                        tool_calls=[ToolCallDelta(self._tools[ev["index"]], arguments=delta.get("partial_json", ""))]
                    )
                ]
            return []
        if kind == "content_block_start":
            block = ev.get("content_block") or {}
            if block.get("type") == "tool_use":
                tool_index = len(self._tools)
                self._tools[ev.get("index", 0)] = tool_index
                return [
                    self._chunk(tool_calls=[ToolCallDelta(tool_index, block.get("id", ""), block.get("name", ""), "")])
                ]
            if block.get("type") == "text" and block.get("text"):
                return [self._chunk(content=block["text"])]
            return []
        if kind == "message_start":
            message = ev.get("message") or {}
            self.id = message.get("id") or self.id
            self.model = message.get("model") or self.model
            usage = message.get("usage")
            if isinstance(usage, dict):
                self._take_usage(usage)
            return [self._chunk(role="assistant", content="")]
        if kind == "message_delta":
            usage = ev.get("usage")
            if isinstance(usage, dict):
                self._take_usage(usage)
            stop = (ev.get("delta") or {}).get("stop_reason")
            if stop:
                return [self._chunk(finish_reason=STOP_TO_FINISH.get(stop, "stop"))]
            return []
        if kind == "message_stop":
            self.done = True
            return []
        if kind == "error":
            error = ev.get("error") or {}
            raise AnthropicStreamError(error.get("type", "api_error"), error.get("message", ""))
        return []  # ping, content_block_stop, unknown future events

    def _take_usage(self, usage: dict[str, Any]) -> None:
        if usage.get("input_tokens") is not None:
            self.input_tokens = (
                int(usage.get("input_tokens") or 0)
                + int(usage.get("cache_creation_input_tokens") or 0)
                + int(usage.get("cache_read_input_tokens") or 0)
            )
            self.saw_usage = True
        if usage.get("output_tokens") is not None:
            self.output_tokens = int(usage["output_tokens"])
            self.saw_usage = True
