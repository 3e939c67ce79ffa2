"""The model card's "Request access": into the subscription form of the chosen application."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET

from aiplatform.permissions import get_for_user_or_404
from portal.models import Application


@login_required
@require_GET
def request_access(request: HttpRequest) -> HttpResponse:
    """Open the application's page with the model chosen in its subscription form."""
    raw = request.GET.get("application", "")
    application = get_for_user_or_404(Application.objects.all(), request.user, pk=int(raw) if raw.isdigit() else 0)
    query = urlencode({"alias": request.GET.get("alias", "")[:100]})
    return redirect(f"{reverse('portal:application', args=[application.pk])}?{query}#request-access")
