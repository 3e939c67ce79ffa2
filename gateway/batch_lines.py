"""Lines of a batch at the gateway: the runner's credential, and each line answered exactly once.

The batch runner (``portal.batch_runner``) calls the gateway like any client: the line's body goes to
the batch's endpoint (``/v1/chat/completions``, ...), so subscriptions, limits, budgets, guardrails,
routing with fallback and metering all apply. It cannot hold the submitting key (only its hash is
kept), so it presents a *line credential* instead::

    Authorization: Bearer sbb-<batch id>.<line number>.<key id>.<HMAC-SHA256 of those, keyed by SECRET_KEY>

which authenticates as that key (still alive: revoking it stops its batches) for that one line only.

Exactly once: the gateway claims the line's row before calling (``portal.services.batches.claim_line``)
and writes the answer on it after metering it, in a task the runner's disconnecting cannot cancel.
A repeat of an answered line (the runner was killed before it saw the answer) gets the recorded answer,
with no second call and no second usage event; the call's request id is derived from the line, so even a
gateway killed between metering and recording meters the line once in the ledger. Refusals that only mean
"not now" (a rate limit, the limiter or every upstream briefly unavailable) are not recorded: the line
goes back to waiting and the runner sends it again later.

Cost: two small writes in a worker thread per line (claim, record); live calls pay nothing, not even the
check (a live key never starts with ``sbb-``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson
import structlog
from django.conf import settings
from django.utils.crypto import salted_hmac

from gateway.db_thread import in_thread
from gateway.errors import (
    AuthenticationError,
    GatewayError,
    LimiterUnavailableError,
    RateLimitError,
    UpstreamRateLimitError,
    UpstreamUnavailableError,
)

log = structlog.get_logger("switchboard.gateway.batches")

PREFIX = "sbb-"
_CREDENTIAL = re.compile(r"^sbb-(?P<batch>batch_[0-9a-f]{24})\.(?P<line>[1-9]\d{0,6})\.(?P<key>[1-9]\d{0,18})\."
                         r"(?P<sig>[0-9a-f]{64})$")
# Answers that mean "not now": the line is not answered by them, the runner tries it again after Retry-After.
TRANSIENT = (RateLimitError, LimiterUnavailableError, UpstreamRateLimitError, UpstreamUnavailableError)
RECORDED_HEADER = "x-switchboard-batch-line"  # "recorded", "replayed", or "retry" (not answered yet)


@dataclass(frozen=True, slots=True)
class BatchLineCall:
    """The line a call is: set on the context by authentication, read by metering and the recorder."""

    batch_id: str
    number: int


class LineBusyError(GatewayError):
    status = 409
    type = "invalid_request_error"
    code = "batch_line_in_progress"


class LineClosedError(GatewayError):
    status = 409
    type = "invalid_request_error"
    code = "batch_not_in_progress"


def _signature(batch_id: str, number: int, key_id: int) -> str:
    return salted_hmac("switchboard.batch-line", f"{batch_id}:{number}:{key_id}", algorithm="sha256").hexdigest()


def line_credential(batch_id: str, number: int, key_id: int) -> str:
    """What the runner presents to call line ``number`` of ``batch_id`` as key ``key_id``."""
    return f"{PREFIX}{batch_id}.{number}.{key_id}.{_signature(batch_id, number, key_id)}"


def line_request_id(batch_id: str, number: int) -> str:
    """The ledger's id of the line's call, the same on every try, so the ledger keeps one event per line."""
    return "batch_req_" + hashlib.sha256(f"{batch_id}:{number}".encode()).hexdigest()[:32]


def verified_line(credential: str) -> tuple[BatchLineCall, int] | None:
    """The line and the key id a credential names, or None when it is not one this platform signed."""
    found = _CREDENTIAL.match(credential)
    if found is None:
        return None
    batch_id, number, key_id = found["batch"], int(found["line"]), int(found["key"])
    if not hmac.compare_digest(found["sig"], _signature(batch_id, number, key_id)):
        return None
    return BatchLineCall(batch_id, number), key_id


_index: tuple[object, dict] = (None, {})


def grant_by_id(keys, key_id: int):
    """The snapshot's grant of key ``key_id`` (an index by id, rebuilt when the key table is replaced)."""
    global _index
    table, by_id = _index
    if table is not keys:
        by_id = {grant.key_id: grant for grant in keys.values()}
        _index = (keys, by_id)
    return by_id.get(key_id)


def bad_credential() -> AuthenticationError:
    return AuthenticationError("Invalid batch line credential.", code="invalid_api_key")


ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings", "/v1/responses", "/v1/completions")


async def answer_once(ctx, endpoint: str, handler: Callable[[], Awaitable[bytes]]) -> bytes:
    """Run ``handler`` (the ``endpoint``'s pipeline) for a batch line at most once, and record its answer.

    Returns the answer's body; raises the answer's ``GatewayError`` (recorded too, unless transient).
    """
    from portal.services.batches import claim_line, release_line

    line: BatchLineCall = ctx.batch_line
    claim = await in_thread(claim_line)(batch_id=line.batch_id, number=line.number, endpoint=endpoint,
                                        lease_seconds=settings.BATCH_LINE_LEASE_SECONDS)
    if claim.state == "answered":
        ctx.response_headers[RECORDED_HEADER] = "replayed"
        if claim.status_code == 200:
            return orjson.dumps(claim.response)
        raise _Replayed(claim.status_code, claim.response)
    if claim.state == "busy":
        ctx.response_headers[RECORDED_HEADER] = "retry"
        raise LineBusyError("This line is being answered by another request.", headers={"retry-after": "2"})
    if claim.state == "closed":
        raise LineClosedError(f"Batch {line.batch_id} is not in progress; its lines are not called any more.")

    async def call_and_record() -> tuple[int, bytes, GatewayError | None]:
        try:
            body, error = await handler(), None
            status = 200
            if not isinstance(body, bytes):  # a stream: validation refuses such lines, so this is a defect
                raise GatewayError("A batch line cannot be streamed.", code="stream_not_supported")
        except GatewayError as exc:
            body, error, status = exc.to_openai_json(), exc, exc.status
        except Exception:
            log.exception("batch_line_failed", batch_id=line.batch_id, line=line.number, request_id=ctx.request_id)
            error = GatewayError(f"The gateway failed to answer this line (request id {ctx.request_id}).",
                                 code="internal_error")
            body, status = error.to_openai_json(), 500
        if isinstance(error, TRANSIENT):
            await in_thread(release_line)(batch_id=line.batch_id, number=line.number)
            ctx.response_headers[RECORDED_HEADER] = "retry"
            return status, body, error
        from portal.services.batches import record_line_answer

        await in_thread(record_line_answer)(
            batch_id=line.batch_id, number=line.number, status_code=status, response=orjson.loads(body),
            request_id=ctx.request_id, cost=ctx.cost, usage=ctx.usage)
        ctx.response_headers[RECORDED_HEADER] = "recorded"
        return status, body, error

    # Shielded: the runner going away (killed, or timed out) must not cancel a call the upstream is answering,
    # or the line would be metered as cut short and called again.
    status, body, error = await asyncio.shield(asyncio.ensure_future(call_and_record()))
    if error is not None:
        raise error
    return body


class _Replayed(GatewayError):
    """A recorded error answer, sent again as it was."""

    def __init__(self, status: int, body: dict) -> None:
        detail = (body or {}).get("error") or {}
        super().__init__(str(detail.get("message", "")), code=detail.get("code"), param=detail.get("param"))
        self.status, self.type = status, str(detail.get("type", "api_error"))
