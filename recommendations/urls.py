"""The use-case rankings, under /recommendations/."""

from __future__ import annotations

from django.urls import path

from recommendations import views

app_name = "recommendations"

urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:use_case>/", views.use_case, name="use_case"),
]
