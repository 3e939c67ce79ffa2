"""The Python floor: the least a Python proxy on the gateway's stack can do, for the bench.

Served like the gateway (granian, ASGI, uvloop, one worker) and calling the upstream like the gateway
(one pooled aiohttp session), it reads the body, POSTs it to ``BARE_UPSTREAM_URL`` and returns the
answer: no authentication, validation, translation, routing or metering. The gap between it and the
nginx floor is the stack's; the gap between it and the gateway is the gateway's own work.

    BARE_UPSTREAM_URL=http://127.0.0.1:PORT/v1/chat/completions granian --interface asgi bench.bare_proxy:app
"""

from __future__ import annotations

import os

import aiohttp

UPSTREAM = os.environ.get("BARE_UPSTREAM_URL", "http://127.0.0.1:18080/v1/chat/completions")
_JSON = [(b"content-type", b"application/json")]
_session: aiohttp.ClientSession | None = None


async def app(scope, receive, send) -> None:
    global _session
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _session = aiohttp.ClientSession()
                await send({"type": "lifespan.startup.complete"})
            else:
                if _session is not None:
                    await _session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    async with _session.post(UPSTREAM, data=body, headers={"content-type": "application/json"}) as response:
        answer = await response.read()
        status = response.status
    await send({"type": "http.response.start", "status": status, "headers": _JSON})
    await send({"type": "http.response.body", "body": answer})
