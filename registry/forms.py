"""Forms of the registry's pages. They check shape; the services check meaning."""

from __future__ import annotations

import json
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from aiplatform.models import User
from aiplatform.roles import PlatformRole, Region
from registry.models import (
    AliasStatus,
    Capability,
    Endpoint,
    ModelAlias,
    Provider,
    ProviderKind,
    Route,
    RoutingStrategy,
    StickyAssignment,
)
from registry.models.aliases import MAX_ROUTE_PRIORITY, MAX_ROUTE_WEIGHT, MODEL_KINDS, VARIANT
from registry.models.http_urls import validate_http_url
from registry.models.providers import (
    MAX_CALL_TIMEOUT,
    MAX_CONNECT_TIMEOUT,
    MAX_CONTEXT_WINDOW,
    MAX_IN_FLIGHT,
    MAX_PRICE,
)
from registry.models.rules import RULE_CAPABILITIES, RULE_CLASSIFICATIONS, RULE_ENVIRONMENTS
from registry.secrets import encrypt_secret, validate_reference
from registry.services import RuleSpec


class CatalogueFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search")
    capability = forms.MultipleChoiceField(choices=Capability.choices, required=False,
                                           widget=forms.CheckboxSelectMultiple)
    use_case = forms.ChoiceField(required=False, label="Use case")
    provider = forms.ChoiceField(required=False)
    status = forms.ChoiceField(required=False, choices=[("", "Available")] + list(AliasStatus.choices))
    max_input_price = forms.DecimalField(required=False, min_value=Decimal(0), label="Max $ / M input tokens")

    def __init__(self, *args, use_cases: list[str], providers: list[str], show_drafts: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["use_case"].choices = [("", "Any")] + [(t, t) for t in use_cases]
        self.fields["provider"].choices = [("", "Any")] + [(p, p) for p in providers]
        if not show_drafts:
            self.fields["status"].choices = [c for c in self.fields["status"].choices if c[0] != AliasStatus.DRAFT]


class ProviderForm(forms.Form):
    name = forms.SlugField(max_length=63)
    kind = forms.ChoiceField(choices=ProviderKind.choices)
    base_url = forms.CharField(required=False, max_length=500, label="Base URL", validators=[validate_http_url])
    region = forms.CharField(required=False, max_length=32)
    api_key = forms.CharField(
        required=False, max_length=4000, label="Credential reference", validators=[validate_reference],
        help_text="env:NAME or aws-sm:<secret id>. Leave as it is to keep the current credential.",
    )
    api_key_value = forms.CharField(
        required=False, label="…or paste a key to store encrypted", widget=forms.PasswordInput(render_value=False),
        help_text="Stored only encrypted (enc:); never shown again.",
    )
    config = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Config (JSON)",
                             help_text='Kind-specific settings, e.g. {"api_version": "2024-10-21"}.')
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def full_clean(self) -> None:
        super().full_clean()
        if self.is_bound and "api_key" in self._errors:
            # A refused "reference" may be a pasted secret: never echo it back into the page.
            self.data = self.data.copy()
            self.data["api_key"] = ""

    def clean_config(self) -> dict:
        text = self.cleaned_data["config"].strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError:
            raise ValidationError("Give valid JSON.") from None
        if not isinstance(value, dict):
            raise ValidationError("Give a JSON object.")
        return value

    def service_fields(self) -> dict:
        """What to pass to the provider services; a pasted key is encrypted here and nowhere kept plain."""
        data = dict(self.cleaned_data)
        pasted = data.pop("api_key_value", "")
        if pasted:
            data["api_key"] = encrypt_secret(pasted)
        return data


