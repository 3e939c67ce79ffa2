"""Arranging feedback tests: playground answers and ledger lines as the playground and the gateway leave them.

Plain functions: each test says what it arranges.
"""

from __future__ import annotations

import itertools
import secrets

from django.utils import timezone
from model_bakery import baker

from portal.models import ChatMessage, ComparedAnswer, Comparison, Conversation, UsageEvent

_n = itertools.count(1)


def request_id() -> str:
    return secrets.token_hex(16)


def chat_answer(user, team, *, alias: str = "fast-chat", content: str = "Paris is the capital of Spain.") -> ChatMessage:
    """One turn of ``user``'s conversation: their prompt and the model's answer (returned), with its request id."""
    conversation = Conversation.objects.create(alias=alias, user=user, team=team)
    ChatMessage.objects.create(conversation=conversation, role="user", content="Capital of France?")
    return ChatMessage.objects.create(conversation=conversation, role="assistant", alias=alias, content=content,
                                      request_id=request_id())


def comparison(user, team, aliases: tuple[str, ...] = ("fast-chat", "slow-chat"), *, winner: str | None = None):
    """A comparison of ``aliases``; the vote goes to ``winner`` (an alias) when given."""
    comp = Comparison.objects.create(user=user, team=team, prompt="Write a haiku")
    answers = {alias: ComparedAnswer.objects.create(comparison=comp, slot=i, alias=alias, content=f"haiku by {alias}",
                                                    request_id=request_id())
               for i, alias in enumerate(aliases)}
    if winner:
        comp.winner, comp.voted_at = answers[winner], timezone.now()
        comp.save()
    return comp, answers


def ledger_line(key, *, alias: str = "fast-chat") -> UsageEvent:
    """The usage event the gateway's metering leaves for one call of ``key``."""
    return baker.make(UsageEvent, request_id=request_id(), key=key, application=key.application,
                      tenant=key.tenant, alias=alias, occurred_at=timezone.now(), operation="chat", status=200,
                      total_ms=12.0, endpoint=None)

