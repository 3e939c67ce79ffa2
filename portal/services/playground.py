"""The playground's writes: each team's managed application, each person's key, and their conversations.

A team's playground application mirrors the team's access: it holds an approved subscription to
every chat model one of the team's own applications is approved for, and no other. So the
playground never opens a door the approval workflow has not (and a cancelled or suspended
subscription closes it here too, through ``sync_playground_access`` on the transition's
commit). Each member gets a personal key of that application, following the "playground" plan,
so limits and budgets apply per person and the ledger shows the calls under the key, its
person and their team. The key's secret is derived (``key_secret``), never stored or shown.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from aiplatform import config_version
from aiplatform.audit import record_event
from aiplatform.models import Membership, Tenant, User
from portal.models import (
    ApiKey,
    Application,
    ChatMessage,
    ComparedAnswer,
    Comparison,
    Conversation,
    DataClassification,
    Environment,
    PlaygroundAccess,
    Subscription,
    SubscriptionStatus,
)
from portal.models.keys import PREFIX_LENGTH, hash_secret
from portal.models.playground import MAX_PROMPT, Role
from portal.services.keys import KEY_SCHEME
from portal.services.limits import seed_plans, set_limits
from registry.models import ModelAlias

PLAYGROUND_APPLICATION = "Playground"
PLAYGROUND_PLAN = "playground"
MIRRORED_REASON = "playground: mirrors the team's approved access"
CALLABLE_STATUSES = ("approved", "deprecated")
MAX_TITLE = 200


def key_secret(access: PlaygroundAccess) -> str:
    """The secret of ``access``'s key: an HMAC of its salt under ``PLAYGROUND_KEY_SECRET``."""
    digest = hmac.new(settings.PLAYGROUND_KEY_SECRET.encode(), access.salt.encode(), hashlib.sha256).digest()
    return KEY_SCHEME + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def team_aliases(team: Tenant) -> set[str]:
    """Chat aliases the team's own applications are approved for (and that still answer)."""
    return set(
        Subscription.objects.filter(tenant=team, status=SubscriptionStatus.APPROVED, application__is_playground=False,
                                    alias__kind="chat", alias__status__in=CALLABLE_STATUSES)
        .values_list("alias__name", flat=True)
    )


def _playground_application(team: Tenant) -> Application:
    app = Application.objects.filter(tenant=team, is_playground=True).first()
    if app is not None:
        return app
    name = PLAYGROUND_APPLICATION
    if Application.objects.filter(tenant=team, name__iexact=name).exists():
        name = f"{PLAYGROUND_APPLICATION} (managed)"
    try:
        with transaction.atomic():
            app = Application.objects.create(
                tenant=team, name=name, is_playground=True, environment=Environment.DEV,
                data_classification=DataClassification.INTERNAL,
                description="Managed by the portal: each member's playground calls, with a personal key.")
    except IntegrityError:  # another request made it first
        return Application.objects.get(tenant=team, is_playground=True)
    record_event(action="playground.application_create", target=app, changes={"name": app.name})
    return app


def sync_playground_access(*, team: Tenant) -> None:
    """Make the team's playground subscriptions match the team's approved chat access (idempotent)."""
    from portal.services.subscriptions import cancel_subscription, grant_subscription

    app = Application.objects.filter(tenant=team, is_playground=True).first()
    if app is None:
        return
    wanted = team_aliases(team)
    current = {s.alias.name: s for s in Subscription.objects.filter(
        application=app, status__in=(SubscriptionStatus.APPROVED, SubscriptionStatus.PENDING,
                                     SubscriptionStatus.SUSPENDED)).select_related("alias")}
    for name in sorted(wanted - {n for n, s in current.items() if s.status == SubscriptionStatus.APPROVED}):
        grant_subscription(application=app, alias=ModelAlias.objects.get(name=name), reason=MIRRORED_REASON)
    for name, subscription in current.items():
        if name not in wanted:
            cancel_subscription(actor=None, subscription=subscription,
                                comment="playground: the team no longer has this access")


