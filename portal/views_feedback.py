"""Feedback pages: the form under each playground answer, the owners' review queue, its CSV export,
and a model card's summary as a fragment.

Views parse a form, call one service or selector, and render. Under htmx the answer form and the
queue rows swap themselves; without it, each POST redirects back with a message.
"""

from __future__ import annotations

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from aiplatform.audit import record_event
from aiplatform.permissions import require
from portal import selectors_feedback as selectors
from portal.feedback_forms import FeedbackForm, QueueFilterForm, ReviewForm
from portal.models.feedback import Rating
from portal.services import feedback as services
from portal.views_usage import csv_cell
from registry.models import ModelAlias

PAGE_SIZE = 50
CSV_COLUMNS = ("created_at", "alias", "request_id", "rating", "category", "comment", "source", "team",
               "author", "application", "key_prefix", "status", "triaged_by", "triaged_at", "triage_note",
               "resolved_by", "resolved_at", "resolution_note")


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next") or request.headers.get("referer", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return redirect(target)
    return redirect("portal:index")


@login_required
@require_POST
def feedback_submit(request: HttpRequest) -> HttpResponse:
    """Feedback on one of the person's own playground answers; the thanks fragment, or the form again.

    A thumbs-down without a category is not stored yet: the form comes back asking what was wrong,
    remembering the thumb, and "Send feedback" completes it.
    """
    form = FeedbackForm(request.POST)
    context = {"request_id": request.POST.get("request_id", "")[:128], "form": form}
    if form.is_valid():
        rating = form.the_rating
        context.update(rating=rating, category=form.cleaned_data["category"], comment=form.cleaned_data["comment"])
        if not rating:
            context["error"] = "Choose Good answer or Bad answer first."
        elif rating == Rating.DOWN and not form.cleaned_data["category"]:
            context["ask_category"] = True
        else:
            try:
                feedback = services.submit_playground_feedback(
                    user=request.user, request_id=form.cleaned_data["request_id"], rating=rating,
                    category=form.cleaned_data["category"], comment=form.cleaned_data["comment"])
            except services.UnknownRequestId:
                context["error"] = "You can only rate your own answers, and this one is not among them."
            except ValidationError as exc:
                context["error"] = " ".join(exc.messages)
            else:
                if not request.htmx:
                    messages.success(request, "Thanks: your feedback reached the model's owners.")
                    return _back(request)
                return render(request, "portal/feedback/_thanks.html", {"feedback": feedback})
    else:
        context["error"] = " ".join(" ".join(errors) for errors in form.errors.values())
    if not request.htmx:
        messages.error(request, context.get("error") or "Choose a category to say what was wrong.")
        return _back(request)
    return render(request, "portal/feedback/_form.html", context)


@login_required
@require_GET
def feedback_queue(request: HttpRequest) -> HttpResponse:
    """Feedback on the models the person owns (every model for platform admins), filtered, newest first."""
    require(request.user, "feedback.review")  # model owners and platform admins; others: 403, audited
    aliases = list(selectors.reviewable_aliases(request.user).values_list("name", flat=True))
    filters = QueueFilterForm(request.GET, aliases=aliases)
    chosen = filters.cleaned_data if filters.is_valid() else {}
    queue = selectors.feedback_queue(request.user, **{k: chosen.get(k, "") for k in ("status", "alias", "rating",
                                                                                     "category")})
    page = Paginator(queue, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = selectors.with_answer_excerpts(list(page.object_list))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "portal/feedback/queue.html", {
        "filters": filters, "page": page, "rows": rows, "aliases": aliases, "query": query.urlencode(),
        "chosen_alias": chosen.get("alias", ""),
    })


@login_required
@require_POST
def feedback_review(request: HttpRequest, pk: int) -> HttpResponse:
    """Triage or resolve one feedback of the queue, with a note; under htmx the row swaps itself."""
    feedback = selectors.feedback_for_reviewer(request.user).filter(pk=pk).first()
    if feedback is None:
        raise Http404("No such feedback in your queue.")
    form = ReviewForm(request.POST)
    error = ""
    if not form.is_valid():
        error = "Choose triage or resolve; keep the note within 2,000 characters."
    else:
        service = services.triage_feedback if form.cleaned_data["action"] == "triage" else services.resolve_feedback
        try:
            service(actor=request.user, feedback=feedback, note=form.cleaned_data["note"])
        except ValidationError as exc:
            error = " ".join(exc.messages)
    if request.htmx:
        return render(request, "portal/feedback/_row.html",
                      {"f": selectors.with_answer_excerpts([feedback])[0], "error": error})
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"Feedback on {feedback.alias}: {feedback.status}.")
    return redirect("portal:feedback_queue")


@login_required
@require_GET
def feedback_csv(request: HttpRequest, alias: str) -> HttpResponse:
    """Every feedback on ``alias`` as CSV (``CSV_COLUMNS``), for its owners and platform admins; audited."""
    model = get_object_or_404(ModelAlias, name=alias)
    require(request.user, "feedback.review", model)
    rows = list(selectors.feedback_queue(request.user, alias=model.name).order_by("created_at", "pk"))
    record_event(action="feedback.export", actor=request.user,
                 changes={"alias": model.name, "format": "csv", "rows": len(rows)})
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="feedback-{model.name}.csv"'
    response["Cache-Control"] = "no-store"
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for f in rows:
        writer.writerow([csv_cell(value) for value in (
            f.created_at.isoformat(), f.alias, f.request_id, f.rating, f.category, f.comment, f.source,
            f.tenant.slug, f.user.email if f.user_id else "", f.application.name if f.application_id else "",
            f.key.key_prefix if f.key_id else "", f.status, f.triaged_by.email if f.triaged_by_id else "",
            f.triaged_at.isoformat() if f.triaged_at else "", f.triage_note,
            f.resolved_by.email if f.resolved_by_id else "", f.resolved_at.isoformat() if f.resolved_at else "",
            f.resolution_note)])
    return response


@login_required
@require_GET
def feedback_summary(request: HttpRequest, alias: str) -> HttpResponse:
    """A model card's feedback summary as a fragment (for ``hx-get`` from the card, if it prefers that)."""
    model = get_object_or_404(ModelAlias, name=alias)
    return render(request, "registry/_feedback_summary.html", {"summary": selectors.feedback_summary(model),
                                                               "alias": model})
