"""On the requester's application page the subscription row turns from pending to approved without a reload.

The decision's live push names the subscription; the page's script fires "subscription-changed-<id>",
on which the row (htmx) fetches itself again from its own URL.
"""

from __future__ import annotations

import pytest

from portal import services


@pytest.mark.smoke
def test_the_push_of_a_decision_names_the_subscription(pending, model_owner, monkeypatch,
                                                      django_capture_on_commit_callbacks):
    pushed = []
    monkeypatch.setattr("portal.notifications.push", lambda user_id, message: pushed.append((user_id, message)))

    with django_capture_on_commit_callbacks(execute=True):
        services.approve_subscription(actor=model_owner, subscription=pending, comment="Go ahead")

    assert pushed[-1][0] == pending.requested_by_id
    assert pushed[-1][1]["about"] == {"subscription": pending.pk}


def test_the_row_listens_for_its_change_and_knows_where_to_reload_from(client, developer, pending):
    client.force_login(developer)

    page = client.get(f"/portal/applications/{pending.application_id}/").text

    assert f'id="subscription-{pending.pk}"' in page
    assert f'hx-get="/portal/subscriptions/{pending.pk}/row"' in page
    assert f'hx-trigger="subscription-changed-{pending.pk} from:body"' in page


def test_the_row_shows_the_new_status(client, developer, pending, model_owner):
    client.force_login(developer)
    services.approve_subscription(actor=model_owner, subscription=pending, comment="Go ahead")

    row = client.get(f"/portal/subscriptions/{pending.pk}/row").text

    assert row.lstrip().startswith("<tr")
    assert ">approved<" in row
    assert "Go ahead" in row


def test_another_teams_row_is_a_404(client, pending, tenant_b, make_member):
    client.force_login(make_member(tenant_b))

    assert client.get(f"/portal/subscriptions/{pending.pk}/row").status_code == 404


def test_the_script_refreshes_on_a_notification_about_a_subscription():
    from pathlib import Path

    script = (Path(__file__).resolve().parents[2] / "static/portal/notifications.js").read_text()

    assert 'htmx.trigger(document.body, "subscription-changed-"' in script
