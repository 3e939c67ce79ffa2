"""What one request carries through the pipeline."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.providers.base import UpstreamTarget
from gateway.state import Snapshot


@dataclass(slots=True)
class CallContext:
    """Filled in step by step: the request as received, then who is calling, then where it goes."""

    request_id: str
    client_ip: str | None
    headers: dict[str, str]
    operation: str  # chat | embeddings | messages | models
    snapshot: Snapshot
    # Reads (bounded in size and time) the request body; the pipeline calls it after authentication,
    # so an unauthenticated caller never makes the gateway hold a body in memory.
    read_body: Callable[[], Awaitable[bytes]] = field(default=None)  # type: ignore[assignment]
    client_request_id: str = ""  # the caller's X-Request-Id (searchable in the ledger)
    started: float = field(default_factory=time.perf_counter)
    grant: Any = None  # portal KeyGrant, after authenticate
    routing: Any = None  # registry AliasRouting, after route
    route: Any = None  # registry RouteTarget chosen
    target: UpstreamTarget | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    first_byte_at: float | None = None

    def elapsed_ms(self, since: float | None = None) -> float:
        return round(((since or time.perf_counter()) - self.started) * 1000, 3)
