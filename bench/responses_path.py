"""What the Responses API adds to a chat call (issue 18), in process: not a test, nothing asserted.

The call itself is a chat call in normal form, so what differs from ``/v1/chat/completions`` is the wire work
and the store. Measured on a 10-turn conversation with a function call and its output:

- parsing: ``parse_responses_request`` + ``to_chat`` against ``parse_chat_request`` on the same conversation;
- rendering a whole answer: ``response_object`` + JSON against ``render_chat_response``;
- streaming: ``ResponsesStream.feed`` per chunk against ``render_chat_chunk``;
- the store: one ``StoredResponse`` INSERT and one continuation SELECT on the configured database
  (``DATABASE_URL``, else a temporary SQLite file as in the embedded mode).

    .venv/bin/python bench/responses_path.py            # N=2000 runs per figure (median, µs)
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiplatform.settings")
if not os.environ.get("DATABASE_URL"):
    os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="switchboard-responses-bench-"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django  # noqa: E402

django.setup()

import orjson  # noqa: E402
from django.core.management import call_command  # noqa: E402

from gateway import responses_store  # noqa: E402
from gateway.normal import ChatChunk, ChatResponse, Choice, Message, Usage  # noqa: E402
from gateway.wire import openai as openai_wire  # noqa: E402
from gateway.wire import responses as wire  # noqa: E402

N = int(os.environ.get("N", "2000"))


def _median_us(run, n: int = N) -> float:
    samples = []
    for _ in range(n):
        began = time.perf_counter()
        run()
        samples.append((time.perf_counter() - began) * 1e6)
    return statistics.median(samples)


def _conversation() -> tuple[bytes, bytes]:
    turns = [("user" if i % 2 == 0 else "assistant", f"Turn {i}: the order 8841{i} ships on Tuesday to Lyon.")
             for i in range(8)]
    items = [{"role": role, "content": text} for role, text in turns] + [
        {"type": "function_call", "call_id": "call_1", "name": "track", "arguments": '{"order":"88417"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "In transit, due Tuesday."}]
    messages = [{"role": role, "content": text} for role, text in turns] + [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "track", "arguments": '{"order":"88417"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "In transit, due Tuesday."}]
    tool = {"name": "track", "parameters": {"type": "object", "properties": {"order": {"type": "string"}}}}
    responses = orjson.dumps({"model": "bench-chat", "instructions": "Be brief.", "input": items,
                              "tools": [{"type": "function", **tool}]})
    chat = orjson.dumps({"model": "bench-chat", "messages": [{"role": "system", "content": "Be brief."}, *messages],
                         "tools": [{"type": "function", "function": tool}]})
    return responses, chat


class _Grant:
    tenant_id, key_id = 0, 0


class _Routing:
    name = "bench-chat"


class _Context:
    grant, routing = _Grant(), _Routing()


def _store_figures() -> tuple[float, float]:
    from aiplatform.models import Tenant

    call_command("migrate", verbosity=0)
    tenant, _ = Tenant.objects.get_or_create(slug="bench-responses", defaults={"name": "Bench"})
    _Grant.tenant_id = tenant.pk
    request = wire.parse_responses_request(_conversation()[0])
    envelope = wire.Envelope("resp_x", "bench-chat", request)
    answer = ChatResponse("c", "m", [Choice(0, Message("assistant", "Tuesday, in Lyon."))], usage=Usage.of(120, 6))
    template = wire.response_object(envelope, answer)
    made: list[str] = []

    def insert():
        body = {**template, "id": wire.new_item_id("resp_")}
        responses_store._save(tenant.pk, 0, "bench-chat", body, request.input, [])
        made.append(body["id"])

    n = min(N, 500)
    inserted = _median_us(insert, n)
    selected = _median_us(lambda: responses_store._conversation(tenant.pk, made[len(made) // 2]), n)
    responses_store.StoredResponse.objects.filter(tenant=tenant).delete()
    return inserted, selected


def main() -> None:
    responses_body, chat_body = _conversation()
    parse_responses = _median_us(lambda: wire.to_chat(wire.parse_responses_request(responses_body), []))
    parse_chat = _median_us(lambda: openai_wire.parse_chat_request(chat_body))
    request = wire.parse_responses_request(responses_body)
    envelope = wire.Envelope("resp_x", "bench-chat", request)
    answer = ChatResponse("c", "m", [Choice(0, Message("assistant", "Tuesday, in Lyon. " * 20))],
                          usage=Usage.of(120, 80))
    render_responses = _median_us(lambda: orjson.dumps(wire.response_object(envelope, answer)))
    render_chat = _median_us(lambda: openai_wire.render_chat_response(answer))
    chunk = ChatChunk("c", "bench-chat", content="Tuesday, ")
    stream = wire.ResponsesStream(envelope)
    stream.opening()
    stream.feed(chunk)
    per_chunk_responses = _median_us(lambda: stream.feed(chunk))
    per_chunk_chat = _median_us(lambda: openai_wire.render_chat_chunk(chunk))
    inserted, selected = _store_figures()
    database = "PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
    print(f"parse, 10-turn conversation:  responses {parse_responses:7.1f} µs   chat completions {parse_chat:7.1f} µs")
    print(f"render a whole answer:        responses {render_responses:7.1f} µs   chat completions {render_chat:7.1f} µs")
    print(f"render one streamed chunk:    responses {per_chunk_responses:7.1f} µs   chat completions "
          f"{per_chunk_chat:7.1f} µs")
    print(f"store ({database}):  INSERT {inserted:7.1f} µs   continuation SELECT {selected:7.1f} µs (in a worker thread)")


if __name__ == "__main__":
    main()
