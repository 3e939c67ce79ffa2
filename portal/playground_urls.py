"""The discovery playground, under /playground/."""

from __future__ import annotations

from django.urls import path

from portal import views_playground as views

app_name = "playground"

urlpatterns = [
    path("", views.index, name="index"),
    path("send", views.send, name="send"),
    path("c/<int:pk>/", views.conversation, name="conversation"),
    path("c/<int:pk>/send", views.send, name="send_more"),
    path("c/<int:pk>/rename", views.rename, name="rename"),
    path("c/<int:pk>/delete", views.delete, name="delete"),
    path("answers/<int:pk>/", views.answer, name="answer"),
    path("figures/<str:request_id>/", views.figures, name="figures"),
    path("compare/", views.compare, name="compare"),
    path("compare/start", views.compare_start, name="compare_start"),
    path("compare/<int:pk>/", views.comparison, name="comparison"),
    path("compare/<int:pk>/slots/<int:slot>/stream", views.compare_stream, name="compare_stream"),
    path("compare/<int:pk>/vote", views.compare_vote, name="compare_vote"),
]
