"""Step 5 — call the provider through its adapter, trying the routes step 4 chose until one answers.

The attempt loop (``_attempt``) walks ``ctx.candidates``: a transient failure (connect error, timeout,
429, 5xx) of one endpoint is retried on it after a jittered exponential backoff (or its ``Retry-After``),
up to ``GATEWAY_ROUTE_ATTEMPTS`` tries, then the next route; all within one deadline per call (the first
route's total timeout) and ``GATEWAY_MAX_ATTEMPTS`` tries in all. An error that is the caller's (a 400
from the provider) is not retried anywhere. Each try is recorded (``ctx.attempts``), feeds the endpoint's
circuit breaker and latency window, and holds one of the endpoint's in-flight slots while it runs. The
answer says which endpoint served it (``x-switchboard-endpoint``) and after how many tries
(``x-switchboard-attempts``).

For a stream, the first chunk is pulled inside the loop, before the response starts, so a failure
before any output falls back invisibly or becomes a proper status code. Once a chunk has been sent,
nothing is retried: an error ends the stream with an error event in the caller's wire format, never a
clean end after a truncated answer. When the caller goes away the stream is closed, which closes the
upstream request.

Each function records how the call ended on the context (``ctx.ended``); a stream ends itself in
``finish`` (before its last bytes are sent, or when it is cut short), every other call ends in
``finish`` when the pipeline returns or raises.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Protocol

from django.conf import settings

from gateway import tokens
from gateway.errors import GatewayError, UpstreamError, UpstreamTimeoutError, UpstreamUnavailableError
from gateway.normal import ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse
from gateway.pipeline.context import CLIENT_CLOSED, Attempt, CallContext
from gateway.pipeline.finish import finish, status_of
from gateway.pipeline.guard import StreamOutput
from gateway.providers import adapter_for
from gateway.providers.base import UpstreamTarget
from gateway.routing import inflight
from gateway.routing.health import health
from gateway.routing.order import endpoint_label
from gateway.usage import StreamUsage, completion_text, ensure_usage
from gateway.wire import anthropic as anthropic_wire
from gateway.wire import completions as completions_wire
from gateway.wire import openai as openai_wire


def _transient(error: GatewayError) -> bool:
    """A failure of the endpoint that may pass: transport, timeout, 429, 5xx (and what may help on another)."""
    if not isinstance(error, UpstreamError) or not error.retryable:
        return False
    status = error.upstream_status
    return status is None or status == 429 or status >= 500 or isinstance(error, UpstreamTimeoutError)


def retry_after_seconds(error: GatewayError) -> float | None:
    """The upstream's ``Retry-After`` (seconds or an HTTP date), if it sent one."""
    value = next((v for k, v in error.headers.items() if k.lower() == "retry-after"), None)
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


def _pause_before_retry(error: GatewayError, tries: int, *, last_route: bool) -> float | None:
    """How long to wait before trying the same endpoint again, or None to move on to the next route."""
    if tries >= settings.GATEWAY_ROUTE_ATTEMPTS or not _transient(error) or isinstance(error, UpstreamTimeoutError):
        return None  # a timed-out endpoint already cost its timeout: another is the better bet
    after = retry_after_seconds(error)
    if after is not None:
        # Never sooner than the upstream asked; wait for it only when no other route could answer instead.
        return after if last_route and after <= settings.GATEWAY_RETRY_AFTER_MAX_SECONDS else None
    cap = min(settings.GATEWAY_RETRY_BACKOFF_MAX_SECONDS, settings.GATEWAY_RETRY_BACKOFF_SECONDS * 2 ** (tries - 1))
    return random.uniform(0, cap)  # full jitter: callers failing together do not retry together


def _cap_for(ctx: CallContext, cap: int | None) -> int | None:
    """A batch line may take an endpoint's slot only while fewer than ``BATCH_ENDPOINT_SHARE`` of its
    ``max_in_flight`` are taken (live calls count too), so a big batch never starves live traffic."""
    if cap is None or ctx.batch_line is None:
        return cap
    return max(1, int(cap * settings.BATCH_ENDPOINT_SHARE))


def _say_attempts(ctx: CallContext) -> None:
    ctx.response_headers["x-switchboard-attempts"] = str(len(ctx.attempts))


