"""The portal's self-service REST API: applications, subscriptions, keys, dedicated hosting.

Authenticated by session (browser) or personal access token (automation). Every object is
reached through ``for_user`` (``get_for_user_or_404``: another team's object is a 404, and the
probe is audited); approvers also reach the requests they decide. Viewsets parse, call one
service, and answer; services check permission and meaning.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from aiplatform.models import Membership, Tenant
from aiplatform.permissions import get_for_user_or_404
from portal import selectors, services
from portal.models import ApiKey, Subscription
from portal.serializers import (
    ApiKeySerializer,
    ApplicationSerializer,
    DecisionSerializer,
    HostingApprovalSerializer,
    HostingRequestSerializer,
    IssuedKeySerializer,
    KeyUpdateSerializer,
    RevokeSerializer,
    RotateSerializer,
    SubscriptionSerializer,
)


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object is not in a state that allows this."
    default_code = "conflict"


@contextmanager
def _as_api_errors():
    """A bad transition is a 409; any other refusal of meaning a 400 with the service's messages."""
    try:
        yield
    except services.InvalidTransition as exc:
        raise Conflict(" ".join(exc.messages)) from None
    except DjangoValidationError as exc:
        raise ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}) from None


def _tenant_for(request: Request, slug: str | None) -> Tenant:
    """The team named by ``slug`` among the caller's, or their only team."""
    if slug:
        try:
            return get_for_user_or_404(Tenant.objects, request.user, slug=slug)
        except Http404:
            raise ValidationError({"tenant_slug": f"You are not a member of a team {slug!r}."}) from None
    memberships = list(Membership.objects.filter(user=request.user).select_related("tenant")[:2])
    if len(memberships) != 1:
        raise ValidationError({"tenant_slug": "Name the team (tenant_slug): you belong to "
                                              f"{'no team' if not memberships else 'several teams'}."})
    return memberships[0].tenant


class PortalViewSet(viewsets.GenericViewSet):
    """Base of the portal's viewsets: integer ids, objects through ``for_user``.

    Authentication (token or session) and the sign-in requirement are the API-wide defaults in settings.
    """

    lookup_value_regex = r"[0-9]+"

    def get_object(self):
        # From the unscoped manager, so that another team's object is told apart (and audited) as a probe.
        model = self.get_queryset().model
        obj = get_for_user_or_404(model.objects.all(), self.request.user, pk=self.kwargs["pk"])
        self.check_object_permissions(self.request, obj)
        return obj

    def _filter_int(self, queryset, param: str, field: str):
        value = self.request.query_params.get(param)
        if value is None:
            return queryset
        if not value.isdigit():
            raise ValidationError({param: "Give a numeric id."})
        return queryset.filter(**{field: int(value)})


APPLICATION_FILTER = OpenApiParameter("application", int, description="Only this application's.")
STATUS_FILTER = OpenApiParameter("status", str, description="Only this status.")


class ApplicationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                         mixins.UpdateModelMixin, PortalViewSet):
    """Applications of your teams."""

    serializer_class = ApplicationSerializer

    def get_queryset(self):
        return selectors.applications_for(self.request.user)

    def perform_create(self, serializer: ApplicationSerializer) -> None:
        data = dict(serializer.validated_data)
        tenant = _tenant_for(self.request, data.pop("tenant_slug", None))
        with _as_api_errors():
            serializer.instance = services.create_application(actor=self.request.user, tenant=tenant, **data)

    def perform_update(self, serializer: ApplicationSerializer) -> None:
        data = dict(serializer.validated_data)
        data.pop("tenant_slug", None)  # an application stays in its team
        with _as_api_errors():
            serializer.instance = services.update_application(actor=self.request.user,
                                                              application=serializer.instance, **data)


class SubscriptionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, PortalViewSet):
    """Subscriptions of your teams' applications to models; approvers decide them here too."""

    serializer_class = SubscriptionSerializer

    def get_queryset(self):
        return selectors.subscriptions_for(self.request.user).prefetch_related("transitions")

    def _decidable(self) -> Subscription:
        """A request the caller decides on (their alias) or one of their teams' (the service then says no)."""
        obj = selectors.subscriptions_visible_to(self.request.user).filter(pk=self.kwargs["pk"]).first()
        return obj if obj is not None else self.get_object()

    @extend_schema(parameters=[APPLICATION_FILTER, STATUS_FILTER])
    def list(self, request: Request, *args, **kwargs) -> Response:
        subs = self._filter_int(self.get_queryset(), "application", "application_id")
        if request.query_params.get("status"):
            subs = subs.filter(status=request.query_params["status"])
        page = self.paginate_queryset(subs)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def perform_create(self, serializer: SubscriptionSerializer) -> None:
        data = serializer.validated_data
        with _as_api_errors():
            sub = services.request_subscription(actor=self.request.user, application=data["application"],
                                                alias=data["alias"], use_case=data["use_case"],
                                                justification=data.get("justification", ""))
        serializer.instance = self.get_queryset().get(pk=sub.pk)

    @extend_schema(responses=SubscriptionSerializer(many=True))
    @action(detail=False, methods=["get"])
    def queue(self, request: Request) -> Response:
        """Pending requests you may decide, oldest first (approvers: platform admins, the model's owners)."""
        page = self.paginate_queryset(selectors.approval_queue(request.user).prefetch_related("transitions"))
        return self.get_paginated_response(SubscriptionSerializer(page, many=True, context={"request": request}).data)

    def _decide(self, request: Request, service) -> Response:
        sub = self._decidable()
        decision = DecisionSerializer(data=request.data)
        decision.is_valid(raise_exception=True)
        with _as_api_errors():
            service(actor=request.user, subscription=sub, comment=decision.validated_data["comment"])
        fresh = selectors.subscriptions_visible_to(request.user).prefetch_related("transitions").get(pk=sub.pk)
        return Response(SubscriptionSerializer(fresh, context={"request": request}).data)

    @extend_schema(request=DecisionSerializer, responses=SubscriptionSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        """Approve a pending request (not your own)."""
        return self._decide(request, services.approve_subscription)

    @extend_schema(request=DecisionSerializer, responses=SubscriptionSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        """Reject a pending request; the comment says why."""
        return self._decide(request, services.reject_subscription)

    @extend_schema(request=DecisionSerializer, responses=SubscriptionSerializer)
    @action(detail=True, methods=["post"])
    def suspend(self, request: Request, pk: str | None = None) -> Response:
        """Suspend an approved subscription; its keys lose the model within about a second."""
        return self._decide(request, services.suspend_subscription)

    @extend_schema(request=DecisionSerializer, responses=SubscriptionSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        return self._decide(request, services.resume_subscription)

    @extend_schema(request=DecisionSerializer, responses=SubscriptionSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Withdraw a request or give up the access (your team's subscriptions)."""
        sub = self.get_object()
        decision = DecisionSerializer(data=request.data)
        decision.is_valid(raise_exception=True)
        with _as_api_errors():
            services.cancel_subscription(actor=request.user, subscription=sub,
                                         comment=decision.validated_data["comment"])
        return Response(self.get_serializer(self.get_queryset().get(pk=sub.pk)).data)


class ApiKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PortalViewSet):
    """API keys of your teams' applications. Secrets appear only in the create and rotate responses."""

    serializer_class = ApiKeySerializer

    def get_queryset(self):
        return selectors.keys_for(self.request.user)

    @extend_schema(parameters=[APPLICATION_FILTER])
    def list(self, request: Request, *args, **kwargs) -> Response:
        keys = self._filter_int(self.get_queryset(), "application", "application_id")
        page = self.paginate_queryset(keys)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def _issued(self, key: ApiKey, secret: str, code: int) -> Response:
        data = IssuedKeySerializer(key, context={"request": self.request}).data
        data["key"] = secret
        return Response(data, status=code, headers={"Cache-Control": "no-store"})

    @extend_schema(request=ApiKeySerializer, responses={201: IssuedKeySerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:
        """Issue a key; the response carries the secret, once."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with _as_api_errors():
            key, secret = services.create_api_key(actor=request.user, application=data["application"],
                                                  name=data.get("name", ""), expires_at=data.get("expires_at"),
                                                  ip_allowlist=data.get("ip_allowlist"))
        return self._issued(key, secret, status.HTTP_201_CREATED)

    @extend_schema(request=KeyUpdateSerializer, responses=ApiKeySerializer)
    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        """Change the key's IP allow-list."""
        key = self.get_object()
        update = KeyUpdateSerializer(data=request.data)
        update.is_valid(raise_exception=True)
        with _as_api_errors():
            services.set_key_ip_allowlist(actor=request.user, key=key, ip_allowlist=update.validated_data["ip_allowlist"])
        return Response(self.get_serializer(self.get_queryset().get(pk=key.pk)).data)

    @extend_schema(request=RotateSerializer, responses={201: IssuedKeySerializer})
    @action(detail=True, methods=["post"])
    def rotate(self, request: Request, pk: str | None = None) -> Response:
        """Issue a successor; the old key keeps working for ``overlap_hours``. The response carries the new secret."""
        from datetime import timedelta

        key = self.get_object()
        params = RotateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        with _as_api_errors():
            new, secret = services.rotate_api_key(actor=request.user, key=key,
                                                  overlap=timedelta(hours=params.validated_data["overlap_hours"]))
        return self._issued(new, secret, status.HTTP_201_CREATED)

    @extend_schema(request=RevokeSerializer, responses=ApiKeySerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        """Revoke now: the gateway refuses the key within about a second."""
        key = self.get_object()
        params = RevokeSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        with _as_api_errors():
            services.revoke_api_key(actor=request.user, key=key, reason=params.validated_data["reason"])
        return Response(self.get_serializer(self.get_queryset().get(pk=key.pk)).data)


class HostingRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                            PortalViewSet):
    """Requests for dedicated capacity; platform admins approve (naming the endpoint) or reject."""

    serializer_class = HostingRequestSerializer

    def get_queryset(self):
        return selectors.hosting_requests_for(self.request.user)

    def perform_create(self, serializer: HostingRequestSerializer) -> None:
        data = dict(serializer.validated_data)
        tenant = _tenant_for(self.request, data.pop("tenant_slug", None))
        with _as_api_errors():
            serializer.instance = services.request_hosting(actor=self.request.user, tenant=tenant, **data)

    @extend_schema(responses=HostingRequestSerializer(many=True))
    @action(detail=False, methods=["get"])
    def queue(self, request: Request) -> Response:
        """Pending requests, oldest first (platform admins)."""
        page = self.paginate_queryset(selectors.hosting_queue(request.user))
        return self.get_paginated_response(HostingRequestSerializer(page, many=True).data)

    @extend_schema(request=HostingApprovalSerializer, responses=HostingRequestSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        """Approve, recording the endpoint that serves the team."""
        hosting = self.get_object()
        params = HostingApprovalSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        with _as_api_errors():
            services.approve_hosting_request(actor=request.user, request=hosting,
                                             endpoint=params.validated_data["endpoint"],
                                             comment=params.validated_data["comment"])
        return Response(self.get_serializer(self.get_queryset().get(pk=hosting.pk)).data)

    @extend_schema(request=DecisionSerializer, responses=HostingRequestSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        return self._simple(request, services.reject_hosting_request)

    @extend_schema(request=DecisionSerializer, responses=HostingRequestSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        return self._simple(request, services.cancel_hosting_request)

    def _simple(self, request: Request, service) -> Response:
        hosting = self.get_object()
        params = DecisionSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        with _as_api_errors():
            service(actor=request.user, request=hosting, comment=params.validated_data["comment"])
        return Response(self.get_serializer(self.get_queryset().get(pk=hosting.pk)).data)

