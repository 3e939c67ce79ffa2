from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from aiplatform import health, views
from gateway import openapi as gateway_openapi
from portal import views_home, views_team

admin.site.site_header = "Switchboard administration"
admin.site.site_title = "Switchboard"

handler403 = "aiplatform.views.permission_denied"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("", views_home.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("accounts/", include("allauth.urls")),
    path("teams/new/", views.tenant_new, name="tenant_new"),
    # The team page is the portal's (it shows the team's applications too); the core's member views stay here.
    path("teams/<slug:slug>/", views_team.team, name="tenant_detail"),
    path("teams/<slug:slug>/invite", views_team.member_invite, name="tenant_invite"),
    path("teams/<slug:slug>/members/<int:membership_id>/role", views.membership_change_role, name="membership_change_role"),
    path("teams/<slug:slug>/members/<int:membership_id>/remove", views.membership_remove, name="membership_remove"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("audit/", views.audit_log, name="audit_log"),
    path("models/", include("registry.urls")),
    path("portal/", include("portal.urls")),
    path("playground/", include("portal.playground_urls")),
    path("examples/", include("examples.urls")),
    path("prompts/", include("portal.prompts_urls")),
    path("recommendations/", include("recommendations.urls")),
    path("api/", include("registry.api_urls")),
    path("api/", include("portal.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_docs"),
    # The gateway's /v1/ document (hand-written: gateway/openapi.yaml), picked in the same Swagger UI.
    path("api/gateway/schema/", gateway_openapi.schema, name="gateway_schema"),
    path("api/gateway/docs/", gateway_openapi.docs, name="gateway_docs"),
    path("admin/", admin.site.urls),
]

