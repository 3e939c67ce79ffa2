from __future__ import annotations

from django import forms

from aiplatform.roles import TenantRole


class InviteMemberForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=TenantRole.choices, initial=TenantRole.DEVELOPER)


class ChangeRoleForm(forms.Form):
    role = forms.ChoiceField(choices=TenantRole.choices)


class AuditFilterForm(forms.Form):
    action = forms.CharField(required=False, max_length=100, label="Action starts with")
