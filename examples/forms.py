"""The example store's forms: save or edit an example, report it outdated."""

from __future__ import annotations

from django import forms

from examples.models import MAX_REPORT_NOTE, MAX_TITLE, Visibility
from registry.selectors import use_case_tags


class ExampleForm(forms.Form):
    title = forms.CharField(max_length=MAX_TITLE, label="Title")
    tags = forms.MultipleChoiceField(required=False, label="Use cases", widget=forms.CheckboxSelectMultiple,
                                     help_text="The use cases of the catalogue's model cards it shows.")
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.TEAM, label="Who may see it",
                                   widget=forms.RadioSelect)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tags"].choices = [(tag, tag) for tag in use_case_tags()]


class ReportForm(forms.Form):
    note = forms.CharField(required=False, max_length=MAX_REPORT_NOTE, label="What no longer works?",
                           widget=forms.Textarea(attrs={"rows": 2}))