class EndpointForm(forms.Form):
    provider = forms.ModelChoiceField(queryset=Provider.objects.order_by("name"), to_field_name="name")
    upstream_model = forms.CharField(max_length=200)
    region = forms.CharField(required=False, max_length=32)
    capabilities = forms.MultipleChoiceField(choices=Capability.choices, required=False,
                                             widget=forms.CheckboxSelectMultiple)
    context_window = forms.IntegerField(required=False, min_value=1, max_value=MAX_CONTEXT_WINDOW)
    connect_timeout = forms.FloatField(min_value=0.1, max_value=MAX_CONNECT_TIMEOUT, initial=5.0)
    first_byte_timeout = forms.FloatField(min_value=0.1, max_value=MAX_CALL_TIMEOUT, initial=60.0)
    total_timeout = forms.FloatField(min_value=0.1, max_value=MAX_CALL_TIMEOUT, initial=600.0)
    input_price_per_mtok = forms.DecimalField(min_value=0, max_value=MAX_PRICE, initial=0, label="$ / M input tokens")
    output_price_per_mtok = forms.DecimalField(min_value=0, max_value=MAX_PRICE, initial=0, label="$ / M output tokens")
    price_per_image = forms.DecimalField(min_value=0, max_value=MAX_PRICE, initial=0, label="$ / image")
    price_per_request = forms.DecimalField(min_value=0, max_value=MAX_PRICE, initial=0, label="$ / request")
    max_in_flight = forms.IntegerField(required=False, min_value=1, max_value=MAX_IN_FLIGHT, label="Max in flight",
                                       help_text="Most calls at once across all gateway processes; empty: no cap.")
    is_active = forms.BooleanField(required=False, initial=True, label="Active")


class AliasForm(forms.Form):
    name = forms.SlugField(max_length=100)
    kind = forms.ChoiceField(choices=MODEL_KINDS)
    status = forms.ChoiceField(choices=AliasStatus.choices)
    sunset_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                help_text="When a deprecated alias stops answering.")
    replacement = forms.ModelChoiceField(queryset=ModelAlias.objects.order_by("name"), required=False,
                                         to_field_name="name")
    owners = forms.ModelMultipleChoiceField(
        queryset=User.objects.filter(platform_role_grants__role=PlatformRole.MODEL_OWNER).order_by("email"),
        required=False, widget=forms.CheckboxSelectMultiple, help_text="Model owners who may edit the card.",
    )
    strategy = forms.ChoiceField(choices=RoutingStrategy.choices, required=False, initial=RoutingStrategy.WEIGHTED,
                                 label="Routing strategy", help_text="How calls choose among the routes.")
    sticky = forms.ChoiceField(choices=StickyAssignment.choices, required=False, label="Sticky assignment",
                               help_text="A/B: keep each application or user on one route of the weighted draw.")


class RouteForm(forms.Form):
    endpoint = forms.ModelChoiceField(queryset=Endpoint.objects.select_related("provider"))
    weight = forms.IntegerField(min_value=0, max_value=MAX_ROUTE_WEIGHT, initial=100)
    priority = forms.IntegerField(min_value=0, max_value=MAX_ROUTE_PRIORITY, initial=0, help_text="Fallback order: 0 first.")
    variant = forms.CharField(required=False, max_length=32, validators=[VARIANT],
                              help_text="A/B label for reports (a, b, control); optional.")
    shadow_sample = forms.DecimalField(required=False, min_value=0, max_value=1, decimal_places=4, initial=0,
                                       label="Shadow share",
                                       help_text="Above 0: a shadow route that never serves callers and gets this "
                                                 "share of calls mirrored (0.1 is a tenth).")

    def clean_shadow_sample(self) -> Decimal:
        return self.cleaned_data["shadow_sample"] or Decimal(0)


def _choices(values: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(v, v.replace("_", " ").capitalize()) for v in values]


