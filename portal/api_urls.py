"""REST API routes of the portal, under /api/."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from portal import api, api_guardrails, api_limits, api_usage

router = SimpleRouter()
router.register("applications", api.ApplicationViewSet, basename="api-application")
router.register("subscriptions", api.SubscriptionViewSet, basename="api-subscription")
router.register("keys", api.ApiKeyViewSet, basename="api-key")
router.register("hosting-requests", api.HostingRequestViewSet, basename="api-hosting-request")
router.register("plans", api_limits.PlanViewSet, basename="api-plan")

urlpatterns = router.urls
# Usage: a team's consumption and limits; every team's spend and the chargeback (portal.api_usage).
urlpatterns += [
    path("teams/<slug:slug>/usage/", api_usage.TeamUsageView.as_view(), name="api-team-usage"),
    path("teams/<slug:slug>/usage/limits/", api_usage.TeamLimitsView.as_view(), name="api-team-usage-limits"),
    path("usage/tenants/", api_usage.TenantSpendView.as_view(), name="api-usage-tenants"),
    path("usage/cost-centres/", api_usage.CostCentreSpendView.as_view(), name="api-usage-cost-centres"),
    path("usage/chargeback/", api_usage.ChargebackView.as_view(), name="api-usage-chargeback"),
]
# Limit settings of a key, subscription, application, team or model (portal.api_limits).
urlpatterns += [
    path("limits/<str:level>/<int:id>/", api_limits.LimitSettingsView.as_view(), name="api-limits"),
]
# The guardrails dry-run: a policy run on a pasted text, nothing kept (portal.api_guardrails).
urlpatterns += [
    path("guardrails/dry-run/", api_guardrails.DryRunView.as_view(), name="api-guardrails-dry-run"),
]
