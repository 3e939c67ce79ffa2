"""Prompt API pages, under /prompts/."""

from __future__ import annotations

from django.urls import path

from portal import views_prompts as views

app_name = "prompts"

urlpatterns = [
    path("", views.prompt_list, name="list"),
    path("new", views.prompt_new, name="new"),
    path("<slug:slug>/", views.prompt_detail, name="detail"),
    path("<slug:slug>/try", views.prompt_try, name="try"),
    path("<slug:slug>/versions/new", views.version_new, name="version_new"),
    path("<slug:slug>/versions/<int:number>/publish", views.version_publish, name="publish"),
    path("<slug:slug>/labels", views.label_move, name="label"),
    path("<slug:slug>/changes/<int:pk>/decide", views.change_decide, name="decide"),
]
