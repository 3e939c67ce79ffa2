"""Usage pages: a team's consumption against its limits, its spend over time, top callers and errors; for
platform admins and auditors, every team's spend, the spend by cost centre and the monthly chargeback CSV.

The figures come from ``portal.usage_selectors`` (rollups for finished hours, the raw ledger for the rest).
Charts are SVG drawn on the server by leather: no script and no style element or attribute, so they pass
the page's Content-Security-Policy and show without JavaScript.
"""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from decimal import Decimal

import leather
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from aiplatform.audit import record_event
from aiplatform.models import Tenant
from aiplatform.permissions import get_for_user_or_404, require
from portal import usage_selectors as usage
from portal.forms import UsageMonthForm
from portal.selectors_shadow import shadow_spend
from portal.templatetags.usage_format import dollars

CHART_SIZE = (800, 260)  # SVG units; the page scales it to its box
HALF_CHART_SIZE = (560, 240)  # two side by side: fewer units, so the labels stay legible
CHART_COLOUR = "#2f5bea"  # the accent colour of switchboard.css
CHARGEBACK_COLUMNS = ("month", "cost_centre", "tenant", "application", "alias", "requests", "prompt_tokens",
                      "completion_tokens", "cost")
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# --- charts ---------------------------------------------------------------------------------------

def spend_chart(points: list[usage.SeriesPoint], *, label_format: str, title: str,
                size: tuple[int, int] = CHART_SIZE) -> SafeString:
    """Columns of spend per bucket as inline SVG; each column's ``<title>`` says its bucket and amount.

    ElementTree escapes every text and attribute, so the markup is safe to insert as it is.
    """
    data = [(p.bucket_start.strftime(label_format), float(p.totals.cost)) for p in points]
    chart = leather.Chart()
    chart.add_columns(data, fill_color=CHART_COLOUR)
    chart.add_y_scale(0, max([cost for _, cost in data] + [0]) or 1)
    chart.add_y_axis(tick_formatter=lambda value, index, count: dollars(value))
    width, height = size
    root = ET.Element("svg", {"xmlns": "http://www.w3.org/2000/svg", "viewBox": f"0 0 {width} {height}",
                              "role": "img", "aria-label": title, "class": "chart-svg"})
    ET.SubElement(root, "title").text = title
    root.append(chart.to_svg_group(width, height))
    columns = root.find(".//g[@class='series columns']")
    if columns is not None:
        for rect, point in zip(columns.findall("rect"), points, strict=False):
            ET.SubElement(rect, "title").text = (f"{point.bucket_start.strftime(label_format)}: "
                                                 f"{dollars(point.totals.cost)}, {point.totals.requests} calls")
    return mark_safe(ET.tostring(root, encoding="unicode"))  # noqa: S308  (escaped by ElementTree)


# --- a team ---------------------------------------------------------------------------------------

@login_required
def team_usage(request: HttpRequest, slug: str) -> HttpResponse:
    """The team's month so far and today. Members (viewer and up), platform admins and auditors."""
    tenant = get_for_user_or_404(Tenant.objects, request.user, slug=slug)
    report = usage.team_usage(tenant, viewer=request.user)
    return render(request, "portal/usage/team.html", {
        "tenant": tenant, "usage": report,
        "daily_chart": spend_chart(report.daily, label_format="%d",
                                   title=f"Spend per day, {report.month.since:%B %Y}", size=HALF_CHART_SIZE),
        "hourly_chart": spend_chart(report.hourly, label_format="%H",
                                    title=f"Spend per hour, {report.today.since:%d %B %Y} (UTC)",
                                    size=HALF_CHART_SIZE),
    })


# --- the platform ---------------------------------------------------------------------------------

def _month(request: HttpRequest) -> tuple[UsageMonthForm, usage.Period | None]:
    form = UsageMonthForm(request.GET or {"month": f"{timezone.now():%Y-%m}"})
    return form, (form.cleaned_data["month"] if form.is_valid() else None)


@login_required
def platform_usage(request: HttpRequest) -> HttpResponse:
    """Every team's spend in a month, top spenders first, and the spend per cost centre."""
    require(request.user, "usage.view_all")
    form, period = _month(request)
    if period is None:
        return render(request, "portal/usage/platform.html", {"form": form}, status=400)
    scope = usage.platform_scope(viewer=request.user)
    spend = usage.tenant_spend(scope, period)
    return render(request, "portal/usage/platform.html", {
        "form": form, "period": period, "spend": spend, "cost_centres": usage.cost_centre_spend(spend),
        "top_spenders": [row for row in spend if row.totals.requests][:usage.TOP],
        "total": usage.totals(scope, period),
        "shadow_spend": shadow_spend(period),  # the platform's own: in no team's spend above
        "daily_chart": spend_chart(usage.series(scope, period, usage.DAY), label_format="%d",
                                   title=f"Platform spend per day, {period.since:%B %Y}"),
    })


def csv_cell(value) -> str:
    """A CSV cell a spreadsheet shows as text: one that would start a formula gets a leading quote."""
    text = format(value, "f") if isinstance(value, Decimal) else str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


@login_required
def chargeback_csv(request: HttpRequest) -> HttpResponse:
    """The month's chargeback as CSV (``CHARGEBACK_COLUMNS``, costs as decimal strings); every export is audited."""
    require(request.user, "usage.view_all")
    form, period = _month(request)
    if period is None:
        return HttpResponse(" ".join(form.errors.get("month", ["Give a month as YYYY-MM."])), status=400,
                            content_type="text/plain; charset=utf-8")
    rows = usage.chargeback(usage.platform_scope(viewer=request.user), period)
    record_event(action="usage.export", actor=request.user,
                 changes={"report": "chargeback", "month": period.label, "format": "csv", "rows": len(rows)})
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="chargeback-{period.label}.csv"'
    response["Cache-Control"] = "no-store"
    writer = csv.writer(response)
    writer.writerow(CHARGEBACK_COLUMNS)
    for row in rows:
        writer.writerow([csv_cell(getattr(row, column)) for column in CHARGEBACK_COLUMNS])
    return response
