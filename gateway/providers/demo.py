"""The local demo model: no key, no network, a deterministic answer derived from the prompt.

It answers text, streams it piece by piece, calls a tool when tools are offered (arguments built from
the tool's JSON schema), answers JSON under `response_format`, honours `max_tokens`, `stop` and `n`, and
embeds text as deterministic unit vectors from a hash. Usage is counted with the o200k tokenizer.
`config`: `token_delay_ms` (pause between streamed pieces, default 0), `dimensions` (embedding size,
default 256), `count_as` (model whose tokenizer counts usage, default `gpt-4o`).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
from array import array
from collections.abc import AsyncIterator
from typing import Any

import orjson

from gateway import tokens
from gateway.normal import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Choice,
    EmbeddingRequest,
    EmbeddingResponse,
    Message,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
    new_id,
    now,
)
from gateway.providers.base import Adapter, UpstreamTarget
from gateway.usage import completion_text

DEFAULT_DIMENSIONS = 256  # the demo's embedding size unless its endpoint's config says `dimensions`
_PIECES = re.compile(r"\s*\S+")


def _last(req: ChatRequest) -> Message:
    for message in reversed(req.messages):
        if message.role in ("user", "tool"):
            return message
    return req.messages[-1]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _example(schema: Any, hint: str) -> Any:
    """A deterministic value that fits a (simple) JSON schema."""
    if not isinstance(schema, dict):
        return hint
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        wanted = schema.get("required") or list(props)
        return {name: _example(props.get(name), hint) for name in wanted}
    if kind == "integer":
        return len(hint) % 100
    if kind == "number":
        return round((len(hint) % 1000) / 10, 1)
    if kind == "boolean":
        return True
    if kind == "array":
        return [_example(schema.get("items"), hint)]
    return hint


def _tool_to_call(req: ChatRequest) -> Tool | None:
    if not req.tools or (req.tool_choice and req.tool_choice.mode == "none"):
        return None
    if _last(req).role == "tool":
        return None
    if req.tool_choice and req.tool_choice.mode == "function":
        return next((t for t in req.tools if t.name == req.tool_choice.name), req.tools[0])
    return req.tools[0]


def answer_text(req: ChatRequest, index: int = 0) -> str:
    """The demo's reply text for choice `index`."""
    last = _last(req)
    said = " ".join(last.text().split())
    if last.role == "tool":
        text = f"The tool returned: {said}"
    else:
        words = len(said.split())
        text = f"This is the demo model answering. You said: \u201c{said}\u201d ({words} word{"" if words == 1 else "s"})."
    if index:
        text += f" (alternative {index + 1})"
    if req.response_format is not None and req.response_format.type != "text":
        text = orjson.dumps({"model": "demo", "answer": text}).decode()
    return text


def _limited(text: str, req: ChatRequest) -> tuple[list[str], str]:
    """The answer's pieces after `stop` and `max_tokens`, and the finish reason."""
    finish = "stop"
    for stop in req.stop or ():
        cut = text.find(stop)
        if cut != -1:
            text = text[:cut]
    pieces = _PIECES.findall(text)
    if req.max_tokens is not None and len(pieces) > req.max_tokens:
        pieces, finish = pieces[: req.max_tokens], "length"
    return pieces, finish


def _choice(req: ChatRequest, index: int) -> tuple[list[str], ToolCall | None, str]:
    tool = _tool_to_call(req)
    if tool is not None:
        hint = " ".join(_last(req).text().split())[:40] or "demo"
        arguments = orjson.dumps(_example(tool.parameters or {"type": "object"}, hint)).decode()
        call = ToolCall("call_" + _digest(f"{index}:{hint}:{tool.name}")[:24], tool.name, arguments)
        return [], call, "tool_calls"
    pieces, finish = _limited(answer_text(req, index), req)
    return pieces, None, finish


def count_model(target: UpstreamTarget) -> str:
    """The model whose tokenizer counts this demo endpoint's usage."""
    return target.config.get("count_as") or "gpt-4o"


async def chat(req: ChatRequest, target: UpstreamTarget) -> ChatResponse:
    """A whole demo answer, usage counted."""
    choices = []
    for i in range(req.n):
        pieces, call, finish = _choice(req, i)
        message = Message("assistant", "".join(pieces) if call is None else None, tool_calls=[call] if call else None)
        choices.append(Choice(i, message, finish))  # type: ignore[arg-type]
    resp = ChatResponse(new_id(), target.upstream_model or req.model, choices, created=now())
    resp.usage = tokens.count_usage(req, completion_text(resp), count_model(target))
    return resp


async def chat_stream(req: ChatRequest, target: UpstreamTarget) -> AsyncIterator[ChatChunk]:
    """The demo answer streamed piece by piece; usage on the final chunk."""
    cid, model, created = new_id(), target.upstream_model or req.model, now()
    delay = float(target.config.get("token_delay_ms") or 0) / 1000
    produced: list[str] = []
    for i in range(req.n):
        pieces, call, finish = _choice(req, i)
        yield ChatChunk(cid, model, created, i, role="assistant", content="" if call is None else None)
        for piece in pieces:
            if delay:
                await asyncio.sleep(delay)
            produced.append(piece)
            yield ChatChunk(cid, model, created, i, content=piece)
        if call is not None:
            produced += [call.name, call.arguments]
            yield ChatChunk(cid, model, created, i, tool_calls=[ToolCallDelta(0, call.id, call.name, "")])
            yield ChatChunk(cid, model, created, i, tool_calls=[ToolCallDelta(0, arguments=call.arguments)])
        yield ChatChunk(cid, model, created, i, finish_reason=finish)  # type: ignore[arg-type]
    yield ChatChunk(cid, model, created, usage=tokens.count_usage(req, "".join(produced), count_model(target)))


def vector_for(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector for `text`."""
    raw = array("I")
    raw.frombytes(hashlib.shake_256(text.encode()).digest(dimensions * 4))
    values = [(x / 2147483647.5) - 1.0 for x in raw]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


async def embed(req: EmbeddingRequest, target: UpstreamTarget) -> EmbeddingResponse:
    """Hash-derived unit vectors, `dimensions` long (request, else config, else 256)."""
    dimensions = req.dimensions or int(target.config.get("dimensions") or DEFAULT_DIMENSIONS)
    texts = [x if isinstance(x, str) else " ".join(map(str, x)) for x in req.input]
    usage = tokens.count_inputs(req.input, count_model(target))
    return EmbeddingResponse(
        model=target.upstream_model or req.model,
        data=[vector_for(t, dimensions) for t in texts],
        usage=Usage(usage.prompt_tokens, 0, usage.prompt_tokens, usage.source),
    )


ADAPTER = Adapter("demo", chat, chat_stream, embed)
