"""``{{ text|markdown }}``: text rendered as safe markdown (see ``aiplatform.markdown``)."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from aiplatform.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str) -> SafeString:
    return mark_safe(render_markdown(text))  # noqa: S308 -- sanitised by nh3 to an allow-list