def sync_after_transition(*, tenant_id: int) -> None:
    """After any subscription of the team moved, bring its playground into line (on commit)."""
    team = Tenant.objects.filter(pk=tenant_id).first()
    if team is not None:
        sync_playground_access(team=team)


def ensure_access(*, user: User, team: Tenant) -> PlaygroundAccess:
    """The person's playground access in ``team``, made on first use; the team's playground kept in sync."""
    if not Membership.objects.filter(user=user, tenant=team).exists():
        raise PermissionDenied("You are not a member of that team.")
    access = PlaygroundAccess.objects.filter(user=user, tenant=team).select_related("key").first()
    if access is None:
        access = _issue_access(user=user, team=team)
    elif not access.key.is_active:  # a team admin revoked it: that holds until they say otherwise
        raise PermissionDenied(f"Your playground access in {team.name} was revoked. Ask a team admin.")
    sync_playground_access(team=team)
    return access


def _issue_access(*, user: User, team: Tenant) -> PlaygroundAccess:
    seed_plans()  # a database flushed by hand still gets the playground plan
    with transaction.atomic():
        app = _playground_application(team)
        salt = secrets.token_urlsafe(32)
        probe = PlaygroundAccess(user=user, tenant=team, salt=salt)
        secret = key_secret(probe)
        key = ApiKey.objects.create(tenant=team, application=app, name=f"playground: {user.email}"[:100],
                                    key_prefix=secret[:PREFIX_LENGTH], key_hash=hash_secret(secret), created_by=user)
        access = PlaygroundAccess.objects.create(user=user, tenant=team, key=key, salt=salt)
        set_limits(actor=None, owner=key, values={"plan": PLAYGROUND_PLAN})
        record_event(action="playground.access_create", actor=user, target=key,
                     changes={"prefix": key.key_prefix, "application": app.name, "plan": PLAYGROUND_PLAN})
        config_version.bump("keys")
    return access


# --- conversations ----------------------------------------------------------------------------------

def _clean_settings(*, alias: str, allowed: set[str], system_prompt: str, temperature: Decimal | None,
                    max_tokens: int | None) -> dict:
    if alias not in allowed:
        raise ValidationError({"alias": "Pick one of the models your team may use."})
    return {"system_prompt": (system_prompt or "").strip(), "temperature": temperature, "max_tokens": max_tokens}


def start_conversation(*, user: User, team: Tenant, alias: str, allowed: set[str], system_prompt: str = "",
                       temperature: Decimal | None = None, max_tokens: int | None = None) -> Conversation:
    """A new, empty conversation of ``user`` with ``alias`` (one of ``allowed``, the team's models)."""
    values = _clean_settings(alias=alias, allowed=allowed, system_prompt=system_prompt, temperature=temperature,
                             max_tokens=max_tokens)
    conversation = Conversation(user=user, team=team, alias=alias, **values)
    conversation.full_clean()
    conversation.save()
    return conversation


def update_settings(*, conversation: Conversation, alias: str, allowed: set[str], system_prompt: str,
                    temperature: Decimal | None, max_tokens: int | None) -> Conversation:
    """Change the model or settings of a conversation; later turns use them."""
    values = _clean_settings(alias=alias, allowed=allowed, system_prompt=system_prompt, temperature=temperature,
                             max_tokens=max_tokens)
    for name, value in {"alias": alias, **values}.items():
        setattr(conversation, name, value)
    conversation.full_clean()
    conversation.save()
    return conversation


def add_prompt(*, conversation: Conversation, content: str) -> ChatMessage:
    """The person's next turn. The first one also names the conversation (until they rename it)."""
    content = (content or "").strip()
    if not content:
        raise ValidationError({"content": "Write a message first."})
    if len(content) > MAX_PROMPT:
        raise ValidationError({"content": f"A message can be at most {MAX_PROMPT:,} characters "
                                          f"(this one has {len(content):,})."})
    message = ChatMessage.objects.create(conversation=conversation, role=Role.USER, content=content,
                                         alias=conversation.alias)
    if conversation.title == Conversation._meta.get_field("title").default:
        conversation.title = _title_from(content)
    conversation.save(update_fields=["title", "updated_at"])
    return message


