"""The Python floor: the least a Python proxy on the gateway's stack can do, for the bench.

Served like the gateway (granian, uvloop, one worker) and calling the upstream through one pooled
client per process, it reads the body, POSTs it to ``BARE_UPSTREAM_URL`` and returns the answer:
no authentication, validation, translation, routing or metering. The gap between it and the nginx
floor is the stack's; the gap between it and the gateway is the gateway's own work.

Four variants, so the server interface and the HTTP client are chosen by measurement (issue 17):

| bench target          | granian interface | upstream client | served as                              |
|-----------------------|-------------------|-----------------|----------------------------------------|
| `bare`                | ASGI              | aiohttp         | `bench.bare_proxy:app` (the gateway's) |
| `bare-pyreqwest`      | ASGI              | pyreqwest       | `bench.bare_proxy:app_pyreqwest`       |
| `bare-rsgi`           | RSGI              | aiohttp         | `bench.bare_proxy:rsgi_app`            |
| `bare-rsgi-pyreqwest` | RSGI              | pyreqwest       | `bench.bare_proxy:rsgi_app_pyreqwest`  |

    BARE_UPSTREAM_URL=http://127.0.0.1:PORT/v1/chat/completions granian --interface asgi bench.bare_proxy:app
    BARE_UPSTREAM_URL=… granian --interface rsgi bench.bare_proxy:rsgi_app
"""

from __future__ import annotations

import os

UPSTREAM = os.environ.get("BARE_UPSTREAM_URL", "http://127.0.0.1:18080/v1/chat/completions")


class AiohttpUpstream:
    """One pooled ``aiohttp.ClientSession`` for the process (what ``gateway/http_clients.py`` uses)."""

    def __init__(self) -> None:
        self._session = None

    async def start(self) -> None:
        import aiohttp

        self._session = aiohttp.ClientSession()

    async def post(self, body: bytes) -> tuple[int, bytes]:
        async with self._session.post(UPSTREAM, data=body, headers={"content-type": "application/json"}) as response:
            return response.status, await response.read()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class PyreqwestUpstream:
    """One pooled ``pyreqwest`` client (Rust reqwest/hyper on its own Tokio runtime) for the process."""

    def __init__(self) -> None:
        self._client = None

    async def start(self) -> None:
        from pyreqwest.client import ClientBuilder

        self._client = ClientBuilder().default_headers({"content-type": "application/json"}).build()

    async def post(self, body: bytes) -> tuple[int, bytes]:
        response = await self._client.post(UPSTREAM).body_bytes(body).build().send()
        return response.status, (await response.bytes()).to_bytes()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()


def asgi_app(upstream):
    """An ASGI app (lifespan starts and closes the client) forwarding each request's body to ``upstream``."""
    json_headers = [(b"content-type", b"application/json")]

    async def app(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await upstream.start()
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await upstream.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, answer = await upstream.post(body)
        await send({"type": "http.response.start", "status": status, "headers": json_headers})
        await send({"type": "http.response.body", "body": answer})

    return app


class RSGIApp:
    """An RSGI app: granian calls ``__rsgi_init__(loop)`` before serving (the loop is not running yet) and
    ``__rsgi_del__(loop)`` after, and ``__rsgi__(scope, proto)`` per request."""

    json_headers = [("content-type", "application/json")]

    def __init__(self, upstream) -> None:
        self.upstream = upstream

    def __rsgi_init__(self, loop) -> None:
        loop.run_until_complete(self.upstream.start())

    def __rsgi_del__(self, loop) -> None:
        loop.run_until_complete(self.upstream.close())

    async def __rsgi__(self, scope, proto) -> None:
        body = await proto()
        status, answer = await self.upstream.post(body)
        proto.response_bytes(status, self.json_headers, answer)


app = asgi_app(AiohttpUpstream())
app_pyreqwest = asgi_app(PyreqwestUpstream())
rsgi_app = RSGIApp(AiohttpUpstream())
rsgi_app_pyreqwest = RSGIApp(PyreqwestUpstream())