async def _attempt[T](ctx: CallContext, once: Callable[[UpstreamTarget], Awaitable[T]], *,
                   keep_slot: bool = False) -> tuple[T, inflight.Slot]:
    """Try the candidates until one answers; the answer and its in-flight slot (released unless ``keep_slot``).

    Raises the last failure when none answers. ``ctx.route``/``ctx.target`` end on the endpoint that served.
    """
    routes = ctx.candidates
    if not routes:
        _say_attempts(ctx)
        raise UpstreamUnavailableError(f"No endpoint is available for '{ctx.routing.name}' right now.",
                                       headers={"retry-after": "1"})
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ctx.snapshot.targets[routes[0].endpoint_id].total_timeout
    last_error: GatewayError | None = None
    for position, route in enumerate(routes):
        tries = 0
        while len(ctx.attempts) < settings.GATEWAY_MAX_ATTEMPTS and (remaining := deadline - loop.time()) > 0:
            if not health.admits(route.endpoint_id):
                break  # its circuit opened since the routes were chosen (or by this try), or its probe is taken
            slot = await inflight.acquire(route.endpoint_id, _cap_for(ctx, route.max_in_flight),
                                          wait=min(settings.GATEWAY_INFLIGHT_WAIT_SECONDS, remaining))
            if slot is None:
                ctx.attempts.append(Attempt(route.endpoint_id, 503, "endpoint_at_capacity", 0.0))
                last_error = UpstreamUnavailableError(
                    f"'{ctx.routing.name}' is at capacity right now; retry shortly.", headers={"retry-after": "1"})
                break
            target = ctx.snapshot.targets[route.endpoint_id]
            remaining = deadline - loop.time()
            if remaining < target.total_timeout:  # a retry gets what is left of the call's deadline
                target = dataclasses.replace(target, total_timeout=max(remaining, 0.001))
            ctx.route, ctx.target = route, target
            began = loop.time()
            try:
                result = await once(target)
            except GatewayError as error:
                await slot.release()
                ms = round((loop.time() - began) * 1000, 3)
                ctx.attempts.append(Attempt(route.endpoint_id, error.status, error.code or type(error).__name__, ms))
                if not error.retryable:
                    health.record(route.endpoint_id, ok=True)  # it answered: a healthy endpoint (and a probe's verdict)
                    _say_attempts(ctx)
                    raise  # the caller's own fault: no endpoint would answer otherwise
                health.record(route.endpoint_id, ok=False)
                last_error = error
                tries += 1
                pause = _pause_before_retry(error, tries, last_route=position == len(routes) - 1)
                if pause is None or loop.time() + pause >= deadline:
                    break
                await asyncio.sleep(pause)
                continue
            except BaseException:
                await slot.release()
                raise
            ms = round((loop.time() - began) * 1000, 3)
            ctx.attempts.append(Attempt(route.endpoint_id, 200, "", ms))
            ctx.response_headers["x-switchboard-endpoint"] = endpoint_label(route)
            _say_attempts(ctx)
            if not keep_slot:
                await slot.release()
                health.record(route.endpoint_id, ok=True, ttfb_ms=ms)
            return result, slot
    _say_attempts(ctx)
    if last_error is not None:
        raise last_error
    what = "answered within the call's deadline" if ctx.attempts else "is available right now"
    raise UpstreamUnavailableError(f"No endpoint of '{ctx.routing.name}' {what}.", headers={"retry-after": "1"})


@dataclass(slots=True)
class StreamBody:
    """Bytes to send, produced as the upstream produces them (or as a stored file is read)."""

    chunks: AsyncIterator[bytes]
    content_type: bytes = b"text/event-stream"


async def chat(ctx: CallContext, request: ChatRequest) -> ChatResponse:
    """One non-streamed completion, with usage filled in."""
    response, _ = await _attempt(ctx, lambda target: adapter_for(target.provider_kind).chat(request, target))
    ctx.first_byte_at = time.perf_counter()
    ensure_usage(response, request, ctx.target.upstream_model)
    if ctx.shadow_route is not None:  # kept to set beside the shadow's answer (gateway.routing.shadow)
        ctx.answer_text = completion_text(response)
    response.model = ctx.routing.name
    ctx.ended(status=200, usage=response.usage)
    return response


async def embed(ctx: CallContext, request: EmbeddingRequest) -> EmbeddingResponse:
    response, _ = await _attempt(ctx, lambda target: adapter_for(target.provider_kind).embed(request, target))
    ctx.first_byte_at = time.perf_counter()
    if response.usage is None:
        response.usage = tokens.count_inputs(request.input, ctx.target.upstream_model)
    response.model = ctx.routing.name
    ctx.ended(status=200, usage=response.usage)
    return response


class StreamFormat(Protocol):
    """How a stream is written in one wire format: what goes first, each chunk, the end, an error mid-way."""

    def opening(self) -> bytes: ...

    def chunk(self, chunk: ChatChunk) -> bytes: ...

    async def closing(self) -> bytes: ...

    def error(self, error: GatewayError) -> bytes: ...


