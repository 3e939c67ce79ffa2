"""One pooled HTTP client per upstream (and event loop), created lazily, closed at shutdown."""

from __future__ import annotations

import asyncio
import threading

from gateway import http_clients


async def test_one_client_per_upstream_base_url():
    a = http_clients.client_for("https://api.openai.com/v1")
    again = http_clients.client_for("https://api.openai.com/v1")
    other = http_clients.client_for("http://vllm.local:8000/v1")

    assert a is again and a is not other

    await http_clients.close_all()
    assert a.is_closed and other.is_closed
    assert http_clients.client_for("https://api.openai.com/v1") is not a
    await http_clients.close_all()


async def test_each_event_loop_gets_its_own_client():
    mine = http_clients.client_for("https://api.openai.com/v1")
    theirs = []

    def other_loop():
        async def grab():
            theirs.append(http_clients.client_for("https://api.openai.com/v1"))
            await http_clients.close_all()

        asyncio.run(grab())

    thread = threading.Thread(target=other_loop)
    thread.start()
    thread.join()

    assert theirs and theirs[0] is not mine and theirs[0].is_closed and not mine.is_closed
    await http_clients.close_all()
