"""The prompt API pages' forms: a new prompt API, a new version, a label move, a decision, a try-it."""

from __future__ import annotations

import json

from django import forms

from registry.models import AliasKind, AliasStatus, ModelAlias
from registry.models.prompts import MAX_TEMPLATE


class PromptForm(forms.Form):
    team = forms.ChoiceField(help_text="The team that publishes it.")
    slug = forms.SlugField(max_length=63, help_text="Callers use it: /v1/prompts/<slug>. Lower-case, dashes.")
    title = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
    requires_approval = forms.BooleanField(required=False, label="Publishing and moving production need a second owner")

    def __init__(self, *args, teams=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [(t.slug, t.name) for t in teams]


class VersionForm(forms.Form):
    model = forms.ChoiceField(help_text="The chat model this version calls.")
    system_prompt = forms.CharField(required=False, max_length=MAX_TEMPLATE, widget=forms.Textarea(attrs={"rows": 3}))
    template = forms.CharField(max_length=MAX_TEMPLATE, widget=forms.Textarea(attrs={"rows": 5}),
                               help_text="The user message, with {{ variable }} slots.")
    variables = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text='JSON: [{"name": "text"}, {"name": "n", "type": "integer", "default": 3}] — types string, '
                  "integer, number, boolean; required unless it has a default or \"required\": false.")
    temperature = forms.DecimalField(required=False, min_value=0, max_value=2, decimal_places=2)
    max_tokens = forms.IntegerField(required=False, min_value=1, max_value=1_000_000)
    note = forms.CharField(required=False, max_length=500, help_text="What changed in this version.")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [(n, n) for n in ModelAlias.objects.filter(
            kind=AliasKind.CHAT, status__in=(AliasStatus.EVALUATING, AliasStatus.APPROVED, AliasStatus.DEPRECATED))
            .order_by("name").values_list("name", flat=True)]

    def clean_variables(self):
        raw = (self.cleaned_data.get("variables") or "").strip()
        if not raw:
            return []
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON (line {exc.lineno}): {exc.msg}.") from None


class LabelForm(forms.Form):
    label = forms.SlugField(max_length=40, initial="production")
    version = forms.IntegerField(min_value=1)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    comment = forms.CharField(required=False, max_length=500)
