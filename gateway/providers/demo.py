"""The local demo model: no key, no network, a deterministic answer derived from the prompt.

It answers text, streams it piece by piece, calls a tool when tools are offered (arguments built from
the tool's JSON schema), answers JSON under `response_format` (a JSON object, or a value that validates
against the `json_schema` asked for: `_example`), honours `max_tokens`, `stop` and `n`, and
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


# Loose but valid examples of the string formats JSON schemas (and pydantic) use most.
_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00Z",
    "email": "demo@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "duration": "P1D",
}
_MAX_DEPTH = 8  # past this, only what the schema requires (a recursive model must end somewhere)


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` (``#/$defs/X``, ``#/definitions/X``: what pydantic emits) to its schema."""
    seen = 0
    while isinstance(ref := schema.get("$ref"), str) and ref.startswith("#") and seen < 32:
        node: Any = root
        for part in ref[1:].split("/")[1:]:
            node = node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            return {}
        schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
        seen += 1
    return schema


def _merged(schemas: list[Any], root: dict[str, Any]) -> dict[str, Any]:
    """``allOf`` as one schema: properties and required together, the first word on anything else."""
    out: dict[str, Any] = {}
    for sub in schemas:
        if not isinstance(sub, dict):
            continue
        sub = _resolve(sub, root)
        if isinstance(sub.get("allOf"), list):
            sub = {**_merged(sub["allOf"], root), **{k: v for k, v in sub.items() if k != "allOf"}}
        for key, value in sub.items():
            if key == "properties":
                out["properties"] = {**out.get("properties", {}), **value}
            elif key == "required":
                out["required"] = [*out.get("required", []), *(r for r in value if r not in out.get("required", []))]
            else:
                out.setdefault(key, value)
    return out


def _bounded(value: float, schema: dict[str, Any], step: float) -> float:
    low, high = schema.get("minimum"), schema.get("maximum")
    if isinstance(schema.get("exclusiveMinimum"), int | float):
        low = schema["exclusiveMinimum"] + step
    if isinstance(schema.get("exclusiveMaximum"), int | float):
        high = schema["exclusiveMaximum"] - step
    if isinstance(low, int | float) and value < low:
        value = low
    if isinstance(high, int | float) and value > high:
        value = high
    return value


def _string(schema: dict[str, Any], hint: str) -> str:
    fmt = schema.get("format")
    if fmt == "uuid":
        digest = _digest(hint)
        text = f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-8{digest[17:20]}-{digest[20:32]}"
    else:
        text = _FORMATS.get(fmt, hint)
    low, high = schema.get("minLength"), schema.get("maxLength")
    if isinstance(low, int) and len(text) < low:
        text = text + "x" * (low - len(text))
    if isinstance(high, int) and len(text) > high:
        text = text[:high]
    return text


def _example(schema: Any, hint: str, root: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """A deterministic value that validates against ``schema``: types, ``required`` / ``properties``, ``enum``,
    ``const``, nesting, item counts, numeric bounds, string lengths and (loosely) formats, the first branch of
    ``anyOf`` / ``oneOf``, ``allOf`` merged, and local ``$ref``s. Regex ``pattern``s are not honoured."""
    if not isinstance(schema, dict):
        return hint
    root = schema if root is None else root
    schema = _resolve(schema, root)
    if isinstance(schema.get("allOf"), list):
        schema = {**_merged(schema["allOf"], root), **{k: v for k, v in schema.items() if k != "allOf"}}
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for branches in ("anyOf", "oneOf"):
        if isinstance(schema.get(branches), list) and schema[branches]:
            rest = {k: v for k, v in schema.items() if k != branches}
            return _example({**rest, **_resolve(schema[branches][0], root)}, hint, root, depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        props = schema.get("properties") or {}
        wanted = schema.get("required") if "required" in schema or depth >= _MAX_DEPTH else list(props)
        return {name: _example(props.get(name, {}), hint, root, depth + 1) for name in wanted or ()}
    if kind == "array" or (kind is None and ("items" in schema or "prefixItems" in schema)):
        prefix = schema.get("prefixItems") if isinstance(schema.get("prefixItems"), list) else []
        low = schema.get("minItems") if isinstance(schema.get("minItems"), int) else 0
        count = max(low, len(prefix), 0 if depth >= _MAX_DEPTH else 1)
        if isinstance(schema.get("maxItems"), int):
            count = min(count, schema["maxItems"])
        items = schema.get("items")
        return [_example(prefix[i] if i < len(prefix) else items if isinstance(items, dict) else {},
                         hint if i == 0 else f"{hint} {i + 1}", root, depth + 1) for i in range(count)]
    if kind == "integer":
        return int(_bounded(len(hint) % 100, schema, 1))
    if kind == "number":
        return _bounded(round((len(hint) % 1000) / 10, 1), schema, 0.1)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema, hint)


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
    fmt = req.response_format
    if fmt is not None and fmt.type == "json_schema" and isinstance((fmt.json_schema or {}).get("schema"), dict):
        text = orjson.dumps(_example(fmt.json_schema["schema"], " ".join(said.split()[:8]) or "demo")).decode()
    elif fmt is not None and fmt.type != "text":
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
