"""The guard steps on whatever a caller can send: a clear decision (a masked request, or a 403
``policy_violation``), never another exception, never a value in the record. Seeded and bounded."""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import GatewayError, PolicyViolationError
from gateway.normal import ChatRequest, ChatResponse, Choice, Message
from gateway.pipeline import guard as guard_step
from gateway.pipeline.context import CallContext
from gateway.state import Snapshot
from gateway.wire import openai as openai_wire
from guardrails.baseline import BASELINE
from registry.policy_document import canonical, spec_of
from tests.gateway.test_wire_fuzz import CHAT_KEYS, FUZZ, bodies

BASELINE_SPEC = spec_of("baseline", 1, canonical(
    {k: v for k, v in BASELINE.items() if k not in ("name", "description", "enabled")}))


class _Grant:
    tenant_slug, data_classification, tenant_region = "acme", "internal", "eu"


class _Routing:
    name = "fast-chat"


def _context(request) -> CallContext:
    ctx = CallContext(request_id="r", client_ip=None, headers={}, operation="chat",
                      snapshot=Snapshot(policies=(BASELINE_SPEC,), loaded_at=1.0))
    ctx.grant, ctx.routing, ctx.request = _Grant(), _Routing(), request
    return ctx


def _guard(request) -> CallContext:
    ctx = _context(request)
    try:
        asyncio.run(guard_step.guard_input(ctx))
    except PolicyViolationError:
        pass
    return ctx


@FUZZ
@given(bodies(CHAT_KEYS))
def test_any_parsed_request_gets_a_decision(body):
    try:
        request = openai_wire.parse_chat_request(json.dumps(body).encode())
    except GatewayError:
        return
    ctx = _guard(request)
    assert ctx.guard is not None
    for decision in ctx.guard_record:
        assert set(decision) == {"policy", "version", "stage", "detector", "label", "action", "count"}


@FUZZ
@given(st.text(max_size=400))
def test_any_text_in_and_out(text):
    request = openai_wire.parse_chat_request(json.dumps(
        {"model": "fast-chat", "messages": [{"role": "user", "content": text}]}).encode())
    ctx = _guard(request)
    if ctx.guard is not None and not any(d["action"] == "block" for d in ctx.guard_record):
        answer = ChatResponse(id="x", model="m", choices=[Choice(0, Message("assistant", text))])
        try:
            guard_step.guard_answer(ctx, answer)
        except PolicyViolationError:
            pass


@pytest.mark.parametrize("content", [
    "x" * 1_000_000,  # a megabyte of one character
    "4111 1111 " * 100_000,  # a megabyte of near-card digits
    "\ud800 lone surrogate \udfff and \x00 NUL \u202e RTL",
    "@" * 200_000 + ".example",
])
def test_huge_and_strange_texts_are_decided(content):
    # Built directly: the wire parser already refuses lone surrogates (400), other entry points might not.
    request = ChatRequest(model="fast-chat", messages=[Message("user", content)])
    ctx = _guard(request)
    assert ctx.guard is not None


def test_ten_thousand_messages_and_tool_arguments_that_are_not_json():
    messages = [{"role": "user", "content": f"message {i} to ann{i}@corp.example"} for i in range(10_000)]
    messages.append({"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{not json, mail bob@corp.example"}}]})
    messages.append({"role": "tool", "tool_call_id": "c1", "content": "result for carl@corp.example"})
    request = openai_wire.parse_chat_request(json.dumps({"model": "fast-chat", "messages": messages}).encode())
    ctx = _guard(request)
    assert request.messages[9_999].content == "message 9999 to <EMAIL_10000>"
    assert request.messages[10_000].tool_calls[0].arguments == "{not json, mail <EMAIL_10001>"
    assert request.messages[10_001].content == "result for <EMAIL_10002>"
    (decision,) = [d for d in ctx.guard_record if d["detector"] == "email"]
    assert decision["count"] == 10_002
    assert "corp.example" not in json.dumps(ctx.guard_record)


def test_images_pass_and_are_recorded_as_unscanned():
    request = openai_wire.parse_chat_request(json.dumps({"model": "fast-chat", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is in it?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}]}).encode())
    ctx = _guard(request)
    assert {"policy": "", "version": 0, "stage": "input", "detector": "image", "label": "", "action": "unscanned",
            "count": 1} in ctx.guard_record
