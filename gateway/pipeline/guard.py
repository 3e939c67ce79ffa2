"""Steps 3 and 6 — the guardrails: the input before any upstream call, the output before the caller sees it.

The policies that apply to the caller and alias (``guardrails.effective``, combined once per snapshot and
caller) decide. Step 3 scans every text a model will read — each message's text parts, the system prompt,
tool-call arguments, tool results, tool descriptions, embedding inputs — and masks (``<EMAIL_1>``), flags,
or blocks (403 ``policy_violation`` naming the policy and rule, never the text). Images pass and are recorded
as unscanned. Step 6 runs the output rules over the answer's text and tool-call arguments, restores the
placeholders when the policy says so, and checks a ``json_schema`` answer (one retry, then 502). Streams are
guarded piece by piece in ``guardrails.stream`` (see ``StreamOutput``).

Cost: with no policy applying, one dict read per call. With one, each detector's pass over the texts
(``bench/guard_detectors.py``); texts over ``_THREAD_ABOVE`` characters are scanned in a thread, so one huge
prompt does not stall every other call on this process.
"""

from __future__ import annotations

import asyncio

import jsonschema
import orjson

from gateway.errors import PolicyViolationError, UpstreamError
from gateway.normal import ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest, ImagePart, TextPart, ToolCallDelta
from gateway.pipeline.context import CallContext
from guardrails.effective import NOTHING, Effective, effective
from guardrails.guard import Blocked, Guard
from guardrails.stream import StreamGuard
from registry.policy_spec import PAYLOAD_FULL, PAYLOAD_OFF, PAYLOAD_REDACTED

_THREAD_ABOVE = 32_768  # characters of text in a request


def effective_for(ctx: CallContext) -> Effective:
    """The combined policies for this caller and alias, computed once per snapshot (then a dict read)."""
    snapshot = ctx.snapshot
    if not snapshot.policies:
        return NOTHING
    grant = ctx.grant
    key = (ctx.routing.name, grant.tenant_slug, grant.data_classification, grant.tenant_region)
    found = snapshot.guard_cache.get(key)
    if found is None:
        found = snapshot.guard_cache[key] = effective(snapshot.policies, alias=key[0], tenant=key[1],
                                                      classification=key[2], region=key[3])
    return found


def violation(blocked: Blocked) -> PolicyViolationError:
    return PolicyViolationError(str(blocked))


# --- step 3: the input -----------------------------------------------------------------------------

def _chat_texts(request: ChatRequest, guard: Guard, mask) -> int:
    """Apply ``mask`` to every text of the request a model will read, in place; returns the images seen."""
    images = 0
    for message in request.messages:
        content = message.content
        if isinstance(content, str):
            if content:
                message.content = mask(content)
        elif content:
            for part in content:
                if isinstance(part, TextPart):
                    if part.text:
                        part.text = mask(part.text)
                elif isinstance(part, ImagePart):
                    images += 1
        for call in message.tool_calls or ():
            if call.arguments:
                call.arguments = mask(call.arguments)
    for tool in request.tools or ():
        if tool.description:
            tool.description = mask(tool.description)
    return images


def _request_size(request: ChatRequest | EmbeddingRequest) -> int:
    if isinstance(request, EmbeddingRequest):
        return sum(len(t) for t in request.input if isinstance(t, str))
    size = 0
    for message in request.messages:
        content = message.content
        if isinstance(content, str):
            size += len(content)
        elif content:
            size += sum(len(p.text) for p in content if isinstance(p, TextPart))
        size += sum(len(c.arguments or "") for c in message.tool_calls or ())
    return size


def transcript(request: ChatRequest | EmbeddingRequest) -> str:
    """The request's text as payload logging keeps it: one line per message, ``role: text``."""
    if isinstance(request, EmbeddingRequest):
        return "\n".join(t for t in request.input if isinstance(t, str))
    lines = []
    for message in request.messages:
        text = message.text()
        for call in message.tool_calls or ():
            text += f" [{call.name}({call.arguments})]"
        lines.append(f"{message.role}: {text}")
    return "\n".join(lines)


