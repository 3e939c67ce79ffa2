from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from aiplatform.roles import Region, TenantRole


class InviteMemberForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=TenantRole.choices, initial=TenantRole.DEVELOPER)


class ChangeRoleForm(forms.Form):
    role = forms.ChoiceField(choices=TenantRole.choices)


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=254, label="Who", help_text="E-mail, system or policy (part of it)")
    action = forms.CharField(required=False, max_length=100, label="Action starts with")
    tenant = forms.ModelChoiceField(queryset=None, required=False, to_field_name="slug", label="Team",
                                    empty_label="Every team")
    since = forms.DateField(required=False, label="From (UTC)", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To (UTC, inclusive)", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, tenants, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tenant"].queryset = tenants

    def clean(self) -> dict:
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "The end is before the start.")
        return data


class CreateTeamForm(forms.Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(max_length=50, help_text="In the team's address: /teams/<slug>/. Lower-case, dashes.")
    region = forms.ChoiceField(choices=Region.choices, initial=Region.GLOBAL)
    cost_centre = forms.CharField(max_length=50, required=False, label="Cost centre")
    owner = forms.EmailField(label="Owner's e-mail", required=False,
                             help_text="Someone with an account; empty: you. Invite others from the team page.")

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"].lower()
        if slug == "new":  # /teams/new/ is this page
            raise ValidationError("This address is taken by the page to create teams; choose another.")
        return slug


# --- the one way a form shows errors ---------------------------------------------------------------

def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's refusal on ``form``: by field where it names one of the form's fields, else on the form."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def error_text(*forms_: forms.Form) -> str:
    """Every error of every bound ``forms_``, as one line (for a banner or a table row that has no form fields)."""
    parts = []
    for form in forms_:
        for field, errors in form.errors.items():
            label = "" if field == "__all__" else (form.fields[field].label or field.replace("_", " ").capitalize())
            parts.append(f"{label}: {' '.join(errors)}" if label else " ".join(errors))
    return " ".join(parts)
