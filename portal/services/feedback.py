"""Feedback on model answers: people in the playground and applications through ``POST /v1/feedback`` send it;
the alias's owners triage and resolve it.

Only the author of a call may rate it: a person their own playground answers, an application the calls
its keys made. A request id that is someone else's is refused exactly like one that does not exist
(``UnknownRequestId``), so nobody learns which ids are in use; the attempt is audited. One author has one
feedback per request id: sending again updates it (and puts it back in the owners' queue if it changed).

New negative feedback notifies the alias's owners (in-app and by e-mail, on commit), at most once per
owner and alias every ``NOTIFY_WINDOW``: a burst of thumbs-down is one notice, and the queue has them all.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from aiplatform.audit import record_event
from aiplatform.models import User
from aiplatform.permissions import can
from portal.models import ApiKey, ChatMessage, ComparedAnswer, Feedback, FeedbackStatus, Notification, UsageEvent
from portal.models.feedback import MAX_COMMENT, MAX_NOTE, Category, Rating, Source
from portal.models.playground import Role
from portal.notifications import notify
from portal.services.transitions import InvalidTransition, check_permission
from registry.models import ModelAlias

NOTIFY_WINDOW = timedelta(minutes=10)
REQUEST_ID_SHAPE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
S = FeedbackStatus
# verb → (statuses it may start from, status it leads to). Resolving needs no triage first.
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "triage": (frozenset({S.NEW}), S.TRIAGED),
    "resolve": (frozenset({S.NEW, S.TRIAGED}), S.RESOLVED),
}


class UnknownRequestId(Exception):
    """The request id is not one of the author's own calls: it does not exist (yet), or it is someone else's."""

    message = "No call with this request id was made by you."


class NotInLedgerYet(UnknownRequestId):
    """No usage event has this request id (yet): the ledger is written a moment after a call ends."""


def clean_feedback(*, rating: str, category: str = "", comment: str = "") -> dict[str, str]:
    """The rating, category and comment as stored, or a ``ValidationError`` naming the field."""
    category = (category or "").strip()
    comment = (comment or "").strip()
    if rating not in Rating.values:
        raise ValidationError({"rating": "Rate the answer 'up' or 'down'."})
    if category and category not in Category.values:
        raise ValidationError({"category": f"Unknown category; choose one of {', '.join(Category.values)}."})
    if rating == Rating.DOWN and not category:
        raise ValidationError({"category": "Say what was wrong: choose a category for a thumbs-down."})
    if len(comment) > MAX_COMMENT:
        raise ValidationError({"comment": f"Keep the comment within {MAX_COMMENT} characters "
                                          f"(this one has {len(comment)})."})
    return {"rating": rating, "category": category, "comment": comment}


def _clean_request_id(request_id: str) -> str:
    request_id = (request_id or "").strip()
    if not REQUEST_ID_SHAPE.match(request_id):
        raise ValidationError({"request_id": "Give the request id of the answer (its x-request-id)."})
    return request_id


def _own_playground_answer(user: User, request_id: str) -> tuple[int, str] | None:
    """(team id, alias) of the person's own answer with this request id: a chat turn or a compared answer."""
    turn = (ChatMessage.objects.filter(request_id=request_id, role=Role.ASSISTANT, conversation__user=user)
            .values_list("conversation__team_id", "alias").first())
    if turn is not None:
        return turn
    return (ComparedAnswer.objects.filter(request_id=request_id, comparison__user=user)
            .values_list("comparison__team_id", "alias").first())


def _refuse_foreign(*, actor: User | None, actor_label: str | None, tenant_id: int | None, request_id: str,
                    source: str) -> None:
    """Audit an attempt to rate a call that exists but is not the author's (outside any transaction)."""
    record_event(action="security.feedback_refused", actor=actor, actor_label=actor_label, tenant=None,
                 changes={"request_id": request_id, "source": source, "owner_tenant": tenant_id})


