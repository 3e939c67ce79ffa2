"""The playground's calls to the gateway: ``POST /v1/chat/completions`` over HTTP, streamed.

The playground is a client of the gateway like any application (DESIGN.md: no side door), so
the call goes out over ``PLAYGROUND_GATEWAY_URL`` with the person's key and meets the same
authentication, limits, guardrails, routing and metering. Closing the stream early (the
person pressed Stop, or closed the tab and the view was cancelled) closes the connection, and
the gateway then cancels the upstream call and meters what was produced.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from django.conf import settings

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 300.0  # between two chunks: a slow model may think for a while


@dataclass
class Outcome:
    """What one call produced, filled in as the stream arrives."""

    content: str = ""
    request_id: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    ttft_ms: float | None = None
    total_ms: float | None = None
    stopped: bool = False
    error: str = ""
    started: float = field(default_factory=time.perf_counter)

    def as_fields(self) -> dict[str, Any]:
        return {"content": self.content, "request_id": self.request_id, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "ttft_ms": self.ttft_ms, "total_ms": self.total_ms,
                "stopped": self.stopped, "error": self.error}

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 1)


def chat_body(*, alias: str, messages: list[dict[str, str]], temperature: float | None,
              max_tokens: int | None, user: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": alias, "messages": messages, "stream": True,
                            "stream_options": {"include_usage": True}, "user": user}
    if temperature is not None:
        body["temperature"] = temperature
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return body


def _error_message(status: int, raw: bytes) -> str:
    try:
        message = orjson.loads(raw)["error"]["message"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        message = raw.decode(errors="replace")[:300] or "no details"
    return f"The gateway refused the call ({status}): {message}"


async def stream_chat(*, secret: str, body: dict[str, Any], outcome: Outcome) -> AsyncIterator[str]:
    """Yield each piece of answer text as it arrives, filling ``outcome`` (ids, usage, timings, errors).

    Never raises for what the gateway or the network did: that ends up in ``outcome.error``.
    Cancellation (the person stopped it) propagates, and leaving closes the connection.
    """
    timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
    headers = {"authorization": f"Bearer {secret}", "content-type": "application/json"}
    try:
        async with httpx.AsyncClient(base_url=settings.PLAYGROUND_GATEWAY_URL, timeout=timeout) as client, \
                client.stream("POST", "/v1/chat/completions", content=orjson.dumps(body), headers=headers) as response:
            outcome.request_id = response.headers.get("x-request-id", "")
            if response.status_code != 200:
                outcome.error = _error_message(response.status_code, await response.aread())
                return
            async for line in response.aiter_lines():
                piece = _read_event(line, outcome)
                if piece:
                    if outcome.ttft_ms is None:
                        outcome.ttft_ms = outcome.elapsed_ms()
                    outcome.content += piece
                    yield piece
    except httpx.HTTPError as exc:
        outcome.error = f"The gateway could not be reached: {type(exc).__name__}"
    finally:
        outcome.total_ms = outcome.elapsed_ms()


def _read_event(line: str, outcome: Outcome) -> str:
    """The text in one server-sent ``data:`` line (usage and errors go to ``outcome``)."""
    if not line.startswith("data:"):
        return ""
    data = line[5:].strip()
    if not data or data == "[DONE]":
        return ""
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        return ""
    if not isinstance(event, dict):
        return ""
    if "error" in event:
        error = event["error"] if isinstance(event["error"], dict) else {}
        outcome.error = f"The answer was cut short: {error.get('message') or 'upstream error'}"
        return ""
    usage = event.get("usage")
    if isinstance(usage, dict):
        outcome.prompt_tokens = usage.get("prompt_tokens")
        outcome.completion_tokens = usage.get("completion_tokens")
    pieces = []
    for choice in event.get("choices") or ():
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if isinstance(delta, dict) and isinstance(delta.get("content"), str):
            pieces.append(delta["content"])
    return "".join(pieces)
