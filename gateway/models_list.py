"""``/v1/models``: the aliases a key may call (retired ones left out), in OpenAI's list shape, or in Anthropic's
when the caller speaks Anthropic (its SDK sends ``anthropic-version``: ``ctx.style``).

An alias's creation date is its approval date, else the day it was created in the registry. Anthropic's list
is paged (``limit`` 1..1000, default 20; ``after_id`` / ``before_id``), newest first as Anthropic's is.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from urllib.parse import parse_qs

import orjson

from gateway.errors import BadRequestError, NotFoundError
from gateway.pipeline.context import CallContext
from gateway.routing.order import serving_routes
from registry.selectors import AliasRouting

ANTHROPIC_DEFAULT_LIMIT = 20
ANTHROPIC_MAX_LIMIT = 1000


def created_at(routing: AliasRouting) -> datetime:
    """When the alias became a model callers see: its approval day (midnight UTC), else its creation time."""
    if routing.approved_on is not None:
        return datetime(*routing.approved_on.timetuple()[:3], tzinfo=UTC)
    return routing.created_at or datetime.fromtimestamp(0, UTC)


def _openai_model(routing: AliasRouting) -> dict:
    created = calendar.timegm(created_at(routing).timetuple())
    return {"id": routing.name, "object": "model", "created": created, "owned_by": "switchboard"}


def _rfc3339(moment: datetime | date | None) -> str | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _anthropic_model(routing: AliasRouting) -> dict:
    windows = [r.context_window for r in serving_routes(routing) if r.context_window]
    deprecated = routing.status == "deprecated"
    # The registry has no display name of its own (the card holds none): the alias is what callers know.
    return {"type": "model", "id": routing.name, "display_name": routing.name,
            "created_at": _rfc3339(created_at(routing)), "lifecycle": "deprecated" if deprecated else "active",
            "deprecated_at": _rfc3339(routing.deprecated_on) if deprecated else None,
            "retires_at": _rfc3339(routing.sunset_on) if deprecated else None,
            "max_input_tokens": min(windows) if windows else None}


def _callable(ctx: CallContext):
    for name in sorted(ctx.grant.aliases):
        routing = ctx.snapshot.routing.get(name)
        if routing is not None and routing.status != "retired" and routing.kind != "prompt":  # prompts: /v1/prompts
            yield routing


def _page_query(ctx: CallContext) -> tuple[int, str | None, str | None]:
    query = {k: v[-1] for k, v in parse_qs(ctx.query).items()}
    raw = query.get("limit", str(ANTHROPIC_DEFAULT_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= ANTHROPIC_MAX_LIMIT:
        raise BadRequestError(f"limit: expected an integer between 1 and {ANTHROPIC_MAX_LIMIT}, but got {raw!r}.",
                              code="invalid_value", param="limit")
    after, before = query.get("after_id"), query.get("before_id")
    if after and before:
        raise BadRequestError("Give 'after_id' or 'before_id', not both.", code="invalid_value", param="after_id")
    return int(raw), after, before


def _anthropic_page(ctx: CallContext) -> bytes:
    limit, after, before = _page_query(ctx)
    models = sorted(_callable(ctx), key=lambda r: (-created_at(r).timestamp(), r.name))
    ids = [r.name for r in models]
    cursor = after or before
    if cursor is not None and cursor not in ids:
        raise BadRequestError(f"'{cursor}' is not a model of this list.", code="invalid_value",
                              param="after_id" if after else "before_id")
    if after is not None:
        start = ids.index(after) + 1
        page, has_more = models[start:start + limit], start + limit < len(models)
    elif before is not None:
        end = ids.index(before)
        page, has_more = models[max(end - limit, 0):end], end - limit > 0
    else:
        page, has_more = models[:limit], limit < len(models)
    return orjson.dumps({"data": [_anthropic_model(r) for r in page], "has_more": has_more,
                         "first_id": page[0].name if page else None, "last_id": page[-1].name if page else None})


def render_model_list(ctx: CallContext) -> bytes:
    """The key's callable aliases as a list, in the caller's shape."""
    if ctx.style == "anthropic":
        return _anthropic_page(ctx)
    return orjson.dumps({"object": "list", "data": [_openai_model(r) for r in _callable(ctx)]})


def render_model(ctx: CallContext, model: str) -> bytes:
    """One callable alias, in the caller's shape; 404 when the key may not call it."""
    for routing in _callable(ctx):
        if routing.name == model:
            return orjson.dumps(_anthropic_model(routing) if ctx.style == "anthropic" else _openai_model(routing))
    raise NotFoundError(f"The model '{model}' does not exist or you do not have access to it.", param="model")
