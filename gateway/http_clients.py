"""Shared pooled HTTP clients, one per upstream, and the two ways adapters call them.

`client_for(base_url)` returns one `httpx.AsyncClient` per upstream base URL (per event loop, since a
connection pool cannot cross loops), created on first use. `post_json()` makes a whole call;
`stream_lines()` streams the answer line by line. Both apply the target's timeouts: connect, first byte
(httpx's read timeout: the wait for the answer to begin, and between streamed chunks), and a total
deadline over the whole call; transport failures become `UpstreamError`s. `close_all()` at shutdown.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING

import httpx
import orjson

from gateway.errors import (
    GatewayError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
    sanitize_message,
    upstream_error_for_status,
)

if TYPE_CHECKING:  # annotations only: importing it would load every adapter, which import this module
    from gateway.providers.base import UpstreamTarget

# Connection pool size per upstream; streaming answers hold a connection for their whole length.
MAX_CONNECTIONS = int(os.environ.get("GATEWAY_UPSTREAM_MAX_CONNECTIONS", "512"))
MAX_KEEPALIVE = int(os.environ.get("GATEWAY_UPSTREAM_MAX_KEEPALIVE", "128"))

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)

# Builds the error for an upstream's non-2xx answer: (status, body, headers) -> GatewayError.
ErrorMapper = Callable[[int, bytes, httpx.Headers], GatewayError]


def client_for(base_url: str) -> httpx.AsyncClient:
    """The pooled client for this upstream on the running event loop, created lazily."""
    loop = asyncio.get_running_loop()
    per_loop = _clients.get(loop)
    if per_loop is None:
        per_loop = _clients[loop] = {}
    client = per_loop.get(base_url)
    if client is None or client.is_closed:
        client = per_loop[base_url] = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_KEEPALIVE),
            timeout=httpx.Timeout(60.0, connect=5.0),
            follow_redirects=False,
        )
    return client


async def close_all() -> None:
    """Close every client of the running loop (at shutdown); clients of dead loops are dropped."""
    loop = asyncio.get_running_loop()
    per_loop = _clients.pop(loop, {})
    for other in [other for other in _clients if other.is_closed()]:
        _clients.pop(other, None)
    await asyncio.gather(*(client.aclose() for client in per_loop.values()), return_exceptions=True)


def timeout_for(target: UpstreamTarget) -> httpx.Timeout:
    """httpx timeouts of one call: connect, first byte (read), write and pool wait."""
    return httpx.Timeout(
        connect=target.connect_timeout,
        read=target.first_byte_timeout,
        write=target.first_byte_timeout,
        pool=target.connect_timeout,
    )


def transport_error(exc: Exception, target: UpstreamTarget) -> UpstreamError:
    """The error an application sees when the upstream could not be reached or stopped answering."""
    provider = target.provider_kind
    if isinstance(exc, httpx.PoolTimeout):
        return UpstreamUnavailableError(
            f"{provider} error: too many concurrent requests to the upstream", provider=provider
        )
    if isinstance(exc, httpx.ConnectTimeout):
        return UpstreamTimeoutError(f"{provider} error: timed out connecting to the upstream", provider=provider)
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeoutError(f"{provider} error: the upstream did not answer in time", provider=provider)
    if isinstance(exc, TimeoutError):
        return UpstreamTimeoutError(
            f"{provider} error: the upstream exceeded the {target.total_timeout:g}s deadline", provider=provider
        )
    if isinstance(exc, httpx.ConnectError):
        return UpstreamError(f"{provider} error: could not connect to the upstream", provider=provider)
    detail = sanitize_message(str(exc) or type(exc).__name__, secrets=target.secrets(), hosts=(target.host,))
    return UpstreamError(f"{provider} error: the upstream connection failed ({detail})", provider=provider)


async def post_json(
    target: UpstreamTarget,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    on_error: ErrorMapper,
    *,
    params: Mapping[str, str] | None = None,
) -> bytes:
    """POST a JSON body and return the 2xx answer's bytes; non-2xx answers raise `on_error(...)`."""
    client = client_for(target.base_url)
    request = client.build_request(
        "POST", url, content=body, headers=headers, params=params, timeout=timeout_for(target)
    )
    try:
        async with asyncio.timeout(target.total_timeout):
            response = await client.send(request)
    except (httpx.TransportError, TimeoutError) as exc:
        raise transport_error(exc, target) from exc
    if response.status_code >= 300:
        raise on_error(response.status_code, response.content, response.headers)
    return response.content


