"""OpenAI's wire format, both directions.

Inbound (the gateway's own `/v1/chat/completions` and `/v1/embeddings`): `parse_chat_request()` and
`parse_embedding_request()` validate a request body into the normal form, raising a `BadRequestError`
that names the offending parameter; `render_*` produce the JSON and SSE bytes exactly as OpenAI sends them.

Unknown request fields are kept in `ChatRequest.extra` and passed through to OpenAI-shaped upstreams
(`gateway.wire.openai_upstream` builds their requests and reads their answers).
"""

from __future__ import annotations

import base64
import sys
from array import array
from typing import Any

import orjson

from gateway.errors import BadRequestError, GatewayError
from gateway.normal import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    ImagePart,
    Message,
    Part,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
    Usage,
    now,
)

SSE_DONE = b"data: [DONE]\n\n"

# Wire-level ceilings for numeric fields, whatever the alias: a value past them is never meaningful and
# some (``dimensions``) size what the gateway allocates. Routing narrows them to what the alias's
# endpoints support (their context window, their embedding size).
MAX_OUTPUT_TOKENS = 1_000_000
MAX_DIMENSIONS = 16_384
MAX_TOP_LOGPROBS = 20
INT64 = (-(2**63), 2**63 - 1)

_ROLES = frozenset(("system", "developer", "user", "assistant", "tool"))
_CHAT_FIELDS = frozenset(
    (
        "model",
        "messages",
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "n",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "user",
        "stream",
        "stream_options",
    )
)
_EMBEDDING_FIELDS = frozenset(("model", "input", "encoding_format", "dimensions", "user"))


# --- validation helpers ---------------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def invalid_type(param: str, expected: str, value: Any) -> BadRequestError:
    return BadRequestError(
        f"Invalid type for '{param}': expected {expected}, but got {_type_name(value)} instead.",
        code="invalid_type",
        param=param,
    )


def missing(param: str) -> BadRequestError:
    return BadRequestError(f"Missing required parameter: '{param}'.", code="missing_required_parameter", param=param)


def invalid_value(param: str, message: str) -> BadRequestError:
    return BadRequestError(f"Invalid '{param}': {message}", code="invalid_value", param=param)


def load_json_object(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object; 400 for invalid JSON, invalid UTF-8 or a non-object."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequestError(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
            "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
            code="invalid_json",
        ) from exc
    if not isinstance(data, dict):
        raise BadRequestError(
            f"Invalid request body: expected a JSON object, but got {_type_name(data)} instead.", code="invalid_json"
        )
    return data


