"""Plans and limit settings over the REST API.

``/api/plans/``: any signed-in user reads the plans; platform admins create and change them (a change keeps every
counter). ``/api/limits/<level>/<id>/``: the limits set on one key, subscription, application, team (``tenant``)
or model (``alias``), with the service's permissions: a team's developers set its keys' and subscriptions', platform
admins the rest. The owner is reached with ``get_for_user_or_404`` (another team's is a 404, and the probe is
audited); a model's cap is read and written by platform admins only. Every change goes through
``portal.services.limits``: audited, and the gateways reload within a second.
"""

from __future__ import annotations

from django.db.models import Model
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from aiplatform.permissions import get_for_user_or_404, require
from portal import limits_selectors as limits
from portal import services
from portal.api import _as_api_errors
from portal.models import LimitLevel, Plan
from portal.serializers_limits import LimitSettingsSerializer, PlanSerializer, PlanUpdateSerializer
from portal.services.limits import SETTABLE
from registry.models import ModelAlias

PLAN_NAME = r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?"  # registry.models.providers.SLUG
# Budgets are per key, subscription, application and team; a model's cap is a rate across every caller.
BUDGETS = ("tokens_per_day", "tokens_per_month", "cost_per_day", "cost_per_month", "budget_mode")
# Cleared by a PUT that leaves them out.
_CLEARED = {name: None for name in SETTABLE} | {"budget_mode": "", "redis_failure": "", "shadow": False}


class PlanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Plans: the default limits of the applications, subscriptions and keys that follow them."""

    serializer_class = PlanSerializer
    queryset = Plan.objects.order_by("name")
    lookup_field = "name"
    lookup_value_regex = PLAN_NAME
    http_method_names = ["get", "post", "patch", "head", "options"]

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        if request.method not in SAFE_METHODS:
            require(request.user, "limits.manage")  # before validation: a refusal says so, whatever the body

    def perform_create(self, serializer: PlanSerializer) -> None:
        data = dict(serializer.validated_data)
        with _as_api_errors():
            serializer.instance = services.create_plan(actor=self.request.user, name=data.pop("name"), **data)

    @extend_schema(request=PlanUpdateSerializer, responses=PlanSerializer)
    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        """Change some of a plan's settings; what was already counted stays counted."""
        plan = self.get_object()
        changes = PlanUpdateSerializer(data=request.data, partial=True)
        changes.is_valid(raise_exception=True)
        if isinstance(request.data, dict) and request.data.get("name", plan.name) != plan.name:
            raise ValidationError({"name": ["A plan keeps its name: create another plan instead."]})
        with _as_api_errors():
            plan = services.update_plan(actor=request.user, plan=plan, values=dict(changes.validated_data))
        return Response(self.get_serializer(plan).data)


LEVEL = OpenApiParameter("level", str, OpenApiParameter.PATH, enum=LimitLevel.values,
                         description="key, subscription, application, tenant (a team) or alias (a model, all callers).")
OWNER = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The key's, subscription's, application's, "
                                                                        "team's or model's id.")


class LimitSettingsView(APIView):
    """The limits set on one key, subscription, application, team or model: what the thing sets itself, over its
    plan's values (keys, subscriptions, applications)."""

    def _owner(self, request: Request, level: str, id: int) -> Model:
        model = limits.OWNER_MODELS.get(level)
        if model is None:
            raise Http404("No such level: key, subscription, application, tenant or alias.")
        if model is ModelAlias:
            require(request.user, "limits.manage")  # a model's cap spans every team: platform admins
            alias = ModelAlias.objects.filter(pk=id).first()
            if alias is None:
                raise Http404("No such model.")
            return alias
        return get_for_user_or_404(model.objects.all(), request.user, pk=id)

    @extend_schema(parameters=[LEVEL, OWNER], responses=LimitSettingsSerializer)
    def get(self, request: Request, level: str, id: int) -> Response:
        owner = self._owner(request, level, id)
        return Response(LimitSettingsSerializer(limits.settings_of(level, owner)).data)

    @extend_schema(parameters=[LEVEL, OWNER], request=LimitSettingsSerializer,
                   responses={status.HTTP_200_OK: LimitSettingsSerializer})
    def put(self, request: Request, level: str, id: int) -> Response:
        """Set every limit of the thing: a limit left out is cleared (its plan's value then applies)."""
        owner = self._owner(request, level, id)
        given = LimitSettingsSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        values = {**_CLEARED, **given.validated_data}
        if level == LimitLevel.ALIAS:
            budget = next((name for name in BUDGETS if values[name] not in (None, "")), None)
            if budget is not None:
                raise ValidationError({budget: ["A model's cap has no budget: budgets are set on keys, "
                                                "subscriptions, applications and teams."]})
        if level in (LimitLevel.KEY, LimitLevel.SUBSCRIPTION, LimitLevel.APPLICATION):
            values.setdefault("plan", None)
        with _as_api_errors():
            services.set_limits(actor=request.user, owner=owner, values=values)
        return Response(LimitSettingsSerializer(limits.settings_of(level, owner)).data)
