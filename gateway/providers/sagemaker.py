"""Amazon SageMaker real-time endpoints through sagemaker-runtime InvokeEndpoint, with a per-endpoint mapping.

A SageMaker endpoint speaks whatever JSON its container speaks, so `config` maps it:

- `endpoint_name` (default `upstream_model`), optional `inference_component`;
- `request_template`: the JSON body, where a string that is exactly a placeholder is replaced by the value
  (`"{{prompt}}"`, `"{{messages}}"` (OpenAI-shaped list), `"{{max_tokens}}"`, `"{{temperature}}"`,
  `"{{top_p}}"`, `"{{stop}}"`, `"{{model}}"`), and keys whose placeholder has no value are dropped.
  Default: Hugging Face TGI's `{"inputs": "{{prompt}}", "parameters": {"max_new_tokens": ..., ...}}`;
- `response_text_path` (default `0.generated_text`), optional `prompt_tokens_path`,
  `completion_tokens_path`, `finish_reason_path`: dotted paths into the answer (`choices.0.message.content`);
- `prompt_format`: how messages become `{{prompt}}`: `plain` (`role: text` lines, default) or `chatml`;
- `embedding_request_template` (default `{"inputs": "{{input}}"}`, `{{input}}` the list of texts) and
  `embedding_path` (default: the answer itself, a list of vectors).

Streaming calls the endpoint once and streams its answer as one chunk (InvokeEndpointWithResponseStream's
framing differs per container, so it is not mapped here).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from gateway.errors import UpstreamError
from gateway.normal import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Choice,
    EmbeddingRequest,
    EmbeddingResponse,
    Message,
    Usage,
    new_id,
    now,
)
from gateway.providers import aws
from gateway.providers.base import Adapter, UpstreamTarget
from gateway.tokens import count_inputs, decode_tokens
from gateway.usage import ensure_usage
from gateway.wire.openai_upstream import message_dict

SERVICE = "sagemaker-runtime"
DEFAULT_REQUEST_TEMPLATE: dict[str, Any] = {
    "inputs": "{{prompt}}",
    "parameters": {
        "max_new_tokens": "{{max_tokens}}",
        "temperature": "{{temperature}}",
        "top_p": "{{top_p}}",
        "stop": "{{stop}}",
        "return_full_text": False,
    },
}
_MISSING = object()


def render_prompt(req: ChatRequest, style: str = "plain") -> str:
    """The conversation as one prompt string for text-completion containers."""
    if style == "chatml":
        turns = [f"<|im_start|>{m.role}\n{m.text()}<|im_end|>" for m in req.messages]
        return "\n".join(turns) + "\n<|im_start|>assistant\n"
    return "\n".join(f"{m.role}: {m.text()}" for m in req.messages) + "\nassistant:"


def fill_template(template: Any, values: dict[str, Any]) -> Any:
    """The template with each exact `"{{name}}"` string replaced by `values[name]`; unset ones dropped."""
    if isinstance(template, str):
        if template.startswith("{{") and template.endswith("}}"):
            value = values.get(template[2:-2].strip())
            return _MISSING if value is None else value
        return template
    if isinstance(template, dict):
        out = {}
        for key, item in template.items():
            value = fill_template(item, values)
            if value is not _MISSING:
                out[key] = value
        return out
    if isinstance(template, list):
        return [v for v in (fill_template(item, values) for item in template) if v is not _MISSING]
    return template


def at_path(data: Any, path: str) -> Any:
    """The value at a dotted path (`choices.0.message.content`; `$.` and `[0]` accepted); None if absent."""
    path = path.removeprefix("$").lstrip(".").replace("[", ".").replace("]", "")
    for key in filter(None, path.split(".")):
        if isinstance(data, list) and key.lstrip("-").isdigit():
            index = int(key)
            data = data[index] if -len(data) <= index < len(data) else None
        elif isinstance(data, dict):
            data = data.get(key)
        else:
            return None
        if data is None:
            return None
    return data


async def _invoke(target: UpstreamTarget, body: Any) -> Any:
    config = target.config
    client = await aws.aclient_for(SERVICE, target)
    kwargs: dict[str, Any] = {
        "EndpointName": config.get("endpoint_name") or target.upstream_model,
        "Body": orjson.dumps(body),
        "ContentType": config.get("content_type") or "application/json",
        "Accept": "application/json",
    }
    if config.get("inference_component"):
        kwargs["InferenceComponentName"] = config["inference_component"]
    response = await aws.run_blocking(target, client.invoke_endpoint, **kwargs)
    raw = await aws.run_blocking(target, response["Body"].read)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UpstreamError(
            f"{target.provider_kind} error: the endpoint answered with invalid JSON", provider=target.provider_kind
        ) from exc


def _int_at(data: Any, path: str | None) -> int | None:
    value = at_path(data, path) if path else None
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


async def chat(req: ChatRequest, target: UpstreamTarget) -> ChatResponse:
    """InvokeEndpoint with the mapped request; the answer's text and token counts read by path."""
    config = target.config
    model = target.upstream_model or req.model
    values = {
        "prompt": render_prompt(req, config.get("prompt_format") or "plain"),
        "messages": [message_dict(m) for m in req.messages],
        "max_tokens": req.max_tokens,
        "temperature": req.temperature,
        "top_p": req.top_p,
        "stop": req.stop,
        "model": model,
    }
    data = await _invoke(target, fill_template(config.get("request_template") or DEFAULT_REQUEST_TEMPLATE, values))
    text = at_path(data, config.get("response_text_path") or "0.generated_text")
    if not isinstance(text, str):
        raise UpstreamError(
            f"{target.provider_kind} error: the endpoint's answer has no text at the configured path",
            code="upstream_misconfigured",
            provider=target.provider_kind,
        )
    finish = at_path(data, config["finish_reason_path"]) if config.get("finish_reason_path") else None
    finish = (
        {"length": "length", "max_tokens": "length", "eos_token": "stop"}.get(finish, "stop")
        if isinstance(finish, str)
        else "stop"
    )
    resp = ChatResponse(new_id(), model, [Choice(0, Message("assistant", text), finish)], created=now())  # type: ignore[arg-type]
    prompt = _int_at(data, config.get("prompt_tokens_path"))
    completion = _int_at(data, config.get("completion_tokens_path"))
    if prompt is not None and completion is not None:
        resp.usage = Usage.of(prompt, completion, "provider")
    return ensure_usage(resp, req, model)


