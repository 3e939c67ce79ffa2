"""A new key's secret: post/redirect/get, shown once at a GET URL; a reload shows nothing and makes no key."""

from __future__ import annotations

import pytest

from portal import services
from portal.models import ApiKey, PersonalAccessToken
from portal.models.keys import hash_secret


@pytest.mark.smoke
def test_creating_a_key_redirects_to_a_page_that_shows_its_secret_once(client, developer, app):
    client.force_login(developer)

    created = client.post(f"/portal/applications/{app.pk}/keys", {"name": "prod"})
    key = ApiKey.objects.get()
    assert created.status_code == 302
    assert created["Location"] == f"/portal/keys/{key.pk}/new"
    shown = client.get(created["Location"])
    secret = shown.context["secret"]

    assert shown["Cache-Control"] == "no-store"
    assert key.key_hash == hash_secret(secret)
    assert secret in shown.text


def test_reloading_the_page_shows_the_secret_no_more_and_makes_no_second_key(client, developer, app):
    client.force_login(developer)
    created = client.post(f"/portal/applications/{app.pk}/keys", {"name": "prod"})
    secret = client.get(created["Location"]).context["secret"]

    reloaded = client.get(created["Location"], follow=True)

    assert ApiKey.objects.count() == 1
    assert secret not in reloaded.text
    assert "was shown once and cannot be shown again" in reloaded.text
    assert reloaded.redirect_chain[-1][0] == f"/portal/applications/{app.pk}/"


def test_the_secret_is_not_in_the_redirect(client, developer, app):
    client.force_login(developer)

    created = client.post(f"/portal/applications/{app.pk}/keys", {"name": "prod"})

    assert "sb-" not in created["Location"]
    assert created.content == b""


def test_another_person_cannot_open_the_page(client, developer, app, tenant_b, make_member):
    client.force_login(developer)
    created = client.post(f"/portal/applications/{app.pk}/keys", {"name": "prod"})
    client.force_login(make_member(tenant_b))

    assert client.get(created["Location"]).status_code == 404


def test_rotating_shows_the_new_secret_once_and_says_how_long_the_old_one_works(client, developer, api_key):
    client.force_login(developer)

    rotated = client.post(f"/portal/keys/{api_key.pk}/rotate", {"overlap_hours": "2"})
    new = ApiKey.objects.get(replaced_by=None, pk__gt=api_key.pk)
    shown = client.get(rotated["Location"])

    assert rotated["Location"] == f"/portal/keys/{new.pk}/new"
    assert new.key_hash == hash_secret(shown.context["secret"])
    assert "keeps working for 2 hours" in shown.text
    assert shown.context["secret"] not in client.get(rotated["Location"], follow=True).text


def test_a_personal_access_token_is_shown_once_the_same_way(client, developer):
    client.force_login(developer)

    created = client.post("/portal/tokens/", {"name": "ci"})
    token = PersonalAccessToken.objects.get()
    shown = client.get(created["Location"])

    assert created["Location"] == f"/portal/tokens/{token.pk}/new"
    assert token.token_prefix in shown.text
    assert shown.context["secret"] not in client.get(created["Location"], follow=True).text


def test_the_secret_page_has_a_copy_button_and_its_script_as_a_file(client, developer, app):
    client.force_login(developer)
    created = client.post(f"/portal/applications/{app.pk}/keys", {"name": "prod"})

    page = client.get(created["Location"]).text

    assert '<button type="button" data-copy="secret"' in page
    assert "portal/copy.js" in page


def test_the_rotate_hours_box_has_a_visible_label(client, developer, api_key):
    client.force_login(developer)

    page = client.get(f"/portal/applications/{api_key.application_id}/").text

    assert f'<label for="overlap-{api_key.pk}">Old key keeps working for (hours)</label>' in page
    assert f'id="overlap-{api_key.pk}" name="overlap_hours"' in page


def test_services_still_answer_the_secret_directly(app, developer):
    _, secret = services.create_api_key(actor=developer, application=app)

    assert secret.startswith("sb-")
