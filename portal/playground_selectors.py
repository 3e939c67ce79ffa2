"""The playground's reads: a person's teams, the models they may try, their conversations and comparisons.

Conversations and comparisons are private to their person: every lookup here filters by the
user, so a guessed id of someone else's is a 404.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from aiplatform.models import Tenant, User
from portal.models import ChatMessage, Comparison, Conversation, UsageEvent
from registry.models import ModelAlias


def teams_of(user: User) -> list[Tenant]:
    """The teams whose playground the person may use: the ones they are a member of."""
    return list(Tenant.objects.filter(memberships__user=user, is_active=True).order_by("name"))


def team_for(user: User, slug: str | None) -> Tenant | None:
    """The team named by ``slug`` (one of the person's), or their first team."""
    teams = teams_of(user)
    return next((t for t in teams if t.slug == slug), teams[0] if teams else None)


def usable_aliases(names: set[str]) -> list[ModelAlias]:
    """The aliases among ``names`` (a team's access), in catalogue order, with their cards."""
    return list(ModelAlias.objects.filter(name__in=names).select_related("card").order_by("name"))


def conversations_of(user: User, *, limit: int = 100) -> QuerySet[Conversation]:
    return Conversation.objects.filter(user=user).only("pk", "title", "alias", "updated_at")[:limit]


def conversation_for(user: User, pk: int) -> Conversation:
    conversation = Conversation.objects.filter(user=user, pk=pk).select_related("team").first()
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


def messages_of(conversation: Conversation) -> list[ChatMessage]:
    return list(conversation.messages.all())


def history_for_call(conversation: Conversation) -> list[dict[str, str]]:
    """The conversation as chat messages for the next call: system prompt, then every turn with text."""
    messages = [{"role": "system", "content": conversation.system_prompt}] if conversation.system_prompt else []
    messages += [{"role": m.role, "content": m.content} for m in conversation.messages.all() if m.content]
    return messages


def comparisons_of(user: User, *, limit: int = 50) -> QuerySet[Comparison]:
    return Comparison.objects.filter(user=user).prefetch_related("answers")[:limit]


def comparison_for(user: User, pk: int) -> Comparison:
    comparison = Comparison.objects.filter(user=user, pk=pk).select_related("team", "winner").first()
    if comparison is None:
        raise Http404("No such comparison.")
    return comparison


def ledger_line(user: User, request_id: str) -> UsageEvent | None:
    """The ledger's record of one of the person's own playground calls, once the meter has written it."""
    if not request_id:
        return None
    return UsageEvent.objects.filter(request_id=request_id, key__playground_access__user=user).first()