def _scan(guard: Guard, request: ChatRequest | EmbeddingRequest) -> int:
    if isinstance(request, EmbeddingRequest):
        request.input = [guard.input_text(t) if isinstance(t, str) and t else t for t in request.input]
        return 0
    return _chat_texts(request, guard, guard.input_text)


async def guard_input(ctx: CallContext) -> None:
    """Step 3: mask, flag or block the request's texts by the applying policies; raises ``PolicyViolationError``."""
    rules = effective_for(ctx)
    if rules is NOTHING:
        return
    guard = ctx.guard = Guard(rules)
    request = ctx.request
    logging = rules.payload_logging
    original = transcript(request) if logging == PAYLOAD_FULL else None
    size = _request_size(request)
    try:
        if rules.input:
            images = await asyncio.to_thread(_scan, guard, request) if size > _THREAD_ABOVE else _scan(guard, request)
        else:
            images = _chat_texts(request, guard, lambda text: text) if isinstance(request, ChatRequest) else 0
    except Blocked as blocked:
        raise violation(blocked) from None
    if images:
        guard.note(policy="", version=0, stage="input", detector="image", label="", action="unscanned", count=images)
    if logging != PAYLOAD_OFF:
        messages = len(request.messages) if isinstance(request, ChatRequest) else len(request.input)
        ctx.payload_record = {"mode": logging, "messages": messages, "chars": size, "images": images,
                              "request": original if logging == PAYLOAD_FULL
                              else transcript(request) if logging == PAYLOAD_REDACTED else None,
                              "response": None}


def record_answer(ctx: CallContext, text: str) -> None:
    """Keep the answer's text in the payload record, as the tenant's payload logging says."""
    record = ctx.payload_record
    if record is None or record["mode"] not in (PAYLOAD_FULL, PAYLOAD_REDACTED):
        return
    record["response"] = text if record["mode"] == PAYLOAD_FULL else ctx.guard.redact(text)


# --- step 6: the output ----------------------------------------------------------------------------

class SchemaMismatch(Exception):
    """The answer is not JSON that validates against the caller's ``json_schema``."""


def _check_schema(request: ChatRequest, response: ChatResponse) -> None:
    fmt = request.response_format
    if fmt is None or fmt.type != "json_schema" or not fmt.json_schema or fmt.json_schema.get("schema") is None:
        return
    for choice in response.choices:
        if choice.message.tool_calls:
            continue  # a tool call is not the final answer
        try:
            value = orjson.loads(choice.message.text() or "")
        except orjson.JSONDecodeError:
            raise SchemaMismatch("the answer is not valid JSON") from None
        try:
            jsonschema.validate(value, fmt.json_schema["schema"])
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "the top level"
            raise SchemaMismatch(f"at {where}: {exc.message[:200]}") from None
        except jsonschema.SchemaError:
            return  # the caller's own schema is broken: the model was asked anyway; nothing to hold it to


def guard_answer(ctx: CallContext, response: ChatResponse) -> ChatResponse:
    """Step 6 on a whole answer: the output rules and un-masking over each choice's text and tool arguments."""
    guard = ctx.guard
    if guard is None:
        return response
    try:
        for choice in response.choices:
            message = choice.message
            if isinstance(message.content, str) and message.content:
                message.content = guard.output_text(message.content)
            elif isinstance(message.content, list):
                for part in message.content:
                    if isinstance(part, TextPart) and part.text:
                        part.text = guard.output_text(part.text)
            for call in message.tool_calls or ():
                if call.arguments:
                    call.arguments = guard.output_text(call.arguments)
    except Blocked as blocked:
        raise violation(blocked) from None
    record_answer(ctx, "\n".join(c.message.text() for c in response.choices))
    return response


