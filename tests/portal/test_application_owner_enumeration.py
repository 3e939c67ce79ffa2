"""Naming an application's owner does not tell whether an e-mail address has an account (issue 19.13)."""

from __future__ import annotations


def test_an_unknown_address_and_another_teams_user_get_the_same_answer(client, developer, make_member, tenant_b):
    make_member(tenant_b, email="stranger@example.com")
    client.force_login(developer)

    unknown = client.post("/api/applications/", {"name": "bot-1", "owner": "nobody@example.com"},
                          content_type="application/json")
    stranger = client.post("/api/applications/", {"name": "bot-2", "owner": "stranger@example.com"},
                           content_type="application/json")

    assert unknown.status_code == 400
    assert stranger.status_code == 400
    assert unknown.json() == stranger.json()