async def stream_lines(
    target: UpstreamTarget,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    on_error: ErrorMapper,
    *,
    params: Mapping[str, str] | None = None,
) -> AsyncIterator[str]:
    """POST a JSON body and yield the answer's lines as they arrive (server-sent events).

    Non-2xx answers raise `on_error(...)` before the first line. Closing this iterator, or cancelling the
    task that consumes it, closes the upstream response, which ends the upstream's work.
    """
    client = client_for(target.base_url)
    request = client.build_request(
        "POST", url, content=body, headers=headers, params=params, timeout=timeout_for(target)
    )
    deadline = asyncio.get_running_loop().time() + target.total_timeout
    try:
        async with asyncio.timeout_at(deadline):
            response = await client.send(request, stream=True)
    except (httpx.TransportError, TimeoutError) as exc:
        raise transport_error(exc, target) from exc
    try:
        if response.status_code >= 300:
            async with asyncio.timeout_at(deadline):
                content = await response.aread()
            raise on_error(response.status_code, content, response.headers)
        lines = response.aiter_lines()
        while True:
            # The deadline wraps each read only: a timeout must never span a yield to the consumer.
            async with asyncio.timeout_at(deadline):
                line = await anext(lines, None)
            if line is None:
                return
            yield line
    except (httpx.TransportError, TimeoutError) as exc:
        raise transport_error(exc, target) from exc
    finally:
        await response.aclose()


def sse_data(line: str) -> str | None:
    """The payload of an SSE `data:` line, None for other lines (comments, `event:`, blank separators)."""
    if line.startswith("data:"):
        return line[6:] if line.startswith("data: ") else line[5:]
    return None


def error_message_of(body: bytes) -> str:
    """The human message inside a provider's error body, whatever its vendor's shape."""
    try:
        data = orjson.loads(body)
    except ValueError:
        return body[:500].decode("utf-8", "replace").strip()
    if isinstance(data, list) and data:
        data = data[0]
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, str):
            return error
        if isinstance(error, dict):
            for key in ("message", "detail", "error"):
                value = error.get(key)
                if isinstance(value, str) and value:
                    return value
        for key in ("message", "detail"):
            value = data.get(key)
            if isinstance(value, str) and value:
                return value
    return body[:500].decode("utf-8", "replace").strip()


def error_mapper(target: UpstreamTarget, message_of: Callable[[bytes], str] = error_message_of) -> ErrorMapper:
    """The usual `on_error` for an httpx upstream: status → error class, message kept but sanitized."""

    def on_error(status: int, body: bytes, headers: httpx.Headers) -> GatewayError:
        return upstream_error_for_status(
            status,
            message_of(body),
            provider=target.provider_kind,
            secrets=target.secrets(),
            hosts=(target.host,),
            retry_after=headers.get("retry-after"),
        )

    return on_error


def upstream_json(raw: bytes | str, target: UpstreamTarget) -> dict:
    """The upstream's JSON answer; a 502 when it is not a JSON object."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UpstreamError(
            f"{target.provider_kind} error: the upstream answered with invalid JSON", provider=target.provider_kind
        ) from exc
    if not isinstance(data, dict):
        raise UpstreamError(
            f"{target.provider_kind} error: the upstream answered with an unexpected shape",
            provider=target.provider_kind,
        )
    return data


def stream_error(target: UpstreamTarget, message: str, status: int = 502) -> UpstreamError:
    """An error the upstream reported inside an already-started stream."""
    return upstream_error_for_status(
        status, message, provider=target.provider_kind, secrets=target.secrets(), hosts=(target.host,)
    )
