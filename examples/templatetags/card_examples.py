"""A model card's best examples (``{% card_examples alias %}``): the example store's part of the card page."""

from __future__ import annotations

from django import template

from examples import selectors

register = template.Library()


@register.inclusion_tag("examples/_card_examples.html", takes_context=True)
def card_examples(context, alias) -> dict:
    """The most upvoted examples of ``alias`` the reader may see, none reported outdated."""
    return {"alias": alias, "examples": selectors.best_for_alias(context["request"].user, alias.name)}
