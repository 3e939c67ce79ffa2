"""OpenAI's legacy text completions (``POST /v1/completions``), served by chat aliases.

Older tools still send a ``prompt`` instead of ``messages``. ``parse_completion_request()`` turns the body
into a ``ChatRequest`` with the prompt as one user message, so the call goes through the same governed
pipeline as a chat call (limits, guardrails, routing, metering); ``render_completion()`` and
``render_completion_chunk()`` (``gateway.pipeline.call.CompletionFormat``) write the chat answer back as ``text_completion`` objects and events.

What a chat model cannot honestly do is refused with a 400 naming the parameter rather than ignored:
``suffix`` (insertion), ``echo``, ``logprobs``, ``best_of`` above ``n`` (ranking candidates), token-id
prompts (they are ids of one tokenizer, and the alias's endpoints may use another) and more than one prompt
in a list (each would be a call of its own, with its own limits and guardrail verdicts).
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.errors import BadRequestError
from gateway.normal import ChatChunk, ChatRequest, ChatResponse, FinishReason, Message, now
from gateway.wire.openai import (
    INT64,
    MAX_OUTPUT_TOKENS,
    _bool,
    _int,
    _number,
    _parse_stop,
    _str,
    invalid_type,
    invalid_value,
    load_json_object,
    missing,
    parse_include_usage,
    usage_dict,
)

DEFAULT_MAX_TOKENS = 16  # OpenAI's default for this endpoint (chat has none)

_FIELDS = frozenset(
    (
        "model",
        "prompt",
        "suffix",
        "echo",
        "best_of",
        "logprobs",
        "max_tokens",
        "temperature",
        "top_p",
        "n",
        "stop",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "user",
        "stream",
        "stream_options",
    )
)


def _unsupported(param: str, why: str) -> BadRequestError:
    return BadRequestError(f"'{param}' is not supported on this gateway's /v1/completions: {why}",
                           code="unsupported_parameter", param=param)


def _prompt(data: dict[str, Any]) -> str:
    raw = data.get("prompt")
    if raw is None:
        raise missing("prompt")
    if isinstance(raw, list):
        if not raw:
            raise invalid_value("prompt", "expected a string or an array with one string, but got an empty array.")
        if not all(isinstance(p, str) for p in raw):
            raise _unsupported("prompt", "token-id prompts are not accepted; send the prompt as text.")
        if len(raw) > 1:
            raise _unsupported("prompt", f"send one prompt per request (got {len(raw)}); ask for several "
                                         "completions of one prompt with 'n'.")
        raw = raw[0]
    if not isinstance(raw, str):
        raise invalid_type("prompt", "a string or an array with one string", raw)
    if not raw:
        raise invalid_value("prompt", "expected a non-empty string.")
    return raw


def _refuse_what_chat_cannot_do(data: dict[str, Any], n: int) -> None:
    if data.get("suffix") not in (None, ""):
        raise _unsupported("suffix", "chat models do not insert text before a suffix.")
    if _bool(data, "echo"):
        raise _unsupported("echo", "the prompt is not repeated in the answer.")
    if data.get("logprobs") is not None:
        raise _unsupported("logprobs", "token log probabilities are not returned here.")
    best_of = _int(data, "best_of", 1, 20)
    if best_of is not None and best_of < n:
        raise invalid_value("best_of", f"expected a value at least 'n' ({n}), but got {best_of} instead.")
    if best_of is not None and best_of > n:
        raise _unsupported("best_of", "candidates are not ranked; leave it out or set it equal to 'n'.")


def parse_completion_request(body: bytes | dict[str, Any]) -> ChatRequest:
    """Validate a legacy completions body into a ``ChatRequest`` of one user message (400 naming the param)."""
    data = body if isinstance(body, dict) else load_json_object(body)
    model = _str(data, "model", required=True)
    if not model:
        raise invalid_value("model", "expected a non-empty string.")
    prompt = _prompt(data)
    n = _int(data, "n", 1, 128) or 1
    _refuse_what_chat_cannot_do(data, n)
    stream = _bool(data, "stream") or False
    max_tokens = _int(data, "max_tokens", 1, MAX_OUTPUT_TOKENS)
    return ChatRequest(
        model=model,  # type: ignore[arg-type]
        messages=[Message(role="user", content=prompt)],
        temperature=_number(data, "temperature", 0, 2),
        top_p=_number(data, "top_p", 0, 1),
        max_tokens=DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens,
        stop=_parse_stop(data.get("stop")),
        n=n,
        seed=_int(data, "seed", *INT64),
        presence_penalty=_number(data, "presence_penalty", -2, 2),
        frequency_penalty=_number(data, "frequency_penalty", -2, 2),
        user=_str(data, "user"),
        stream=stream,
        include_usage=parse_include_usage(data, stream),
        # Fields of the chat API sent here too (logit_bias) reach OpenAI-shaped upstreams, as on chat.
        extra={k: v for k, v in data.items() if k not in _FIELDS},
        extra_format="openai",
    )


# --- outbound -------------------------------------------------------------------------------------------


def completion_id(chat_id: str) -> str:
    """The answer's id in this API's style (``cmpl-``), kept recognisable as the upstream's chat id."""
    return "cmpl-" + chat_id.removeprefix("chatcmpl-")


def _finish_reason(reason: FinishReason | None) -> str | None:
    # No tools are offered on this endpoint, so a tool call cannot be asked for; were one reported, the text
    # stopped there.
    return "stop" if reason == "tool_calls" else reason


def completion_dict(resp: ChatResponse) -> dict[str, Any]:
    choices = [
        {"text": choice.message.text(), "index": choice.index, "logprobs": None,
         "finish_reason": _finish_reason(choice.finish_reason) or "stop"}
        for choice in resp.choices
    ]
    out: dict[str, Any] = {
        "id": completion_id(resp.id),
        "object": "text_completion",
        "created": resp.created or now(),
        "model": resp.model,
        "choices": choices,
        "system_fingerprint": resp.system_fingerprint,
    }
    if resp.usage is not None:
        out["usage"] = usage_dict(resp.usage)
    return out


def render_completion(resp: ChatResponse) -> bytes:
    """A ``text_completion`` object as OpenAI returns it."""
    return orjson.dumps(completion_dict(resp))


def render_completion_chunk(chunk: ChatChunk, *, include_usage: bool = False) -> bytes:
    """The SSE event(s) for one chunk: ``data: {text_completion}\\n\\n`` (``finish_reason`` null until the last).

    As on chat, with ``include_usage`` every event carries ``"usage": null`` and the chunk with usage adds a
    final event with ``"choices": []``. Returns b"" when the chunk carries no text and no end (a role-only
    opening, say).
    """
    out = b""
    created = chunk.created or now()
    head = {"id": completion_id(chunk.id), "object": "text_completion", "created": created, "model": chunk.model}
    if chunk.content or chunk.finish_reason:
        body: dict[str, Any] = {
            **head,
            "choices": [{"text": chunk.content or "", "index": chunk.index, "logprobs": None,
                         "finish_reason": _finish_reason(chunk.finish_reason)}],
        }
        if include_usage:
            body["usage"] = None
        out = b"data: " + orjson.dumps(body) + b"\n\n"
    if include_usage and chunk.usage is not None:
        out += b"data: " + orjson.dumps({**head, "choices": [], "usage": usage_dict(chunk.usage)}) + b"\n\n"
    return out
