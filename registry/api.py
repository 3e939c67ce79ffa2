"""REST API of the registry: any signed-in employee reads aliases and cards; admins manage the rest.

Viewsets stay thin: they parse with a serializer and call one service or selector. Permission
is checked by the services (``require``), so a refusal is audited the same way as on a page.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response

from aiplatform.permissions import require
from registry import selectors, services
from registry.models import Endpoint, ModelAlias, Provider, UpstreamModel
from registry.secrets import encrypt_secret
from registry.serializers import (
    CandidateSerializer,
    EndpointSerializer,
    ModelAliasSerializer,
    ModelCardSerializer,
    ModelCardVersionSerializer,
    ProviderSerializer,
    SyncResultSerializer,
)
from registry.sync import CatalogueUnavailable, sync_provider_catalogue


@contextmanager
def _as_api_errors():
    """A service's ValidationError becomes a 400 with its messages."""
    try:
        yield
    except DjangoValidationError as exc:
        raise ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}) from None


CATALOGUE_FILTERS = [
    OpenApiParameter("q", str, description="Search name, summary, use cases, providers, upstream models."),
    OpenApiParameter("capability", str, many=True, description="Every one of these capabilities."),
    OpenApiParameter("use_case", str),
    OpenApiParameter("provider", str),
    OpenApiParameter("status", str, description="Default: evaluating, approved and deprecated."),
    OpenApiParameter("max_input_price", OpenApiTypes.DECIMAL, description="Per million input tokens."),
]


class ModelAliasViewSet(viewsets.ModelViewSet):
    """Model aliases: the names callers use, their lifecycle and routes."""

    serializer_class = ModelAliasSerializer
    lookup_field = "name"
    lookup_value_regex = r"[a-z0-9][a-z0-9._-]*"

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        # Refuse before validating input; the card has its own rule, checked on the alias.
        if request.method not in SAFE_METHODS and self.action != "card":
            require(request.user, "alias.manage")

    def get_queryset(self):
        return selectors.visible_aliases(self.request.user).select_related("card", "replacement").prefetch_related(
            "owners", "routes__endpoint__provider")

    @extend_schema(parameters=CATALOGUE_FILTERS)
    def list(self, request: Request, *args, **kwargs) -> Response:
        entries = selectors.catalogue(request.user, selectors.CatalogueFilters.from_params(request.query_params))
        page = self.paginate_queryset([e.alias for e in entries])
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def perform_create(self, serializer: ModelAliasSerializer) -> None:
        data = dict(serializer.validated_data)
        routes = data.pop("routes", None)
        with _as_api_errors():
            alias = services.create_alias(actor=self.request.user, **data)
            if routes is not None:
                services.set_routes(actor=self.request.user, alias=alias, routes=[services.RouteSpec(**r) for r in routes])
        serializer.instance = self.get_queryset().get(pk=alias.pk)

    def perform_update(self, serializer: ModelAliasSerializer) -> None:
        data = dict(serializer.validated_data)
        routes = data.pop("routes", None)
        data.pop("name", None)  # an alias's name is its identity
        alias = serializer.instance
        with _as_api_errors():
            services.update_alias(actor=self.request.user, alias=alias, **data)
            if routes is not None:
                services.set_routes(actor=self.request.user, alias=alias, routes=[services.RouteSpec(**r) for r in routes])
        serializer.instance = self.get_queryset().get(pk=alias.pk)

    def perform_destroy(self, instance: ModelAlias) -> None:
        with _as_api_errors():
            services.delete_alias(actor=self.request.user, alias=instance)

    @extend_schema(request=ModelCardSerializer, responses=ModelCardSerializer, methods=["GET", "PUT", "PATCH"])
    @action(detail=True, methods=["get", "put", "patch"], serializer_class=ModelCardSerializer)
    def card(self, request: Request, name: str | None = None) -> Response:
        """The alias's model card; model owners of the alias and platform admins may change it."""
        alias = self.get_object()
        if request.method == "GET":
            return Response(ModelCardSerializer(alias.card).data)
        require(request.user, "card.edit", alias)
        serializer = ModelCardSerializer(alias.card, data=request.data, partial=request.method == "PATCH")
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        note = fields.pop("note", "")
        if "evaluations" in fields:
            fields["evaluations"] = [{**e, "date": e["date"].isoformat()} for e in fields["evaluations"]]
        with _as_api_errors():
            card = services.update_card(actor=request.user, alias=alias, note=note, **fields)
        return Response(ModelCardSerializer(card).data)

    @extend_schema(responses=ModelCardVersionSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="card/versions", serializer_class=ModelCardVersionSerializer,
            pagination_class=None)  # the whole history, a plain list (as the schema says)
    def card_versions(self, request: Request, name: str | None = None) -> Response:
        """Every saved version of the card, newest first."""
        alias = self.get_object()
        return Response(ModelCardVersionSerializer(selectors.card_versions(alias), many=True).data)


