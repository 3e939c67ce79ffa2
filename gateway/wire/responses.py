"""OpenAI's Responses API wire format (``/v1/responses``), both directions, over the gateway's normal form.

Inbound: ``parse_responses_request()`` validates a body (400 naming the parameter, OpenAI's wording) into a
``ResponsesRequest``; ``to_chat()`` turns it, with the conversation a ``previous_response_id`` carries, into
the ``ChatRequest`` every provider adapter serves. Built-in tools (web search, file search, computer use, ...)
are refused by name: the gateway runs function tools only.

Outbound: ``response_object()`` renders a ``ChatResponse`` as a ``response`` object; ``ResponsesStream``
renders a stream of ``ChatChunk``s as the typed server-sent events, in the order OpenAI sends them
(``response.created``, ``response.in_progress``, per output item ``output_item.added`` … ``.done``, one
terminal event: ``response.completed``, ``response.incomplete`` or ``response.failed``; no ``[DONE]``).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.errors import BadRequestError, GatewayError
from gateway.normal import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    ImagePart,
    Message,
    Part,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
    Usage,
)
from gateway.wire.openai import (
    MAX_OUTPUT_TOKENS,
    invalid_type,
    invalid_value,
    load_json_object,
    missing,
)

# Tools OpenAI runs on its side; the gateway has nothing to run them with, so it says so instead of ignoring them.
BUILT_IN_TOOLS = frozenset((
    "web_search", "web_search_preview", "web_search_preview_2025_03_11", "web_search_2025_08_26", "file_search",
    "computer_use_preview", "computer_use", "code_interpreter", "image_generation", "mcp", "local_shell", "shell",
    "apply_patch", "custom", "tool_search",
))
# Accepted and answered, but with no effect here (the gateway keeps no prompt cache and has no service tiers).
_ACCEPTED_WITHOUT_EFFECT = frozenset((
    "include", "truncation", "service_tier", "prompt_cache_key", "prompt_cache_retention", "safety_identifier",
    "stream_options", "top_logprobs", "max_tool_calls",
))
_FIELDS = frozenset((
    "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "text", "max_output_tokens",
    "temperature", "top_p", "metadata", "user", "reasoning", "store", "previous_response_id", "stream",
    "background", "conversation", "prompt",
)) | _ACCEPTED_WITHOUT_EFFECT
_INPUT_ROLES = frozenset(("user", "assistant", "system", "developer"))
_METADATA_KEYS, _METADATA_KEY_CHARS, _METADATA_VALUE_CHARS = 16, 64, 512
_REASONING_EFFORTS = frozenset(("none", "minimal", "low", "medium", "high", "xhigh"))


def new_item_id(prefix: str) -> str:
    """An id in OpenAI's style for a response (``resp_``), message (``msg_``) or function call item (``fc_``)."""
    return prefix + secrets.token_hex(24)


@dataclass(slots=True)
class ResponsesRequest:
    """A validated ``/v1/responses`` body. ``input`` is normalised to a list of items, each with an ``id``."""

    model: str
    input: list[dict[str, Any]]
    instructions: str | None = None
    tools: list[Tool] | None = None
    tools_echo: list[dict[str, Any]] = field(default_factory=list)  # as the response object repeats them
    tool_choice: ToolChoice | None = None
    tool_choice_echo: str | dict[str, Any] = "auto"
    parallel_tool_calls: bool | None = None
    text_format: ResponseFormat | None = None
    text_echo: dict[str, Any] = field(default_factory=lambda: {"format": {"type": "text"}})
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    reasoning: dict[str, Any] | None = None
    store: bool = True
    previous_response_id: str | None = None
    stream: bool = False
    truncation: str = "disabled"


# --- inbound -------------------------------------------------------------------------------------------


