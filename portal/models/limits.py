"""Plans and limits: how much a key, a subscription, an application, a team or a model may use.

A ``Plan`` is a named set of limits (seeded: free, standard, premium). ``LimitSettings`` are
the limits set on one thing, a key, a subscription, an application, a tenant or a model alias:
the plan it follows (keys, subscriptions and applications) and any value of its own, which
replaces the plan's value for that thing. Every level that has a limit counts the calls made
through it, and a call must fit every level (see ``portal.limits`` for the resolution and the
README's "Plans and limits" for the rules).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from aiplatform.models import Tenant, TenantScopedQuerySet
from registry.models.providers import SLUG

MAX_RATE = 10_000_000  # requests or concurrent calls: far above any real limit, far below int overflow
MAX_TOKENS = 10**15
MAX_COST = 10**9  # dollars


class BudgetMode(models.TextChoices):
    SOFT = "soft", "Soft: admit while spend is under the budget; the call that crosses it completes"
    STRICT = "strict", "Strict: admit only when the call's maximum cost still fits; never exceeded"


class RedisFailure(models.TextChoices):
    FAIL_OPEN = "fail_open", "Fail open: each gateway process enforces its share of the limit"
    FAIL_CLOSED = "fail_closed", "Fail closed: refuse calls (503) until the limiter is back"


class LimitLevel(models.TextChoices):
    """Where a limit is set and counted, most specific first."""

    KEY = "key", "API key"
    SUBSCRIPTION = "subscription", "Subscription"
    APPLICATION = "application", "Application"
    TENANT = "tenant", "Team"
    ALIAS = "alias", "Model (all callers)"


class LimitValues(models.Model):
    """The limits one level may set; empty means "not set here"."""

    requests_per_minute = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(MAX_RATE)])
    tokens_per_minute = models.PositiveBigIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(MAX_TOKENS)],
        help_text="Prompt and completion tokens together.")
    max_concurrency = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(MAX_RATE)],
        help_text="Calls in flight at once.")
    burst = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(MAX_RATE)],
        help_text="Token bucket: up to this many requests at once, refilled at the per-minute rate.")
    tokens_per_day = models.PositiveBigIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(MAX_TOKENS)])
    tokens_per_month = models.PositiveBigIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(MAX_TOKENS)])
    cost_per_day = models.DecimalField(
        max_digits=18, decimal_places=6, null=True, blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_COST)], help_text="US dollars.")
    cost_per_month = models.DecimalField(
        max_digits=18, decimal_places=6, null=True, blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_COST)], help_text="US dollars.")
    budget_mode = models.CharField(max_length=8, choices=BudgetMode.choices, blank=True,
                                   help_text="Empty: the plan's (soft by default).")
    redis_failure = models.CharField(max_length=12, choices=RedisFailure.choices, blank=True,
                                     help_text="When the shared limiter is unreachable. Empty: the plan's.")
    shadow = models.BooleanField(default=False, help_text="Count and report, never refuse: try a new limit first.")

    VALUE_FIELDS = ("requests_per_minute", "tokens_per_minute", "max_concurrency", "burst", "tokens_per_day",
                    "tokens_per_month", "cost_per_day", "cost_per_month")

    class Meta:
        abstract = True


class Plan(LimitValues):
    """A named set of default limits that keys, subscriptions and applications follow."""

    name = models.CharField(max_length=50, unique=True, validators=[SLUG])
    description = models.CharField(max_length=300, blank=True)
    default_output_tokens = models.PositiveIntegerField(
        default=1024, validators=[MinValueValidator(1), MaxValueValidator(1_000_000)],
        help_text="Output tokens reserved at admission when a call sets no max_tokens.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class LimitSettings(LimitValues):
    """The limits set on exactly one key, subscription, application, tenant or model alias."""

    level = models.CharField(max_length=16, choices=LimitLevel.choices)
    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, null=True, blank=True,
                                  related_name="limit_settings")
    application = models.OneToOneField("portal.Application", on_delete=models.CASCADE, null=True, blank=True,
                                       related_name="limit_settings")
    subscription = models.OneToOneField("portal.Subscription", on_delete=models.CASCADE, null=True, blank=True,
                                        related_name="limit_settings")
    key = models.OneToOneField("portal.ApiKey", on_delete=models.CASCADE, null=True, blank=True,
                               related_name="limit_settings")
    alias = models.OneToOneField("registry.ModelAlias", on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="limit_settings")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                             help_text="Keys, subscriptions and applications: the plan they follow.")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "limit settings"
        constraints = [
            models.CheckConstraint(
                name="limit_settings_names_its_level",
                condition=(
                    models.Q(level="key", key__isnull=False, subscription__isnull=True, application__isnull=True,
                             tenant__isnull=True, alias__isnull=True)
                    | models.Q(level="subscription", subscription__isnull=False, key__isnull=True,
                               application__isnull=True, tenant__isnull=True, alias__isnull=True)
                    | models.Q(level="application", application__isnull=False, key__isnull=True,
                               subscription__isnull=True, tenant__isnull=True, alias__isnull=True)
                    | models.Q(level="tenant", tenant__isnull=False, key__isnull=True, subscription__isnull=True,
                               application__isnull=True, alias__isnull=True, plan__isnull=True)
                    | models.Q(level="alias", alias__isnull=False, key__isnull=True, subscription__isnull=True,
                               application__isnull=True, tenant__isnull=True, plan__isnull=True)
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"limits of {self.level} {self.owner_id}"

    @property
    def owner_id(self) -> int | None:
        return getattr(self, f"{self.level}_id", None)


class BudgetAlert(models.Model):
    """A budget threshold crossed in one period: sent once (the unique constraint is the "once")."""

    level = models.CharField(max_length=16, choices=LimitLevel.choices)
    owner_id = models.PositiveBigIntegerField(help_text="The key, subscription, application or tenant id.")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="budget_alerts")
    measure = models.CharField(max_length=8, choices=[("cost", "Cost"), ("tokens", "Tokens")])
    period = models.CharField(max_length=8, choices=[("day", "Day"), ("month", "Month")])
    period_start = models.DateField()
    threshold_percent = models.PositiveSmallIntegerField()
    used = models.DecimalField(max_digits=24, decimal_places=9)
    budget = models.DecimalField(max_digits=24, decimal_places=9)
    created_at = models.DateTimeField(auto_now_add=True)


    objects = TenantScopedQuerySet.as_manager()
    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["level", "owner_id", "measure", "period", "period_start", "threshold_percent"],
                name="budget_alert_once_per_threshold_and_period"),
        ]

    def __str__(self) -> str:
        return f"{self.level} {self.owner_id}: {self.threshold_percent}% of {self.measure}/{self.period}"


class AlertWebhook(models.Model):
    """Where a team's budget alerts are also posted, signed the Standard Webhooks way."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="alert_webhooks")
    url = models.URLField(max_length=500)
    # A reference to the signing secret (``whsec_…``), resolved through registry.secrets, never the value.
    secret_ref = models.CharField(max_length=300)
    is_active = models.BooleanField(default=True)
    # The event types it receives (``portal.webhooks.EVENT_TYPES``); empty: every one.
    events = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        # Only where it goes: chat-tool webhook URLs often carry a credential in their path or query.
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname or ''}/…"

    def receives(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


class WebhookDelivery(models.Model):
    """One attempt to deliver one event to one webhook: the team's delivery log (kept with the webhook)."""

    class Outcome(models.TextChoices):
        DELIVERED = "delivered", "Delivered"
        RETRYING = "retrying", "Failed, will retry"
        FAILED = "failed", "Failed"

    webhook = models.ForeignKey(AlertWebhook, on_delete=models.CASCADE, related_name="deliveries")
    msg_id = models.CharField(max_length=100)  # the webhook-id header: the same on every attempt of an event
    event_type = models.CharField(max_length=64)
    attempt = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = TenantScopedQuerySet.as_manager()
    tenant_path = "webhook__tenant"

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.msg_id} #{self.attempt}: {self.outcome}"


