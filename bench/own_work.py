"""What the gateway's own request and answer handling costs per call, each piece alone (µs, best of 3).

    .venv/bin/python bench/own_work.py

The bench's chat body and the fake upstream's answer through: parsing and validating into the normal
form (and, when `msgspec` is installed, a msgspec struct decode of the same body for comparison), the
upstream body built from the normal form against the caller's own body patched (the pass-through
issue 17 suggests), and the answer read into the normal form and rendered against patched in place.
It decides whether those rewrites pay: they can save at most the difference, per call.
"""

from __future__ import annotations

import os
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiplatform.settings")
os.environ.setdefault("DATA_DIR", "/tmp/switchboard-own-work")

import django  # noqa: E402

django.setup()

import orjson  # noqa: E402

from gateway.wire import openai as wire  # noqa: E402
from gateway.wire.openai_upstream import chat_request_to_openai, chat_response_from_openai  # noqa: E402

BODY = (b'{"model":"bench-chat","messages":[{"role":"system","content":"You are terse."},'
        b'{"role":"user","content":"Say hello to the switchboard in five words."}],"max_tokens":16,"temperature":0}')
ANSWER = orjson.dumps({
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "fake-model",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there, switchboard, my friend."},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28},
})
N = int(os.environ.get("N", "50000"))


def micros(call) -> float:
    return min(timeit.repeat(call, number=N, repeat=3)) / N * 1e6


def patched(raw: bytes, model: str) -> bytes:
    data = orjson.loads(raw)
    data["model"] = model
    return orjson.dumps(data)


def main() -> None:
    request = wire.parse_chat_request(BODY)
    answer = chat_response_from_openai(orjson.loads(ANSWER))
    rows = [
        ("request: JSON decode alone (orjson)", lambda: orjson.loads(BODY)),
        ("request: parse + validate into the normal form", lambda: wire.parse_chat_request(BODY)),
        ("upstream body: built from the normal form", lambda: orjson.dumps(chat_request_to_openai(request, "m"))),
        ("upstream body: the caller's body patched (model)", lambda: patched(BODY, "m")),
        ("answer: read into the normal form", lambda: chat_response_from_openai(orjson.loads(ANSWER))),
        ("answer: rendered from the normal form", lambda: wire.render_chat_response(answer)),
        ("answer: the upstream's patched (model)", lambda: patched(ANSWER, "bench-chat")),
    ]
    try:
        import msgspec
    except ImportError:
        print("(msgspec not installed: `pip install msgspec` to compare a struct decode)")
    else:
        class Message(msgspec.Struct):
            role: str
            content: str | list | None = None
            name: str | None = None

        class Body(msgspec.Struct):
            model: str
            messages: list[Message]
            max_tokens: int | None = None
            temperature: float | None = None

        decoder = msgspec.json.Decoder(Body)
        rows.insert(2, ("request: msgspec struct decode (types only, no normal form)", lambda: decoder.decode(BODY)))
    for label, call in rows:
        print(f"{micros(call):7.2f} µs  {label}")


if __name__ == "__main__":
    main()
