"""The use-case rankings: every measured use case, and one use case's ranking with its evidence."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from recommendations import scoring, selectors


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "recommendations/index.html", {"use_cases": selectors.ranked_use_cases()})


@login_required
@require_GET
def use_case(request: HttpRequest, use_case: str) -> HttpResponse:
    ranking = selectors.ranking_for(request.user, use_case)
    return render(request, "recommendations/use_case.html", {
        "ranking": ranking, "weights": {k: int(v * 100) for k, v in scoring.WEIGHTS.items()},
        "min_calls": settings.RECOMMENDATION_MIN_CALLS, "min_votes": settings.RECOMMENDATION_MIN_VOTES},
        status=200 if ranking.measured else 404)
