from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from aiplatform import health, views

admin.site.site_header = "Switchboard administration"
admin.site.site_title = "Switchboard"

handler403 = "aiplatform.views.permission_denied"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("", views.home, name="home"),
    path("accounts/", include("allauth.urls")),
    path("teams/<slug:slug>/", views.tenant_detail, name="tenant_detail"),
    path("teams/<slug:slug>/invite", views.tenant_invite, name="tenant_invite"),
    path("teams/<slug:slug>/members/<int:membership_id>/role", views.membership_change_role, name="membership_change_role"),
    path("teams/<slug:slug>/members/<int:membership_id>/remove", views.membership_remove, name="membership_remove"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("audit/", views.audit_log, name="audit_log"),
    path("models/", include("registry.urls")),
    path("portal/", include("portal.urls")),
    path("playground/", include("portal.playground_urls")),
    path("api/", include("registry.api_urls")),
    path("api/", include("portal.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_docs"),
    path("admin/", admin.site.urls),
]

