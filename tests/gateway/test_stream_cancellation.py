"""When the caller goes away mid-stream, the upstream response is closed; deadlines end hung streams."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest
import respx

from gateway.errors import UpstreamTimeoutError
from gateway.normal import ChatRequest, Message
from gateway.providers import ADAPTERS

URL = "http://upstream.test/v1/chat/completions"
FIRST = (
    b"data: "
    + orjson.dumps(
        {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}],
        }
    )
    + b"\n\n"
)


class HangingUpstream(httpx.AsyncByteStream):
    """Sends one chunk, then never another, like a stalled generation; records being closed."""

    def __init__(self) -> None:
        self.closed = False

    async def __aiter__(self):
        yield FIRST
        await asyncio.Event().wait()

    async def aclose(self) -> None:
        self.closed = True


@pytest.fixture
def target(make_target):
    return make_target("openai-compatible", base_url="http://upstream.test/v1", upstream_model="m", total_timeout=600)


def req() -> ChatRequest:
    return ChatRequest("alias", [Message("user", "Hi")], stream=True)


@pytest.mark.smoke
@respx.mock
async def test_cancelling_the_consumer_closes_the_upstream_response(target):
    upstream = HangingUpstream()
    respx.post(URL).mock(return_value=httpx.Response(200, stream=upstream))
    received = asyncio.Event()

    async def consume():
        async for _chunk in ADAPTERS["openai-compatible"].chat_stream(req(), target):
            received.set()

    task = asyncio.create_task(consume())
    await received.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert upstream.closed


@respx.mock
async def test_closing_the_stream_closes_the_upstream_response(target):
    upstream = HangingUpstream()
    respx.post(URL).mock(return_value=httpx.Response(200, stream=upstream))

    stream = ADAPTERS["openai-compatible"].chat_stream(req(), target)
    first = await anext(stream)
    await stream.aclose()

    assert first.content == "Hi" and upstream.closed


@respx.mock
async def test_total_deadline_ends_a_stalled_stream(make_target):
    target = make_target(
        "openai-compatible", base_url="http://upstream.test/v1", upstream_model="m", total_timeout=0.05
    )
    upstream = HangingUpstream()
    respx.post(URL).mock(return_value=httpx.Response(200, stream=upstream))

    with pytest.raises(UpstreamTimeoutError) as info:
        async for _chunk in ADAPTERS["openai-compatible"].chat_stream(req(), target):
            pass

    assert info.value.status == 504 and upstream.closed


@respx.mock
async def test_requests_carry_the_targets_timeouts(make_target):
    target = make_target(
        "openai-compatible",
        base_url="http://upstream.test/v1",
        upstream_model="m",
        connect_timeout=1.5,
        first_byte_timeout=7,
    )
    route = respx.post(URL).mock(
        return_value=httpx.Response(
            200,
            json={
                "id": "c",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            },
        )
    )
    await ADAPTERS["openai-compatible"].chat(ChatRequest("alias", [Message("user", "Hi")]), target)

    assert route.calls.last.request.extensions["timeout"] == {"connect": 1.5, "read": 7, "write": 7, "pool": 1.5}
