"""Formatting of usage figures in the portal's pages: dollars, percentages and token counts."""

from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def dollars(value: Decimal | float | None) -> str:
    """US dollars with as many decimals as small amounts need: $1,234.50, $0.0042."""
    if value is None:
        return "—"
    value = Decimal(str(value))
    if value == 0 or abs(value) >= 1:
        return f"${value:,.2f}"
    digits = f"{value:.{max(2, -value.adjusted() + 1)}f}"  # two significant digits, at least cents
    whole, fraction = digits.split(".")
    return f"${whole}.{fraction.rstrip('0').ljust(2, '0')}"


@register.filter
def percent(value: float | None) -> str:
    """A share from 0 to 1 as a percentage with one decimal: 0.125 → 12.5 %."""
    return "—" if value is None else f"{value * 100:.1f} %"
