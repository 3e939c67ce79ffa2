"""Pages of the portal, under /portal/."""

from __future__ import annotations

from django.urls import path
from django.views.generic import RedirectView

from portal import (
    views,
    views_batches,
    views_card,
    views_feedback,
    views_guardrails,
    views_health,
    views_limits,
    views_shadow,
    views_team,
    views_usage,
    views_variants,
    views_webhooks,
)

app_name = "portal"

urlpatterns = [
    path("", views.index, name="index"),
    # The team page is /teams/<slug>/ (members and applications in one page); the old address leads there.
    path("teams/<slug:slug>/", RedirectView.as_view(pattern_name="tenant_detail"), name="team"),
    path("teams/<slug:slug>/applications", views_team.application_create, name="application_create"),
    path("teams/<slug:slug>/hosting/new", views.hosting_new, name="hosting_new"),
    path("applications/<int:pk>/", views.application, name="application"),
    path("applications/<int:pk>/subscriptions", views.subscription_request, name="subscription_request"),
    path("applications/<int:pk>/keys", views.key_create, name="key_create"),
    path("subscriptions/<int:pk>/row", views.subscription_row, name="subscription_row"),
    path("subscriptions/<int:pk>/cancel", views.subscription_cancel, name="subscription_cancel"),
    path("keys/<int:pk>/new", views.key_secret, name="key_secret"),
    path("keys/<int:pk>/rotate", views.key_rotate, name="key_rotate"),
    path("keys/<int:pk>/revoke", views.key_revoke, name="key_revoke"),
    path("keys/<int:pk>/ip-allowlist", views.key_ip_allowlist, name="key_ip_allowlist"),
    path("hosting/<int:pk>/cancel", views.hosting_cancel, name="hosting_cancel"),
    path("approvals/", views.approvals, name="approvals"),
    path("approvals/subscriptions/<int:pk>", views.subscription_decide, name="subscription_decide"),
    path("approvals/hosting/<int:pk>", views.hosting_decide, name="hosting_decide"),
    path("approvals/rules", views.rule_create, name="rule_create"),
    path("approvals/rules/<int:pk>/deactivate", views.rule_deactivate, name="rule_deactivate"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:pk>/new", views.token_secret, name="token_secret"),
    path("tokens/<int:pk>/revoke", views.token_revoke, name="token_revoke"),
    path("notifications/", views.notifications, name="notifications"),
    path("teams/<slug:slug>/usage/", views_usage.team_usage, name="team_usage"),
    path("usage/", views_usage.platform_usage, name="platform_usage"),
    path("usage/chargeback.csv", views_usage.chargeback_csv, name="chargeback_csv"),
    path("plans/", views_limits.plans, name="plans"),
    path("plans/<str:name>/", views_limits.plan_edit, name="plan_edit"),
    path("models/<str:name>/limits/", views_limits.model_cap, name="model_cap"),
    path("applications/<int:pk>/limits/", views_limits.application_limits, name="application_limits"),
    path("teams/<slug:slug>/caps/", views_limits.team_caps, name="team_caps"),
    path("teams/<slug:slug>/webhooks/", views_webhooks.team_webhooks, name="team_webhooks"),
    path("teams/<slug:slug>/batches/", views_batches.team_batches_page, name="team_batches"),
    path("batches/<str:batch_id>/row", views_batches.batch_row, name="batch_row"),
    path("batches/<str:batch_id>/cancel", views_batches.batch_cancel, name="batch_cancel"),
    path("batches/<str:batch_id>/files/<str:which>", views_batches.batch_file, name="batch_file"),
    path("webhooks/<int:pk>/secret", views_webhooks.webhook_secret, name="webhook_secret"),
    path("webhooks/<int:pk>/test", views_webhooks.webhook_test, name="webhook_test"),
    path("webhooks/<int:pk>/delete", views_webhooks.webhook_delete, name="webhook_delete"),
    path("feedback/", views_feedback.feedback_queue, name="feedback_queue"),
    path("feedback/submit", views_feedback.feedback_submit, name="feedback_submit"),
    path("feedback/<int:pk>/review", views_feedback.feedback_review, name="feedback_review"),
    path("feedback/<str:alias>.csv", views_feedback.feedback_csv, name="feedback_csv"),
    path("feedback/<str:alias>/summary", views_feedback.feedback_summary, name="feedback_summary"),
    path("request-access", views_card.request_access, name="request_access"),
    path("endpoints/health/", views_health.endpoint_health, name="endpoint_health"),
    path("variants/<str:alias>/", views_variants.variant_comparison, name="variant_comparison"),
    path("shadow/", views_shadow.shadow_comparison, name="shadow_comparison"),
    path("guardrails/", views_guardrails.guardrails_dashboard, name="guardrails"),
    path("guardrails/dry-run/", views_guardrails.dry_run_page, name="guardrails_dry_run"),
    path("guardrails/payloads/<str:request_id>/", views_guardrails.payload_record, name="guardrails_payload"),
]
