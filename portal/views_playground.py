"""The discovery playground's pages: chat with a model, compare models side by side, under /playground/.

Each answer streams to the page as server-sent events: the view calls the gateway with the
person's playground key (``portal.playground_client``) and passes the answer on, rendered as
safe markdown. Stopping (the page aborts its request, or the tab closes) cancels the view,
which closes the gateway call and keeps the answer as far as it got.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from aiplatform.markdown import render_markdown
from portal import playground_selectors as selectors
from portal.models import ChatMessage, ComparedAnswer, Comparison, Conversation
from portal.models.playground import MAX_OUTPUT_TOKENS, MAX_PROMPT, MAX_SYSTEM_PROMPT, Role
from portal.playground_client import Outcome, chat_body, stream_chat
from portal.playground_drafts import PlaygroundDraft, take_draft
from portal.services import playground as services

RENDER_EVERY = 0.05  # seconds: re-render the answer's markdown at most this often while it streams


class SettingsForm(forms.Form):
    """The call settings shared by the chat and the comparison."""

    system_prompt = forms.CharField(required=False, max_length=MAX_SYSTEM_PROMPT, label="System prompt",
                                    widget=forms.Textarea(attrs={"rows": 3}))
    temperature = forms.DecimalField(required=False, min_value=0, max_value=2, decimal_places=2,
                                     label="Temperature", widget=forms.NumberInput(attrs={"step": "0.1"}))
    max_tokens = forms.IntegerField(required=False, min_value=1, max_value=MAX_OUTPUT_TOKENS, label="Max tokens")


def _settings(request: HttpRequest) -> dict:
    form = SettingsForm(request.POST)
    if not form.is_valid():
        raise ValidationError({name: errors[0] for name, errors in form.errors.items()})
    return form.cleaned_data


def _float(value: Decimal | None) -> float | None:
    try:
        return None if value is None else float(value)
    except (InvalidOperation, ValueError):
        return None


# --- pages ------------------------------------------------------------------------------------------

def _context(request: HttpRequest, team_slug: str | None) -> dict:
    """What every playground page shows: the person's teams, the chosen team's models, their conversations."""
    team = selectors.team_for(request.user, team_slug)
    if team is None:
        return {"team": None, "teams": [], "aliases": []}
    services.ensure_access(user=request.user, team=team)
    aliases = selectors.usable_aliases(services.team_aliases(team))
    return {"team": team, "teams": selectors.teams_of(request.user), "aliases": aliases,
            "alias_names": [a.name for a in aliases], "conversations": selectors.conversations_of(request.user),
            "settings_form": SettingsForm(), "max_prompt": MAX_PROMPT}


def _refused_with_a_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A page the person may not open (a revoked playground key, a team they left) says why, with a 403."""
    @functools.wraps(view)
    def page(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except PermissionDenied as exc:
            return render(request, "portal/playground/no_access.html", {"refusal": str(exc)}, status=403)

    return page


def _no_access_or(request: HttpRequest, context: dict, template: str) -> HttpResponse:
    if not context["aliases"]:
        return render(request, "portal/playground/no_access.html", context)
    return render(request, template, context)


@login_required
@require_GET
@_refused_with_a_page
def index(request: HttpRequest) -> HttpResponse:
    """A new conversation: pick a model (``?alias=`` preselects one, as a card's "Try in playground" does)."""
    context = _context(request, request.GET.get("team"))
    context["selected_alias"] = request.GET.get("alias", "")
    context["conversation"] = None
    draft = take_draft(request.session)
    if draft is not None:
        _show_draft(context, draft)
    return _no_access_or(request, context, "portal/playground/chat.html")


@login_required
@require_GET
@_refused_with_a_page
def conversation(request: HttpRequest, pk: int) -> HttpResponse:
    chat = selectors.conversation_for(request.user, pk)
    context = _context(request, chat.team.slug)
    context.update(conversation=chat, selected_alias=chat.alias, messages=selectors.messages_of(chat),
                   settings_form=SettingsForm(initial={"system_prompt": chat.system_prompt,
                                                       "temperature": chat.temperature,
                                                       "max_tokens": chat.max_tokens}))
    draft = take_draft(request.session)
    if draft is not None:
        _show_draft(context, draft)
    return render(request, "portal/playground/chat.html", context)


def _show_draft(context: dict, draft: PlaygroundDraft) -> None:
    """Fill the composer from a draft another page handed over (an example opened in the playground)."""
    context.update(draft=draft, prefill_prompt=draft.prompt, draft_usable=draft.alias in context.get("alias_names", ()))
    if context["draft_usable"]:
        context["selected_alias"] = draft.alias
    if context.get("conversation") is None:
        context.update(settings_form=SettingsForm(initial={"system_prompt": draft.system_prompt,
                                                           "temperature": draft.temperature,
                                                           "max_tokens": draft.max_tokens}),
                       open_settings=draft.has_settings)


@login_required
@require_POST
def rename(request: HttpRequest, pk: int) -> HttpResponse:
    chat = selectors.conversation_for(request.user, pk)
    try:
        services.rename_conversation(conversation=chat, title=request.POST.get("title", ""))
    except ValidationError as exc:
        return HttpResponse(exc.messages[0], status=400)
    return render(request, "portal/playground/_conversation_title.html", {"conversation": chat})


@login_required
@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    services.delete_conversation(conversation=selectors.conversation_for(request.user, pk))
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("playground:index")
        return response
    return redirect("playground:index")


@login_required
@require_GET
def answer(request: HttpRequest, pk: int) -> HttpResponse:
    """One saved answer as the transcript shows it (the page fetches it after a stop)."""
    message = ChatMessage.objects.filter(pk=pk, conversation__user=request.user, role=Role.ASSISTANT).first()
    if message is None:
        raise Http404("No such answer.")
    return render(request, "portal/playground/_answer.html", {"message": message})


@login_required
@require_GET
def figures(request: HttpRequest, request_id: str) -> HttpResponse:
    """Tokens and cost of one answer from the ledger; polled by the page until the meter has written it."""
    raw = request.GET.get("try", "0")
    tries = min(int(raw), 60) if raw.isdigit() else 0
    return render(request, "portal/playground/_ledger_figures.html",
                  {"event": selectors.ledger_line(request.user, request_id), "request_id": request_id,
                   "next_try": tries + 1, "give_up": tries >= 60})


# --- streaming --------------------------------------------------------------------------------------

def _sse(event: str, data: dict) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _error_stream(message: str, status: int = 400) -> HttpResponse:
    return JsonResponse({"error": message}, status=status)


def _stream_response(events: AsyncIterator[bytes]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(events, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy in front must pass the pieces on at once
    return response


async def _relay(*, secret: str, body: dict, outcome: Outcome) -> AsyncIterator[bytes]:
    """The answer as ``delta`` events of rendered markdown, at most every ``RENDER_EVERY`` seconds."""
    last = 0.0
    async for _piece in stream_chat(secret=secret, body=body, outcome=outcome):
        now = time.monotonic()
        if now - last >= RENDER_EVERY:
            last = now
            yield _sse("delta", {"html": render_markdown(outcome.content)})


def _figures(outcome: Outcome) -> dict:
    return {"request_id": outcome.request_id, "ttft_ms": outcome.ttft_ms, "total_ms": outcome.total_ms,
            "prompt_tokens": outcome.prompt_tokens, "completion_tokens": outcome.completion_tokens,
            "error": outcome.error, "stopped": outcome.stopped}


async def _answer_events(*, secret: str, body: dict, save: Callable[[dict], Any],
                         render_saved: Callable[[Any], str], opening: list[bytes] = ()) -> AsyncIterator[bytes]:
    """``opening``, the answer as it streams, then ``done`` with the saved answer's HTML.

    The answer is saved however the stream ends: whole, cut short by an error, or stopped (the page
    dropped the connection and the view was cancelled: saved as far as it got, marked stopped).
    """
    outcome = Outcome()
    for event in opening:
        yield event
    try:
        async for event in _relay(secret=secret, body=body, outcome=outcome):
            yield event
    except (asyncio.CancelledError, GeneratorExit):
        outcome.stopped = True
        raise
    finally:
        saved = await sync_to_async(save)(outcome.as_fields())
    html = await sync_to_async(render_saved)(saved)
    yield _sse("done", {"html": html, **_figures(outcome)})


@login_required
@require_POST
async def send(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Add the person's message to a conversation (a new one without ``pk``) and stream the answer."""
    user = await request.auser()
    try:
        chat, secret, body = await sync_to_async(_prepare_turn)(request, user, pk)
    except ValidationError as exc:
        return _error_stream(" ".join(exc.messages))
    except PermissionDenied as exc:
        return _error_stream(str(exc), status=403)

    opening = [] if pk is not None else [_sse("conversation", {
        "id": chat.pk, "title": chat.title, "url": reverse("playground:conversation", args=[chat.pk])})]
    return _stream_response(_answer_events(
        secret=secret, body=body, opening=opening,
        save=lambda fields: services.save_answer(conversation=chat, alias=chat.alias, outcome=fields),
        render_saved=lambda message: render_to_string("portal/playground/_answer.html", {"message": message})))


@transaction.atomic  # a refused turn leaves nothing behind: no empty conversation, no half-saved settings
def _prepare_turn(request: HttpRequest, user, pk: int | None) -> tuple[Conversation, str, dict]:
    """Check and save the person's turn; the conversation, the key's secret and the gateway call's body."""
    values = _settings(request)
    if pk is None:
        team = selectors.team_for(user, request.POST.get("team"))
        if team is None:
            raise PermissionDenied("Join a team to use the playground.")
        access = services.ensure_access(user=user, team=team)
        allowed = services.team_aliases(team)
        chat = services.start_conversation(user=user, team=team, alias=request.POST.get("alias", ""),
                                           allowed=allowed, **values)
    else:
        chat = selectors.conversation_for(user, pk)
        access = services.ensure_access(user=user, team=chat.team)
        allowed = services.team_aliases(chat.team)
        services.update_settings(conversation=chat, alias=request.POST.get("alias", chat.alias), allowed=allowed,
                                 **values)
    services.add_prompt(conversation=chat, content=request.POST.get("content", ""))
    body = chat_body(alias=chat.alias, messages=selectors.history_for_call(chat), temperature=_float(chat.temperature),
                     max_tokens=chat.max_tokens, user=f"playground-user-{user.pk}")
    return chat, services.key_secret(access), body


# --- compare ----------------------------------------------------------------------------------------

@login_required
@require_GET
@_refused_with_a_page
def compare(request: HttpRequest) -> HttpResponse:
    context = _context(request, request.GET.get("team"))
    preselected = [a for a in request.GET.getlist("alias") if a]
    names = context.get("alias_names", [])
    context["slots"] = [(preselected[i] if i < len(preselected) else (names[i] if i < len(names) and i < 2 else ""))
                        for i in range(3)]
    context["comparisons"] = selectors.comparisons_of(request.user, limit=20)
    context["comparison"] = None
    return _no_access_or(request, context, "portal/playground/compare.html")


@login_required
@require_POST
def compare_start(request: HttpRequest) -> HttpResponse:
    """Save the comparison and tell the page where each answer streams from."""
    team = selectors.team_for(request.user, request.POST.get("team"))
    if team is None:
        return _error_stream("Join a team to use the playground.", status=403)
    try:
        services.ensure_access(user=request.user, team=team)
        comparison = services.start_comparison(
            user=request.user, team=team, aliases=request.POST.getlist("alias"),
            allowed=services.team_aliases(team), prompt=request.POST.get("prompt", ""), **_settings(request))
    except ValidationError as exc:
        return _error_stream(" ".join(exc.messages))
    except PermissionDenied as exc:
        return _error_stream(str(exc), status=403)
    return JsonResponse({
        "id": comparison.pk, "url": reverse("playground:comparison", args=[comparison.pk]),
        "slots": [{"slot": a.slot, "alias": a.alias,
                   "stream": reverse("playground:compare_stream", args=[comparison.pk, a.slot])}
                  for a in comparison.answers.all()],
    })


@login_required
@require_GET
@_refused_with_a_page
def comparison(request: HttpRequest, pk: int) -> HttpResponse:
    saved = selectors.comparison_for(request.user, pk)
    context = _context(request, saved.team.slug)
    context.update(comparison=saved, answers=list(saved.answers.all()),
                   comparisons=selectors.comparisons_of(request.user, limit=20))
    return render(request, "portal/playground/comparison.html", context)


@login_required
@require_POST
async def compare_stream(request: HttpRequest, pk: int, slot: int) -> HttpResponse:
    """Stream one model's answer of a comparison (the page opens one of these per model, in parallel)."""
    user = await request.auser()
    try:
        answer, secret, body = await sync_to_async(_prepare_slot)(user, pk, slot)
    except PermissionDenied as exc:
        return _error_stream(str(exc), status=403)

    return _stream_response(_answer_events(
        secret=secret, body=body,
        save=lambda fields: services.save_compared_answer(answer=answer, outcome=fields),
        render_saved=lambda saved: render_to_string("portal/playground/_compared_answer.html", {"answer": saved})))


def _prepare_slot(user, pk: int, slot: int) -> tuple[ComparedAnswer, str, dict]:
    saved: Comparison = selectors.comparison_for(user, pk)
    answer = saved.answers.filter(slot=slot).first()
    if answer is None:
        raise Http404("No such answer.")
    if answer.request_id or answer.content:
        raise PermissionDenied("That answer has already been asked for.")
    access = services.ensure_access(user=user, team=saved.team)
    if answer.alias not in services.team_aliases(saved.team):
        raise PermissionDenied(f"Your team no longer has access to {answer.alias}.")
    messages = ([{"role": "system", "content": saved.system_prompt}] if saved.system_prompt else []) + [
        {"role": "user", "content": saved.prompt}]
    body = chat_body(alias=answer.alias, messages=messages, temperature=_float(saved.temperature),
                     max_tokens=saved.max_tokens, user=f"playground-user-{user.pk}")
    return answer, services.key_secret(access), body


@login_required
@require_POST
def compare_vote(request: HttpRequest, pk: int) -> HttpResponse:
    saved = selectors.comparison_for(request.user, pk)
    try:
        services.vote(comparison=saved, slot=int(request.POST.get("slot", "-1")))
    except (ValueError, ValidationError):
        return HttpResponse("Pick one of the answers.", status=400)
    return render(request, "portal/playground/_vote.html",
                  {"comparison": saved, "answers": list(saved.answers.all())})
