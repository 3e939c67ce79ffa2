"""Forms of the registry's pages. They check shape; the services check meaning."""

from __future__ import annotations

import json
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from aiplatform.models import User
from aiplatform.roles import PlatformRole
from registry.models import AliasKind, AliasStatus, Capability, Endpoint, ModelAlias, Provider, ProviderKind
from registry.models.aliases import MAX_ROUTE_PRIORITY, MAX_ROUTE_WEIGHT
from registry.models.http_urls import validate_http_url
from registry.models.providers import MAX_CALL_TIMEOUT, MAX_CONNECT_TIMEOUT, MAX_CONTEXT_WINDOW, MAX_PRICE
from registry.secrets import encrypt_secret, validate_reference


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
    is_active = forms.BooleanField(required=False, initial=True, label="Active")


class AliasForm(forms.Form):
    name = forms.SlugField(max_length=100)
    kind = forms.ChoiceField(choices=AliasKind.choices)
    status = forms.ChoiceField(choices=AliasStatus.choices)
    sunset_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                help_text="When a deprecated alias stops answering.")
    replacement = forms.ModelChoiceField(queryset=ModelAlias.objects.order_by("name"), required=False,
                                         to_field_name="name")
    owners = forms.ModelMultipleChoiceField(
        queryset=User.objects.filter(platform_role_grants__role=PlatformRole.MODEL_OWNER).order_by("email"),
        required=False, widget=forms.CheckboxSelectMultiple, help_text="Model owners who may edit the card.",
    )


class RouteForm(forms.Form):
    endpoint = forms.ModelChoiceField(queryset=Endpoint.objects.select_related("provider"))
    weight = forms.IntegerField(min_value=0, max_value=MAX_ROUTE_WEIGHT, initial=100)
    priority = forms.IntegerField(min_value=0, max_value=MAX_ROUTE_PRIORITY, initial=0, help_text="Fallback order: 0 first.")


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
