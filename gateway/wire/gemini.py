"""Google Gemini's generateContent wire format (outbound only): normal form → request, answer → normal form."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.normal import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Choice,
    Message,
    Part,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
    new_id,
    now,
)

FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}


def _part(part: Part) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"text": part.text}
    inline = part.inline_data()
    if inline is not None:
        return {"inlineData": {"mimeType": inline[0], "data": inline[1]}}
    mime = mimetypes.guess_type(part.url.split("?", 1)[0])[0] or "image/jpeg"
    return {"fileData": {"mimeType": mime, "fileUri": part.url}}


def _parts(content: str | list[Part] | None) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    return [_part(p) for p in content if not (isinstance(p, TextPart) and not p.text)]


def _function_response(message: Message, names: dict[str, str]) -> dict[str, Any]:
    text = message.text()
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = None
    response = value if isinstance(value, dict) else {"content": text}
    name = names.get(message.tool_call_id or "") or message.name or "function"
    out: dict[str, Any] = {"name": name, "response": response}
    if message.tool_call_id and not message.tool_call_id.startswith("call_gemini_"):
        out["id"] = message.tool_call_id
    return {"functionResponse": out}


def request_from_chat(req: ChatRequest) -> dict[str, Any]:
    """The generateContent body for `req` (system prompt as `systemInstruction`, tools as declarations)."""
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for message in req.messages:
        if message.role in ("system", "developer"):
            system.append(message.text())
            continue
        if message.role == "tool":
            role, parts = "user", [_function_response(message, names)]
        elif message.role == "assistant":
            role, parts = "model", _parts(message.content)
            for call in message.tool_calls or ():
                names[call.id] = call.name
                parts.append({"functionCall": {"name": call.name, "args": call.arguments_object()}})
        else:
            role, parts = "user", _parts(message.content)
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})

    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
    config: dict[str, Any] = {}
    if req.temperature is not None:
        config["temperature"] = req.temperature
    if req.top_p is not None:
        config["topP"] = req.top_p
    if req.max_tokens is not None:
        config["maxOutputTokens"] = req.max_tokens
    if req.stop:
        config["stopSequences"] = req.stop
    if req.n != 1:
        config["candidateCount"] = req.n
    if req.seed is not None:
        config["seed"] = req.seed
    if req.presence_penalty is not None:
        config["presencePenalty"] = req.presence_penalty
    if req.frequency_penalty is not None:
        config["frequencyPenalty"] = req.frequency_penalty
    rf = req.response_format
    if rf is not None and rf.type != "text":
        config["responseMimeType"] = "application/json"
        if rf.type == "json_schema" and rf.json_schema and rf.json_schema.get("schema") is not None:
            config["responseJsonSchema"] = rf.json_schema["schema"]
    if config:
        body["generationConfig"] = config
    if req.tools:
        declarations = []
        for tool in req.tools:
            declaration: dict[str, Any] = {"name": tool.name, "description": tool.description or ""}
            if tool.parameters:
                declaration["parametersJsonSchema"] = tool.parameters
            declarations.append(declaration)
        body["tools"] = [{"functionDeclarations": declarations}]
        if req.tool_choice is not None:
            mode = {"auto": "AUTO", "none": "NONE", "required": "ANY", "function": "ANY"}[req.tool_choice.mode]
            calling: dict[str, Any] = {"mode": mode}
            if req.tool_choice.mode == "function":
                calling["allowedFunctionNames"] = [req.tool_choice.name]
            body["toolConfig"] = {"functionCallingConfig": calling}
    return body


def usage_from_gemini(meta: Any) -> Usage | None:
    if not isinstance(meta, dict) or meta.get("promptTokenCount") is None:
        return None
    prompt = int(meta.get("promptTokenCount") or 0)
    completion = int(meta.get("candidatesTokenCount") or 0) + int(meta.get("thoughtsTokenCount") or 0)
    return Usage(prompt, completion, int(meta.get("totalTokenCount") or prompt + completion), "provider")


def _call_of(fc: dict[str, Any]) -> ToolCall:
    return ToolCall(
        fc.get("id") or new_id("call_gemini_"), fc.get("name", ""), orjson.dumps(fc.get("args") or {}).decode()
    )


def _finish(reason: str | None, has_calls: bool) -> str | None:
    if reason is None:
        return None
    if has_calls and reason == "STOP":
        return "tool_calls"
    return FINISH.get(reason, "stop")


def chat_response_from_gemini(data: dict[str, Any], model: str) -> ChatResponse:
    """A generateContent answer in normal form; a blocked prompt is one empty `content_filter` choice."""
    choices = []
    for i, candidate in enumerate(data.get("candidates") or ()):
        texts: list[str] = []
        calls: list[ToolCall] = []
        for part in (candidate.get("content") or {}).get("parts") or ():
            if "functionCall" in part:
                calls.append(_call_of(part["functionCall"]))
            elif "text" in part and not part.get("thought"):
                texts.append(part["text"])
        message = Message("assistant", "".join(texts) if texts or not calls else None, tool_calls=calls or None)
        finish = _finish(candidate.get("finishReason") or "STOP", bool(calls))
        choices.append(Choice(candidate.get("index", i), message, finish))  # type: ignore[arg-type]
    if not choices:
        choices.append(Choice(0, Message("assistant", ""), "content_filter"))
    return ChatResponse(
        id=data.get("responseId") or new_id(),
        model=data.get("modelVersion") or model,
        choices=choices,
        usage=usage_from_gemini(data.get("usageMetadata")),
        created=now(),
    )


@dataclass(slots=True)
class StreamReader:
    """Turns streamGenerateContent's SSE payloads (partial GenerateContentResponses) into chunks."""

    model: str
    id: str = field(default_factory=new_id)
    created: int = field(default_factory=now)
    usage: Usage | None = None
    _started: set[int] = field(default_factory=set)
    _tools: dict[int, int] = field(default_factory=dict)

    def feed(self, data: dict[str, Any]) -> list[ChatChunk]:
        self.model = data.get("modelVersion") or self.model
        usage = usage_from_gemini(data.get("usageMetadata"))
        if usage is not None:
            self.usage = usage
        out: list[ChatChunk] = []
        for i, candidate in enumerate(data.get("candidates") or ()):
            index = candidate.get("index", i)
            role = None
            if index not in self._started:
                self._started.add(index)
                role = "assistant"
            text_pieces: list[str] = []
            calls: list[ToolCallDelta] = []
            for part in (candidate.get("content") or {}).get("parts") or ():
                if "functionCall" in part:
                    call = _call_of(part["functionCall"])
                    tool_index = self._tools.get(index, 0)
                    self._tools[index] = tool_index + 1
                    calls.append(ToolCallDelta(tool_index, call.id, call.name, call.arguments))
                elif "text" in part and not part.get("thought"):
                    text_pieces.append(part["text"])
            if role or text_pieces or calls:
                out.append(
                    ChatChunk(
                        self.id,
                        self.model,
                        self.created,
                        index,
                        role,
                        "".join(text_pieces) if text_pieces or role else None,
                        calls or None,
                    )
                )
            reason = candidate.get("finishReason")
            if reason:
                out.append(
                    ChatChunk(
                        self.id, self.model, self.created, index, finish_reason=_finish(reason, index in self._tools)
                    )
                )  # type: ignore[arg-type]
        return out


def embed_request(texts: list[str], model: str, dimensions: int | None) -> dict[str, Any]:
    """A batchEmbedContents body for `texts`."""
    requests = []
    for text in texts:
        item: dict[str, Any] = {"model": f"models/{model}", "content": {"parts": [{"text": text}]}}
        if dimensions:
            item["outputDimensionality"] = dimensions
        requests.append(item)
    return {"requests": requests}
