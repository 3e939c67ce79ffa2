"""The ``/v1/`` HTTP layer: raw ASGI, none of Django's request machinery.

It reads the request (bounded), builds the ``CallContext``, runs the pipeline and writes the
answer or the error in the caller's shape (OpenAI's, or Anthropic's on ``/v1/messages``).
Every response carries ``x-request-id``. Anything unexpected is logged with the request id
and answered as a 500 in the same shape — never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from django.conf import settings

from aiplatform.client_address import client_address
from aiplatform.lifespan import on_shutdown, on_startup
from aiplatform.request_context import mint_request_id, well_formed_incoming_id
from gateway import batch_lines, batches, feedback, files, http_clients, metering, pipeline, tokens
from gateway.errors import (
    BadRequestError,
    GatewayError,
    NotFoundError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)
from gateway.limits.limiter import limiter
from gateway.pipeline.authenticate import authenticate, presented_key
from gateway.pipeline.call import StreamBody
from gateway.pipeline.context import CallContext
from gateway.routing import inflight, shadow
from gateway.routing.health import health
from gateway.state import state
from gateway.wire import anthropic as anthropic_wire

log = structlog.get_logger("switchboard.gateway")

JSON = b"application/json"
SSE = b"text/event-stream"


class MethodNotAllowedError(GatewayError):
    status = 405
    type = "invalid_request_error"
    code = "method_not_allowed"


class RequestTimeoutError(GatewayError):
    status = 408
    type = "invalid_request_error"
    code = "request_timeout"


class UnreadableBodyError(BadRequestError):
    code = "invalid_body"


class InternalError(GatewayError):
    status = 500
    type = "api_error"
    code = "internal_error"


# path → method → (handler, operation, error style). A handler takes the context (and the path's id, where
# the path has one: ``/v1/models/{model}``, ``/v1/responses/{id}``).
ROUTES: dict[str, dict[str, tuple]] = {
    "/v1/chat/completions": {"POST": (pipeline.chat_completions, "chat", "openai")},
    "/v1/completions": {"POST": (pipeline.completions, "completions", "openai")},
    "/v1/embeddings": {"POST": (pipeline.embeddings, "embeddings", "openai")},
    "/v1/responses": {"POST": (pipeline.responses, "responses", "openai")},
    "/v1/responses/input_tokens": {"POST": (pipeline.count_response_tokens, "count_tokens", "openai")},
    "/v1/messages": {"POST": (pipeline.messages, "messages", "anthropic")},
    "/v1/messages/count_tokens": {"POST": (pipeline.count_message_tokens, "count_tokens", "anthropic")},
    "/v1/models": {"GET": (pipeline.list_models, "models", "openai")},
    "/v1/usage": {"GET": (pipeline.usage, "usage", "openai")},
    "/v1/feedback": {"POST": (feedback.submit_feedback, "feedback", "openai")},
    "/v1/files": {"POST": (files.upload, "files", "openai"), "GET": (files.list_files, "files", "openai")},
    "/v1/batches": {"POST": (batches.create, "batches", "openai"), "GET": (batches.list_batches, "batches", "openai")},
}
# Paths that end in an id: prefix → method → (handler, operation, error style), and the sub-paths after the id.
ID_ROUTES: dict[str, dict[str, tuple]] = {
    "/v1/models/": {"GET": (pipeline.retrieve_model, "models", "openai")},
    "/v1/responses/": {"GET": (pipeline.retrieve_response, "responses", "openai"),
                       "DELETE": (pipeline.delete_response, "responses", "openai")},
    "/v1/files/": {"GET": (files.retrieve, "files", "openai"), "DELETE": (files.delete, "files", "openai")},
    "/v1/batches/": {"GET": (batches.retrieve, "batches", "openai")},
    "/v1/prompts/": {"POST": (pipeline.prompt, "chat", "openai")},
}
ID_SUBROUTES: dict[tuple[str, str], dict[str, tuple]] = {
    ("/v1/responses/", "input_items"): {"GET": (pipeline.response_input_items, "responses", "openai")},
    ("/v1/files/", "content"): {"GET": (files.content, "files", "openai")},
    ("/v1/batches/", "cancel"): {"POST": (batches.cancel, "batches", "openai")},
}
# A successful answer is 200 except where a route creates something.
CREATED = frozenset({"/v1/feedback"})


def _style_of(path: str, headers: dict[str, str]) -> str:
    """Anthropic's error shape on its surface: every ``/v1/messages*`` path, and ``/v1/models`` when the
    caller speaks Anthropic (its SDK sends ``anthropic-version``)."""
    if path.startswith("/v1/messages") or (path.startswith("/v1/models") and "anthropic-version" in headers):
        return "anthropic"
    return "openai"


def _find_route(path: str) -> tuple[dict[str, tuple] | None, str | None]:
    """The methods a path serves, and the id it names (for ``/v1/models/{model}`` and the like)."""
    if (methods := ROUTES.get(path)) is not None:
        return methods, None
    for prefix, methods in ID_ROUTES.items():
        if path.startswith(prefix) and len(path) > len(prefix):
            rest = path.removeprefix(prefix)
            if prefix == "/v1/models/":
                return methods, rest  # a model id may hold a slash (fine-tune style names)
            item, _, sub = rest.partition("/")
            if not sub:
                return methods, item
            return ID_SUBROUTES.get((prefix, sub)), item
    return None, None


def _error_body(error: GatewayError, style: str) -> bytes:
    return anthropic_wire.render_error(error) if style == "anthropic" else error.to_openai_json()


async def _read_body(receive, limit: int, timeout: float) -> bytes:
    """The whole body, bounded in size and in time (a half-sent body must not hold the connection)."""
    chunks, size = [], 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    # Granian reports a body it cannot parse (bad chunked encoding) as a disconnect too;
                    # answering lets a caller that is still there see a 400 instead of granian's own 500.
                    raise UnreadableBodyError("The request body could not be read: the connection closed "
                                              "early or the chunked encoding was malformed.")
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLargeError(f"The request body is larger than the limit of {limit} bytes.")
                chunks.append(chunk)
                if not message.get("more_body"):
                    return b"".join(chunks)
    except TimeoutError:
        raise RequestTimeoutError(f"The request body did not arrive within {timeout:g} seconds.") from None


def _body_reader(receive, headers: dict[str, str]):
    """Read the body only when the pipeline asks, which is after the key was checked from the headers."""

    async def read() -> bytes:
        _check_content_type(headers)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > settings.GATEWAY_MAX_BODY_BYTES:
            raise PayloadTooLargeError(
                f"The request body is larger than the limit of {settings.GATEWAY_MAX_BODY_BYTES} bytes.")
        body = await _read_body(receive, settings.GATEWAY_MAX_BODY_BYTES, settings.GATEWAY_BODY_TIMEOUT_SECONDS)
        if not body:
            raise BadRequestError("The request body is empty; send a JSON object.")
        return body

    return read


def _client_ip(scope, headers: dict[str, str]) -> str | None:
    client = scope.get("client")
    return client_address(peer=client[0] if client else None, forwarded_for=headers.get("x-forwarded-for"))


def _check_content_type(headers: dict[str, str]) -> None:
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaTypeError(
            f"Send the request body as JSON with 'Content-Type: application/json' (got {content_type or 'none'!r})."
        )


async def _send_whole(send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    try:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", JSON), (b"content-length", str(len(body)).encode()), *headers]})
        await send({"type": "http.response.body", "body": body})
    except Exception:  # the caller is gone (e.g. it disconnected while sending its body): nobody to answer
        log.debug("response_send_failed", status=status)


async def _send_stream(send, receive, stream: StreamBody, headers: list[tuple[bytes, bytes]]) -> None:
    """Send chunks as they come; if the caller disconnects, stop (which closes the upstream)."""

    async def pump() -> None:
        kind = [(b"content-type", SSE), (b"cache-control", b"no-cache")] if stream.content_type == SSE \
            else [(b"content-type", stream.content_type)]
        await send({"type": "http.response.start", "status": 200, "headers": [*kind, *headers]})
        async with contextlib.aclosing(stream.chunks) as chunks:
            async for piece in chunks:
                await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    pump_task = asyncio.ensure_future(pump())
    watch_task = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait({pump_task, watch_task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pump_task, watch_task):
            if not task.done():
                task.cancel()
        try:
            await pump_task
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # the connection broke under us: nothing left to tell the caller
            log.debug("stream_send_failed", error=type(exc).__name__)
        with contextlib.suppress(asyncio.CancelledError):
            await watch_task


async def application(scope, receive, send) -> None:
    """Serve one ``/v1/`` request."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    # Always our own id: the caller's X-Request-Id once keyed the ledger, so repeating it hid calls.
    request_id = mint_request_id()
    path = scope["path"].rstrip("/") or "/"
    style = _style_of(path, headers)
    extra_headers: dict[str, str] = {}
    try:
        result = await _dispatch(scope, receive, headers, request_id, path, extra_headers, style)
    except GatewayError as error:
        extra_headers.update(error.headers)
        result, status = _error_body(error, style), error.status
    except asyncio.CancelledError:
        return  # the caller left before we answered
    except Exception:
        log.exception("gateway_unhandled_error", request_id=request_id, path=path)
        error = InternalError(f"The gateway failed to handle this request (request id {request_id}).")
        result, status = _error_body(error, style), error.status
    else:
        status = 201 if path in CREATED else 200
    response_headers = [(b"x-request-id", request_id.encode()),
                        *([(b"request-id", request_id.encode())] if style == "anthropic" else []),
                        *((k.encode("latin-1"), v.encode("latin-1")) for k, v in extra_headers.items())]
    if isinstance(result, StreamBody):
        await _send_stream(send, receive, result, response_headers)
    else:
        await _send_whole(send, status, result, response_headers)


