"""Helpers for building and reading server-sent-event bodies in the gateway tests."""

from __future__ import annotations

from typing import Any

import orjson


def sse(*events: Any, done: bool = False, named: bool = False, crlf: bool = False) -> bytes:
    """A server-sent-events body: `data: <json>` per event (with `event: <type>` lines if `named`)."""
    nl = "\r\n" if crlf else "\n"
    out = []
    for ev in events:
        head = f"event: {ev['type']}{nl}" if named else ""
        out.append(f"{head}data: {orjson.dumps(ev).decode()}{nl}{nl}")
    if done:
        out.append(f"data: [DONE]{nl}{nl}")
    return "".join(out).encode()


def sse_events(body: bytes) -> list[dict[str, Any] | str]:
    """The `data:` payloads of an SSE body, JSON-decoded (`[DONE]` kept as a string)."""
    out: list[dict[str, Any] | str] = []
    for block in body.decode().split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data: "):
                payload = line[6:]
                out.append(payload if payload == "[DONE]" else orjson.loads(payload))
    return out


async def collect(stream) -> list:
    return [chunk async for chunk in stream]
