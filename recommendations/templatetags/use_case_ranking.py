"""``{% use_case_ranking use_case %}``: the catalogue's "best measured for this use case" panel."""

from __future__ import annotations

from django import template

from recommendations import selectors

register = template.Library()


@register.inclusion_tag("recommendations/_panel.html", takes_context=True)
def use_case_ranking(context, use_case: str) -> dict:
    ranking = selectors.ranking_for(context["request"].user, use_case, examples_per_model=1)
    return {"ranking": ranking, "top": ranking.ranked[:3]}
