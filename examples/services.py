"""The example store's writes: save a playground exchange as an example, edit or delete it, upvote it, report it
outdated and clear the reports.

Only a person's own answers can be saved (their chat answers, the answers of their comparisons): a guessed id
of someone else's is refused exactly like one that does not exist. Saving copies the exchange, so the example
stays whole when the conversation is deleted. Tags must be the registry's use cases (the tags on model cards).

Creating, deleting and re-sharing an example, and clearing its reports, are audited: they change who can read
what a person typed to a model.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F

from aiplatform.audit import record_event
from aiplatform.models import User
from aiplatform.permissions import can
from examples.models import (
    MAX_REPORT_NOTE,
    MAX_TAGS,
    MAX_TITLE,
    Example,
    ExampleReport,
    ExampleTag,
    ExampleVote,
    Visibility,
)
from portal import playground_selectors
from portal.models import ChatMessage, ComparedAnswer, Conversation
from portal.models.playground import Role
from portal.playground_drafts import PlaygroundDraft
from portal.services import playground as playground_services
from registry.selectors import use_case_tags


class UnknownAnswer(Exception):
    """Not one of the person's own answers (or it has no text to keep)."""

    message = "No answer of yours with this id."


@dataclass(frozen=True)
class ExampleFields:
    title: str
    tags: tuple[str, ...]
    visibility: str


def clean_fields(*, title: str, tags: Iterable[str], visibility: str) -> ExampleFields:
    """The title, tags and visibility as stored, or a ``ValidationError`` naming the field."""
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": "Give the example a title."})
    if len(title) > MAX_TITLE:
        raise ValidationError({"title": f"At most {MAX_TITLE} characters."})
    chosen = tuple(dict.fromkeys(t.strip() for t in tags if t and t.strip()))
    known = set(use_case_tags())
    unknown = [t for t in chosen if t not in known]
    if unknown:
        raise ValidationError({"tags": f"Not a use case in the catalogue: {', '.join(unknown)}."})
    if len(chosen) > MAX_TAGS:
        raise ValidationError({"tags": f"At most {MAX_TAGS} use cases."})
    if visibility not in Visibility.values:
        raise ValidationError({"visibility": "Choose who may see it."})
    return ExampleFields(title=title, tags=chosen, visibility=visibility)


@dataclass(frozen=True)
class Exchange:
    """What an example is made from: the team whose call it was, the call's settings, and its turns."""

    tenant_id: int
    alias: str
    system_prompt: str
    temperature: object
    max_tokens: int | None
    earlier_turns: list[dict[str, str]]
    prompt: str
    answer: str
    request_id: str


def exchange_of_chat_answer(user: User, answer_id: int) -> Exchange:
    """One of ``user``'s chat answers and the turns before it (the last of them is the prompt)."""
    message = (ChatMessage.objects.filter(pk=answer_id, conversation__user=user, role=Role.ASSISTANT)
               .select_related("conversation").first())
    if message is None or not message.content:
        raise UnknownAnswer
    chat = message.conversation
    before = [{"role": m.role, "content": m.content}
              for m in chat.messages.filter(pk__lt=message.pk) if m.content]
    if not before or before[-1]["role"] != Role.USER:
        raise UnknownAnswer
    return Exchange(tenant_id=chat.team_id, alias=message.alias or chat.alias, system_prompt=chat.system_prompt,
                    temperature=chat.temperature, max_tokens=chat.max_tokens, earlier_turns=before[:-1],
                    prompt=before[-1]["content"], answer=message.content, request_id=message.request_id)


def exchange_of_compared_answer(user: User, answer_id: int) -> Exchange:
    """One answer of one of ``user``'s comparisons (usually the one they voted for) and its prompt."""
    answer = (ComparedAnswer.objects.filter(pk=answer_id, comparison__user=user)
              .select_related("comparison").first())
    if answer is None or not answer.content:
        raise UnknownAnswer
    comparison = answer.comparison
    return Exchange(tenant_id=comparison.team_id, alias=answer.alias, system_prompt=comparison.system_prompt,
                    temperature=comparison.temperature, max_tokens=comparison.max_tokens, earlier_turns=[],
                    prompt=comparison.prompt, answer=answer.content, request_id=answer.request_id)


def save_example(*, user: User, exchange: Exchange, fields: ExampleFields) -> Example:
    with transaction.atomic():
        example = Example.objects.create(
            tenant_id=exchange.tenant_id, author=user, title=fields.title, alias=exchange.alias,
            system_prompt=exchange.system_prompt, temperature=exchange.temperature, max_tokens=exchange.max_tokens,
            earlier_turns=exchange.earlier_turns, prompt=exchange.prompt, answer=exchange.answer,
            request_id=exchange.request_id, visibility=fields.visibility)
        ExampleTag.objects.bulk_create(ExampleTag(example=example, name=name) for name in fields.tags)
        record_event(action="example.create", actor=user, tenant=example.tenant, target=example,
                     changes={"alias": example.alias, "visibility": example.visibility, "tags": list(fields.tags)})
    return example


