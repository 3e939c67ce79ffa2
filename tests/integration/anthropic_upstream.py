"""A fake Anthropic Messages API on loopback, served by granian like the real gateway.

``POST /v1/messages`` answers in Anthropic's wire format, whole or as its event stream (``message_start`` …
``message_stop``): a ``tool_use`` block when tools are offered and the last turn is not a tool's result, else
text naming what it read (``"Claude read: <last text>"``). ``POST /v1/messages/count_tokens`` counts words.
Anything without ``x-api-key`` is a 401 in Anthropic's error shape. ``GET /_requests``: the last requests
(path, headers that matter, body), for tests.
"""

from __future__ import annotations

import orjson

from bench.fake_upstream import _read, _respond

_SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
_requests: list[dict] = []


def _last_turn(body: dict) -> tuple[str, bool]:
    """The last user turn's text, and whether it carries a tool's result."""
    content = (body.get("messages") or [{}])[-1].get("content") or ""
    if isinstance(content, str):
        return content, False
    texts, result = [], False
    for block in content:
        if block.get("type") == "text":
            texts.append(block["text"])
        elif block.get("type") == "tool_result":
            result = True
            inner = block.get("content")
            texts.append(inner if isinstance(inner, str) else " ".join(b.get("text", "") for b in inner or ()))
    return " ".join(texts), result


def _answer(body: dict) -> tuple[list[dict], str]:
    text, after_tool = _last_turn(body)
    tools = body.get("tools") or []
    if tools and not after_tool:
        properties = (tools[0].get("input_schema") or {}).get("properties") or {}
        arguments = {name: "Paris" for name in properties}
        return [{"type": "tool_use", "id": "toolu_fake01", "name": tools[0]["name"], "input": arguments}], "tool_use"
    return [{"type": "text", "text": f"Claude read: {text}"}], "end_turn"


def _event(kind: str, data: dict) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **data}) + b"\n\n"


async def _stream(send, body: dict) -> None:
    blocks, stop = _answer(body)
    await send({"type": "http.response.start", "status": 200, "headers": _SSE})
    out = _event("message_start", {"message": {
        "id": "msg_fake01", "type": "message", "role": "assistant", "model": body["model"], "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 11, "output_tokens": 1}}})
    for i, block in enumerate(blocks):
        if block["type"] == "text":
            out += _event("content_block_start", {"index": i, "content_block": {"type": "text", "text": ""}})
            for word in block["text"].split(" "):
                out += _event("content_block_delta", {"index": i, "delta": {"type": "text_delta", "text": word + " "}})
        else:
            start = {**block, "input": {}}
            out += _event("content_block_start", {"index": i, "content_block": start})
            out += _event("content_block_delta", {"index": i, "delta": {
                "type": "input_json_delta", "partial_json": orjson.dumps(block["input"]).decode()}})
        out += _event("content_block_stop", {"index": i})
    out += _event("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None},
                                    "usage": {"output_tokens": 7}})
    out += _event("message_stop", {})
    await send({"type": "http.response.body", "body": out, "more_body": False})


async def app(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    path, method = scope["path"], scope["method"]
    headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
    if method == "GET" and path == "/_requests":
        await _respond(send, 200, orjson.dumps(_requests[-20:]))
        return
    body = orjson.loads(await _read(receive) or b"{}")
    _requests.append({"path": path, "body": body, "x-api-key": headers.get("x-api-key"),
                      "anthropic-version": headers.get("anthropic-version"),
                      "anthropic-beta": headers.get("anthropic-beta")})
    if not headers.get("x-api-key"):
        await _respond(send, 401, orjson.dumps({"type": "error", "error": {
            "type": "authentication_error", "message": "x-api-key header is required"}}))
    elif path == "/v1/messages/count_tokens":
        words = len(orjson.dumps(body.get("messages")).split(b" "))
        await _respond(send, 200, orjson.dumps({"input_tokens": words}))
    elif path == "/v1/messages" and body.get("stream"):
        await _stream(send, body)
    elif path == "/v1/messages":
        blocks, stop = _answer(body)
        await _respond(send, 200, orjson.dumps({
            "id": "msg_fake01", "type": "message", "role": "assistant", "model": body["model"], "content": blocks,
            "stop_reason": stop, "stop_sequence": None, "usage": {"input_tokens": 11, "output_tokens": 7}}))
    else:
        await _respond(send, 404, orjson.dumps({"type": "error", "error": {"type": "not_found_error",
                                                                           "message": path}}))
