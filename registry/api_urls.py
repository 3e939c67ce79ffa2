"""REST API routes of the registry, under /api/."""

from __future__ import annotations

from rest_framework.routers import SimpleRouter

from registry import api

router = SimpleRouter()
router.register("models", api.ModelAliasViewSet, basename="api-model")
router.register("providers", api.ProviderViewSet, basename="api-provider")
router.register("endpoints", api.EndpointViewSet, basename="api-endpoint")
router.register("catalogue-candidates", api.CandidateViewSet, basename="api-candidate")

urlpatterns = router.urls
