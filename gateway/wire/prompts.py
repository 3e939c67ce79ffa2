"""Prompt APIs' wire format (``POST /v1/prompts/<slug>[@version|@label]``): the caller sends the variables, the
answer is a chat completion (streamed as chat completion chunks when asked).

Request body, a JSON object: ``variables`` (an object of the prompt's variables), ``stream``,
``stream_options`` (``include_usage``) and ``user``. The version decides the messages, the model and its
settings; anything else is refused naming the field rather than ignored (a caller sending ``messages`` or
``temperature`` expects them to count, and they would not).
"""

from __future__ import annotations

from gateway.errors import BadRequestError
from gateway.normal import ChatRequest, Message
from gateway.wire.openai import _bool, _str, load_json_object, parse_include_usage
from registry import prompt_templates
from registry.selectors_prompts import PublishedPrompt

FIELDS = frozenset(("variables", "stream", "stream_options", "user"))


def parse_prompt_request(body: bytes, version: PublishedPrompt) -> ChatRequest:
    """The chat call a prompt call makes: the version's messages rendered with the caller's variables
    (400 naming a missing, unknown or wrongly typed variable), its model and settings."""
    data = load_json_object(body)
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise BadRequestError(
            f"Unrecognized request argument supplied: '{unknown[0]}'. A prompt API takes 'variables', 'stream', "
            "'stream_options' and 'user'; the prompt's version decides the messages, the model and its settings.",
            code="unknown_parameter", param=unknown[0])
    try:
        bound = prompt_templates.bind(version.variables, data.get("variables"))
        messages = prompt_templates.render_messages(template=version.template, system_prompt=version.system_prompt,
                                                    bound=bound)
    except prompt_templates.VariableError as exc:
        raise BadRequestError(exc.message, code="invalid_variable",
                              param=f"variables.{exc.name}" if exc.name else "variables") from None
    stream = _bool(data, "stream") or False
    return ChatRequest(
        model=version.alias,  # type: ignore[arg-type]
        messages=[Message(role=m["role"], content=m["content"]) for m in messages],
        temperature=version.temperature,
        max_tokens=version.max_tokens,
        user=_str(data, "user"),
        stream=stream,
        include_usage=parse_include_usage(data, stream),
        extra_format="openai",
    )

