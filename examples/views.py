"""The example store's pages: find examples (search, by use case, by model), save one from the playground, read,
upvote, report outdated, edit and delete. Views parse a form, call one service or selector, and render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from aiplatform.forms import add_service_errors
from examples import selectors, services
from examples.forms import ExampleForm, ReportForm
from portal.playground_drafts import keep_draft
from registry.models import ModelCard

PAGE_SIZE = 20


@login_required
@require_GET
def example_list(request: HttpRequest) -> HttpResponse:
    criteria = selectors.ExampleSearch.from_params(request.GET)
    page = Paginator(selectors.search(request.user, criteria), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "examples/list.html", {
        "criteria": criteria, "page": page, "tags": selectors.tag_counts(request.user),
        "aliases": selectors.alias_counts(request.user)})


def _exchange(request: HttpRequest, source: dict) -> services.Exchange:
    """The exchange named by ``answer`` (a chat answer) or ``compared`` (a comparison's answer) in ``source``."""
    for field, read in (("answer", services.exchange_of_chat_answer), ("compared", services.exchange_of_compared_answer)):
        raw = source.get(field, "")
        if raw:
            if not raw.isdigit():
                break
            try:
                return read(request.user, int(raw))
            except services.UnknownAnswer:
                break
    raise Http404(services.UnknownAnswer.message)


def _suggested_tags(alias: str) -> list[str]:
    card = ModelCard.objects.filter(alias__name=alias).only("use_cases").first()
    return list(card.use_cases) if card else []


@login_required
@require_http_methods(["GET", "POST"])
def example_new(request: HttpRequest) -> HttpResponse:
    """Save one of the person's playground answers, with what led to it, as an example."""
    source = request.POST if request.method == "POST" else request.GET
    exchange = _exchange(request, source)
    if request.method == "POST":
        form = ExampleForm(request.POST)
        if form.is_valid():
            try:
                fields = services.clean_fields(**form.cleaned_data)
                example = services.save_example(user=request.user, exchange=exchange, fields=fields)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, "Saved. People who may see it find it under Examples.")
                return redirect("examples:detail", example.pk)
    else:
        first_line = exchange.prompt.strip().splitlines()[0][:80] if exchange.prompt.strip() else ""
        form = ExampleForm(initial={"title": first_line, "tags": _suggested_tags(exchange.alias)})
    return render(request, "examples/new.html", {
        "form": form, "exchange": exchange, "source_field": "answer" if source.get("answer") else "compared",
        "source_id": source.get("answer") or source.get("compared")}, status=400 if form.errors else 200)


@login_required
@require_GET
def example_detail(request: HttpRequest, pk: int) -> HttpResponse:
    example = selectors.example_for(request.user, pk)
    return render(request, "examples/detail.html", {
        "example": example, "voted": selectors.voted(request.user, example),
        "reported": selectors.reported(request.user, example), "may_edit": services.may_edit(request.user, example),
        "may_moderate": services.may_moderate(request.user, example),
        "reports": example.reports.select_related("user")[:20] if services.may_moderate(request.user, example) else [],
        "report_form": ReportForm()})


@login_required
@require_http_methods(["GET", "POST"])
def example_edit(request: HttpRequest, pk: int) -> HttpResponse:
    example = selectors.example_for(request.user, pk)
    if not services.may_edit(request.user, example):
        raise PermissionDenied("Only the example's author may edit it.")
    if request.method == "POST":
        form = ExampleForm(request.POST)
        if form.is_valid():
            try:
                services.update_example(user=request.user, example=example,
                                        fields=services.clean_fields(**form.cleaned_data))
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, "Saved.")
                return redirect("examples:detail", example.pk)
    else:
        form = ExampleForm(initial={"title": example.title, "tags": example.tag_names,
                                    "visibility": example.visibility})
    return render(request, "examples/edit.html", {"form": form, "example": example},
                  status=400 if form.errors else 200)


@login_required
@require_POST
def example_delete(request: HttpRequest, pk: int) -> HttpResponse:
    example = selectors.example_for(request.user, pk)
    services.delete_example(user=request.user, example=example)
    messages.success(request, f"Deleted the example “{example.title}”.")
    return redirect("examples:list")


@login_required
@require_POST
def example_upvote(request: HttpRequest, pk: int) -> HttpResponse:
    example = selectors.example_for(request.user, pk)
    try:
        voted = services.toggle_upvote(user=request.user, example=example)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("examples:detail", example.pk)
    example.refresh_from_db(fields=["upvotes"])
    if request.htmx:
        return render(request, "examples/_vote.html", {"example": example, "voted": voted})
    return redirect("examples:detail", example.pk)


@login_required
@require_POST
def example_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Try the example again: the playground opens with its prompt, settings and model (and earlier turns)."""
    example = selectors.example_for(request.user, pk)
    try:
        draft, conversation = services.open_in_playground(user=request.user, example=example)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
        return redirect("examples:detail", example.pk)
    keep_draft(request.session, draft)
    if conversation is not None:
        return redirect("playground:conversation", conversation.pk)
    return redirect("playground:index")


@login_required
@require_POST
def example_report(request: HttpRequest, pk: int) -> HttpResponse:
    example = selectors.example_for(request.user, pk)
    form = ReportForm(request.POST)
    if form.is_valid():
        services.report_outdated(user=request.user, example=example, note=form.cleaned_data["note"])
        messages.success(request, "Thanks: the example is marked as reported outdated until its author checks it.")
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("examples:detail", example.pk)


@login_required
@require_POST
def example_clear_reports(request: HttpRequest, pk: int) -> HttpResponse:
    example = selectors.example_for(request.user, pk)
    cleared = services.clear_reports(user=request.user, example=example)
    messages.success(request, f"Cleared {cleared} report{'s' if cleared != 1 else ''}: the example shows as current.")
    return redirect("examples:detail", example.pk)
