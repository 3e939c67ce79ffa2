"""REST API routes of the portal, under /api/."""

from __future__ import annotations

from rest_framework.routers import SimpleRouter

from portal import api

router = SimpleRouter()
router.register("applications", api.ApplicationViewSet, basename="api-application")
router.register("subscriptions", api.SubscriptionViewSet, basename="api-subscription")
router.register("keys", api.ApiKeyViewSet, basename="api-key")
router.register("hosting-requests", api.HostingRequestViewSet, basename="api-hosting-request")

urlpatterns = router.urls
