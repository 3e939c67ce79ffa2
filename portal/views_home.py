"""The home page: what the signed-in person can do next.

Browse and try models, their teams, their applications and keys, the requests waiting for their
decision, and — for someone in no team yet — how to get into one. It is the portal's page because
it shows the portal's applications and approvals (the core cannot read those).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from aiplatform import selectors as core_selectors
from aiplatform.permissions import can
from portal import selectors

PLAYGROUND_PATH = "/playground/"  # the playground's own URL name is not settled yet
QUEUE_SHOWN = 5


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    is_approver = selectors.is_approver(user)
    queue = selectors.approval_queue(user) if is_approver else None
    return render(request, "portal/home.html", {
        "memberships": core_selectors.memberships_of_user(user).order_by("tenant__name"),
        "applications": selectors.applications_of_my_teams(user),
        "is_approver": is_approver,
        "queue": list(queue[:QUEUE_SHOWN]) if queue is not None else [],
        "queue_size": queue.count() if queue is not None else 0,
        "may_create_teams": can(user, "tenant.create"),
        "playground_path": PLAYGROUND_PATH,
    })
