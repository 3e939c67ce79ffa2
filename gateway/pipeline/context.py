"""What one request carries through the pipeline, typed, and how it ended."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from gateway.batch_lines import BatchLineCall
from gateway.limits import Admission
from gateway.normal import ChatRequest, EmbeddingRequest, Usage
from gateway.providers.base import UpstreamTarget
from gateway.state import Snapshot
from guardrails.guard import Guard
from portal.limits import LimitRule
from portal.selectors import KeyGrant
from registry.selectors import AliasRouting, RouteTarget

CLIENT_CLOSED = 499  # recorded when the caller disconnects before the answer ends (nginx's convention)


@dataclass(slots=True)
class Attempt:
    """One try of one endpoint within a call: how it ended (``error`` empty when it served) and how long it took."""

    endpoint_id: int
    status: int
    error: str
    ms: float


@dataclass(frozen=True, slots=True)
class PromptCall:
    """A call of a prompt API (``/v1/prompts/<slug>``): which one and which version, for the ledger."""

    slug: str
    version: int


@dataclass(slots=True)
class CallContext:
    """Filled in step by step: the request as received, who is calling, what they may use, where it goes,
    and finally how it ended (``status``, ``usage``, ``error``), which ``pipeline.finish`` records once."""

    request_id: str
    client_ip: str | None
    headers: dict[str, str]
    operation: str  # chat | embeddings | messages | models
    snapshot: Snapshot
    method: str = "POST"
    query: str = ""  # the URL's query string, undecoded (paging of /v1/models)
    # Reads (bounded in size and time) the request body; the pipeline calls it after authentication,
    # so an unauthenticated caller never makes the gateway hold a body in memory.
    read_body: Callable[[], Awaitable[bytes]] = field(default=None)  # type: ignore[assignment]
    # The ASGI receive itself, for a body that is not JSON (a file upload streams through it after authentication).
    receive: Callable[[], Awaitable[dict]] | None = None
    client_request_id: str = ""  # the caller's X-Request-Id (searchable in the ledger)
    style: str = "openai"  # the caller's wire format: openai | anthropic (errors, rate-limit headers)
    started: float = field(default_factory=time.perf_counter)
    grant: KeyGrant | None = None  # 1 authenticate
    request: ChatRequest | EmbeddingRequest | None = None  # parsed
    # What a surface keeps beside its normal-form request (the Responses API's ``ResponsesCall``).
    surface: Any = None
    routing: AliasRouting | None = None  # the alias, resolved
    rules: tuple[LimitRule, ...] = ()  # 2 limits: every level this call must fit
    admission: Admission | None = None
    prompt_tokens_estimate: int | None = None  # the limits step's estimate, reused by routing
    dedicated_route: RouteTarget | None = None  # the team's dedicated endpoint for this alias, if any
    # A routing rule chose the routes: its routes are the only endpoints this call's data may reach.
    rule_matched: bool = False
    guard: Guard | None = None  # 3 guard input: this call's policies, masked values and decisions (None: no policy)
    payload_record: dict | None = None  # 7 finish: the payload as the tenant's payload logging keeps it
    candidates: list[RouteTarget] = field(default_factory=list)  # 4 route: the endpoints to try, in order
    route: RouteTarget | None = None  # 4 route, 5 call: the endpoint being tried, finally the one that served
    shadow_route: RouteTarget | None = None  # 4 route: the shadow route this call is mirrored to, if drawn
    target: UpstreamTarget | None = None
    attempts: list[Attempt] = field(default_factory=list)  # every try, in order (5 call)
    response_headers: dict[str, str] = field(default_factory=dict)
    first_byte_at: float | None = None
    answer_text: str | None = None  # 5 call: the answer's text, kept only when the call is mirrored to a shadow
    # The batch line this call is (``gateway.batch_lines``: the runner's credential); None for a live call.
    batch_line: BatchLineCall | None = None
    prompt: PromptCall | None = None  # the prompt API and version this call renders, if it is one
    # How it ended, set by whichever step ended it.
    status: int = 0
    usage: Usage | None = None
    error: BaseException | None = None
    streamed: bool = False
    cost: Decimal = Decimal(0)  # 7 finish: what the call was charged
    finished: bool = False

    @property
    def guard_record(self) -> list[dict]:
        """7 finish: the guard's decisions so far, for the usage event (read once, when the call ends)."""
        return self.guard.record() if self.guard is not None else []

    def elapsed_ms(self, since: float | None = None) -> float:
        return round(((since or time.perf_counter()) - self.started) * 1000, 3)

    def ended(self, *, status: int, usage: Usage | None = None, error: BaseException | None = None) -> None:
        self.status, self.usage, self.error = status, usage, error
