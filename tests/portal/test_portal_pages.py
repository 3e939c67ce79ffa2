"""The portal's pages: a team's applications, subscriptions and keys; the approver's queue; empty states."""

from __future__ import annotations

import pytest

from portal.models import ApiKey, Application, Subscription


@pytest.mark.smoke
def test_empty_states_say_what_to_do_next(client, developer, tenant_a):
    client.force_login(developer)

    team = client.get(f"/teams/{tenant_a.slug}/").content.decode()

    assert "No applications yet." in team and "Register your first application" in team


def test_register_request_and_create_a_key_in_the_pages(client, developer, tenant_a, alias):
    client.force_login(developer)

    response = client.post(f"/portal/teams/{tenant_a.slug}/applications",
                           {"name": "checkout-bot", "environment": "dev", "data_classification": "internal"})
    app = Application.objects.get()
    assert response.status_code == 302 and response.url == f"/portal/applications/{app.pk}/"
    page = client.get(response.url).content.decode()
    assert "No model access yet." in page and "No keys yet." in page

    client.post(f"/portal/applications/{app.pk}/subscriptions", {"alias": "fast-chat", "use_case": "Support"})
    assert Subscription.objects.get().status == "pending"

    shown = client.post(f"/portal/applications/{app.pk}/keys", {"name": "prod", "ip_allowlist": "10.0.0.0/8"},
                        follow=True)
    key = ApiKey.objects.get()
    assert shown.status_code == 200 and shown["Cache-Control"] == "no-store"
    assert "shown this once" in shown.content.decode() and key.key_prefix in shown.content.decode()
    assert key.ip_allowlist == ["10.0.0.0/8"]


def test_a_bad_request_form_shows_the_error(client, developer, app):
    client.force_login(developer)

    response = client.post(f"/portal/applications/{app.pk}/subscriptions", {"alias": "", "use_case": ""})

    assert response.status_code == 400 and "This field is required" in response.content.decode()


def test_the_queue_lists_oldest_first_with_requester_use_case_and_data(client, model_owner, developer, tenant_a,
                                                                      alias, app):
    from portal import services

    other = services.create_application(actor=developer, tenant=tenant_a, name="hr-bot",
                                        data_classification="restricted")
    services.request_subscription(actor=developer, application=app, alias=alias, use_case="First in")
    services.request_subscription(actor=developer, application=other, alias=alias, use_case="Second in")
    client.force_login(model_owner)

    page = client.get("/portal/approvals/").content.decode()

    assert page.index("First in") < page.index("Second in")
    assert "dev@example.com" in page and "Restricted" in page


def test_approving_from_the_queue_with_htmx_replaces_the_row(client, model_owner, pending):
    client.force_login(model_owner)

    row = client.post(f"/portal/approvals/subscriptions/{pending.pk}", {"decision": "approve", "comment": "Enjoy"},
                      HTTP_HX_REQUEST="true")

    pending.refresh_from_db()
    assert pending.status == "approved"
    assert row.status_code == 200 and "Enjoy" in row.content.decode() and "<html" not in row.content.decode()


def test_a_rejection_without_comment_shows_the_error_in_the_row(client, model_owner, pending):
    client.force_login(model_owner)

    row = client.post(f"/portal/approvals/subscriptions/{pending.pk}", {"decision": "reject"}, HTTP_HX_REQUEST="true")

    assert "Say why" in row.content.decode()
    pending.refresh_from_db()
    assert pending.status == "pending"


def test_people_who_approve_nothing_cannot_open_the_queue(client, developer):
    client.force_login(developer)

    assert client.get("/portal/approvals/").status_code == 403


def test_revoking_a_key_in_the_page(client, developer, api_key):
    client.force_login(developer)

    row = client.post(f"/portal/keys/{api_key.pk}/revoke", HTTP_HX_REQUEST="true")

    api_key.refresh_from_db()
    assert api_key.revoked_at is not None and "revoked" in row.content.decode()


def test_another_teams_application_page_is_a_404(client, tenant_b, make_member, app):
    client.force_login(make_member(tenant_b))

    assert client.get(f"/portal/applications/{app.pk}/").status_code == 404


def test_the_hosting_form_sends_a_request(client, developer, tenant_a, alias, platform_admin):
    client.force_login(developer)

    response = client.post(f"/portal/teams/{tenant_a.slug}/hosting/new", {
        "alias": "fast-chat", "expected_requests_per_minute": 100, "latency_need": "interactive", "region": "eu",
        "business_case": "Peak season"})

    assert response.status_code == 302
    client.force_login(platform_admin)
    assert "Peak season" in client.get("/portal/approvals/").content.decode()