class RuleForm(forms.Form):
    """One routing rule: its conditions and the routes to use (``use_1`` first). Built for one alias's routes."""

    position = forms.IntegerField(required=False, min_value=1, label="Place",
                                  help_text="Where among the rules (1 is tried first); empty: last.")
    tenants = forms.CharField(required=False, label="Teams", help_text="Team slugs, separated by commas; empty: any.")
    regions = forms.MultipleChoiceField(choices=Region.choices, required=False, widget=forms.CheckboxSelectMultiple,
                                        label="Team regions")
    environments = forms.MultipleChoiceField(choices=_choices(RULE_ENVIRONMENTS), required=False,
                                             widget=forms.CheckboxSelectMultiple)
    classifications = forms.MultipleChoiceField(choices=_choices(RULE_CLASSIFICATIONS), required=False,
                                                widget=forms.CheckboxSelectMultiple, label="Data classifications")
    capabilities = forms.MultipleChoiceField(choices=_choices(RULE_CAPABILITIES), required=False,
                                             widget=forms.CheckboxSelectMultiple, label="Request needs",
                                             help_text="Matches a request that needs any of them.")
    min_prompt_tokens = forms.IntegerField(required=False, min_value=0, label="Prompt tokens from")
    max_prompt_tokens = forms.IntegerField(required=False, min_value=0, label="Prompt tokens up to")

    def __init__(self, *args, routes: list[Route], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.endpoints = {str(r.endpoint_id): r.endpoint for r in routes if not r.is_shadow}
        choices = [(pk, str(endpoint)) for pk, endpoint in self.endpoints.items()]
        for place in range(1, len(choices) + 1):
            self.fields[f"use_{place}"] = forms.ChoiceField(
                choices=choices if place == 1 else [("", "—"), *choices], required=place == 1,
                label="Use route" if place == 1 else "then")

    def clean_tenants(self) -> list[str]:
        return [t for t in (part.strip().lower() for part in self.cleaned_data["tenants"].split(",")) if t]

    def clean(self) -> dict:
        data = super().clean()
        low, high = data.get("min_prompt_tokens"), data.get("max_prompt_tokens")
        if low is not None and high is not None and high < low:
            self.add_error("max_prompt_tokens", "The maximum cannot be below the minimum.")
        return data

    def rule_spec(self) -> RuleSpec:
        """The rule as ``services.set_rules`` takes it."""
        data = self.cleaned_data
        chosen = [data[name] for name in self.fields if name.startswith("use_") and data.get(name)]
        return RuleSpec(
            endpoints=tuple(self.endpoints[pk] for pk in dict.fromkeys(chosen)),
            tenants=tuple(data["tenants"]), regions=tuple(data["regions"]), environments=tuple(data["environments"]),
            classifications=tuple(data["classifications"]), capabilities=tuple(data["capabilities"]),
            min_prompt_tokens=data["min_prompt_tokens"], max_prompt_tokens=data["max_prompt_tokens"],
        )


class CardForm(forms.Form):
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}),
                              help_text="What the model is for, in a sentence or two; the catalogue shows it.")
    use_cases = forms.CharField(required=False, help_text="Tags, separated by commas: summarization, code")
    limitations = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    failure_modes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                    label="Known failure modes")
    license = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Licence / EULA")
    license_url = forms.CharField(required=False, max_length=500, label="Licence link",
                                  validators=[validate_http_url])
    license_restrictions = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                           label="Licence restrictions")
    data_residency = forms.CharField(required=False, max_length=200)
    data_retention = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                     label="Vendor data retention")
    evaluations = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line: name | metric | value | YYYY-MM-DD",
    )
    note = forms.CharField(required=False, max_length=500, label="What changed (for the history)")

    @staticmethod
    def initial_from(card) -> dict:
        return {
            **card.content(),
            "use_cases": ", ".join(card.use_cases),
            "evaluations": "\n".join(f"{e['name']} | {e['metric']} | {e['value']} | {e['date']}"
                                     for e in card.evaluations),
        }

    def clean_evaluations(self) -> list[dict]:
        rows = []
        for number, line in enumerate(self.cleaned_data["evaluations"].splitlines(), start=1):
            if not line.strip():
                continue
            parts = [p.strip() for p in line.split("|")]
            if len(parts) != 4:
                raise ValidationError(f"Line {number}: give name | metric | value | date.")
            rows.append(dict(zip(("name", "metric", "value", "date"), parts, strict=True)))
        return rows
