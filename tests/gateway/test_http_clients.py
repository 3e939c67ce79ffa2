"""One pooled client session per event loop, created lazily, closed at shutdown."""

from __future__ import annotations

import asyncio
import threading

from gateway import http_clients


async def test_one_session_per_event_loop_reused_until_closed():
    first = http_clients.session()
    assert http_clients.session() is first

    await http_clients.close_all()
    assert first.closed
    again = http_clients.session()
    assert again is not first and not again.closed
    await http_clients.close_all()


async def test_each_event_loop_gets_its_own_session():
    mine = http_clients.session()
    theirs = []

    def other_loop():
        async def grab():
            theirs.append(http_clients.session())
            await http_clients.close_all()

        asyncio.run(grab())

    thread = threading.Thread(target=other_loop)
    thread.start()
    thread.join()

    assert theirs and theirs[0] is not mine and theirs[0].closed and not mine.closed
    await http_clients.close_all()


def test_a_targets_timeouts_become_the_calls_timeouts():
    from gateway.providers.base import UpstreamTarget

    target = UpstreamTarget(provider_kind="openai", connect_timeout=1.5, first_byte_timeout=7, total_timeout=90)
    timeout = http_clients.timeout_for(target)
    assert (timeout.connect, timeout.sock_connect, timeout.sock_read, timeout.total) == (1.5, 1.5, 7, 90)


async def test_stream_lines_reassembles_lines_split_across_reads(upstream, make_target):
    from gateway.errors import GatewayError

    upstream.post("/sse").respond(200, chunks=[b"data: one\r\n\nda", b"ta: t", b"wo\n\n", b"data: last"], delay=0.01)
    target = make_target("openai", base_url=upstream.url)

    def never(status, body, headers):
        return GatewayError("unexpected")

    lines = [line async for line in http_clients.stream_lines(target, upstream.url + "/sse", b"{}", {}, never)]

    assert lines == ["data: one", "", "data: two", "", "data: last"]
