"""A team's webhooks, at /portal/teams/<slug>/webhooks/: add one (its signing secret shown once), send a test
event, read the delivery log, delete one. Team admins and owners change them; every member reads the page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from aiplatform.forms import add_service_errors
from aiplatform.models import Tenant
from aiplatform.permissions import can, get_for_user_or_404
from portal import shown_once, webhooks
from portal.forms import WebhookForm
from portal.models import AlertWebhook, WebhookDelivery

RECENT_DELIVERIES = 50


def _page(request: HttpRequest, tenant: Tenant, form: WebhookForm | None = None, status: int = 200) -> HttpResponse:
    hooks = list(AlertWebhook.objects.filter(tenant=tenant))
    return render(request, "portal/webhooks.html", {
        "tenant": tenant,
        "webhooks": [(hook, webhooks.origin_of(hook)) for hook in hooks],
        "deliveries": (WebhookDelivery.objects.filter(webhook__tenant=tenant).select_related("webhook")
                       [:RECENT_DELIVERIES]),
        "may_manage": can(request.user, "tenant.update", tenant),
        "form": form or WebhookForm(),
    }, status=status)


@login_required
def team_webhooks(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = get_for_user_or_404(Tenant.objects, request.user, slug=slug)
    if request.method != "POST":
        return _page(request, tenant)
    form = WebhookForm(request.POST)
    if form.is_valid():
        try:
            hook, secret = webhooks.create_alert_webhook(actor=request.user, tenant=tenant, url=form.cleaned_data["url"],
                                                         events=form.cleaned_data["events"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            shown_once.keep(request, kind="webhook", pk=hook.pk, secret=secret)
            return redirect("portal:webhook_secret", hook.pk)
    return _page(request, tenant, form, status=400)


def _webhook(request: HttpRequest, pk: int) -> AlertWebhook:
    return get_for_user_or_404(AlertWebhook.objects.select_related("tenant"), request.user, pk=pk)


@login_required
def webhook_secret(request: HttpRequest, pk: int) -> HttpResponse:
    """The new webhook's signing secret, once."""
    hook = _webhook(request, pk)
    held = shown_once.take(request, kind="webhook", pk=hook.pk)
    if held is None:
        messages.info(request, "The signing secret was shown once and cannot be shown again. If it was not stored, "
                               "delete the webhook and add it again.")
        return redirect("portal:team_webhooks", hook.tenant.slug)
    response = render(request, "portal/secret_shown_once.html", {
        "secret": held["secret"], "what": "webhook signing secret", "webhook": hook, "tenant": hook.tenant})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def webhook_test(request: HttpRequest, pk: int) -> HttpResponse:
    hook = _webhook(request, pk)
    outcome = webhooks.send_test_event(actor=request.user, webhook=hook)
    if outcome.delivered:
        messages.success(request, f"Test event delivered to {webhooks.origin_of(hook)} ({outcome.status}).")
    else:
        messages.error(request, f"Test event not delivered to {webhooks.origin_of(hook)}: {outcome.reason}.")
    return redirect("portal:team_webhooks", hook.tenant.slug)


@login_required
@require_POST
def webhook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    hook = _webhook(request, pk)
    slug, origin = hook.tenant.slug, webhooks.origin_of(hook)
    webhooks.delete_webhook(actor=request.user, webhook=hook)
    messages.success(request, f"Webhook to {origin} deleted.")
    return redirect("portal:team_webhooks", slug)