def may_edit(user: User, example: Example) -> bool:
    return example.author_id == user.pk


def may_moderate(user: User, example: Example) -> bool:
    """Delete it and clear its reports: its author, and admins of its team (and platform admins)."""
    return may_edit(user, example) or can(user, "example.moderate", example)


def update_example(*, user: User, example: Example, fields: ExampleFields) -> Example:
    if not may_edit(user, example):
        raise PermissionDenied("Only the example's author may edit it.")
    before = {"title": example.title, "visibility": example.visibility, "tags": sorted(example.tag_names)}
    with transaction.atomic():
        Example.objects.filter(pk=example.pk).update(title=fields.title, visibility=fields.visibility)
        example.tags.exclude(name__in=fields.tags).delete()
        ExampleTag.objects.bulk_create([ExampleTag(example=example, name=name) for name in fields.tags],
                                       ignore_conflicts=True)
        example.refresh_from_db()
        after = {"title": example.title, "visibility": example.visibility, "tags": sorted(fields.tags)}
        changed = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
        if changed:
            record_event(action="example.update", actor=user, tenant=example.tenant, target=example, changes=changed)
    return example


def delete_example(*, user: User, example: Example) -> None:
    if not may_moderate(user, example):
        raise PermissionDenied("Only the example's author or an admin of its team may delete it.")
    with transaction.atomic():
        record_event(action="example.delete", actor=user, tenant=example.tenant, target=example,
                     changes={"title": example.title, "alias": example.alias})
        example.delete()


def toggle_upvote(*, user: User, example: Example) -> bool:
    """Upvote (or take back an upvote of) an example someone else saved; True when it is now upvoted."""
    if example.author_id == user.pk:
        raise ValidationError("Your own examples cannot be upvoted by you.")
    with transaction.atomic():
        removed, _ = ExampleVote.objects.filter(example=example, user=user).delete()
        if removed:
            Example.objects.filter(pk=example.pk).update(upvotes=F("upvotes") - 1)
            return False
        try:
            with transaction.atomic():
                ExampleVote.objects.create(example=example, user=user)
        except IntegrityError:  # a second click that raced the first: it is upvoted
            return True
        Example.objects.filter(pk=example.pk).update(upvotes=F("upvotes") + 1)
        return True


def report_outdated(*, user: User, example: Example, note: str = "") -> None:
    """Say the example no longer works (once per person; reporting again updates the note)."""
    note = (note or "").strip()
    if len(note) > MAX_REPORT_NOTE:
        raise ValidationError({"note": f"At most {MAX_REPORT_NOTE} characters."})
    with transaction.atomic():
        _, created = ExampleReport.objects.update_or_create(example=example, user=user, defaults={"note": note})
        if created:
            Example.objects.filter(pk=example.pk).update(outdated_reports=F("outdated_reports") + 1)


def clear_reports(*, user: User, example: Example) -> int:
    """The example was checked and still works: its outdated reports go (the author or a team admin)."""
    if not may_moderate(user, example):
        raise PermissionDenied("Only the example's author or an admin of its team may clear its reports.")
    with transaction.atomic():
        cleared, _ = example.reports.all().delete()
        Example.objects.filter(pk=example.pk).update(outdated_reports=0)
        if cleared:
            record_event(action="example.clear_reports", actor=user, tenant=example.tenant, target=example,
                         changes={"reports": cleared})
    return cleared


def open_in_playground(*, user: User, example: Example) -> tuple[PlaygroundDraft, Conversation | None]:
    """What the playground starts from to try ``example`` again: its prompt and settings as a draft, and, when
    it had earlier turns, a new conversation of ``user`` that holds them (so the model sees them as before).

    The conversation belongs to the example's team when ``user`` is in it, else to their first team; it is
    only started when that team may use the example's model (the playground says so when it may not).
    """
    draft = PlaygroundDraft(
        prompt=example.prompt, alias=example.alias, system_prompt=example.system_prompt,
        temperature=example.temperature, max_tokens=example.max_tokens,
        source_title=f"the example “{example.title}”", source_url=example.get_absolute_url(),
        earlier_turns=len(example.earlier_turns))
    if not example.earlier_turns:
        return draft, None
    team = playground_selectors.team_for(user, example.tenant.slug)
    if team is None:
        return draft, None
    playground_services.ensure_access(user=user, team=team)
    allowed = playground_services.team_aliases(team)
    if example.alias not in allowed:
        return draft, None
    with transaction.atomic():
        conversation = playground_services.start_conversation(
            user=user, team=team, alias=example.alias, allowed=allowed, system_prompt=example.system_prompt,
            temperature=example.temperature, max_tokens=example.max_tokens)
        playground_services.add_earlier_turns(conversation=conversation, turns=example.earlier_turns)
    return draft, conversation