def _str(data: dict[str, Any], key: str, param: str | None = None, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise missing(param or key)
        return None
    if not isinstance(value, str):
        raise invalid_type(param or key, "a string", value)
    return value


def _number(data: dict[str, Any], key: str, low: float, high: float) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid_type(key, "a decimal", value)
    if value < low or value > high:
        raise invalid_value(key, f"expected a value between {low:g} and {high:g}, but got {value} instead.")
    return float(value)


def _int(data: dict[str, Any], key: str, low: int, high: int | None = None) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_type(key, "an integer", value)
    if value < low or (high is not None and value > high):
        bound = f"at least {low}" if high is None else f"between {low} and {high}"
        raise invalid_value(key, f"expected a value {bound}, but got {value} instead.")
    return value


def _bool(data: dict[str, Any], key: str, param: str | None = None) -> bool | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise invalid_type(param or key, "a boolean", value)
    return value


# --- inbound: chat completions ---------------------------------------------------------------------------


def _parse_part(part: Any, param: str) -> Part | None:
    if not isinstance(part, dict):
        raise invalid_type(param, "an object", part)
    kind = part.get("type")
    if kind == "text":
        text = _str(part, "text", f"{param}.text", required=True)
        return TextPart(text)  # type: ignore[arg-type]
    if kind == "image_url":
        image = part.get("image_url")
        if isinstance(image, str):
            return ImagePart(image)
        if not isinstance(image, dict):
            raise invalid_type(f"{param}.image_url", "an object", image)
        url = _str(image, "url", f"{param}.image_url.url", required=True)
        return ImagePart(url, _str(image, "detail", f"{param}.image_url.detail"))  # type: ignore[arg-type]
    if kind == "refusal":
        return None
    if kind is None:
        raise missing(f"{param}.type")
    raise invalid_value(
        f"{param}.type", f"content part type '{kind}' is not supported here; use 'text' or 'image_url'."
    )


def _parse_content(value: Any, param: str) -> str | list[Part] | None:
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise invalid_type(param, "a string or an array of content parts", value)
    parts = []
    for j, raw in enumerate(value):
        part = _parse_part(raw, f"{param}[{j}]")
        if part is not None:
            parts.append(part)
    return parts


def _parse_tool_calls(value: Any, param: str) -> list[ToolCall] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise invalid_type(param, "an array", value)
    calls = []
    for k, raw in enumerate(value):
        p = f"{param}[{k}]"
        if not isinstance(raw, dict):
            raise invalid_type(p, "an object", raw)
        fn = raw.get("function")
        if not isinstance(fn, dict):
            raise invalid_type(f"{p}.function", "an object", fn) if fn is not None else missing(f"{p}.function")
        calls.append(
            ToolCall(
                id=_str(raw, "id", f"{p}.id", required=True),  # type: ignore[arg-type]
                name=_str(fn, "name", f"{p}.function.name", required=True),  # type: ignore[arg-type]
                arguments=_str(fn, "arguments", f"{p}.function.arguments") or "{}",
            )
        )
    return calls or None


def _parse_message(raw: Any, i: int) -> Message:
    param = f"messages[{i}]"
    if not isinstance(raw, dict):
        raise invalid_type(param, "an object", raw)
    role = raw.get("role")
    if role is None:
        raise missing(f"{param}.role")
    if not isinstance(role, str) or role not in _ROLES:
        raise invalid_value(
            f"{param}.role",
            f"'{role}' is not one of 'system', 'developer', 'user', 'assistant', 'tool'.",
        )
    if "content" not in raw and role != "assistant":
        raise missing(f"{param}.content")
    content = _parse_content(raw.get("content"), f"{param}.content")
    if content is None and role != "assistant":
        raise invalid_type(f"{param}.content", "a string or an array of content parts", None)
    message = Message(role=role, content=content, name=_str(raw, "name", f"{param}.name"))
    if role == "assistant":
        message.tool_calls = _parse_tool_calls(raw.get("tool_calls"), f"{param}.tool_calls")
    elif role == "tool":
        message.tool_call_id = _str(raw, "tool_call_id", f"{param}.tool_call_id", required=True)
    return message


def _parse_tools(value: Any) -> list[Tool] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise invalid_type("tools", "an array", value)
    tools = []
    for i, raw in enumerate(value):
        p = f"tools[{i}]"
        if not isinstance(raw, dict):
            raise invalid_type(p, "an object", raw)
        if raw.get("type", "function") != "function":
            raise invalid_value(f"{p}.type", f"tool type '{raw.get('type')}' is not supported; use 'function'.")
        fn = raw.get("function")
        if not isinstance(fn, dict):
            raise invalid_type(f"{p}.function", "an object", fn) if fn is not None else missing(f"{p}.function")
        parameters = fn.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise invalid_type(f"{p}.function.parameters", "an object", parameters)
        tools.append(
            Tool(
                name=_str(fn, "name", f"{p}.function.name", required=True),  # type: ignore[arg-type]
                description=_str(fn, "description", f"{p}.function.description"),
                parameters=parameters,
                strict=_bool(fn, "strict", f"{p}.function.strict"),
            )
        )
    return tools or None


def _parse_tool_choice(value: Any) -> ToolChoice | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value not in ("auto", "none", "required"):
            raise invalid_value("tool_choice", f"'{value}' is not one of 'auto', 'none', 'required'.")
        return ToolChoice(value)  # type: ignore[arg-type]
    if isinstance(value, dict):
        fn = value.get("function")
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            return ToolChoice("function", fn["name"])
        raise missing("tool_choice.function.name")
    raise invalid_type("tool_choice", "a string or an object", value)


def _parse_response_format(value: Any) -> ResponseFormat | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid_type("response_format", "an object", value)
    kind = value.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        raise invalid_value("response_format.type", f"'{kind}' is not one of 'text', 'json_object', 'json_schema'.")
    schema = value.get("json_schema")
    if kind == "json_schema":
        if not isinstance(schema, dict):
            raise (
                invalid_type("response_format.json_schema", "an object", schema)
                if schema is not None
                else missing("response_format.json_schema")
            )
        return ResponseFormat("json_schema", schema)
    return ResponseFormat(kind)


def _parse_stop(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return value or None
    raise invalid_type("stop", "a string or an array of strings", value)


def parse_include_usage(data: dict[str, Any], stream: bool) -> bool:
    """``stream_options.include_usage``: only allowed on a stream (as OpenAI says)."""
    options = data.get("stream_options")
    if options is None:
        return False
    if not stream:
        raise invalid_value("stream_options", "'stream_options' is only allowed when 'stream' is enabled.")
    if not isinstance(options, dict):
        raise invalid_type("stream_options", "an object", options)
    return _bool(options, "include_usage", "stream_options.include_usage") or False


def parse_chat_request(body: bytes | dict[str, Any]) -> ChatRequest:
    """Validate a chat-completions request body into a `ChatRequest` (400 naming the param otherwise)."""
    data = body if isinstance(body, dict) else load_json_object(body)
    model = _str(data, "model", required=True)
    if not model:
        raise invalid_value("model", "expected a non-empty string.")
    raw_messages = data.get("messages")
    if raw_messages is None:
        raise missing("messages")
    if not isinstance(raw_messages, list):
        raise invalid_type("messages", "an array", raw_messages)
    if not raw_messages:
        raise BadRequestError(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            code="empty_array",
            param="messages",
        )
    messages = [_parse_message(raw, i) for i, raw in enumerate(raw_messages)]

    stream = _bool(data, "stream") or False
    include_usage = parse_include_usage(data, stream)

    max_tokens_field = "max_tokens"
    max_tokens = _int(data, "max_tokens", 1, MAX_OUTPUT_TOKENS)
    if data.get("max_completion_tokens") is not None:
        max_tokens = _int(data, "max_completion_tokens", 1, MAX_OUTPUT_TOKENS)
        max_tokens_field = "max_completion_tokens"
    # Passed through to OpenAI-shaped upstreams as they are, but checked here like the others.
    logprobs = _bool(data, "logprobs")
    top_logprobs = _int(data, "top_logprobs", 0, MAX_TOP_LOGPROBS)
    if top_logprobs is not None and not logprobs:
        raise invalid_value("top_logprobs", "'logprobs' must be true when 'top_logprobs' is set.")

    return ChatRequest(
        model=model,  # type: ignore[arg-type]
        messages=messages,
        temperature=_number(data, "temperature", 0, 2),
        top_p=_number(data, "top_p", 0, 1),
        max_tokens=max_tokens,
        stop=_parse_stop(data.get("stop")),
        n=_int(data, "n", 1, 128) or 1,
        seed=_int(data, "seed", *INT64),
        presence_penalty=_number(data, "presence_penalty", -2, 2),
        frequency_penalty=_number(data, "frequency_penalty", -2, 2),
        tools=_parse_tools(data.get("tools")),
        tool_choice=_parse_tool_choice(data.get("tool_choice")),
        parallel_tool_calls=_bool(data, "parallel_tool_calls"),
        response_format=_parse_response_format(data.get("response_format")),
        user=_str(data, "user"),
        stream=stream,
        include_usage=include_usage,
        max_tokens_field=max_tokens_field,  # type: ignore[arg-type]
        extra={k: v for k, v in data.items() if k not in _CHAT_FIELDS},
        extra_format="openai",
    )


# --- inbound: embeddings ---------------------------------------------------------------------------------


def parse_embedding_request(body: bytes | dict[str, Any]) -> EmbeddingRequest:
    """Validate an embeddings request body: `input` a string, strings, token ids or lists of token ids."""
    data = body if isinstance(body, dict) else load_json_object(body)
    model = _str(data, "model", required=True)
    if not model:
        raise invalid_value("model", "expected a non-empty string.")
    raw = data.get("input")
    if raw is None:
        raise missing("input")
    inputs: list[Any]
    if isinstance(raw, str):
        inputs = [raw]
    elif isinstance(raw, list) and raw:
        if all(isinstance(x, str) for x in raw):
            inputs = raw
        elif all(isinstance(x, int) and not isinstance(x, bool) for x in raw):
            inputs = [raw]
        elif all(
            isinstance(x, list) and x and all(isinstance(t, int) and not isinstance(t, bool) for t in x) for x in raw
        ):
            inputs = raw
        else:
            raise invalid_type("input", "a string, an array of strings, or an array of token arrays", raw)
    elif isinstance(raw, list):
        raise BadRequestError(
            "Invalid 'input': empty array. Expected an array with minimum length 1.", code="empty_array", param="input"
        )
    else:
        raise invalid_type("input", "a string or an array", raw)
    if any(isinstance(x, str) and not x for x in inputs):
        raise invalid_value("input", "input strings must not be empty.")
    encoding_format = _str(data, "encoding_format") or "float"
    if encoding_format not in ("float", "base64"):
        raise invalid_value("encoding_format", f"'{encoding_format}' is not one of 'float', 'base64'.")
    return EmbeddingRequest(
        model=model,  # type: ignore[arg-type]
        input=inputs,
        encoding_format=encoding_format,  # type: ignore[arg-type]
        dimensions=_int(data, "dimensions", 1, MAX_DIMENSIONS),
        user=_str(data, "user"),
        extra={k: v for k, v in data.items() if k not in _EMBEDDING_FIELDS},
    )


# --- outbound: rendering the gateway's answers -------------------------------------------------------------


def usage_dict(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def tool_call_dict(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def _content_of(message: Message) -> str | None:
    content = message.content
    if content is None or isinstance(content, str):
        return content
    return message.text()


def chat_response_dict(resp: ChatResponse) -> dict[str, Any]:
    choices = []
    for choice in resp.choices:
        message: dict[str, Any] = {"role": "assistant", "content": _content_of(choice.message), "refusal": None}
        if choice.message.tool_calls:
            message["tool_calls"] = [tool_call_dict(c) for c in choice.message.tool_calls]
        choices.append(
            {"index": choice.index, "message": message, "logprobs": None, "finish_reason": choice.finish_reason}
        )
    out: dict[str, Any] = {
        "id": resp.id,
        "object": "chat.completion",
        "created": resp.created or now(),
        "model": resp.model,
        "choices": choices,
    }
    if resp.usage is not None:
        out["usage"] = usage_dict(resp.usage)
    out["system_fingerprint"] = resp.system_fingerprint
    return out


def render_chat_response(resp: ChatResponse) -> bytes:
    """A `chat.completion` object as OpenAI returns it."""
    return orjson.dumps(chat_response_dict(resp))


def _delta_dict(chunk: ChatChunk) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    if chunk.role is not None:
        delta["role"] = chunk.role
    if chunk.content is not None:
        delta["content"] = chunk.content
    if chunk.tool_calls:
        calls = []
        for tc in chunk.tool_calls:
            if tc.id is not None:
                calls.append(
                    {
                        "index": tc.index,
                        "id": tc.id,
                        "type": "function",
                        "function": {"name": tc.name or "", "arguments": tc.arguments},
                    }
                )
            else:
                calls.append({"index": tc.index, "function": {"arguments": tc.arguments}})
        delta["tool_calls"] = calls
    return delta


def render_chat_chunk(chunk: ChatChunk, *, include_usage: bool = False) -> bytes:
    """The SSE event(s) for one chunk: `data: {chat.completion.chunk}\\n\\n`.

    With `include_usage`, every chunk carries `"usage": null` and a chunk with usage adds OpenAI's final
    usage event (`"choices": []`); without it, usage is not sent. Returns b"" when there is nothing to send.
    """
    out = b""
    has_delta = chunk.role is not None or chunk.content is not None or chunk.tool_calls or chunk.finish_reason
    created = chunk.created or now()
    if has_delta:
        body: dict[str, Any] = {
            "id": chunk.id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": chunk.model,
            "system_fingerprint": None,
            "choices": [
                {
                    "index": chunk.index,
                    "delta": _delta_dict(chunk),
                    "logprobs": None,
                    "finish_reason": chunk.finish_reason,
                }
            ],
        }
        if include_usage:
            body["usage"] = None
        out = b"data: " + orjson.dumps(body) + b"\n\n"
    if include_usage and chunk.usage is not None:
        final = {
            "id": chunk.id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": chunk.model,
            "system_fingerprint": None,
            "choices": [],
            "usage": usage_dict(chunk.usage),
        }
        out += b"data: " + orjson.dumps(final) + b"\n\n"
    return out


def render_stream_error(err: GatewayError) -> bytes:
    """An error that happens after streaming began: OpenAI sends it as a `data:` event (then the stream ends)."""
    return b"data: " + err.to_openai_json() + b"\n\n"


def _vector_base64(vector: list[float]) -> str:
    packed = array("f", vector)
    if sys.byteorder != "little":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def render_embeddings(resp: EmbeddingResponse, encoding_format: str = "float") -> bytes:
    """An embeddings `list` object; `base64` packs each vector as little-endian float32, as OpenAI does."""
    if encoding_format == "base64":
        data = [{"object": "embedding", "index": i, "embedding": _vector_base64(v)} for i, v in enumerate(resp.data)]
    else:
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(resp.data)]
    return orjson.dumps(
        {
            "object": "list",
            "data": data,
            "model": resp.model,
            "usage": {"prompt_tokens": resp.usage.prompt_tokens, "total_tokens": resp.usage.total_tokens},
        }
    )
