"""Several fake OpenAI-compatible upstreams in one process, each steerable while the test runs.

Served by granian like the real gateway. Upstream ``<name>`` lives under ``/u/<name>/v1`` (a provider's
``base_url``); its behaviour is set with ``POST /_control/<name>`` and read back (with the calls it got)
with ``GET /_control/<name>``:

- ``mode``: ``ok`` (answer), ``fail`` (``status``, default 500, with ``retry_after`` if given), ``flaky``
  (fail the next ``failures`` calls, then answer), ``hang`` (never answer), ``cut`` (stream: send
  ``chunks`` chunks, then drop the connection mid-answer);
- ``delay_ms``: wait this long before answering (time to first byte);
- ``most_at_once`` (read back only): the most chat calls it was answering at the same time;
- ``chunks``: chunks of a streamed answer (default 5);
- ``echo``: answer with the last message's text instead (a stream cuts it in pieces of ``piece`` characters),
  so a test sees exactly what reached the upstream; ``answer`` answers with that text instead.

``GET /_control/<name>`` also returns the last request body the upstream received (``last_request``).

Each answer names the upstream (``"from <name>"``), so a test sees who served it.
"""

from __future__ import annotations

import asyncio
import time

import orjson

from bench.fake_upstream import _read, _respond  # the same ASGI plumbing as the bench's upstream

_JSON = [(b"content-type", b"application/json")]
_SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
DEFAULT = {"mode": "ok", "status": 500, "retry_after": None, "failures": 0, "delay_ms": 0, "chunks": 5,
           "echo": False, "answer": None, "piece": 3}
_behaviour: dict[str, dict] = {}
_calls: dict[str, list[float]] = {}
_last_request: dict[str, dict] = {}


def _text_of(request: dict) -> str:
    content = (request.get("messages") or [{}])[-1].get("content") or ""
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content


def _of(name: str) -> dict:
    return _behaviour.setdefault(name, dict(DEFAULT))


def _chunk(name: str, delta: dict, finish: str | None = None, usage: dict | None = None) -> bytes:
    body = {"id": f"chatcmpl-{name}", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": name,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if delta is not None else []}
    if usage is not None:
        body["usage"] = usage
    return b"data: " + orjson.dumps(body) + b"\n\n"


async def _fail(send, behaviour: dict) -> None:
    headers = list(_JSON)
    if behaviour["retry_after"] is not None:
        headers.append((b"retry-after", str(behaviour["retry_after"]).encode()))
    body = orjson.dumps({"error": {"message": f"upstream says {behaviour['status']}", "type": "server_error"}})
    await _respond(send, behaviour["status"], body, headers)


_in_flight: dict[str, int] = {}
_most_at_once: dict[str, int] = {}


async def _chat(name: str, request: dict, send) -> None:
    """Answer, counting the calls in flight at once (``most_at_once`` in the control answer)."""
    _in_flight[name] = _in_flight.get(name, 0) + 1
    _most_at_once[name] = max(_most_at_once.get(name, 0), _in_flight[name])
    try:
        await _answer_chat(name, request, send)
    finally:
        _in_flight[name] -= 1


async def _answer_chat(name: str, request: dict, send) -> None:
    behaviour = _of(name)
    _calls.setdefault(name, []).append(time.time())
    _last_request[name] = request
    if behaviour["delay_ms"]:
        await asyncio.sleep(behaviour["delay_ms"] / 1000)
    mode = behaviour["mode"]
    if mode == "hang":
        await asyncio.sleep(3600)
    if mode == "fail":
        return await _fail(send, behaviour)
    if mode == "flaky" and behaviour["failures"] > 0:
        behaviour["failures"] -= 1
        return await _fail(send, behaviour)
    text = behaviour["answer"] if behaviour["answer"] is not None else _text_of(request) if behaviour["echo"] \
        else f"from {name}"
    if not request.get("stream"):
        return await _respond(send, 200, orjson.dumps({
            "id": f"chatcmpl-{name}", "object": "chat.completion", "created": 1_700_000_000, "model": name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}}))
    await send({"type": "http.response.start", "status": 200, "headers": _SSE})
    await send({"type": "http.response.body", "body": _chunk(name, {"role": "assistant", "content": ""}),
                "more_body": True})
    if behaviour["echo"] or behaviour["answer"] is not None:
        step = max(1, behaviour["piece"])
        pieces = [text[i:i + step] for i in range(0, len(text), step)]
    else:
        pieces = [f"{text} {i} " for i in range(behaviour["chunks"])]
    for piece in pieces:
        await send({"type": "http.response.body", "body": _chunk(name, {"content": piece}), "more_body": True})
        await asyncio.sleep(0.01 if len(pieces) <= 20 else 0)
    if mode == "cut":
        raise RuntimeError("cut the answer short")  # granian drops the connection mid-body
    tail = _chunk(name, {}, finish="stop")
    if (request.get("stream_options") or {}).get("include_usage"):
        tail += _chunk(name, None, usage={"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13})
    await send({"type": "http.response.body", "body": tail + b"data: [DONE]\n\n", "more_body": False})


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    path, method = scope["path"], scope["method"]
    if path.startswith("/_control/"):
        name = path.removeprefix("/_control/")
        if method == "POST":
            _behaviour[name] = {**DEFAULT, **orjson.loads(await _read(receive))}
            _calls[name] = []
            _most_at_once[name] = 0
            _last_request.pop(name, None)
        return await _respond(send, 200, orjson.dumps({**_of(name), "calls": len(_calls.get(name, [])),
                                                       "most_at_once": _most_at_once.get(name, 0),
                                                       "last_request": _last_request.get(name)}))
    parts = path.split("/")  # "", "u", name, "v1", ...
    if len(parts) < 5 or parts[1] != "u" or method != "POST":
        return await _respond(send, 404, b'{"error": {"message": "not found"}}')
    name = parts[2]
    request = orjson.loads(await _read(receive))
    if path.endswith("/chat/completions"):
        return await _chat(name, request, send)
    return await _respond(send, 404, b'{"error": {"message": "not found"}}')
