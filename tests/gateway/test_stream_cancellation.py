"""When the caller goes away mid-stream, the upstream connection is closed; deadlines end hung streams."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from gateway.errors import UpstreamError, UpstreamTimeoutError
from gateway.normal import ChatRequest, Message
from gateway.providers import ADAPTERS

PATH = "/v1/chat/completions"
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
ANSWER = {
    "id": "c",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
}


@pytest.fixture
def target(make_target, upstream):
    return make_target("openai-compatible", base_url=upstream.url + "/v1", upstream_model="m", total_timeout=600)


def req(stream: bool = True) -> ChatRequest:
    return ChatRequest("alias", [Message("user", "Hi")], stream=stream)


async def disconnected(route) -> bool:
    """Whether the upstream saw its client go away (within a bounded wait: the close travels a socket)."""
    try:
        await asyncio.wait_for(route.disconnected.wait(), 5)
    except TimeoutError:
        return False
    return True


@pytest.mark.smoke
async def test_cancelling_the_consumer_closes_the_upstream_connection(target, upstream):
    route = upstream.post(PATH).respond(200, chunks=[FIRST], hang=True)
    received = asyncio.Event()

    async def consume():
        async for _chunk in ADAPTERS["openai-compatible"].chat_stream(req(), target):
            received.set()

    task = asyncio.create_task(consume())
    await received.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert await disconnected(route)


async def test_closing_the_stream_closes_the_upstream_connection(target, upstream):
    route = upstream.post(PATH).respond(200, chunks=[FIRST], hang=True)

    stream = ADAPTERS["openai-compatible"].chat_stream(req(), target)
    first = await anext(stream)
    await stream.aclose()

    assert first.content == "Hi" and await disconnected(route)


async def test_total_deadline_ends_a_stalled_stream(make_target, upstream):
    target = make_target("openai-compatible", base_url=upstream.url + "/v1", upstream_model="m", total_timeout=0.2)
    route = upstream.post(PATH).respond(200, chunks=[FIRST], hang=True)

    with pytest.raises(UpstreamTimeoutError) as info:
        async for _chunk in ADAPTERS["openai-compatible"].chat_stream(req(), target):
            pass

    assert info.value.status == 504 and await disconnected(route)


async def test_first_byte_timeout_ends_a_silent_upstream(make_target, upstream):
    target = make_target(
        "openai-compatible", base_url=upstream.url + "/v1", upstream_model="m", first_byte_timeout=0.1
    )
    upstream.post(PATH).respond(200, json=ANSWER, before=2)

    with pytest.raises(UpstreamTimeoutError) as info:
        await ADAPTERS["openai-compatible"].chat(req(stream=False), target)

    assert info.value.status == 504 and "did not answer in time" in info.value.message


async def test_a_stream_that_goes_silent_between_chunks_times_out(make_target, upstream):
    target = make_target(
        "openai-compatible", base_url=upstream.url + "/v1", upstream_model="m", first_byte_timeout=0.1
    )
    upstream.post(PATH).respond(200, chunks=[FIRST], hang=True)

    with pytest.raises(UpstreamTimeoutError) as info:
        async for _chunk in ADAPTERS["openai-compatible"].chat_stream(req(), target):
            pass

    assert info.value.status == 504


async def test_a_closed_port_is_a_502_that_hides_the_address(make_target, upstream):
    target = make_target("openai-compatible", base_url="http://127.0.0.1:9/v1", upstream_model="m")

    with pytest.raises(UpstreamError) as info:
        await ADAPTERS["openai-compatible"].chat(req(stream=False), target)

    assert info.value.status == 502 and "could not connect" in info.value.message
    assert "127.0.0.1" not in info.value.message


async def test_the_upstream_connection_is_reused_between_calls(target, upstream):
    route = upstream.post(PATH).respond(200, json=ANSWER)
    for _ in range(3):
        await ADAPTERS["openai-compatible"].chat(req(stream=False), target)
    streamed = upstream.post(PATH)
    assert streamed is route and len(route.calls) == 3
    # One pooled connection carried all three calls (the server saw one peer port).
    assert len({call.peer for call in route.calls}) == 1
