"""Forms of the guardrails pages: the dashboard's filters and the dry-run. They validate shape."""

from __future__ import annotations

from django import forms

from portal import dry_run
from portal import selectors_guardrails as selectors
from registry.policy_document import PolicyDocumentInvalid
from registry.policy_spec import PolicySpec


class GuardrailFilterForm(forms.Form):
    """The dashboard's filters; the team's choices are the teams the viewer reads."""

    period = forms.ChoiceField(choices=[("24h", "Last 24 hours"), ("7d", "Last 7 days"), ("30d", "Last 30 days")],
                               required=False, initial=selectors.DEFAULT_PERIOD)
    tenant = forms.ModelChoiceField(queryset=None, required=False, to_field_name="slug", label="Team",
                                    empty_label="Every team")
    alias = forms.CharField(max_length=100, required=False, label="Model")
    action = forms.ChoiceField(choices=[("", "Every action"), *((a, a) for a in selectors.ACTIONS)], required=False)

    def __init__(self, *args, tenants, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tenant"].queryset = tenants

    def filters(self) -> selectors.GuardFilters:
        data = self.cleaned_data
        return selectors.GuardFilters(period=data.get("period") or selectors.DEFAULT_PERIOD,
                                      tenant=data.get("tenant"), alias=data.get("alias", ""),
                                      action=data.get("action", ""))


class DryRunForm(forms.Form):
    """A text and a policy: one of the policies the person may try, or an ad-hoc policy document."""

    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}), strip=False,
                           max_length=dry_run.MAX_TEXT_CHARS, label="Text",
                           help_text=f"Up to {dry_run.MAX_TEXT_CHARS:,} characters. It is not kept or logged.")
    policy = forms.ChoiceField(required=False, label="Policy")
    document = forms.CharField(widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}), required=False,
                               max_length=dry_run.MAX_DOCUMENT_CHARS, label="Or an ad-hoc document (YAML)",
                               help_text="input: [{detector: email, action: mask}] … — used instead of the policy "
                                         "above when given.")

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.policies = {p.name: p for p in dry_run.policies_for(user)}
        self.fields["policy"].choices = [("", "—"), *((name, f"{name} v{p.version}")
                                                     for name, p in self.policies.items())]

    def clean(self) -> dict:
        data = super().clean()
        document = (data.get("document") or "").strip()
        if document:
            try:
                data["spec"] = dry_run.policy_from_document(document)
            except PolicyDocumentInvalid as exc:
                self.add_error("document", list(exc.messages))
        elif data.get("policy"):
            data["spec"] = self.policies[data["policy"]]
        elif "policy" not in self.errors:
            self.add_error("policy", "Pick a policy, or paste a policy document.")
        return data

    @property
    def spec(self) -> PolicySpec:
        return self.cleaned_data["spec"]