async def _dispatch(scope, receive, headers, request_id, path, extra_headers, style) -> bytes | StreamBody:
    method = scope["method"]
    methods, item_id = _find_route(path)
    if methods is None:
        raise NotFoundError(f"Unknown endpoint {method} {path}.", code="unknown_url")
    if method not in methods:
        allowed = ", ".join(methods)
        raise MethodNotAllowedError(f"{path} accepts {allowed}, not {method}.", headers={"allow": allowed})
    handler, operation, _ = methods[method]
    ctx = CallContext(request_id=request_id, client_request_id=well_formed_incoming_id(headers.get("x-request-id")),
                      client_ip=_client_ip(scope, headers), headers=headers,
                      read_body=_body_reader(receive, headers), operation=operation, style=style,
                      snapshot=await state.current(), response_headers=extra_headers, method=method, receive=receive,
                      query=scope.get("query_string", b"").decode("latin-1"))
    if item_id is not None:
        return await handler(ctx, item_id)
    if (presented_key(headers) or "").startswith(batch_lines.PREFIX):  # a batch runner's line (not a live call)
        if path not in batch_lines.ENDPOINTS:
            raise batch_lines.bad_credential()
        await authenticate(ctx)
        return await batch_lines.answer_once(ctx, path, lambda: handler(ctx))
    return await handler(ctx)


async def _start() -> None:
    tokens.seed_tiktoken_cache()
    try:
        await state.refresh(force=True)  # in its thread, also the tokenizers the endpoints count with
    except Exception:  # e.g. migrations not applied yet: serve, and load on the first request
        log.exception("gateway_state_start_failed")
    state.start_polling()
    await metering.flusher.start()
    await health.start()  # full stack: the circuits' sync with Redis
    await inflight.caps.start()  # full stack: renewing the leases of the in-flight slots held
    if not settings.REDIS_URL and settings.GATEWAY_PROCESSES > 1:
        # The in-process limiter is exact within one process only (bin/serve runs one without Redis).
        log.warning("embedded_limits_per_process", processes=settings.GATEWAY_PROCESSES,
                    detail="each process enforces every limit on its own; set REDIS_URL to share them")


async def _stop() -> None:
    await shadow.stop()  # shadow calls in flight finish (briefly) so the last flush carries their results
    await health.stop()
    await inflight.caps.stop()
    await metering.flusher.stop()
    await limiter.close()
    await state.stop()
    await http_clients.close_all()


on_startup(_start)
on_shutdown(_stop)
