"""The discovery playground: each person's managed access, their conversations and their comparisons.

The playground is a client of the gateway. Each team has one managed application, its
playground, whose subscriptions mirror the team's approved access; each member who opens the
playground gets a personal key of it (``PlaygroundAccess``). The portal keeps no copy of that
key's secret: it derives it from ``PLAYGROUND_KEY_SECRET`` and the access's salt each time it
calls the gateway, and the key table holds only its hash, like any other key's.

Conversations and comparisons belong to one person, not to a team: nobody else reads them.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from aiplatform.models import TenantOwned
from portal.models.keys import ApiKey

MAX_SYSTEM_PROMPT = 20_000
MAX_PROMPT = 200_000  # characters of one message; a longer one is refused with a field error
MAX_OUTPUT_TOKENS = 32_000


class PlaygroundAccess(TenantOwned):
    """One person's managed key for their team's playground application."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="playground_access")
    key = models.OneToOneField(ApiKey, on_delete=models.PROTECT, related_name="playground_access")
    salt = models.CharField(max_length=64, help_text="With PLAYGROUND_KEY_SECRET, derives the key's secret.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "playground access"
        verbose_name_plural = "playground access"
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="one_playground_access_per_member")]

    def __str__(self) -> str:
        return f"playground access of {self.user_id} in {self.tenant_id}"


class CallSettings(models.Model):
    """What a person sets for a call besides the model: the system prompt and the sampling bounds."""

    system_prompt = models.TextField(blank=True, max_length=MAX_SYSTEM_PROMPT)
    temperature = models.DecimalField(max_digits=3, decimal_places=2, null=True, blank=True,
                                      validators=[MinValueValidator(0), MaxValueValidator(2)])
    max_tokens = models.PositiveIntegerField(null=True, blank=True,
                                             validators=[MinValueValidator(1), MaxValueValidator(MAX_OUTPUT_TOKENS)])

    class Meta:
        abstract = True


class Conversation(CallSettings):
    """A person's multi-turn chat with one model, kept until they delete it."""

    alias = models.CharField(max_length=100)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    team = models.ForeignKey("aiplatform.Tenant", on_delete=models.PROTECT, related_name="+",
                             help_text="Whose playground the calls go through (and whose ledger they land in).")
    title = models.CharField(max_length=200, default="New conversation")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-updated_at", "-pk"]

    def __str__(self) -> str:
        return self.title


class Answer(models.Model):
    """What a model answered to one call, with what the gateway measured of it."""

    content = models.TextField(blank=True)
    request_id = models.CharField(max_length=128, blank=True, db_index=True,
                                  help_text="The gateway's x-request-id: the ledger line and the feedback's key.")
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    ttft_ms = models.FloatField(null=True, blank=True, help_text="Time to the first token, as the portal saw it.")
    total_ms = models.FloatField(null=True, blank=True)
    stopped = models.BooleanField(default=False, help_text="The person stopped it (or closed the page).")
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        abstract = True


class Role(models.TextChoices):
    USER = "user", "You"
    ASSISTANT = "assistant", "Model"


class ChatMessage(Answer):
    """One turn of a conversation: the person's prompt, or the model's answer with its figures."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role.choices)
    alias = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.content[:40]}"


class Comparison(CallSettings):
    """One prompt sent to two or three models side by side, and which answer the person preferred."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comparisons")
    team = models.ForeignKey("aiplatform.Tenant", on_delete=models.PROTECT, related_name="+")
    prompt = models.TextField(max_length=MAX_PROMPT)
    winner = models.ForeignKey("ComparedAnswer", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    voted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.prompt[:60]


class ComparedAnswer(Answer):
    """One model's answer in a comparison."""

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="answers")
    slot = models.PositiveSmallIntegerField()
    alias = models.CharField(max_length=100)

    class Meta:
        ordering = ["slot"]
        constraints = [models.UniqueConstraint(fields=["comparison", "slot"], name="one_answer_per_slot")]

    def __str__(self) -> str:
        return f"{self.alias} (slot {self.slot})"
