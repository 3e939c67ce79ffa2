"""Forms of the feedback pages: an answer's feedback, the owners' queue filters and their review notes.

They validate shape; ``portal.services.feedback`` validates meaning (whose answer it is, which
category a thumbs-down needs).
"""

from __future__ import annotations

from django import forms

from portal.models import FeedbackStatus
from portal.models.feedback import MAX_COMMENT, MAX_NOTE, Category, Rating


class FeedbackForm(forms.Form):
    """``rating`` comes from the thumb clicked; ``chosen_rating`` remembers it while a category is chosen."""

    request_id = forms.CharField(max_length=128, widget=forms.HiddenInput)
    rating = forms.ChoiceField(choices=[("", ""), *Rating.choices], required=False)
    chosen_rating = forms.ChoiceField(choices=[("", ""), *Rating.choices], required=False)
    category = forms.ChoiceField(choices=[("", "—"), *Category.choices], required=False, label="Category")
    comment = forms.CharField(max_length=MAX_COMMENT, required=False, label="Comment", widget=forms.Textarea)

    @property
    def the_rating(self) -> str:
        return self.cleaned_data.get("rating") or self.cleaned_data.get("chosen_rating") or ""


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "Any status"), *FeedbackStatus.choices], required=False, label="Status")
    alias = forms.ChoiceField(choices=[("", "Any model")], required=False, label="Model")
    rating = forms.ChoiceField(choices=[("", "Any rating"), *Rating.choices], required=False, label="Rating")
    category = forms.ChoiceField(choices=[("", "Any category"), *Category.choices], required=False,
                                 label="Category")

    def __init__(self, *args, aliases: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["alias"].choices = [("", "Any model"), *((name, name) for name in aliases)]


class ReviewForm(forms.Form):
    action = forms.ChoiceField(choices=[("triage", "Triage"), ("resolve", "Resolve")])
    note = forms.CharField(max_length=MAX_NOTE, required=False)
