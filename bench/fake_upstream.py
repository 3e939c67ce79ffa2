"""A fast fake OpenAI-compatible upstream, for the bench and the integration tests.

Served by granian: ``granian --interface asgi bench.fake_upstream:app --port 18080``.

- ``POST /v1/chat/completions``: a fixed answer; with ``"stream": true`` the same answer as
  ``FAKE_STREAM_CHUNKS`` SSE chunks, ``FAKE_CHUNK_DELAY_MS`` apart; a tool call when tools are sent (and the last message is not a tool's result);
  usage included (and in the last chunk when ``stream_options.include_usage``).
- ``POST /v1/embeddings``: one small vector per input.
- ``GET /v1/models``: two models.
- Model names steer failures: ``fail-500``, ``fail-429``, ``fail-401``, ``fail-400`` (names ``param``),
  ``slow`` (sleeps 2 s).
- ``GET /_requests``: the last requests it received (path, authorization header, body), for tests.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque

import orjson

CHUNKS = int(os.environ.get("FAKE_STREAM_CHUNKS", "20"))
CHUNK_DELAY = float(os.environ.get("FAKE_CHUNK_DELAY_MS", "0")) / 1000
ANSWER_WORDS = ["Switchboard", " routes", " every", " call", " through", " one", " gateway", "."]
SEEN: deque = deque(maxlen=50)

_CHAT = orjson.dumps({
    "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_700_000_000, "model": "fake-model",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(ANSWER_WORDS)},
                 "finish_reason": "stop", "logprobs": None}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20},
})
_MODELS = orjson.dumps({"object": "list", "data": [
    {"id": "fake-model", "object": "model", "created": 1_700_000_000, "owned_by": "fake"},
    {"id": "fake-embed", "object": "model", "created": 1_700_000_000, "owned_by": "fake"},
]})
_JSON = [(b"content-type", b"application/json")]
_SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


def _chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> bytes:
    body = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000,
            "model": "fake-model", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if delta is not None else []}
    if usage is not None:
        body["usage"] = usage
    return b"data: " + orjson.dumps(body) + b"\n\n"


async def _read(receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def _respond(send, status: int, body: bytes, headers=_JSON) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _failure(send, model: str) -> bool:
    if model == "slow":
        await asyncio.sleep(2)
        return False
    if model == "fail-400":  # the provider refusing one field of the caller's (OpenAI names it in ``param``)
        await _respond(send, 400, orjson.dumps({"error": {
            "message": "Unsupported value: 'temperature' does not support 0.3 with this model.",
            "type": "invalid_request_error", "param": "temperature", "code": "unsupported_value"}}))
        return True
    codes = {"fail-500": 500, "fail-429": 429, "fail-401": 401}
    if model in codes:
        await _respond(send, codes[model], orjson.dumps(
            {"error": {"message": f"upstream says {codes[model]} (key sk-upstream-secret)", "type": "server_error"}}))
        return True
    return False


async def _chat(request: dict, send) -> None:
    if await _failure(send, request.get("model", "")):
        return
    tools = request.get("tools")
    answered = (request.get("messages") or [{}])[-1].get("role") == "tool"  # a tool's result came back: answer it
    if not request.get("stream"):
        if tools and not answered:
            name = tools[0]["function"]["name"]
            body = orjson.loads(_CHAT)
            body["choices"][0]["message"] = {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_fake1", "type": "function", "function": {"name": name, "arguments": '{"city": "Paris"}'}}]}
            body["choices"][0]["finish_reason"] = "tool_calls"
            await _respond(send, 200, orjson.dumps(body))
        else:
            await _respond(send, 200, _CHAT)
        return
    await send({"type": "http.response.start", "status": 200, "headers": _SSE})
    await send({"type": "http.response.body", "body": _chunk({"role": "assistant", "content": ""}), "more_body": True})
    for i in range(CHUNKS):
        if CHUNK_DELAY:
            await asyncio.sleep(CHUNK_DELAY)
        word = ANSWER_WORDS[i % len(ANSWER_WORDS)]
        await send({"type": "http.response.body", "body": _chunk({"content": word}), "more_body": True})
    tail = _chunk({}, finish="stop")
    if (request.get("stream_options") or {}).get("include_usage"):
        tail += _chunk(None, usage={"prompt_tokens": 12, "completion_tokens": CHUNKS, "total_tokens": 12 + CHUNKS})
    await send({"type": "http.response.body", "body": tail + b"data: [DONE]\n\n", "more_body": False})


async def _embeddings(request: dict, send) -> None:
    inputs = request.get("input")
    inputs = [inputs] if isinstance(inputs, str) else inputs or []
    data = [{"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3, float(len(str(x)))]}
            for i, x in enumerate(inputs)]
    await _respond(send, 200, orjson.dumps({"object": "list", "data": data, "model": request.get("model"),
                                            "usage": {"prompt_tokens": 3 * len(inputs), "total_tokens": 3 * len(inputs)}}))


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    path, method = scope["path"], scope["method"]
    if method == "GET" and path == "/v1/models":
        return await _respond(send, 200, _MODELS)
    if method == "GET" and path == "/_requests":
        return await _respond(send, 200, orjson.dumps(list(SEEN)))
    if method != "POST":
        return await _respond(send, 404, b'{"error": {"message": "not found"}}')
    raw = await _read(receive)
    try:
        request = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return await _respond(send, 400, b'{"error": {"message": "invalid json", "type": "invalid_request_error"}}')
    headers = dict(scope["headers"])
    SEEN.append({"path": path, "authorization": headers.get(b"authorization", b"").decode(), "at": time.time(),
                 "body": request})
    if path.endswith("/chat/completions"):
        return await _chat(request, send)
    if path.endswith("/embeddings"):
        return await _embeddings(request, send)
    return await _respond(send, 404, b'{"error": {"message": "not found"}}')
