"""The gateway's in-process view of the configuration: routes, keys and resolved secrets.

Requests read only this snapshot, so the happy path makes no database query. A poller (started
by the ASGI lifespan) checks the configuration versions every ``GATEWAY_CONFIG_POLL_SECONDS``:
one Redis MGET in the full stack, a one-row query in the embedded mode, and a database check
every few seconds even with Redis, in case a Redis notice was lost. When a version moved, the
changed part is reloaded in a thread and swapped in whole, so a request sees one consistent
snapshot. Revoking a key therefore bites in every process within about a second.

Consistent means as of one set of versions: the rows are read together, between two reads of the
versions, and read again if a change committed in between (``_read``); only then are secrets resolved
and the tokenizers of new endpoints loaded (``_load``). A reload once read the routing table, loaded a
tokenizer for about half a second, then read the keys: a key created meanwhile was served before the model
added just before it, until the next poll. That window was taken for a poller that fell asleep.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import structlog
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from gateway.providers.base import UpstreamTarget
from portal.limits import EMPTY_TABLE, LimitTable

log = structlog.get_logger("switchboard.gateway")

NAMESPACES = ("registry", "keys")
_DB_CHECK_EVERY = 10  # polls; with Redis, the database is still consulted this often


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One consistent view: aliases by name, key grants by key hash, upstream targets by endpoint id."""

    routing: Mapping[str, Any] = field(default_factory=dict)
    keys: Mapping[str, Any] = field(default_factory=dict)
    targets: Mapping[int, UpstreamTarget] = field(default_factory=dict)
    # Endpoints left out of ``targets`` (so routing skips them), with the reason: e.g. a secret that
    # cannot be resolved, which would otherwise be called without credentials.
    unhealthy: Mapping[int, str] = field(default_factory=dict)
    # Dedicated hosting: (tenant id, alias name) → the team's approved dedicated endpoint, tried first.
    dedicated: Mapping[tuple[int, str], Any] = field(default_factory=dict)
    limits: LimitTable = EMPTY_TABLE  # every level's limits, looked up per call (dict reads only)
    # Embedded mode: the ledger's spend this day and month per budgeted level, to seed the in-process limiter.
    ledger_spend: Mapping[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    versions: Mapping[str, int] = field(default_factory=dict)
    loaded_at: float = 0.0
    # Guardrail policies (enabled, current versions), and what they combine to per caller, filled on first use
    # (``gateway.pipeline.guard.effective_for``): a new snapshot starts with an empty cache.
    policies: tuple[Any, ...] = ()
    prompts: Mapping[str, Any] = field(default_factory=dict)  # prompt APIs by slug (registry.selectors_prompts)
    guard_cache: dict[tuple[str, str, str, str], Any] = field(default_factory=dict)


_UNRESOLVED = object()


def _upstream_target(route, secrets: dict[str, Any]) -> UpstreamTarget | None:
    """The endpoint's target, or ``None`` when its secret cannot be resolved (never call it keyless)."""
    from registry.secrets import resolve_secret

    ref = route.api_key_ref
    if ref and ref not in secrets:
        try:
            secrets[ref] = resolve_secret(ref)
        except Exception as exc:  # an unresolvable secret disables that endpoint, not the gateway
            log.warning("secret_unresolvable", endpoint_id=route.endpoint_id, error=type(exc).__name__)
            secrets[ref] = _UNRESOLVED
    if ref and secrets[ref] is _UNRESOLVED:
        return None
    return UpstreamTarget(
        provider_kind=route.provider_kind,
        base_url=route.base_url,
        upstream_model=route.upstream_model,
        api_key=secrets.get(ref, "") if ref else "",
        region=route.region,
        connect_timeout=route.connect_timeout,
        first_byte_timeout=route.first_byte_timeout,
        total_timeout=route.total_timeout,
        config=MappingProxyType(dict(route.provider_config)),
    )


def warm_tokenizers_for(targets: Iterable[UpstreamTarget]) -> None:
    """Load the tokenizers these endpoints may count usage with (blocking: run it in a thread).

    Called by every reload that rebuilt the targets, after the database was read (``_load``), so an
    endpoint's tokenizer is loaded before a call counts with it, never in the event loop. Only what the
    endpoints need is loaded; each encoding keeps its memory for the life of the process.
    """
    from gateway import tokens
    from gateway.providers.demo import count_model

    names = set()
    for target in targets:
        model = count_model(target) if target.provider_kind == "demo" else target.upstream_model
        if name := tokens.encoding_name_for_model(model or ""):
            names.add(name)
    try:
        tokens.warm(*sorted(names))
    except Exception:  # counting falls back to an estimate; never fail a config load over a tokenizer
        log.exception("tokenizer_warm_failed", encodings=sorted(names))


def _read_versions_from_db() -> dict[str, int]:
    from aiplatform.config_version import current

    try:
        return {ns: current(ns) for ns in NAMESPACES}
    finally:
        close_old_connections()


_READ_ATTEMPTS = 3  # reads that a commit overlapped, at most, before one is taken as it is (and logged)


@dataclass(slots=True)
class _Rows:
    """What one read of the database brought, as of ``versions``: the parts that moved (``None``: unchanged)."""

    versions: dict[str, int]
    routing: Mapping[str, Any] | None = None
    policies: tuple[Any, ...] | None = None
    prompts: Mapping[str, Any] | None = None
    hosted: Mapping[tuple[int, str], int] | None = None
    hosted_targets: Mapping[int, Any] | None = None
    keys: Mapping[str, Any] | None = None
    limits: LimitTable | None = None
    spend: Mapping[tuple[str, str], tuple[int, int]] | None = None


def _read(previous: Snapshot) -> _Rows:
    """Read what moved since ``previous``, all of it as of one set of versions (blocking: runs in a thread).

    A change commits its rows and its version bump together, and a version never repeats, so versions
    that read the same before and after these queries mean no change committed in between: the rows
    are one view, whatever the isolation level. Nothing slow happens between the two reads of the
    versions (secrets and tokenizers come after, in ``_load``); a read that a commit overlapped is
    made again, and after ``_READ_ATTEMPTS`` taken labelled with the versions read first, so the next
    poll reads again.
    """
    from aiplatform.config_version import current
    from portal.limits import period_spend
    from portal.selectors import dedicated_routes, gateway_key_table, gateway_limit_table
    from registry.selectors import endpoint_targets, policy_table, routing_table
    from registry.selectors_prompts import prompt_table

    for attempt in range(1, _READ_ATTEMPTS + 1):
        rows = _Rows({ns: current(ns) for ns in NAMESPACES})
        registry_moved = rows.versions["registry"] != previous.versions.get("registry") or not previous.loaded_at
        keys_moved = rows.versions["keys"] != previous.versions.get("keys") or not previous.loaded_at
        if not (registry_moved or keys_moved):
            return rows
        if registry_moved:
            rows.routing = routing_table()
            rows.policies = policy_table()
            rows.prompts = prompt_table()
        # Approving dedicated hosting moves "keys"; the endpoint's own settings move "registry".
        rows.hosted = dedicated_routes()
        rows.hosted_targets = endpoint_targets(set(rows.hosted.values())) if rows.hosted else {}
        if keys_moved:
            rows.keys = MappingProxyType(dict(gateway_key_table()))
            rows.limits = gateway_limit_table()
            rows.spend = MappingProxyType(period_spend(rows.limits) if not settings.REDIS_URL else {})
        after = {ns: current(ns) for ns in NAMESPACES}
        if after == rows.versions:
            return rows
        log.info("gateway_config_read_overlapped", attempt=attempt, versions=rows.versions, after=after)
    log.warning("gateway_config_read_unsettled", attempts=_READ_ATTEMPTS, versions=rows.versions)
    return rows


def _load(previous: Snapshot) -> Snapshot:
    """The snapshot after what changed since ``previous``; ``previous`` itself when nothing did (blocking: runs in a thread)."""
    try:
        rows = _read(previous)
    finally:
        close_old_connections()
    if rows.hosted is None and previous.loaded_at:
        return previous  # nothing moved since it was read (the polled versions were behind the database's)
    routing = previous.routing if rows.routing is None else rows.routing
    policies = previous.policies if rows.policies is None else rows.policies
    prompts = previous.prompts if rows.prompts is None else rows.prompts
    dedicated = MappingProxyType({owner: rows.hosted_targets[endpoint_id] for owner, endpoint_id in rows.hosted.items()
                                  if endpoint_id in rows.hosted_targets})
    secrets: dict[str, Any] = {}
    resolved, failed = {}, {}
    for route in [*(r for alias in routing.values() for r in alias.routes), *dedicated.values()]:
        target = _upstream_target(route, secrets)
        if target is None:
            failed[route.endpoint_id] = "secret_unresolvable"
        else:
            resolved[route.endpoint_id] = target
    warm_tokenizers_for(resolved.values())  # before any call can count with them (loading o200k takes ~0.5 s)
    keys, limits, spend = previous.keys, previous.limits, previous.ledger_spend
    if rows.keys is not None:
        keys, limits, spend = rows.keys, rows.limits, rows.spend
    return Snapshot(routing=routing, keys=keys, targets=MappingProxyType(resolved), unhealthy=MappingProxyType(failed),
                    dedicated=dedicated, limits=limits, ledger_spend=spend, versions=dict(rows.versions),
                    loaded_at=time.time(), policies=policies, prompts=prompts)


def _poll_client():
    """The poller's Redis client: it gives up within one poll interval, so a hung Redis (which accepts the
    connection and never answers) delays a revocation by that much, not for as long as it hangs."""
    import redis.asyncio as aioredis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    timeout = min(settings.REDIS_TIMEOUT_SECONDS, settings.GATEWAY_CONFIG_POLL_SECONDS)
    return aioredis.Redis.from_url(settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout,
                                   retry=Retry(NoBackoff(), 0))


_CATCH_UP_SECONDS = 0.05


class GatewayState:
    """Holds the current snapshot and keeps it fresh."""

    def __init__(self) -> None:
        self.snapshot = Snapshot()
        self._lock = asyncio.Lock()
        self._poller: asyncio.Task | None = None
        self._redis = None
        self._polls = 0
        self._last_check = 0.0
        self._last_catch_up = 0.0
        self._catch_up: asyncio.Future | None = None
        self._redis_again_at = 0  # poll number; after a Redis failure the database answers until then
        self._loaded_for: dict[str, int] = {}  # the polled versions the last reload was made for

    async def current(self) -> Snapshot:
        """The snapshot to serve this request from. Loads on first use; never queries per request."""
        snap = self.snapshot
        if not snap.loaded_at:
            await self.refresh(force=True)
            return self.snapshot
        if self._poller is None and time.monotonic() - self._last_check > settings.GATEWAY_CONFIG_POLL_SECONDS:
            # No lifespan poller (e.g. a test transport): check inline, at most once per interval.
            await self.refresh()
        return self.snapshot

    async def _versions(self) -> dict[str, int]:
        self._polls += 1
        if settings.REDIS_URL and self._polls % _DB_CHECK_EVERY and self._polls >= self._redis_again_at:
            from redis.exceptions import RedisError

            from aiplatform.config_version import REDIS_KEY

            if self._redis is None:
                self._redis = _poll_client()
            try:
                values = await self._redis.mget([REDIS_KEY.format(namespace=ns) for ns in NAMESPACES])
            except (RedisError, OSError) as exc:  # down or hung: the one-row database query answers instead
                log.warning("gateway_config_redis_unavailable", error=type(exc).__name__)
                self._redis_again_at = self._polls + _DB_CHECK_EVERY
            else:
                if all(v is not None for v in values):
                    return {ns: int(v) for ns, v in zip(NAMESPACES, values, strict=True)}
        return await sync_to_async(_read_versions_from_db, thread_sensitive=False)()

    async def refresh(self, *, force: bool = False) -> None:
        """Check the versions; if they moved, reload what changed (as of the database's versions, see ``_read``)."""
        async with self._lock:
            self._last_check = time.monotonic()
            polled = await self._versions()
            snap = self.snapshot
            # The snapshot carries the database's versions, which Redis may lag (a notice lost): versions
            # already loaded for are not loaded again at every poll.
            if not force and snap.loaded_at and polled in (dict(snap.versions), self._loaded_for):
                return
            fresh = await sync_to_async(_load, thread_sensitive=False)(snap)
            self._loaded_for = polled
            if fresh is snap:
                return
            self.snapshot = fresh
            if fresh.ledger_spend:
                from gateway.limits.limiter import limiter

                limiter.local.seed_spend(fresh.ledger_spend)
            log.info("gateway_config_loaded", versions=dict(fresh.versions), aliases=len(fresh.routing),
                     keys=len(fresh.keys))

    async def caught_up(self, seen: Snapshot) -> Snapshot | None:
        """A snapshot newer than ``seen`` if the configuration changed since it was loaded; else None.

        For refusals a change made a moment ago would cure (a key just created, a subscription just
        approved): with several gateway processes, the one that answers may not have polled yet. The
        versions are checked at once instead of at the next poll: calls that ask while a check is under
        way wait for it, and a new check starts at most every ``_CATCH_UP_SECONDS`` per process, so a
        flood of bad keys costs at most that many version reads. Never on the happy path.
        """
        if self.snapshot is not seen:  # a newer one arrived since this call began
            return self.snapshot
        check = self._catch_up
        if check is None or check.done():
            now = time.monotonic()
            if now - self._last_catch_up < _CATCH_UP_SECONDS:
                return None
            self._last_catch_up = now
            check = self._catch_up = asyncio.ensure_future(self._refresh_quietly())
        await asyncio.shield(check)
        return self.snapshot if self.snapshot is not seen else None

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh()
        except Exception:  # keep the snapshot we have; the refusal stands
            log.exception("gateway_config_catch_up_failed")

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(settings.GATEWAY_CONFIG_POLL_SECONDS)
            try:
                await self.refresh()
            except Exception:  # keep serving the last good snapshot; try again next tick
                log.exception("gateway_config_refresh_failed")

    def start_polling(self) -> None:
        """Keep the snapshot fresh from now on (the first load is ``refresh(force=True)``, or the first request)."""
        self._poller = asyncio.create_task(self._poll_forever(), name="gateway-config-poller")

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            self._poller = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None


state = GatewayState()