class UsageRollup(models.Model):
    """Aggregates of the ledger per hour or day, per key and alias and endpoint (key → application → tenant).

    ``latency_buckets`` are counts per latency bucket (the bounds are in ``portal.rollups``), so
    rollups merge by adding and p50 / p95 come from the merged counts.
    """

    granularity = models.CharField(max_length=4, choices=[("hour", "Hour"), ("day", "Day")])
    bucket_start = models.DateTimeField()
    # PROTECT, as the ledger: once raw events are pruned, the rollups are the only record of the spend.
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    application = models.ForeignKey("portal.Application", on_delete=models.PROTECT, related_name="+")
    key = models.ForeignKey("portal.ApiKey", on_delete=models.PROTECT, related_name="+")
    alias = models.CharField(max_length=100)
    endpoint_id = models.PositiveBigIntegerField(default=0, help_text="0: no endpoint was called.")
    requests = models.PositiveBigIntegerField(default=0)
    errors = models.PositiveBigIntegerField(default=0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    cost = models.DecimalField(max_digits=24, decimal_places=9, default=0)
    latency_buckets = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)


    objects = TenantScopedQuerySet.as_manager()
    class Meta:
        ordering = ["-bucket_start"]
        constraints = [
            models.UniqueConstraint(fields=["granularity", "bucket_start", "key", "alias", "endpoint_id"],
                                    name="one_rollup_per_bucket"),
        ]
        indexes = [models.Index(fields=["tenant", "granularity", "bucket_start"])]

    def __str__(self) -> str:
        return f"{self.granularity} {self.bucket_start:%Y-%m-%d %H:00} {self.alias}"