class ProviderViewSet(viewsets.ModelViewSet):
    """Providers (platform admins only). ``api_key`` is a reference; ``api_key_value`` is stored encrypted."""

    serializer_class = ProviderSerializer
    lookup_field = "name"
    lookup_value_regex = r"[a-z0-9][a-z0-9._-]*"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Provider.objects.none()
        require(self.request.user, "provider.manage")
        return selectors.providers()

    def _fields(self, serializer: ProviderSerializer) -> dict:
        data = dict(serializer.validated_data)
        value = data.pop("api_key_value", None)
        if value:
            data["api_key"] = encrypt_secret(value)
        return data

    def perform_create(self, serializer: ProviderSerializer) -> None:
        with _as_api_errors():
            serializer.instance = services.create_provider(actor=self.request.user, **self._fields(serializer))

    def perform_update(self, serializer: ProviderSerializer) -> None:
        fields = self._fields(serializer)
        fields.pop("name", None)
        with _as_api_errors():
            services.update_provider(actor=self.request.user, provider=serializer.instance, **fields)

    def perform_destroy(self, instance: Provider) -> None:
        with _as_api_errors():
            services.delete_provider(actor=self.request.user, provider=instance)

    @extend_schema(request=None, responses=SyncResultSerializer)
    @action(detail=True, methods=["post"])
    def sync(self, request: Request, name: str | None = None) -> Response:
        """List the provider's catalogue now and record new and vanished models (approves nothing)."""
        provider = self.get_object()
        try:
            result = sync_provider_catalogue(actor=request.user, provider=provider)
        except CatalogueUnavailable as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_502_BAD_GATEWAY)
        return Response(SyncResultSerializer(result).data)


class EndpointViewSet(viewsets.ModelViewSet):
    """Endpoints (deployments) of providers (platform admins only)."""

    serializer_class = EndpointSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Endpoint.objects.none()
        require(self.request.user, "endpoint.manage")
        return selectors.endpoints()

    def perform_create(self, serializer: EndpointSerializer) -> None:
        data = dict(serializer.validated_data)
        with _as_api_errors():
            serializer.instance = services.create_endpoint(
                actor=self.request.user, provider=data.pop("provider"), upstream_model=data.pop("upstream_model"), **data)

    def perform_update(self, serializer: EndpointSerializer) -> None:
        data = dict(serializer.validated_data)
        data.pop("provider", None)  # an endpoint's identity does not change
        data.pop("upstream_model", None)
        with _as_api_errors():
            services.update_endpoint(actor=self.request.user, endpoint=serializer.instance, **data)

    def perform_destroy(self, instance: Endpoint) -> None:
        with _as_api_errors():
            services.delete_endpoint(actor=self.request.user, endpoint=instance)


class CandidateViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Models vendors list that are not onboarded yet (platform admins only)."""

    serializer_class = CandidateSerializer
    queryset = UpstreamModel.objects.none()

    def list(self, request: Request, *args, **kwargs) -> Response:
        require(request.user, "catalogue.sync")
        page = self.paginate_queryset(selectors.onboarding_candidates().new)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

