"""Amazon Bedrock's Converse / ConverseStream shapes (outbound only), as boto3 takes and returns them."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.errors import BadRequestError
from gateway.normal import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Choice,
    ImagePart,
    Message,
    Part,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
    new_id,
    now,
)

STOP_TO_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}
_IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
_STREAM_ERRORS = (
    "internalServerException",
    "modelStreamErrorException",
    "validationException",
    "throttlingException",
    "serviceUnavailableException",
)


def _image(part: ImagePart) -> dict[str, Any]:
    inline = part.inline_data()
    if inline is None:
        raise BadRequestError(
            "This model takes images inline only: send them as data: URLs (base64).",
            code="unsupported_image_url",
            param="messages",
        )
    media_type, data = inline
    fmt = _IMAGE_FORMATS.get(media_type.lower())
    if fmt is None:
        raise BadRequestError(
            f"Unsupported image type '{media_type}'.", code="unsupported_image_type", param="messages"
        )
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequestError("An image's base64 data is invalid.", code="invalid_image", param="messages") from exc
    return {"image": {"format": fmt, "source": {"bytes": raw}}}


def _blocks(content: str | list[Part] | None) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    return [
        {"text": p.text} if isinstance(p, TextPart) else _image(p)
        for p in content
        if not (isinstance(p, TextPart) and not p.text)
    ]


def converse_kwargs(req: ChatRequest, model_id: str, additional_fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """Keyword arguments for `converse` / `converse_stream` (roles merged so they alternate)."""
    if req.n > 1:
        raise BadRequestError(
            "This model does not support 'n' greater than 1.", code="unsupported_parameter", param="n"
        )
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for message in req.messages:
        if message.role in ("system", "developer"):
            if message.text():
                system.append({"text": message.text()})
            continue
        if message.role == "tool":
            role = "user"
            blocks = [
                {"toolResult": {"toolUseId": message.tool_call_id or "", "content": [{"text": message.text() or " "}]}}
            ]
        elif message.role == "assistant":
            role = "assistant"
            blocks = _blocks(message.content)
            for call in message.tool_calls or ():
                blocks.append({"toolUse": {"toolUseId": call.id, "name": call.name, "input": call.arguments_object()}})
        else:
            role, blocks = "user", _blocks(message.content)
        if not blocks:
            continue
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": role, "content": blocks})
    instruction = req.response_format.instruction() if req.response_format else None
    if instruction:
        system.append({"text": instruction})

    kwargs: dict[str, Any] = {"modelId": model_id, "messages": messages}
    if system:
        kwargs["system"] = system
    inference: dict[str, Any] = {}
    if req.max_tokens is not None:
        inference["maxTokens"] = req.max_tokens
    if req.temperature is not None:
        inference["temperature"] = min(req.temperature, 1.0)
    if req.top_p is not None:
        inference["topP"] = req.top_p
    if req.stop:
        inference["stopSequences"] = req.stop
    if inference:
        kwargs["inferenceConfig"] = inference
    if req.tools:
        tool_config: dict[str, Any] = {
            "tools": [
                {
                    "toolSpec": {
                        "name": t.name,
                        "description": t.description or t.name,
                        "inputSchema": {"json": t.parameters or {"type": "object", "properties": {}}},
                    }
                }
                for t in req.tools
            ]
        }
        choice = req.tool_choice
        if choice is not None and choice.mode == "required":
            tool_config["toolChoice"] = {"any": {}}
        elif choice is not None and choice.mode == "function":
            tool_config["toolChoice"] = {"tool": {"name": choice.name}}
        elif choice is not None and choice.mode == "auto":
            tool_config["toolChoice"] = {"auto": {}}
        kwargs["toolConfig"] = tool_config
    if additional_fields:
        kwargs["additionalModelRequestFields"] = additional_fields
    return kwargs


def usage_from_converse(data: Any) -> Usage | None:
    if not isinstance(data, dict) or data.get("inputTokens") is None:
        return None
    prompt = (
        int(data.get("inputTokens") or 0)
        + int(data.get("cacheReadInputTokens") or 0)
        + int(data.get("cacheWriteInputTokens") or 0)
    )
    completion = int(data.get("outputTokens") or 0)
    return Usage.of(prompt, completion, "provider")


def chat_response_from_converse(data: dict[str, Any], model: str) -> ChatResponse:
    """A Converse answer in normal form."""
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in ((data.get("output") or {}).get("message") or {}).get("content") or ():
        if "text" in block:
            texts.append(block["text"])
        elif "toolUse" in block:
            use = block["toolUse"]
            calls.append(
                ToolCall(use.get("toolUseId", ""), use.get("name", ""), orjson.dumps(use.get("input") or {}).decode())
            )
    finish = STOP_TO_FINISH.get(data.get("stopReason") or "end_turn", "stop")
    request_id = (data.get("ResponseMetadata") or {}).get("RequestId")
    return ChatResponse(
        id="chatcmpl-" + request_id if request_id else new_id(),
        model=model,
        choices=[
            Choice(
                0,
                Message("assistant", "".join(texts) if texts or not calls else None, tool_calls=calls or None),
                finish,
            )
        ],  # type: ignore[arg-type]
        usage=usage_from_converse(data.get("usage")),
        created=now(),
    )


class ConverseStreamError(Exception):
    """An exception event inside a ConverseStream event stream."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code[:1].upper() + code[1:]
        self.message = message


@dataclass(slots=True)
class ConverseStreamReader:
    """Turns ConverseStream events (boto3's parsed dicts) into normal-form chunks; `usage` from `metadata`."""

    model: str
    id: str = field(default_factory=new_id)
    created: int = field(default_factory=now)
    usage: Usage | None = None
    _tools: dict[int, int] = field(default_factory=dict)

    def _chunk(self, **kw: Any) -> ChatChunk:
        return ChatChunk(self.id, self.model, self.created, **kw)

    def feed(self, ev: dict[str, Any]) -> list[ChatChunk]:
        if "contentBlockDelta" in ev:
            body = ev["contentBlockDelta"]
            delta = body.get("delta") or {}
            if "text" in delta:
                return [self._chunk(content=delta["text"])]
            if "toolUse" in delta and body.get("contentBlockIndex") in self._tools:
                index = self._tools[body["contentBlockIndex"]]
                return [self._chunk(tool_calls=[ToolCallDelta(index, arguments=delta["toolUse"].get("input", ""))])]
            return []
        if "contentBlockStart" in ev:
            body = ev["contentBlockStart"]
            use = (body.get("start") or {}).get("toolUse")
            if use:
                index = len(self._tools)
                self._tools[body.get("contentBlockIndex", 0)] = index
                return [
                    self._chunk(tool_calls=[ToolCallDelta(index, use.get("toolUseId", ""), use.get("name", ""), "")])
                ]
            return []
        if "messageStart" in ev:
            return [self._chunk(role="assistant", content="")]
        if "messageStop" in ev:
            reason = ev["messageStop"].get("stopReason") or "end_turn"
            return [self._chunk(finish_reason=STOP_TO_FINISH.get(reason, "stop"))]
        if "metadata" in ev:
            self.usage = usage_from_converse(ev["metadata"].get("usage")) or self.usage
            return []
        for name in _STREAM_ERRORS:
            if name in ev:
                raise ConverseStreamError(name, (ev[name] or {}).get("message", ""))
        return []
