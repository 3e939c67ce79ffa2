"""The bench's caller: keys whose application is limited on every counter, never refused.

Run inside ``manage.py shell`` by ``bench/stacks.py``, once per gateway stack:

    manage.py shell -c "from bench.governance import setup; setup()"

The bench measures what governance costs, so its calls must run every counter the gateway keeps
(requests and tokens per minute, the burst bucket, concurrency, a daily spend budget) without
ever being refused: a refusal would measure the cheap 429 path instead. Hence limits far above
anything wrk reaches on one machine, but limits all the same, set through the portal's own
services on the bench's applications (the level every call of an application must fit):

- application ``bench`` follows plan ``bench``: a **soft** daily budget (the default mode: admit
  while the day's spend is under it);
- application ``bench-strict`` follows plan ``bench-strict``: the same limits with a **strict**
  budget (admit only when spend + in-flight reservations + this call's maximum cost fit, so each
  call also reserves and releases its maximum cost).

Prints one JSON line: ``{"keys": {"soft": "sb-…", "strict": "sb-…"}, "plans": {...}}``.
"""

from __future__ import annotations

import io
import json
from decimal import Decimal

TENANT = "bench"
# Near a plan's ceilings (portal/models/limits.py: MAX_RATE 10,000,000; MAX_TOKENS 10**15; MAX_COST 10**9 dollars).
BENCH_LIMITS = {
    "requests_per_minute": 10_000_000,
    "tokens_per_minute": 10**12,
    "max_concurrency": 1_000_000,
    "burst": 10_000_000,
    "cost_per_day": Decimal(1_000_000),
}
CALLERS = (  # (kind, application, models, plan, budget mode)
    ("soft", "bench", "bench-chat,bench-stream,bench-chat-3,bench-chat-3w", "bench", "soft"),  # -3: routing, issue 13
    ("strict", "bench-strict", "bench-chat", "bench-strict", "strict"),
)


def _create_key(app: str, models: str) -> str:
    from django.core.management import call_command

    out = io.StringIO()
    call_command("create_api_key", tenant=TENANT, app=app, models=models, as_json=True, stdout=out)
    return json.loads(out.getvalue().strip().splitlines()[-1])["key"]


def setup() -> dict:
    """Create the plans, the applications and their keys; every application follows its bench plan."""
    from portal.models import Application, Plan
    from portal.services import create_plan, set_limits

    keys, plans = {}, {}
    for kind, app, models, plan, mode in CALLERS:
        if not Plan.objects.filter(name=plan).exists():
            create_plan(actor=None, name=plan, description=f"make bench: every counter, never refused ({mode})",
                        budget_mode=mode, default_output_tokens=16, **BENCH_LIMITS)
        keys[kind] = _create_key(app, models)
        set_limits(actor=None, owner=Application.objects.get(tenant__slug=TENANT, name=app), values={"plan": plan})
        plans[app] = plan
    result = {"keys": keys, "plans": plans, "limits": {k: str(v) for k, v in BENCH_LIMITS.items()}}
    print(json.dumps(result))
    return result