def submit_playground_feedback(*, user: User, request_id: str, rating: str, category: str = "",
                               comment: str = "") -> Feedback:
    """Store (or update) ``user``'s feedback on one of their own playground answers.

    ``UnknownRequestId`` unless ``request_id`` is one of the person's own answers (chat or compare);
    ``ValidationError`` for a bad rating, category or comment.
    """
    values = clean_feedback(rating=rating, category=category, comment=comment)
    request_id = _clean_request_id(request_id)
    answer = _own_playground_answer(user, request_id)
    if answer is None:
        foreign = (ChatMessage.objects.filter(request_id=request_id).values_list("conversation__team_id", flat=True)
                   .first() or ComparedAnswer.objects.filter(request_id=request_id)
                   .values_list("comparison__team_id", flat=True).first())
        if foreign is not None:
            _refuse_foreign(actor=user, actor_label=None, tenant_id=foreign, request_id=request_id,
                            source=Source.PLAYGROUND)
        raise UnknownRequestId(UnknownRequestId.message)
    team_id, alias = answer
    with transaction.atomic():
        return _store(lookup={"request_id": request_id, "user": user},
                      fixed={"tenant_id": team_id, "alias": alias, "source": Source.PLAYGROUND},
                      values=values, actor=user, actor_label=None)


def submit_api_feedback(*, key_id: int, request_id: str, rating: str, category: str = "",
                        comment: str = "") -> Feedback:
    """Store (or update) an application's feedback on one of its own calls, sent with one of its keys.

    The call's usage event must have been made by a key of the same application. ``NotInLedgerYet`` when
    no usage event has that id (the ledger trails the gateway by about a second: the caller may try again
    shortly, as ``POST /v1/feedback`` does), ``UnknownRequestId`` when it is another application's;
    ``ValidationError`` for bad input.
    """
    values = clean_feedback(rating=rating, category=category, comment=comment)
    request_id = _clean_request_id(request_id)
    key = ApiKey.objects.select_related("application").get(pk=key_id)
    event = UsageEvent.objects.filter(request_id=request_id).only("application_id", "tenant_id", "alias").first()
    if event is None:
        raise NotInLedgerYet(UnknownRequestId.message)
    if event.application_id != key.application_id:
        _refuse_foreign(actor=None, actor_label=f"key {key.key_prefix}…", tenant_id=event.tenant_id,
                        request_id=request_id, source=Source.API)
        raise UnknownRequestId(UnknownRequestId.message)
    with transaction.atomic():
        return _store(lookup={"request_id": request_id, "application_id": key.application_id, "source": Source.API},
                      fixed={"tenant_id": event.tenant_id, "alias": event.alias, "key": key},
                      values=values, actor=None, actor_label=f"key {key.key_prefix}…")


def _store(*, lookup: dict, fixed: dict, values: dict[str, str], actor: User | None,
           actor_label: str | None) -> Feedback:
    """Create the author's feedback or update it; audit it; tell the owners of new negative feedback.

    Inside a transaction. An update that changes anything puts reviewed feedback back to "new".
    """
    feedback = Feedback.objects.select_for_update().filter(**lookup).first()
    created, before, key_before = False, None, None
    if feedback is None:
        try:
            with transaction.atomic():  # a savepoint: two first sends at once meet the unique constraint
                feedback = Feedback.objects.create(**lookup, **fixed, **values)
            created = True
        except IntegrityError:
            feedback = Feedback.objects.select_for_update().get(**lookup)
    if not created:
        before, key_before = {name: getattr(feedback, name) for name in values}, feedback.key_id
        if before != values:
            _reopen(feedback)
        for name, value in {**fixed, **values}.items():  # an application's feedback names its latest sender
            setattr(feedback, name, value)
        feedback.save()
    if not created and before == values and key_before == feedback.key_id:
        return feedback  # the same feedback again: nothing to record
    record_event(action="feedback.submit", actor=actor, actor_label=actor_label, target=feedback,
                 changes={"request_id": feedback.request_id, "alias": feedback.alias, "source": feedback.source,
                          "rating": values["rating"], "category": values["category"],
                          "comment_length": len(values["comment"]), "updated": not created})
    newly_negative = values["rating"] == Rating.DOWN and (created or before["rating"] != Rating.DOWN)
    if newly_negative:
        _tell_owners(feedback)
    return feedback


