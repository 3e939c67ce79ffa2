"""Step 5 — call the provider through its adapter; streams pass through chunk by chunk.

For a stream, the first chunk is pulled before the response starts, so an upstream failure
that happens before any output still becomes a proper status code. After that an error is
reported inside the stream, the way each wire format does it. When the caller goes away the
stream is closed, which closes the upstream request.

Each function records how the call ended on the context (``ctx.ended``); a stream ends itself in
``finish`` (before its last bytes are sent, or when it is cut short), every other call ends in
``finish`` when the pipeline returns or raises.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from gateway import tokens
from gateway.errors import GatewayError
from gateway.normal import ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse
from gateway.pipeline.context import CLIENT_CLOSED, CallContext
from gateway.pipeline.finish import finish, status_of
from gateway.providers import adapter_for
from gateway.usage import StreamUsage, ensure_usage
from gateway.wire import anthropic as anthropic_wire
from gateway.wire import openai as openai_wire


@dataclass(slots=True)
class StreamBody:
    """Bytes to send, produced as the upstream produces them."""

    chunks: AsyncIterator[bytes]


async def chat(ctx: CallContext, request: ChatRequest) -> ChatResponse:
    """One non-streamed completion, with usage filled in."""
    response = await adapter_for(ctx.target.provider_kind).chat(request, ctx.target)
    ctx.first_byte_at = time.perf_counter()
    ensure_usage(response, request, ctx.target.upstream_model)
    response.model = ctx.routing.name
    ctx.ended(status=200, usage=response.usage)
    return response


async def embed(ctx: CallContext, request: EmbeddingRequest) -> EmbeddingResponse:
    response = await adapter_for(ctx.target.provider_kind).embed(request, ctx.target)
    ctx.first_byte_at = time.perf_counter()
    if response.usage is None:
        response.usage = tokens.count_inputs(request.input, ctx.target.upstream_model)
    response.model = ctx.routing.name
    ctx.ended(status=200, usage=response.usage)
    return response


class _Format:
    """How a stream is written: OpenAI SSE chunks, or Anthropic's event stream."""

    def __init__(self, ctx: CallContext, request: ChatRequest, style: str) -> None:
        self.style = style
        self.request = request
        self.alias = ctx.routing.name
        self.upstream_model = ctx.target.upstream_model
        if style == "anthropic":
            self.writer = anthropic_wire.StreamWriter(model=self.alias)

    def opening(self) -> bytes:
        if self.style == "anthropic":
            prompt_tokens, _ = tokens.count_prompt(self.request, self.upstream_model)
            return self.writer.start(prompt_tokens)
        return b""

    def chunk(self, chunk: ChatChunk) -> bytes:
        chunk.model = self.alias
        if self.style == "anthropic":
            return self.writer.feed(chunk)
        return openai_wire.render_chat_chunk(chunk, include_usage=self.request.include_usage)

    def closing(self) -> bytes:
        return self.writer.finish() if self.style == "anthropic" else openai_wire.SSE_DONE

    def error(self, error: GatewayError) -> bytes:
        render: Callable[[GatewayError], bytes] = (
            anthropic_wire.render_stream_error if self.style == "anthropic" else openai_wire.render_stream_error
        )
        return render(error)


async def chat_stream(ctx: CallContext, request: ChatRequest, *, style: str) -> StreamBody:
    """Start the upstream stream and return the body to send; raises before any output on early failure."""
    ctx.streamed = True
    stream = adapter_for(ctx.target.provider_kind).chat_stream(request, ctx.target)
    fmt = _Format(ctx, request, style)
    usage = StreamUsage()
    try:
        first = await anext(stream)
    except StopAsyncIteration:
        first = None
    except GatewayError:
        await stream.aclose()
        raise
    ctx.first_byte_at = time.perf_counter()

    async def end(status: int, error: BaseException | None = None) -> None:
        ctx.ended(status=status, usage=usage.final(request, ctx.target.upstream_model), error=error)
        await finish(ctx)

    async def body() -> AsyncIterator[bytes]:
        try:
            opening = fmt.opening()
            if first is not None:
                usage.observe(first)
                opening += fmt.chunk(first)
            if opening:
                yield opening
            async for chunk in stream:
                usage.observe(chunk)
                piece = fmt.chunk(chunk)
                if piece:
                    yield piece
            await stream.aclose()
            await end(200)  # recorded before the caller sees the end of the answer
            yield fmt.closing()
        except GatewayError as error:
            await stream.aclose()
            await end(error.status, error)
            yield fmt.error(error)
        except BaseException as error:  # the caller went away (cancelled) or the server is stopping
            await stream.aclose()
            if not ctx.finished:
                await end(CLIENT_CLOSED if not isinstance(error, Exception) else status_of(error), error)
            raise

    return StreamBody(body())
