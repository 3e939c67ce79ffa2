"""``/v1/models`` in OpenAI's list shape: the aliases a key may call (retired ones left out)."""

from __future__ import annotations

import calendar

import orjson

from gateway.errors import NotFoundError
from gateway.pipeline.context import CallContext


def _model_object(routing) -> dict:
    day = routing.approved_on
    created = calendar.timegm(day.timetuple()) if day else 0
    return {"id": routing.name, "object": "model", "created": created, "owned_by": "switchboard"}


def _callable(ctx: CallContext):
    for name in sorted(ctx.grant.aliases):
        routing = ctx.snapshot.routing.get(name)
        if routing is not None and routing.status != "retired":
            yield routing


def render_model_list(ctx: CallContext) -> bytes:
    return orjson.dumps({"object": "list", "data": [_model_object(r) for r in _callable(ctx)]})


def render_model(ctx: CallContext, model: str) -> bytes:
    for routing in _callable(ctx):
        if routing.name == model:
            return orjson.dumps(_model_object(routing))
    raise NotFoundError(f"The model '{model}' does not exist or you do not have access to it.", param="model")
