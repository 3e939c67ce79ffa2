"""Property-based fuzzing of the gateway's wire parsers and the translations behind them.

Whatever a caller sends, parsing answers a ``GatewayError`` (rendered as a 4xx) or a normal-form
request that every provider translation and the demo model can take: never another exception, which
the HTTP layer would turn into a 500. Seeded and bounded so a run is repeatable and quick.
"""

from __future__ import annotations

import asyncio

import orjson
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from gateway.errors import GatewayError
from gateway.providers import demo
from gateway.providers.base import UpstreamTarget
from gateway.wire import anthropic as anthropic_wire
from gateway.wire import anthropic_upstream, bedrock, gemini, openai_upstream
from gateway.wire import openai as openai_wire

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
    st.sampled_from(["user", "assistant", "system", "tool", "developer", "text", "image", "image_url", "tool_use",
                     "tool_result", "function", "auto", "any", "none", "json_schema", "json_object", "base64", "url"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(
        ["type", "text", "role", "content", "name", "id", "input", "source", "media_type", "data", "url",
         "image_url", "function", "arguments", "tool_calls", "tool_call_id", "tool_use_id", "parameters",
         "input_schema", "json_schema", "detail", "description"]), inner, max_size=5)),
    max_leaves=20,
)
CHAT_KEYS = ["model", "messages", "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "n",
             "seed", "tools", "tool_choice", "response_format", "stream", "stream_options", "logprobs",
             "top_logprobs", "user", "parallel_tool_calls"]
MESSAGES_KEYS = ["model", "messages", "max_tokens", "system", "stop_sequences", "temperature", "top_p", "stream",
                 "tools", "tool_choice", "metadata"]


def bodies(keys: list[str]) -> st.SearchStrategy[dict]:
    """Objects shaped like requests: the real field names with any JSON value, around a valid core."""
    message = st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system", "tool"]),
                                     "content": json_values}, optional={"tool_calls": json_values,
                                                                        "tool_call_id": json_values})
    core = st.fixed_dictionaries({"model": st.just("m"), "max_tokens": st.integers(-5, 2**40),
                                  "messages": st.lists(st.one_of(message, json_values), max_size=4)})
    return st.builds(lambda base, more: {**base, **more}, core,
                     st.dictionaries(st.sampled_from(keys), json_values, max_size=5))


TARGET = UpstreamTarget(provider_kind="demo", upstream_model="demo")


def translate_everywhere(request) -> None:
    """What routing and the adapters do next with a parsed request, for each provider's format."""
    for build in (lambda r: openai_upstream.chat_request_to_openai(r, "m"),
                  lambda r: anthropic_upstream.request_from_chat(r, "m"),
                  lambda r: gemini.request_from_chat(r),
                  lambda r: bedrock.converse_kwargs(r, "m")):
        try:
            build(request)
        except GatewayError:
            pass  # a provider refusing what it cannot express (n > 1, ...) is a 400, which is fine
    if request.n <= 4:
        asyncio.run(demo.chat(request, TARGET))


def parses_or_refuses(parse, body: bytes) -> None:
    try:
        request = parse(body)
    except GatewayError as error:
        assert 400 <= error.status < 500, error
        return
    translate_everywhere(request)


@pytest.mark.smoke
@seed(19)
@FUZZ
@given(bodies(CHAT_KEYS))
def test_chat_completions_bodies_parse_or_get_a_4xx(body):
    parses_or_refuses(openai_wire.parse_chat_request, orjson.dumps(body))


@pytest.mark.smoke
@seed(19)
@FUZZ
@given(bodies(MESSAGES_KEYS))
def test_messages_bodies_parse_or_get_a_4xx(body):
    parses_or_refuses(anthropic_wire.parse_messages_request, orjson.dumps(body))


@seed(19)
@FUZZ
@given(st.builds(lambda more: {"model": "m", "input": "x", **more},
                 st.dictionaries(st.sampled_from(["input", "dimensions", "encoding_format", "user"]), json_values,
                                 max_size=3)))
def test_embedding_bodies_parse_or_get_a_4xx(body):
    try:
        request = openai_wire.parse_embedding_request(orjson.dumps(body))
    except GatewayError as error:
        assert error.status == 400
        return
    assert request.dimensions is None or 1 <= request.dimensions <= openai_wire.MAX_DIMENSIONS


@seed(19)
@FUZZ
@given(st.binary(max_size=64))
def test_arbitrary_bytes_get_a_4xx(raw):
    parses_or_refuses(openai_wire.parse_chat_request, raw)
    parses_or_refuses(anthropic_wire.parse_messages_request, raw)
    try:
        openai_wire.parse_embedding_request(raw)
    except GatewayError as error:
        assert error.status == 400


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": []}]}, "messages[0].content"),
    ({"model": "m", "max_tokens": 5, "system": [{"type": "text", "text": 42}],
      "messages": [{"role": "user", "content": "hi"}]}, "system[0].text"),
    ({"model": "m", "max_tokens": 2**40, "messages": [{"role": "user", "content": "hi"}]}, "max_tokens"),
])
def test_messages_found_by_the_probe_are_400_naming_the_field(body, param):
    with pytest.raises(GatewayError) as raised:
        anthropic_wire.parse_messages_request(orjson.dumps(body))
    assert raised.value.status == 400 and raised.value.param == param


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "m", "input": "x", "dimensions": 4_000_000}, "dimensions"),
    ({"model": "m", "input": "x", "dimensions": 10**18}, "dimensions"),
])
def test_embedding_dimensions_are_bounded(body, param):
    with pytest.raises(GatewayError) as raised:
        openai_wire.parse_embedding_request(orjson.dumps(body))
    assert raised.value.status == 400 and raised.value.param == param


@pytest.mark.parametrize(("extra", "param"), [
    ({"max_tokens": 10**12}, "max_tokens"),
    ({"max_completion_tokens": 10**12}, "max_completion_tokens"),
    ({"n": 10_000}, "n"),
    ({"logprobs": True, "top_logprobs": 1000}, "top_logprobs"),
    ({"top_logprobs": 3}, "top_logprobs"),
])
def test_chat_numeric_fields_are_bounded(extra, param):
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **extra}
    with pytest.raises(GatewayError) as raised:
        openai_wire.parse_chat_request(orjson.dumps(body))
    assert raised.value.status == 400 and raised.value.param == param
