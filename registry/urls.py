"""Pages of the registry, under /models/. ``manage`` is a reserved alias name, so it cannot shadow these."""

from __future__ import annotations

from django.urls import path

from registry import views

app_name = "registry"

urlpatterns = [
    path("", views.catalogue, name="catalogue"),
    path("manage/", views.manage, name="manage"),
    path("manage/providers/new", views.provider_form, name="provider_new"),
    path("manage/providers/<slug:name>/", views.provider_form, name="provider_edit"),
    path("manage/providers/<slug:name>/sync", views.provider_sync, name="provider_sync"),
    path("manage/endpoints/new", views.endpoint_form, name="endpoint_new"),
    path("manage/endpoints/<int:pk>/", views.endpoint_form, name="endpoint_edit"),
    path("manage/models/new", views.alias_form, name="alias_new"),
    path("manage/models/<str:name>/", views.alias_form, name="alias_edit"),
    path("manage/models/<str:name>/routes", views.route_add, name="route_add"),
    path("manage/models/<str:name>/routes/<int:endpoint_id>/remove", views.route_remove, name="route_remove"),
    path("manage/models/<str:name>/rules", views.rule_add, name="rule_add"),
    path("manage/models/<str:name>/rules/<int:position>/remove", views.rule_remove, name="rule_remove"),
    path("manage/candidates/<int:pk>/dismiss", views.candidate_dismiss, name="candidate_dismiss"),
    path("<str:name>/", views.model_card, name="card"),
    path("<str:name>/edit", views.edit_card, name="card_edit"),
]