def _reopen(feedback: Feedback) -> None:
    feedback.status = S.NEW
    feedback.triaged_by = feedback.resolved_by = None
    feedback.triaged_at = feedback.resolved_at = None
    feedback.triage_note = feedback.resolution_note = ""


def queue_link(alias: str) -> str:
    """The owners' queue, filtered to an alias's new feedback (also the key that collapses notifications)."""
    return reverse("portal:feedback_queue") + "?" + urlencode({"alias": alias, "status": S.NEW})


def _tell_owners(feedback: Feedback) -> None:
    alias = ModelAlias.objects.filter(name=feedback.alias).first()
    if alias is None:
        return
    link = queue_link(feedback.alias)
    since = timezone.now() - NOTIFY_WINDOW
    what = feedback.get_category_display() or "thumbs-down"
    body = f"{what}: {feedback.comment[:300]}" if feedback.comment else what
    for owner in alias.owners.filter(is_active=True):
        if owner.pk == feedback.user_id or not can(owner, "feedback.review", alias):
            continue
        if Notification.objects.filter(user=owner, link=link, created_at__gte=since).exists():
            continue  # told a moment ago; the queue shows this one too
        notify(user=owner, title=f"New negative feedback on {feedback.alias}",
               body=body + "\nMore feedback may follow; the review queue has all of it.", link=link)


def _move(feedback: Feedback, verb: str, *, actor: User | None, note: str) -> Feedback:
    fb = Feedback.objects.select_for_update().get(pk=feedback.pk)
    allowed_from, to = TRANSITIONS[verb]
    if fb.status not in allowed_from:
        raise InvalidTransition(f"This feedback is {fb.status}; it cannot be {to} now.", code=f"cannot_{verb}")
    before, now = fb.status, timezone.now()
    fb.status = to
    if verb == "triage":
        fb.triaged_by, fb.triaged_at, fb.triage_note = actor, now, note
    else:
        fb.resolved_by, fb.resolved_at, fb.resolution_note = actor, now, note
    fb.save()
    record_event(action=f"feedback.{verb}", actor=actor, target=fb,
                 changes={"status": [before, to], "note": note, "alias": fb.alias, "request_id": fb.request_id})
    for field in Feedback._meta.concrete_fields:  # the caller's instance shows the new state too
        setattr(feedback, field.attname, getattr(fb, field.attname))
    return fb


def _clean_note(note: str, *, required: bool) -> str:
    note = (note or "").strip()
    if required and not note:
        raise ValidationError({"note": "Say what was done about it."})
    if len(note) > MAX_NOTE:
        raise ValidationError({"note": f"Keep the note within {MAX_NOTE} characters."})
    return note


def triage_feedback(*, actor: User | None, feedback: Feedback, note: str = "") -> Feedback:
    """An owner has looked at new feedback (new → triaged), with an optional note. Alias owners and admins."""
    check_permission(actor, "feedback.review", feedback)
    note = _clean_note(note, required=False)
    with transaction.atomic():
        return _move(feedback, "triage", actor=actor, note=note)


def resolve_feedback(*, actor: User | None, feedback: Feedback, note: str) -> Feedback:
    """Close feedback (new or triaged → resolved) with a note saying what was done. Alias owners and admins."""
    check_permission(actor, "feedback.review", feedback)
    note = _clean_note(note, required=True)
    with transaction.atomic():
        return _move(feedback, "resolve", actor=actor, note=note)