async def chat_guarded(ctx: CallContext, request: ChatRequest, call) -> ChatResponse:
    """Steps 5 and 6 for a whole answer: call, check a requested JSON schema (asking once more), guard the output."""
    response = await call(ctx, request)
    try:
        _check_schema(request, response)
    except SchemaMismatch:
        first = response.usage
        response = await call(ctx, request)
        if first is not None and response.usage is not None:  # both answers were paid for
            response.usage.prompt_tokens += first.prompt_tokens
            response.usage.completion_tokens += first.completion_tokens
            response.usage.total_tokens += first.total_tokens
            ctx.usage = response.usage
        try:
            _check_schema(request, response)
        except SchemaMismatch as again:
            if ctx.guard is not None:
                ctx.guard.note(policy="", version=0, stage="output", detector="json_schema", label="",
                               action="invalid", count=2)
            raise UpstreamError(f"The model's answer did not match the requested JSON schema twice ({again}).",
                                code="invalid_json_schema_output") from None
    return guard_answer(ctx, response)


class StreamOutput:
    """Step 6 on a stream: one ``StreamGuard`` per choice's content and per tool call's arguments.

    ``chunk`` returns the chunk as it may be sent (its text possibly shorter, held back, or longer, released);
    ``flush`` the text still held for a choice once it ends. Both raise ``PolicyViolationError``.
    """

    __slots__ = ("ctx", "guard", "streams", "answer", "last")

    def __init__(self, ctx: CallContext) -> None:
        self.ctx = ctx
        self.guard = ctx.guard
        self.streams: dict[tuple[int, int], StreamGuard] = {}
        self.answer: list[str] | None = [] if ctx.payload_record is not None else None
        self.last: ChatChunk | None = None

    @classmethod
    def of(cls, ctx: CallContext) -> StreamOutput | None:
        guard = ctx.guard
        if guard is None or (not guard.effective.output and not (guard.effective.unmask_output and guard.originals)):
            return None
        return cls(ctx)

    def _stream(self, index: int, tool: int) -> StreamGuard:
        found = self.streams.get((index, tool))
        if found is None:
            found = self.streams[(index, tool)] = StreamGuard(self.guard)
        return found

    def chunk(self, chunk: ChatChunk) -> ChatChunk:
        self.last = chunk
        try:
            if chunk.content:
                chunk.content = self._stream(chunk.index, -1).feed(chunk.content) or None  # all held: no delta
            for call in chunk.tool_calls or ():
                if call.arguments:
                    call.arguments = self._stream(chunk.index, call.index).feed(call.arguments)
            if chunk.finish_reason is not None:  # this choice ends here: what it still holds goes with it
                self._finish(chunk)
        except Blocked as blocked:
            raise violation(blocked) from None
        if self.answer is not None and chunk.content:
            self.answer.append(chunk.content)
        return chunk

    def _finish(self, chunk: ChatChunk) -> None:
        for (index, tool), stream in self.streams.items():
            if index != chunk.index or not (rest := stream.finish()):
                continue
            if tool == -1:
                chunk.content = (chunk.content or "") + rest
            else:
                chunk.tool_calls = [*(chunk.tool_calls or ()), ToolCallDelta(index=tool, arguments=rest)]

    def flush(self) -> list[ChatChunk]:
        """The text still held when the upstream ended without a finish reason (rare), as chunks to send."""
        chunks = []
        try:
            for (index, tool), stream in self.streams.items():
                if tool == -1 and (rest := stream.finish()):
                    last = self.last
                    chunks.append(ChatChunk(id=last.id if last else "", model=last.model if last else "",
                                            created=last.created if last else 0, index=index, content=rest))
        except Blocked as blocked:
            raise violation(blocked) from None
        if self.answer is not None:
            self.answer.extend(c.content for c in chunks)
        return chunks

    def done(self) -> None:
        if self.answer is not None:
            record_answer(self.ctx, "".join(self.answer))

