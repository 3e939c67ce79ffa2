"""Pages of the registry, under /models/. ``manage`` is a reserved alias name, so it cannot shadow these."""

from __future__ import annotations

from django.urls import path

from registry import views, views_policies

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
    path("manage/policies/", views_policies.policy_list, name="policies"),
    path("manage/policies/new", views_policies.policy_form, name="policy_new"),
    path("manage/policies/<slug:name>/", views_policies.policy_detail, name="policy"),
    path("manage/policies/<slug:name>/edit", views_policies.policy_form, name="policy_edit"),
    path("manage/policies/<slug:name>/enable", views_policies.policy_enable, name="policy_enable"),
    path("manage/policies/<slug:name>/delete", views_policies.policy_delete, name="policy_delete"),
    path("<str:name>/", views.model_card, name="card"),
    path("<str:name>/edit", views.edit_card, name="card_edit"),
]