async def chat_stream(req: ChatRequest, target: UpstreamTarget) -> AsyncIterator[ChatChunk]:
    """One InvokeEndpoint call, streamed as role, text, finish and usage chunks."""
    resp = await chat(req, target)
    choice = resp.choices[0]
    yield ChatChunk(resp.id, resp.model, resp.created, role="assistant", content="")
    if choice.message.text():
        yield ChatChunk(resp.id, resp.model, resp.created, content=choice.message.text())
    yield ChatChunk(resp.id, resp.model, resp.created, finish_reason=choice.finish_reason)
    yield ChatChunk(resp.id, resp.model, resp.created, usage=resp.usage)


async def embed(req: EmbeddingRequest, target: UpstreamTarget) -> EmbeddingResponse:
    """InvokeEndpoint with the embedding mapping; vectors read at `embedding_path`."""
    config = target.config
    model = target.upstream_model or req.model
    texts = [x if isinstance(x, str) else decode_tokens(x, model) for x in req.input]
    body = fill_template(config.get("embedding_request_template") or {"inputs": "{{input}}"}, {"input": texts})
    data = await _invoke(target, body)
    vectors = at_path(data, config["embedding_path"]) if config.get("embedding_path") else data
    if not isinstance(vectors, list) or len(vectors) != len(texts):
        raise UpstreamError(
            f"{target.provider_kind} error: the endpoint's answer has no vectors at the configured path",
            code="upstream_misconfigured",
            provider=target.provider_kind,
        )
    # TEI-style containers answer [[...]] per input; some wrap each vector once more ([[[...]]]).
    vectors = [v[0] if v and isinstance(v[0], list) else v for v in vectors]
    return EmbeddingResponse(model, vectors, count_inputs(texts, model))


ADAPTER = Adapter("sagemaker", chat, chat_stream, embed)
