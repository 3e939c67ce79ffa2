"""Property-based fuzzing of a prompt API call's body (``gateway.wire.prompts``): whatever a caller sends, parsing
answers a ``GatewayError`` (a 4xx naming what is wrong) or a chat request whose messages hold the values as text —
never another exception, which the HTTP layer would turn into a 500."""

from __future__ import annotations

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import GatewayError
from gateway.wire.prompts import parse_prompt_request
from registry import prompt_templates
from registry.selectors_prompts import PublishedPrompt

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)

VERSION = PublishedPrompt(
    slug="summarise", number=1, template="Summarise {{ text }} in {{ n }} bullets ({{ formal }}, {{ ratio }})",
    system_prompt="Write for {{ text }}", alias="fast-chat", temperature=0.2, max_tokens=100,
    variables=prompt_templates.parse_variables([
        {"name": "text"}, {"name": "n", "type": "integer", "default": 3},
        {"name": "formal", "type": "boolean", "required": False}, {"name": "ratio", "type": "number", "default": 0.5}]))

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
                    st.sampled_from(["{{ n }}", "{% for x in y %}", "{{", "}}", "{#"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=8)
bodies = st.one_of(
    values,
    st.dictionaries(st.sampled_from(["variables", "stream", "stream_options", "user", "messages", "model"]), values,
                    max_size=4),
    st.fixed_dictionaries({"variables": st.dictionaries(
        st.sampled_from(["text", "n", "formal", "ratio", "other"]), values, max_size=5)}),
)


@FUZZ
@given(bodies)
def test_any_body_is_a_clear_refusal_or_a_chat_request(body):
    try:
        raw = orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return  # not JSON (a float the encoder refuses): nothing a caller could send
    try:
        request = parse_prompt_request(raw, VERSION)
    except GatewayError as exc:
        assert 400 <= exc.status < 500
        return
    assert request.model == "fast-chat" and request.messages[-1].role == "user"
    text = body["variables"]["text"]
    assert isinstance(text, str) and text in request.messages[-1].content and text in request.messages[0].content


@FUZZ
@given(st.binary(max_size=64))
def test_any_bytes_are_a_clear_refusal_or_a_chat_request(raw):
    try:
        parse_prompt_request(raw, VERSION)
    except GatewayError as exc:
        assert 400 <= exc.status < 500
