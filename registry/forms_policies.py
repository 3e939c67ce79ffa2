"""The guardrail policy form: a name, a description and the document typed as YAML (registry.policy_document)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from registry.policy_document import PolicyDocumentInvalid, from_yaml

EXAMPLE = """applies_to: {aliases: [fast-chat]}
input:
  - {detector: email, action: mask}
  - {detector: payment_card, action: block}
output:
  - {detector: email, action: mask}
unmask_output: true"""


class PolicyForm(forms.Form):
    name = forms.SlugField(max_length=63, help_text="Lower-case letters, digits and dashes; cannot be changed later.")
    description = forms.CharField(required=False, max_length=500)
    document = forms.CharField(
        required=False, max_length=200_000, label="Rules (YAML)",
        widget=forms.Textarea(attrs={"rows": 16, "spellcheck": "false", "class": "mono", "placeholder": EXAMPLE}),
        help_text="applies_to (aliases, tenants, classifications, regions), input and output rules (detector, "
                  "action, threshold, terms), unmask_output, residency {regions}, payload_logging. "
                  "Empty: applies to every call and does nothing.")

    def clean_document(self) -> Any:
        """The parsed YAML; whether it is a valid policy is the service's to say (every problem by its path)."""
        try:
            return from_yaml(self.cleaned_data["document"])
        except PolicyDocumentInvalid as exc:
            raise ValidationError(exc.messages) from None
