"""The example store, under /examples/."""

from __future__ import annotations

from django.urls import path

from examples import views

app_name = "examples"

urlpatterns = [
    path("", views.example_list, name="list"),
    path("new", views.example_new, name="new"),
    path("<int:pk>/", views.example_detail, name="detail"),
    path("<int:pk>/edit", views.example_edit, name="edit"),
    path("<int:pk>/delete", views.example_delete, name="delete"),
    path("<int:pk>/upvote", views.example_upvote, name="upvote"),
    path("<int:pk>/open", views.example_open, name="open"),
    path("<int:pk>/report", views.example_report, name="report"),
    path("<int:pk>/clear-reports", views.example_clear_reports, name="clear_reports"),
]
