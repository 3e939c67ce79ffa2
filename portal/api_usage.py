"""Usage over the REST API: a team's consumption and its limits (members, platform admins, auditors), every
team's spend, the spend by cost centre and the monthly chargeback (platform admins and auditors).

The same figures as the pages (``portal.usage_selectors``). A team is reached with ``get_for_user_or_404``,
so another team's slug is a 404 and the probe is audited; query parameters are validated by serializers,
and a bad one is a 400 naming it. Lists are paginated like the rest of the API.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from aiplatform.audit import record_event
from aiplatform.models import Tenant
from aiplatform.permissions import get_for_user_or_404, require
from portal import usage_selectors as usage
from portal.serializers_usage import (
    ChargebackRowSerializer,
    CostCentreSpendSerializer,
    LimitLineSerializer,
    MonthQuerySerializer,
    TeamUsageSerializer,
    TenantSpendSerializer,
    UsageQuerySerializer,
)

TEAM = OpenApiParameter("slug", str, OpenApiParameter.PATH, description="The team's slug.")


def _query(serializer_class, request: Request) -> dict:
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


class TeamUsageView(APIView):
    """A team's consumption in a period: totals, per model, a series per hour or day, top applications and keys,
    errors."""

    @extend_schema(parameters=[TEAM, UsageQuerySerializer], responses=TeamUsageSerializer)
    def get(self, request: Request, slug: str) -> Response:
        tenant = get_for_user_or_404(Tenant.objects, request.user, slug=slug)
        query = _query(UsageQuerySerializer, request)
        report = usage.team_period_usage(tenant, viewer=request.user, period=query["period"],
                                         granularity=query["granularity"])
        return Response(TeamUsageSerializer(report).data)


class TeamLimitsView(generics.ListAPIView):
    """The limits in force on a team's calls (team, applications, subscriptions, live keys), with today's and
    this month's use of every budget and what is left."""

    serializer_class = LimitLineSerializer

    @extend_schema(parameters=[TEAM])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> list[usage.LimitLine]:
        tenant = get_for_user_or_404(Tenant.objects, self.request.user, slug=self.kwargs["slug"])
        return usage.limits_in_force(tenant, viewer=self.request.user)


class _PlatformMonthView(generics.ListAPIView):
    """Base of the platform-wide reports: platform admins and auditors, one month (``?month=YYYY-MM``)."""

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        require(request.user, "usage.view_all")

    @property
    def period(self) -> usage.Period:
        return _query(MonthQuerySerializer, self.request)["period"]

    def scope(self) -> usage.UsageScope:
        return usage.platform_scope(viewer=self.request.user)


class TenantSpendView(_PlatformMonthView):
    """Every team with its spend in the month, top spenders first (platform admins and auditors)."""

    serializer_class = TenantSpendSerializer

    @extend_schema(parameters=[MonthQuerySerializer])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> list[usage.TenantSpend]:
        return usage.tenant_spend(self.scope(), self.period)


class CostCentreSpendView(_PlatformMonthView):
    """The month's spend per cost centre, the most expensive first (platform admins and auditors)."""

    serializer_class = CostCentreSpendSerializer

    @extend_schema(parameters=[MonthQuerySerializer])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> list[usage.CostCentreSpend]:
        return usage.cost_centre_spend(usage.tenant_spend(self.scope(), self.period))


class ChargebackView(_PlatformMonthView):
    """The monthly chargeback: per cost centre, team, application and model, the CSV's columns (platform
    admins and auditors). Every request is an export, recorded in the audit trail."""

    serializer_class = ChargebackRowSerializer

    @extend_schema(parameters=[MonthQuerySerializer])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> list[usage.ChargebackRow]:
        period = self.period
        rows = usage.chargeback(self.scope(), period)
        record_event(action="usage.export", actor=self.request.user,
                     changes={"report": "chargeback", "month": period.label, "format": "json", "rows": len(rows)})
        return rows