def add_earlier_turns(*, conversation: Conversation, turns: list[dict[str, str]]) -> None:
    """Turns a conversation starts from (an example's, when opened from one), before the person's first prompt."""
    ChatMessage.objects.bulk_create(
        ChatMessage(conversation=conversation, role=turn["role"], content=turn["content"][:MAX_PROMPT],
                    alias=conversation.alias)
        for turn in turns if turn.get("role") in Role.values and turn.get("content"))


def _title_from(content: str) -> str:
    first_line = content.strip().splitlines()[0] if content.strip() else "New conversation"
    return first_line[:60] + ("…" if len(first_line) > 60 else "")


def rename_conversation(*, conversation: Conversation, title: str) -> Conversation:
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": "A conversation needs a title."})
    conversation.title = title[:MAX_TITLE]
    conversation.save(update_fields=["title", "updated_at"])
    return conversation


def delete_conversation(*, conversation: Conversation) -> None:
    conversation.delete()


def save_answer(*, conversation: Conversation, alias: str, outcome: dict) -> ChatMessage:
    """Keep what the model answered (all of it, or as far as it got before a stop or an error)."""
    message = ChatMessage.objects.create(conversation=conversation, role=Role.ASSISTANT, alias=alias,
                                         **_answer_fields(outcome))
    conversation.save(update_fields=["updated_at"])
    return message


def _answer_fields(outcome: dict) -> dict:
    return {
        "content": outcome.get("content", ""), "request_id": outcome.get("request_id", "")[:128],
        "prompt_tokens": outcome.get("prompt_tokens"), "completion_tokens": outcome.get("completion_tokens"),
        "ttft_ms": outcome.get("ttft_ms"), "total_ms": outcome.get("total_ms"),
        "stopped": bool(outcome.get("stopped")), "error": (outcome.get("error") or "")[:500],
    }


# --- comparisons ------------------------------------------------------------------------------------

def start_comparison(*, user: User, team: Tenant, aliases: list[str], allowed: set[str], prompt: str,
                     system_prompt: str = "", temperature: Decimal | None = None,
                     max_tokens: int | None = None) -> Comparison:
    """One prompt for two or three of the team's models side by side; the answers arrive later."""
    aliases = [a for a in aliases if a]
    if not 2 <= len(aliases) <= 3:
        raise ValidationError({"aliases": "Pick two or three models to compare."})
    if len(set(aliases)) != len(aliases):
        raise ValidationError({"aliases": "Pick different models."})
    for alias in aliases:
        _clean_settings(alias=alias, allowed=allowed, system_prompt="", temperature=None, max_tokens=None)
    prompt = (prompt or "").strip()
    if not prompt:
        raise ValidationError({"prompt": "Write a prompt first."})
    if len(prompt) > MAX_PROMPT:
        raise ValidationError({"prompt": f"A prompt can be at most {MAX_PROMPT:,} characters."})
    with transaction.atomic():
        comparison = Comparison(user=user, team=team, prompt=prompt, system_prompt=(system_prompt or "").strip(),
                                temperature=temperature, max_tokens=max_tokens)
        comparison.full_clean()
        comparison.save()
        ComparedAnswer.objects.bulk_create(
            [ComparedAnswer(comparison=comparison, slot=slot, alias=alias) for slot, alias in enumerate(aliases)])
    return comparison


def save_compared_answer(*, answer: ComparedAnswer, outcome: dict) -> ComparedAnswer:
    for name, value in _answer_fields(outcome).items():
        setattr(answer, name, value)
    answer.save()
    return answer


def vote(*, comparison: Comparison, slot: int) -> Comparison:
    """The person prefers the answer in ``slot``; a later vote replaces the earlier one."""
    from django.utils import timezone

    answer = comparison.answers.filter(slot=slot).first()
    if answer is None:
        raise ValidationError({"slot": "No such answer in this comparison."})
    if not answer.content and not answer.request_id:
        raise ValidationError({"slot": "That answer has not arrived yet."})
    comparison.winner, comparison.voted_at = answer, timezone.now()
    comparison.save(update_fields=["winner", "voted_at"])
    return comparison
