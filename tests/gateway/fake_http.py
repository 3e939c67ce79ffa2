"""A vendor's HTTP API, played by a real server on loopback: the `upstream` fixture.

Adapters are tested at their wire format against a real HTTP server (aiohttp's), so what they send
is parsed the way a vendor parses it and what they read arrives over a socket, streamed chunk by chunk
when a test says so. A test declares routes and their answers, then reads what the adapter sent:

    route = upstream.post("/v1/chat/completions").respond(200, json=COMPLETION)
    await ADAPTERS["openai"].chat(req, make_target("openai", base_url=upstream.url + "/v1"))
    assert route.last.json()["model"] == "gpt-4o"

`respond(chunks=[...], delay=..., hang=True)` streams: each chunk is written and flushed, `delay`
seconds apart; `hang` keeps the answer open after the last chunk, like a stalled generation, until the
client goes away (then `route.disconnected` is set). `respond(..., before=seconds)` waits before the
status line (a slow first byte). A request no route matches is answered 404 and fails the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web
from multidict import CIMultiDictProxy


@dataclass(frozen=True)
class Received:
    """One request as the upstream saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDictProxy[str]
    body: bytes
    peer: tuple[str, int] | None = None  # the client's address and port: one per connection

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] | None = None
    delay: float = 0.0
    before: float = 0.0
    hang: bool = False


class Route:
    def __init__(self, method: str, path: str) -> None:
        self.method, self.path = method, path
        self.calls: list[Received] = []
        self.answers: list[Answer] = []
        self.disconnected = asyncio.Event()

    def respond(
        self,
        status: int = 200,
        *,
        json: Any = None,
        text: str | None = None,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        chunks: Iterable[bytes] | None = None,
        delay: float = 0.0,
        before: float = 0.0,
        hang: bool = False,
    ) -> Route:
        """Answer every request (or, called again, the next ones in turn: the last answer repeats)."""
        headers = dict(headers or {})
        if json is not None:
            body = orjson.dumps(json)
            headers.setdefault("content-type", "application/json")
        elif text is not None:
            body = text.encode()
            headers.setdefault("content-type", "text/plain")
        if chunks is not None:
            headers.setdefault("content-type", "text/event-stream")
        self.answers.append(
            Answer(status, body, headers, list(chunks) if chunks is not None else None, delay, before, hang)
        )
        return self

    @property
    def called(self) -> bool:
        return bool(self.calls)

    @property
    def last(self) -> Received:
        assert self.calls, f"{self.method} {self.path} was never called"
        return self.calls[-1]

    def _next_answer(self) -> Answer:
        assert self.answers, f"{self.method} {self.path} has no answer"
        index = min(len(self.calls) - 1, len(self.answers) - 1)
        return self.answers[index]


class FakeHTTPUpstream:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.unmatched: list[str] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    def post(self, path: str) -> Route:
        return self.routes.setdefault(("POST", path), Route("POST", path))

    def get(self, path: str) -> Route:
        return self.routes.setdefault(("GET", path), Route("GET", path))

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # Cancel a handler when its client goes away, as a vendor's server stops generating.
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        route = self.routes.get((request.method, request.path))
        if route is None:
            self.unmatched.append(f"{request.method} {request.path_qs}")
            return web.Response(status=404, text="no such route in the fake upstream")
        route.calls.append(
            Received(
                request.method,
                request.path,
                dict(request.query),
                request.headers,
                await request.read(),
                request.transport.get_extra_info("peername") if request.transport else None,
            )
        )
        answer = route._next_answer()
        if answer.before:
            await asyncio.sleep(answer.before)
        if answer.chunks is None:
            return web.Response(status=answer.status, body=answer.body, headers=answer.headers)
        response = web.StreamResponse(status=answer.status, headers=answer.headers)
        try:
            await response.prepare(request)
            for index, chunk in enumerate(answer.chunks):
                if index and answer.delay:
                    await asyncio.sleep(answer.delay)
                await response.write(chunk)
            if answer.hang:
                await asyncio.Event().wait()
            await response.write_eof()
        except (asyncio.CancelledError, ConnectionResetError):
            route.disconnected.set()
            raise
        return response


@pytest.fixture
async def upstream() -> AsyncIterator[FakeHTTPUpstream]:
    server = FakeHTTPUpstream()
    await server.start()
    try:
        yield server
    finally:
        from gateway import http_clients

        await http_clients.close_all()
        await server.stop()
    assert not server.unmatched, f"requests no route matched: {server.unmatched}"
