"""OpenAI's wire format towards upstreams (OpenAI, Azure OpenAI, OpenAI-compatible servers).

`chat_request_to_openai()` builds the upstream body (passing through unknown fields that arrived in
OpenAI's format), `chat_response_from_openai()` and `chunks_from_openai()` read the upstream's answer,
`embedding_request_to_openai()` / `embeddings_from_openai()` do the same for embeddings.
"""

from __future__ import annotations

import base64
import sys
from array import array
from typing import Any

from gateway.normal import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Choice,
    EmbeddingRequest,
    Message,
    Part,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
    now,
)
from gateway.wire.openai import tool_call_dict


def _part_dict(part: Part) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    image: dict[str, Any] = {"url": part.url}
    if part.detail:
        image["detail"] = part.detail
    return {"type": "image_url", "image_url": image}


def message_dict(message: Message) -> dict[str, Any]:
    """A normal-form message in OpenAI's shape."""
    content = message.content
    out: dict[str, Any] = {
        "role": message.role,
        "content": content if content is None or isinstance(content, str) else [_part_dict(p) for p in content],
    }
    if message.name:
        out["name"] = message.name
    if message.tool_calls:
        out["tool_calls"] = [tool_call_dict(c) for c in message.tool_calls]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    return out


def chat_request_to_openai(
    req: ChatRequest, model: str, *, stream: bool = False, stream_usage: bool = True
) -> dict[str, Any]:
    """The body to send an OpenAI-shaped upstream for `req`, naming the upstream's `model`."""
    body: dict[str, Any] = {"model": model, "messages": [message_dict(m) for m in req.messages]}
    if req.extra and req.extra_format == "openai":
        body.update(req.extra)
    if req.temperature is not None:
        body["temperature"] = req.temperature
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.max_tokens is not None:
        body[req.max_tokens_field] = req.max_tokens
    if req.stop:
        body["stop"] = req.stop
    if req.n != 1:
        body["n"] = req.n
    if req.seed is not None:
        body["seed"] = req.seed
    if req.presence_penalty is not None:
        body["presence_penalty"] = req.presence_penalty
    if req.frequency_penalty is not None:
        body["frequency_penalty"] = req.frequency_penalty
    if req.tools:
        tools = []
        for tool in req.tools:
            fn: dict[str, Any] = {"name": tool.name}
            if tool.description is not None:
                fn["description"] = tool.description
            if tool.parameters is not None:
                fn["parameters"] = tool.parameters
            if tool.strict is not None:
                fn["strict"] = tool.strict
            tools.append({"type": "function", "function": fn})
        body["tools"] = tools
    if req.tool_choice is not None:
        tc = req.tool_choice
        body["tool_choice"] = {"type": "function", "function": {"name": tc.name}} if tc.mode == "function" else tc.mode
    if req.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = req.parallel_tool_calls
    if req.response_format is not None:
        rf: dict[str, Any] = {"type": req.response_format.type}
        if req.response_format.json_schema is not None:
            rf["json_schema"] = req.response_format.json_schema
        body["response_format"] = rf
    if req.user is not None:
        body["user"] = req.user
    if stream:
        body["stream"] = True
        if stream_usage:
            body["stream_options"] = {"include_usage": True}
    return body


def usage_from_openai(data: Any) -> Usage | None:
    if not isinstance(data, dict) or data.get("prompt_tokens") is None:
        return None
    prompt = int(data.get("prompt_tokens") or 0)
    completion = int(data.get("completion_tokens") or 0)
    return Usage(prompt, completion, int(data.get("total_tokens") or prompt + completion), "provider")


def _content_text(content: Any) -> str | None:
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):  # some compatible servers answer with parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


def chat_response_from_openai(data: dict[str, Any]) -> ChatResponse:
    """An OpenAI `chat.completion` answer in normal form (usage None when the upstream gave none)."""
    choices = []
    for i, raw in enumerate(data.get("choices") or ()):
        msg = raw.get("message") or {}
        calls = [
            ToolCall(
                c.get("id") or f"call_{i}_{k}",
                (c.get("function") or {}).get("name", ""),
                (c.get("function") or {}).get("arguments") or "{}",
            )
            for k, c in enumerate(msg.get("tool_calls") or ())
        ]
        choices.append(
            Choice(
                index=raw.get("index", i),
                message=Message("assistant", _content_text(msg.get("content")), tool_calls=calls or None),
                finish_reason=raw.get("finish_reason") or "stop",
            )
        )
    return ChatResponse(
        id=data.get("id") or "",
        model=data.get("model") or "",
        choices=choices,
        usage=usage_from_openai(data.get("usage")),
        created=data.get("created") or now(),
        system_fingerprint=data.get("system_fingerprint"),
    )


def chunks_from_openai(data: dict[str, Any]) -> list[ChatChunk]:
    """The normal-form chunks inside one upstream `chat.completion.chunk` (a usage-only one included)."""
    cid = data.get("id") or ""
    model = data.get("model") or ""
    created = data.get("created") or 0
    out = []
    for raw in data.get("choices") or ():
        delta = raw.get("delta") or {}
        calls = None
        if delta.get("tool_calls"):
            calls = []
            for k, tc in enumerate(delta["tool_calls"]):
                fn = tc.get("function") or {}
                calls.append(ToolCallDelta(tc.get("index", k), tc.get("id"), fn.get("name"), fn.get("arguments") or ""))
        content = _content_text(delta.get("content"))
        finish = raw.get("finish_reason")
        role = delta.get("role")
        if role is None and content is None and calls is None and finish is None:
            continue
        out.append(ChatChunk(cid, model, created, raw.get("index", 0), role, content, calls, finish))
    usage = usage_from_openai(data.get("usage"))
    if usage is not None:
        if out:
            out[-1].usage = usage
        else:
            out.append(ChatChunk(cid, model, created, usage=usage))
    return out


def embedding_request_to_openai(req: EmbeddingRequest, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "input": req.input, "encoding_format": "float"}
    if req.dimensions is not None:
        body["dimensions"] = req.dimensions
    if req.user is not None:
        body["user"] = req.user
    return body


def embeddings_from_openai(data: dict[str, Any]) -> tuple[list[list[float]], Usage | None]:
    """Vectors in input order (upstreams may answer out of order) and the upstream's usage, if any."""
    items = sorted(data.get("data") or (), key=lambda d: d.get("index", 0))
    vectors = []
    for item in items:
        vector = item.get("embedding")
        if isinstance(vector, str):
            packed = array("f")
            packed.frombytes(base64.b64decode(vector))
            if sys.byteorder != "little":
                packed.byteswap()
            vector = packed.tolist()
        vectors.append(vector)
    usage = data.get("usage")
    if isinstance(usage, dict) and usage.get("prompt_tokens") is not None:
        prompt = int(usage["prompt_tokens"])
        return vectors, Usage(prompt, 0, int(usage.get("total_tokens") or prompt), "provider")
    return vectors, None