# Builds a stream's format once the serving endpoint is known (a format may count the prompt with its tokenizer).
FormatFactory = Callable[[CallContext, ChatRequest], StreamFormat]


class OpenAIChatFormat:
    """OpenAI's ``chat.completion.chunk`` events, then ``[DONE]``."""

    render_chunk = staticmethod(openai_wire.render_chat_chunk)

    def __init__(self, ctx: CallContext, request: ChatRequest) -> None:
        self.include_usage = request.include_usage

    def opening(self) -> bytes:
        return b""

    def chunk(self, chunk: ChatChunk) -> bytes:
        return self.render_chunk(chunk, include_usage=self.include_usage)

    async def closing(self) -> bytes:
        return openai_wire.SSE_DONE

    def error(self, error: GatewayError) -> bytes:
        return openai_wire.render_stream_error(error)


class CompletionFormat(OpenAIChatFormat):
    """The legacy ``text_completion`` events (``/v1/completions``), then ``[DONE]``; errors as on chat."""

    render_chunk = staticmethod(completions_wire.render_completion_chunk)


class AnthropicFormat:
    """Anthropic's event stream (``message_start`` … ``message_stop``)."""

    def __init__(self, ctx: CallContext, request: ChatRequest) -> None:
        self.request = request
        self.upstream_model = ctx.target.upstream_model
        self.writer = anthropic_wire.StreamWriter(model=ctx.routing.name)

    def opening(self) -> bytes:
        prompt_tokens, _ = tokens.count_prompt(self.request, self.upstream_model)
        return self.writer.start(prompt_tokens)

    def chunk(self, chunk: ChatChunk) -> bytes:
        return self.writer.feed(chunk)

    async def closing(self) -> bytes:
        return self.writer.finish()

    def error(self, error: GatewayError) -> bytes:
        return anthropic_wire.render_stream_error(error)


async def chat_stream(ctx: CallContext, request: ChatRequest, *, format: FormatFactory) -> StreamBody:
    """Start the upstream stream and return the body to send; raises before any output on early failure
    (after falling back through the candidates: until the first chunk, a failed stream is just a failed try)."""
    ctx.streamed = True

    async def opened(target: UpstreamTarget):
        stream = adapter_for(target.provider_kind).chat_stream(request, target)
        try:
            first = await anext(stream)
        except StopAsyncIteration:
            first = None
        except BaseException:
            await stream.aclose()
            raise
        return stream, first

    (stream, first), slot = await _attempt(ctx, opened, keep_slot=True)
    ctx.first_byte_at = time.perf_counter()
    ttfb_ms = ctx.attempts[-1].ms
    fmt = format(ctx, request)
    alias = ctx.routing.name
    usage = StreamUsage()
    guard = StreamOutput.of(ctx)  # 6: None when no output rule or un-masking applies

    async def end(status: int, error: BaseException | None = None) -> None:
        await slot.release()
        if error is None or isinstance(error, GatewayError) and _transient(error):
            health.record(ctx.route.endpoint_id, ok=error is None, ttfb_ms=ttfb_ms)
        ctx.ended(status=status, usage=usage.final(request, ctx.target.upstream_model), error=error)
        if ctx.shadow_route is not None:  # the text StreamUsage keeps anyway (to count tokens), so no cost otherwise
            ctx.answer_text = "".join(usage.pieces)
        await finish(ctx)

    async def body() -> AsyncIterator[bytes]:
        try:
            opening = fmt.opening()
            if first is not None:
                usage.observe(first)
                first.model = alias
                opening += fmt.chunk(guard.chunk(first) if guard else first)
            if opening:
                yield opening
            async for chunk in stream:
                usage.observe(chunk)
                chunk.model = alias
                piece = fmt.chunk(guard.chunk(chunk) if guard else chunk)
                if piece:
                    yield piece
            await stream.aclose()
            rest = b"".join(fmt.chunk(c) for c in guard.flush()) if guard else b""
            if guard:
                guard.done()
            await end(200)  # recorded before the caller sees the end of the answer
            yield rest + await fmt.closing()
        except GatewayError as error:
            # Output has been sent: never retried (the caller would get two answers spliced together).
            await stream.aclose()
            await end(error.status, error)
            yield fmt.error(error)
        except BaseException as error:  # the caller went away (cancelled) or the server is stopping
            await stream.aclose()
            if not ctx.finished:
                await end(CLIENT_CLOSED if not isinstance(error, Exception) else status_of(error), error)
            else:
                await slot.release()
            raise

    return StreamBody(body())
