"""Providers (who serves models, and how we authenticate to them) and their endpoints."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from registry.models.http_urls import validate_http_url
from registry.secrets import validate_reference

SLUG = RegexValidator(r"^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$", "Lower-case letters, digits, dots, dashes, underscores.")


class ProviderKind(models.TextChoices):
    OPENAI = "openai", "OpenAI"
    OPENAI_COMPATIBLE = "openai-compatible", "OpenAI-compatible (vLLM, Ollama, Mistral, Together, Groq, ...)"
    AZURE_OPENAI = "azure-openai", "Azure OpenAI"
    ANTHROPIC = "anthropic", "Anthropic"
    BEDROCK = "bedrock", "AWS Bedrock"
    SAGEMAKER = "sagemaker", "AWS SageMaker"
    GEMINI = "gemini", "Google Gemini"
    DEMO = "demo", "Demo (local, no key)"


class Capability(models.TextChoices):
    CHAT = "chat", "Chat"
    EMBEDDINGS = "embeddings", "Embeddings"
    VISION = "vision", "Vision"
    TOOLS = "tools", "Tools"
    JSON_OUTPUT = "json_output", "JSON output"
    STREAMING = "streaming", "Streaming"


# Kinds that reach AWS with the instance role / region instead of a URL and a key.
AWS_KINDS = frozenset({ProviderKind.BEDROCK, ProviderKind.SAGEMAKER})


class Provider(models.Model):
    """A vendor or self-hosted server we call. Its credential is a secret *reference*, never the secret."""

    name = models.CharField(max_length=63, unique=True, validators=[SLUG])
    kind = models.CharField(max_length=32, choices=ProviderKind.choices)
    base_url = models.CharField(max_length=500, blank=True, validators=[validate_http_url],
                                help_text="e.g. https://api.openai.com/v1")
    region = models.CharField(max_length=32, blank=True, help_text="Cloud region (Bedrock, SageMaker, Azure).")
    api_key = models.CharField(
        max_length=4000, blank=True, validators=[validate_reference],
        help_text="A secret reference: env:NAME, aws-sm:<secret id>, enc:<token>; empty for demo or an instance role.",
    )
    config = models.JSONField(default=dict, blank=True, help_text="Kind-specific settings (azure api_version, ...).")
    is_active = models.BooleanField(default=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_sync_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        needs_url = self.kind in {ProviderKind.OPENAI_COMPATIBLE, ProviderKind.AZURE_OPENAI}
        if needs_url and not self.base_url:
            raise ValidationError({"base_url": f"A {self.get_kind_display()} provider needs a base URL."})
        if not isinstance(self.config, dict):
            raise ValidationError({"config": "Give a mapping of settings."})


# Sensible ceilings for an endpoint's numbers: a bigger value is a typo or a probe (a connect timeout of
# 1.12e308 s was accepted once), never a setting, and prices far beyond any model's are refused too.
MAX_CONNECT_TIMEOUT = 300.0  # seconds
MAX_CALL_TIMEOUT = 3600.0  # seconds, first byte and total
MAX_CONTEXT_WINDOW = 100_000_000  # tokens
MAX_PRICE = Decimal(100_000)  # dollars per million tokens, per image or per request
MAX_IN_FLIGHT = 1_000_000  # concurrent calls


class Endpoint(models.Model):
    """One deployment of an upstream model at a provider: what it can do, how long we wait, what it costs."""

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="endpoints")
    upstream_model = models.CharField(max_length=200, help_text="The provider's model id, e.g. gpt-4o-mini.")
    region = models.CharField(max_length=32, blank=True, help_text="Empty: the provider's region.")
    capabilities = models.JSONField(default=list, blank=True, help_text="Subset of: " + ", ".join(Capability.values))
    context_window = models.PositiveIntegerField(null=True, blank=True, help_text="Tokens.",
                                                 validators=[MinValueValidator(1), MaxValueValidator(MAX_CONTEXT_WINDOW)])
    connect_timeout = models.FloatField(default=5.0, help_text="Seconds.",
                                        validators=[MinValueValidator(0.1), MaxValueValidator(MAX_CONNECT_TIMEOUT)])
    first_byte_timeout = models.FloatField(default=60.0, help_text="Seconds.",
                                           validators=[MinValueValidator(0.1), MaxValueValidator(MAX_CALL_TIMEOUT)])
    total_timeout = models.FloatField(default=600.0, help_text="Seconds.",
                                      validators=[MinValueValidator(0.1), MaxValueValidator(MAX_CALL_TIMEOUT)])
    input_price_per_mtok = models.DecimalField(max_digits=14, decimal_places=6, default=Decimal(0),
                                               validators=[MinValueValidator(Decimal(0)), MaxValueValidator(MAX_PRICE)])
    output_price_per_mtok = models.DecimalField(max_digits=14, decimal_places=6, default=Decimal(0),
                                                validators=[MinValueValidator(Decimal(0)), MaxValueValidator(MAX_PRICE)])
    price_per_image = models.DecimalField(max_digits=14, decimal_places=6, default=Decimal(0),
                                          validators=[MinValueValidator(Decimal(0)), MaxValueValidator(MAX_PRICE)])
    price_per_request = models.DecimalField(max_digits=14, decimal_places=6, default=Decimal(0),
                                            validators=[MinValueValidator(Decimal(0)), MaxValueValidator(MAX_PRICE)])
    max_in_flight = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(MAX_IN_FLIGHT)],
        help_text="Most calls at once across all gateway processes; empty: no cap.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider__name", "upstream_model", "region"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "upstream_model", "region"], name="endpoint_unique_per_provider"),
            models.CheckConstraint(
                condition=models.Q(input_price_per_mtok__gte=0, output_price_per_mtok__gte=0,
                                   price_per_image__gte=0, price_per_request__gte=0),
                name="endpoint_prices_not_negative",
            ),
        ]

    def __str__(self) -> str:
        where = f" ({self.region})" if self.region else ""
        return f"{self.provider.name}/{self.upstream_model}{where}"

    @property
    def effective_region(self) -> str:
        return self.region or self.provider.region

    def clean(self) -> None:
        super().clean()
        caps = self.capabilities
        if not isinstance(caps, list) or any(c not in Capability.values for c in caps):
            raise ValidationError({"capabilities": "Use only: " + ", ".join(Capability.values)})
        self.capabilities = [c for c in Capability.values if c in caps]  # one canonical order
        if self.total_timeout < self.first_byte_timeout:
            raise ValidationError({"total_timeout": "The total timeout cannot be shorter than the first-byte timeout."})