def _str(data: dict, key: str, param: str, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise missing(param)
        return None
    if not isinstance(value, str):
        raise invalid_type(param, "a string", value)
    return value


def _content_parts(value: Any, param: str, role: str) -> str | list[Part]:
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise invalid_type(param, "a string or an array of content parts", value)
    parts: list[Part] = []
    for j, raw in enumerate(value):
        p = f"{param}[{j}]"
        if not isinstance(raw, dict):
            raise invalid_type(p, "an object", raw)
        kind = raw.get("type")
        if kind in ("input_text", "output_text", "text", "summary_text"):
            parts.append(TextPart(_str(raw, "text", f"{p}.text", required=True)))  # type: ignore[arg-type]
        elif kind == "refusal":
            parts.append(TextPart(_str(raw, "refusal", f"{p}.refusal") or ""))
        elif kind == "input_image":
            if raw.get("file_id") is not None:
                raise invalid_value(f"{p}.file_id", "images by file id are not supported here; send 'image_url' "
                                                    "(an https URL or a data URL).")
            url = _str(raw, "image_url", f"{p}.image_url", required=True)
            parts.append(ImagePart(url, _str(raw, "detail", f"{p}.detail")))  # type: ignore[arg-type]
        elif kind == "input_file" or kind == "input_audio":
            raise invalid_value(f"{p}.type", f"content part type '{kind}' is not supported by the gateway; "
                                             "send 'input_text' or 'input_image'.")
        elif kind is None:
            raise missing(f"{p}.type")
        else:
            raise invalid_value(f"{p}.type", f"'{kind}' is not a content part type the gateway accepts for the "
                                             f"'{role}' role.")
    return parts


def _item(raw: Any, i: int) -> dict[str, Any] | None:
    """One input item, validated and normalised (an ``id`` given, easy messages in the long form)."""
    param = f"input[{i}]"
    if not isinstance(raw, dict):
        raise invalid_type(param, "an object", raw)
    kind = raw.get("type", "message" if "role" in raw else None)
    if kind == "message":
        role = raw.get("role")
        if not isinstance(role, str) or role not in _INPUT_ROLES:
            raise invalid_value(f"{param}.role", f"'{role}' is not one of 'user', 'assistant', 'system', "
                                                 "'developer'.")
        if "content" not in raw:
            raise missing(f"{param}.content")
        content = raw["content"]
        parts = _content_parts(content, f"{param}.content", role)
        if isinstance(parts, str):
            content = [{"type": "output_text" if role == "assistant" else "input_text", "text": parts}]
        item = {"id": raw.get("id") if isinstance(raw.get("id"), str) else new_item_id("msg_"), "type": "message",
                "role": role, "content": content}
        if role == "assistant":
            item["status"] = "completed"
        return item
    if kind == "function_call":
        return {"id": raw.get("id") if isinstance(raw.get("id"), str) else new_item_id("fc_"),
                "type": "function_call", "status": "completed",
                "call_id": _str(raw, "call_id", f"{param}.call_id", required=True),
                "name": _str(raw, "name", f"{param}.name", required=True),
                "arguments": _str(raw, "arguments", f"{param}.arguments") or "{}"}
    if kind == "function_call_output":
        output = raw.get("output")
        if output is None:
            raise missing(f"{param}.output")
        if not isinstance(output, str):
            _content_parts(output, f"{param}.output", "tool")  # validated; kept as given
        return {"id": raw.get("id") if isinstance(raw.get("id"), str) else new_item_id("fco_"),
                "type": "function_call_output", "status": "completed",
                "call_id": _str(raw, "call_id", f"{param}.call_id", required=True), "output": output}
    if kind == "reasoning":
        return None  # a reasoning model's own notes: nothing another provider could read
    if kind is None:
        raise missing(f"{param}.type")
    if kind == "item_reference":
        raise invalid_value(f"{param}.type", "item references are not supported; send the item itself, or "
                                             "continue with 'previous_response_id'.")
    raise invalid_value(f"{param}.type", f"input item type '{kind}' is not supported by the gateway (it serves "
                                         "messages, function calls and their outputs).")


def _parse_input(value: Any) -> list[dict[str, Any]]:
    if value is None:
        raise missing("input")
    if isinstance(value, str):
        return [{"id": new_item_id("msg_"), "type": "message", "role": "user",
                 "content": [{"type": "input_text", "text": value}]}]
    if not isinstance(value, list):
        raise invalid_type("input", "a string or an array of input items", value)
    return [item for i, raw in enumerate(value) if (item := _item(raw, i)) is not None]


def _parse_tools(value: Any) -> tuple[list[Tool] | None, list[dict[str, Any]]]:
    if value is None:
        return None, []
    if not isinstance(value, list):
        raise invalid_type("tools", "an array", value)
    tools, echo = [], []
    for i, raw in enumerate(value):
        p = f"tools[{i}]"
        if not isinstance(raw, dict):
            raise invalid_type(p, "an object", raw)
        kind = raw.get("type")
        if isinstance(kind, str) and (kind in BUILT_IN_TOOLS or kind.startswith(("web_search", "computer_use"))):
            raise BadRequestError(
                f"The built-in tool '{kind}' is not supported by the gateway: it runs function tools only. Remove "
                f"'{p}', or define the capability as a function tool your application runs.",
                code="unsupported_tool", param=f"{p}.type")
        if kind != "function":
            raise invalid_value(f"{p}.type", f"tool type '{kind}' is not supported; use 'function'.")
        parameters = raw.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise invalid_type(f"{p}.parameters", "an object", parameters)
        strict = raw.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise invalid_type(f"{p}.strict", "a boolean", strict)
        name = _str(raw, "name", f"{p}.name", required=True)
        description = _str(raw, "description", f"{p}.description")
        tools.append(Tool(name, description, parameters, strict))  # type: ignore[arg-type]
        echo.append({"type": "function", "name": name, "description": description, "parameters": parameters,
                     "strict": True if strict is None else strict})
    return tools or None, echo


def _parse_tool_choice(value: Any) -> tuple[ToolChoice | None, str | dict[str, Any]]:
    if value is None:
        return None, "auto"
    if isinstance(value, str):
        if value not in ("auto", "none", "required"):
            raise invalid_value("tool_choice", f"'{value}' is not one of 'auto', 'none', 'required'.")
        return ToolChoice(value), value  # type: ignore[arg-type]
    if not isinstance(value, dict):
        raise invalid_type("tool_choice", "a string or an object", value)
    kind = value.get("type")
    if kind == "function":
        name = _str(value, "name", "tool_choice.name", required=True)
        return ToolChoice("function", name), {"type": "function", "name": name}
    if isinstance(kind, str) and (kind in BUILT_IN_TOOLS or kind == "allowed_tools"):
        raise BadRequestError(f"tool_choice '{kind}' is not supported by the gateway: it runs function tools only.",
                              code="unsupported_tool", param="tool_choice.type")
    raise invalid_value("tool_choice.type", f"'{kind}' is not supported; use 'function'.")


def _parse_text(value: Any) -> tuple[ResponseFormat | None, dict[str, Any]]:
    if value is None:
        return None, {"format": {"type": "text"}}
    if not isinstance(value, dict):
        raise invalid_type("text", "an object", value)
    fmt = value.get("format")
    echo: dict[str, Any] = {}
    if isinstance(value.get("verbosity"), str):
        echo["verbosity"] = value["verbosity"]
    if fmt is None:
        return None, {"format": {"type": "text"}, **echo}
    if not isinstance(fmt, dict):
        raise invalid_type("text.format", "an object", fmt)
    kind = fmt.get("type")
    if kind == "text":
        return None, {"format": {"type": "text"}, **echo}
    if kind == "json_object":
        return ResponseFormat("json_object"), {"format": {"type": "json_object"}, **echo}
    if kind == "json_schema":
        name = _str(fmt, "name", "text.format.name", required=True)
        schema = fmt.get("schema")
        if schema is None:
            raise missing("text.format.schema")
        if not isinstance(schema, dict):
            raise invalid_type("text.format.schema", "an object", schema)
        strict = fmt.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise invalid_type("text.format.strict", "a boolean", strict)
        spec = {"name": name, "schema": schema, "strict": strict,
                "description": _str(fmt, "description", "text.format.description")}
        return ResponseFormat("json_schema", spec), {"format": {"type": "json_schema", **spec}, **echo}
    raise invalid_value("text.format.type", f"'{kind}' is not one of 'text', 'json_object', 'json_schema'.")


def _parse_metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_type("metadata", "an object", value)
    if len(value) > _METADATA_KEYS:
        raise invalid_value("metadata", f"at most {_METADATA_KEYS} keys are allowed, but got {len(value)}.")
    for key, item in value.items():
        if len(key) > _METADATA_KEY_CHARS:
            raise invalid_value("metadata", f"keys are at most {_METADATA_KEY_CHARS} characters long.")
        if not isinstance(item, str):
            raise invalid_type(f"metadata.{key[:64]}", "a string", item)
        if len(item) > _METADATA_VALUE_CHARS:
            raise invalid_value(f"metadata.{key[:64]}", f"values are at most {_METADATA_VALUE_CHARS} characters.")
    return value


def _parse_reasoning(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid_type("reasoning", "an object", value)
    effort = value.get("effort")
    if effort is not None and (not isinstance(effort, str) or effort not in _REASONING_EFFORTS):
        raise invalid_value("reasoning.effort", f"'{effort}' is not one of {', '.join(sorted(_REASONING_EFFORTS))}.")
    return {"effort": effort, "summary": value.get("summary") if isinstance(value.get("summary"), str) else None}


def _number(data: dict, key: str, low: float, high: float) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid_type(key, "a decimal", value)
    if not low <= value <= high:
        raise invalid_value(key, f"expected a value between {low:g} and {high:g}, but got {value} instead.")
    return float(value)


def _bool(data: dict, key: str, default: bool | None) -> bool | None:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid_type(key, "a boolean", value)
    return value


def parse_responses_request(body: bytes | dict[str, Any]) -> ResponsesRequest:
    """Validate a ``/v1/responses`` body into a ``ResponsesRequest`` (400 naming the param otherwise)."""
    data = body if isinstance(body, dict) else load_json_object(body)
    unknown = next((k for k in data if k not in _FIELDS), None)
    if unknown is not None:
        raise BadRequestError(f"Unknown parameter: '{unknown}'.", code="unknown_parameter", param=unknown)
    if data.get("background"):
        raise BadRequestError("Background responses are not supported by the gateway; call without "
                              "'background' (the Batch API is the way to run work later).",
                              code="unsupported_parameter", param="background")
    for unsupported in ("conversation", "prompt"):
        if data.get(unsupported) is not None:
            raise BadRequestError(f"'{unsupported}' is not supported by the gateway; continue a conversation with "
                                  "'previous_response_id'.", code="unsupported_parameter", param=unsupported)
    model = _str(data, "model", "model", required=True)
    if not model:
        raise invalid_value("model", "expected a non-empty string.")
    max_output = data.get("max_output_tokens")
    if max_output is not None and (isinstance(max_output, bool) or not isinstance(max_output, int)):
        raise invalid_type("max_output_tokens", "an integer", max_output)
    if max_output is not None and not 16 <= max_output <= MAX_OUTPUT_TOKENS:
        raise invalid_value("max_output_tokens", f"expected a value between 16 and {MAX_OUTPUT_TOKENS}, but got "
                                                 f"{max_output} instead.")
    tools, tools_echo = _parse_tools(data.get("tools"))
    tool_choice, tool_choice_echo = _parse_tool_choice(data.get("tool_choice"))
    text_format, text_echo = _parse_text(data.get("text"))
    truncation = data.get("truncation") or "disabled"
    if truncation not in ("auto", "disabled"):
        raise invalid_value("truncation", f"'{truncation}' is not one of 'auto', 'disabled'.")
    include = data.get("include")
    if include is not None and not (isinstance(include, list) and all(isinstance(x, str) for x in include)):
        raise invalid_type("include", "an array of strings", include)
    previous = _str(data, "previous_response_id", "previous_response_id")
    return ResponsesRequest(
        model=model,  # type: ignore[arg-type]
        input=_parse_input(data.get("input")),
        instructions=_str(data, "instructions", "instructions"),
        tools=tools,
        tools_echo=tools_echo,
        tool_choice=tool_choice,
        tool_choice_echo=tool_choice_echo,
        parallel_tool_calls=_bool(data, "parallel_tool_calls", None),
        text_format=text_format,
        text_echo=text_echo,
        max_output_tokens=max_output,
        temperature=_number(data, "temperature", 0, 2),
        top_p=_number(data, "top_p", 0, 1),
        metadata=_parse_metadata(data.get("metadata")),
        user=_str(data, "user", "user"),
        reasoning=_parse_reasoning(data.get("reasoning")),
        store=bool(_bool(data, "store", True)),
        previous_response_id=previous or None,
        stream=bool(_bool(data, "stream", False)),
        truncation=truncation,
    )


def _output_text(output: Any) -> str | list[Part]:
    return output if isinstance(output, str) else _content_parts(output, "output", "tool")


def messages_of(items: list[dict[str, Any]]) -> list[Message]:
    """Responses items (a stored conversation, then the new input) as chat messages; function calls that
    follow each other become one assistant turn, as chat completions expects."""
    messages: list[Message] = []
    for item in items:
        kind = item["type"]
        if kind == "message":
            role = item["role"]
            content = _content_parts(item["content"], "input", role)
            if role == "assistant" and messages and messages[-1].role == "assistant" and messages[-1].tool_calls:
                messages.append(Message("assistant", content))
            else:
                messages.append(Message(role, content))
        elif kind == "function_call":
            call = ToolCall(item["call_id"], item["name"], item["arguments"])
            last = messages[-1] if messages else None
            if last is not None and last.role == "assistant" and (last.tool_calls or not last.text()):
                last.tool_calls = [*(last.tool_calls or ()), call]
            else:
                messages.append(Message("assistant", None, tool_calls=[call]))
        elif kind == "function_call_output":
            messages.append(Message("tool", _output_text(item["output"]), tool_call_id=item["call_id"]))
    return messages


def to_chat(req: ResponsesRequest, history: list[dict[str, Any]]) -> ChatRequest:
    """The request in normal form: the instructions as the system prompt, then the earlier turns, then the input.

    ``reasoning.effort`` reaches OpenAI-shaped upstreams as ``reasoning_effort``; other providers do not take it.
    """
    messages = ([Message("system", req.instructions)] if req.instructions else []) + messages_of(history + req.input)
    if not any(m.role != "system" for m in messages):
        raise invalid_value("input", "at least one input item is required.")
    extra: dict[str, Any] = {}
    if req.reasoning and req.reasoning.get("effort"):
        extra["reasoning_effort"] = req.reasoning["effort"]
    return ChatRequest(
        model=req.model, messages=messages, temperature=req.temperature, top_p=req.top_p,
        max_tokens=req.max_output_tokens, tools=req.tools, tool_choice=req.tool_choice,
        parallel_tool_calls=req.parallel_tool_calls, response_format=req.text_format, user=req.user,
        stream=req.stream, include_usage=True, max_tokens_field="max_tokens", extra=extra, extra_format="openai")


# --- outbound ------------------------------------------------------------------------------------------


def usage_dict(usage: Usage | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    return {"input_tokens": usage.prompt_tokens, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": usage.completion_tokens, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": usage.total_tokens}


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}] if status == "completed" else []
    return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": content}


def function_call_item(item_id: str, call: ToolCall, status: str = "completed") -> dict[str, Any]:
    return {"id": item_id, "type": "function_call", "status": status, "call_id": call.id, "name": call.name,
            "arguments": call.arguments if status == "completed" else ""}


@dataclass(slots=True)
class Envelope:
    """What a response object says besides its output: the request's settings, echoed as OpenAI echoes them."""

    id: str
    alias: str
    request: ResponsesRequest
    created_at: int = field(default_factory=lambda: int(time.time()))

    def response(self, *, status: str, output: list[dict[str, Any]], usage: Usage | None = None,
                 incomplete: str | None = None, error: dict[str, Any] | None = None) -> dict[str, Any]:
        req = self.request
        return {
            "id": self.id, "object": "response", "created_at": self.created_at, "status": status,
            "completed_at": int(time.time()) if status == "completed" else None,
            "background": False, "error": error,
            "incomplete_details": {"reason": incomplete} if incomplete else None,
            "instructions": req.instructions, "max_output_tokens": req.max_output_tokens,
            "max_tool_calls": None, "model": self.alias, "output": output,
            "parallel_tool_calls": True if req.parallel_tool_calls is None else req.parallel_tool_calls,
            "previous_response_id": req.previous_response_id,
            "reasoning": req.reasoning or {"effort": None, "summary": None},
            "service_tier": "default", "store": req.store,
            "temperature": 1.0 if req.temperature is None else req.temperature, "text": req.text_echo,
            "tool_choice": req.tool_choice_echo, "tools": req.tools_echo,
            "top_p": 1.0 if req.top_p is None else req.top_p, "truncation": req.truncation,
            "usage": usage_dict(usage), "user": req.user, "metadata": req.metadata,
        }


def _incomplete_reason(finish_reason: str | None) -> str | None:
    return {"length": "max_output_tokens", "content_filter": "content_filter"}.get(finish_reason or "")


def response_object(envelope: Envelope, resp: ChatResponse) -> dict[str, Any]:
    """A whole answer (its first choice: the Responses API has no ``n``) as a ``response`` object."""
    output: list[dict[str, Any]] = []
    usage = resp.usage
    if resp.choices:
        choice = resp.choices[0]
        text = choice.message.text()
        if text or not choice.message.tool_calls:
            output.append(message_item(new_item_id("msg_"), text))
        for call in choice.message.tool_calls or ():
            output.append(function_call_item(new_item_id("fc_"), call))
        reason = _incomplete_reason(choice.finish_reason)
    else:
        reason = None
    return envelope.response(status="incomplete" if reason else "completed", output=output, usage=usage,
                             incomplete=reason)


def _sse(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


# OpenAI's codes for a failed response; a gateway status maps to the nearest.
_FAILED_CODES = {429: "rate_limit_exceeded", 403: "invalid_prompt", 400: "invalid_prompt"}


@dataclass(slots=True)
class ResponsesStream:
    """Renders normal-form chunks (choice 0) as the Responses API's typed events.

    ``opening()`` once (created, in_progress), ``feed(chunk)`` per chunk, then ``finish()`` (the open items
    done, then the one terminal event with the whole response) or ``fail(error)``. ``final`` holds the
    finished response object, for the store.
    """

    envelope: Envelope
    _seq: int = 0
    _output: list[dict[str, Any]] = field(default_factory=list)
    _text_item: int | None = None  # position in _output of the message being written
    _text: list[str] = field(default_factory=list)
    _calls: dict[int, int] = field(default_factory=dict)  # open tool calls: tool-call index → position in _output
    _late: dict[int, int] = field(default_factory=dict)  # closed ones, the same
    _finish_reason: str | None = None
    _usage: Usage | None = None
    final: dict[str, Any] | None = None

    def _event(self, kind: str, data: dict[str, Any]) -> bytes:
        out = _sse(kind, {"type": kind, "sequence_number": self._seq, **data})
        self._seq += 1
        return out

    def opening(self) -> bytes:
        created = self.envelope.response(status="in_progress", output=[])
        return (self._event("response.created", {"response": created})
                + self._event("response.in_progress", {"response": created}))

    def _add(self, item: dict[str, Any]) -> tuple[int, bytes]:
        self._output.append(item)
        index = len(self._output) - 1
        return index, self._event("response.output_item.added", {"output_index": index, "item": item})

    def _close_text(self) -> bytes:
        if self._text_item is None:
            return b""
        index, text = self._text_item, "".join(self._text)
        self._text = []
        item = self._output[index]
        part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
        item["content"], item["status"] = [part], "completed"
        self._text_item = None
        common = {"item_id": item["id"], "output_index": index, "content_index": 0}
        return (self._event("response.output_text.done", {**common, "text": text, "logprobs": []})
                + self._event("response.content_part.done", {**common, "part": part})
                + self._event("response.output_item.done", {"output_index": index, "item": item}))

    def _close_calls(self) -> bytes:
        out = b""
        for tool_index in sorted(self._calls, key=self._calls.get):
            out += self._close_call(tool_index)
        return out

    def _close_call(self, tool_index: int) -> bytes:
        index = self._late[tool_index] = self._calls.pop(tool_index)
        item = self._output[index]
        item["status"] = "completed"
        return (self._event("response.function_call_arguments.done",
                            {"item_id": item["id"], "output_index": index, "arguments": item["arguments"]})
                + self._event("response.output_item.done", {"output_index": index, "item": item}))

    def feed(self, chunk: ChatChunk) -> bytes:
        if chunk.usage is not None:
            self._usage = chunk.usage
        if chunk.index != 0:
            return b""
        out = b""
        if chunk.content:
            if self._text_item is None:
                out += self._close_calls()
                index, added = self._add(message_item(new_item_id("msg_"), "", status="in_progress"))
                self._text_item = index
                part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
                out += added + self._event("response.content_part.added", {
                    "item_id": self._output[index]["id"], "output_index": index, "content_index": 0, "part": part})
            self._text.append(chunk.content)
            out += self._event("response.output_text.delta", {
                "item_id": self._output[self._text_item]["id"], "output_index": self._text_item,
                "content_index": 0, "delta": chunk.content, "logprobs": []})
        for tc in chunk.tool_calls or ():
            if tc.id is not None and tc.index not in self._calls:
                out += self._close_text() + self._close_calls()  # items follow each other, as OpenAI sends them
                item = function_call_item(new_item_id("fc_"), ToolCall(tc.id, tc.name or ""), status="in_progress")
                index, added = self._add(item)
                self._calls[tc.index] = index
                out += added
            if tc.arguments and tc.index not in self._calls and tc.index in self._late:
                # A call already closed by the next item (providers rarely interleave): the final response has it whole.
                self._output[self._late[tc.index]]["arguments"] += tc.arguments
            elif tc.arguments and tc.index in self._calls:
                index = self._calls[tc.index]
                self._output[index]["arguments"] += tc.arguments
                out += self._event("response.function_call_arguments.delta", {
                    "item_id": self._output[index]["id"], "output_index": index, "delta": tc.arguments})
        if chunk.finish_reason:
            self._finish_reason = chunk.finish_reason
        return out

    def finish(self) -> bytes:
        out = self._close_text() + self._close_calls()
        reason = _incomplete_reason(self._finish_reason)
        self.final = self.envelope.response(status="incomplete" if reason else "completed", output=self._output,
                                            usage=self._usage, incomplete=reason)
        kind = "response.incomplete" if reason else "response.completed"
        return out + self._event(kind, {"response": self.final})

    def fail(self, error: GatewayError) -> bytes:
        """The one terminal event of a stream that broke after it began: ``response.failed`` with the error."""
        code = _FAILED_CODES.get(error.status, "server_error")
        failed = self.envelope.response(status="failed", output=self._output, usage=self._usage,
                                        error={"code": code, "message": error.message})
        return self._event("response.failed", {"response": failed})


def render_deleted(response_id: str) -> bytes:
    return orjson.dumps({"id": response_id, "object": "response.deleted", "deleted": True})


def render_input_items(items: list[dict[str, Any]], *, has_more: bool) -> bytes:
    return orjson.dumps({"object": "list", "data": items, "first_id": items[0]["id"] if items else None,
                         "last_id": items[-1]["id"] if items else None, "has_more": has_more})
