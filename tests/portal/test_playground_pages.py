"""The playground's pages for a signed-in employee: access, conversations kept per person, bad input refused."""

from __future__ import annotations

import pytest

from aiplatform.roles import TenantRole
from portal.models import ChatMessage, Comparison, Conversation
from portal.models.playground import MAX_PROMPT
from portal.services import playground

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, developer):
    client.force_login(developer)
    return client


def test_someone_without_a_team_is_told_how_to_get_access(client, make_user):
    client.force_login(make_user())
    page = client.get("/playground/")
    assert page.status_code == 200
    assert "not in a team yet" in page.content.decode()
    assert "ask a team admin to invite you" in page.content.decode()


def test_a_team_without_model_access_is_told_how_to_request_it(signed_in, pending):
    page = signed_in.get("/playground/").content.decode()
    assert "has no access to a chat model yet" in page
    assert "Request access" in page


def test_the_models_the_team_may_use_are_offered_and_a_card_can_preselect_one(signed_in, approved, make_alias,
                                                                              app, developer, model_owner):
    from portal import services

    other = make_alias("deep-chat", owners=[model_owner])
    sub = services.request_subscription(actor=developer, application=app, alias=other, use_case="x")
    services.approve_subscription(actor=model_owner, subscription=sub, comment="ok")

    page = signed_in.get("/playground/?alias=deep-chat").content.decode()
    assert '<option value="fast-chat">fast-chat</option>' in page
    assert '<option value="deep-chat" selected>deep-chat</option>' in page


def test_a_prompt_over_the_limit_is_refused_and_nothing_is_saved(signed_in, approved, tenant_a):
    refused = signed_in.post("/playground/send", {"team": "alpha", "alias": "fast-chat",
                                                  "content": "x" * (MAX_PROMPT + 1)})
    assert refused.status_code == 400
    assert "at most 200,000 characters" in refused.json()["error"]
    assert not Conversation.objects.exists()


def test_a_model_the_team_may_not_use_is_refused(signed_in, approved, make_alias):
    make_alias("secret-chat")
    refused = signed_in.post("/playground/send", {"team": "alpha", "alias": "secret-chat", "content": "hi"})
    assert refused.status_code == 400
    assert "Pick one of the models your team may use" in refused.json()["error"]


def test_bad_settings_are_refused_with_the_field_named(signed_in, approved):
    refused = signed_in.post("/playground/send", {"team": "alpha", "alias": "fast-chat", "content": "hi",
                                                  "temperature": "7"})
    assert refused.status_code == 400
    assert "less than or equal to 2" in refused.json()["error"]


def _conversation(user, tenant, title="Old chat"):
    chat = playground.start_conversation(user=user, team=tenant, alias="fast-chat", allowed={"fast-chat"})
    playground.add_prompt(conversation=chat, content="Hello there")
    playground.save_answer(conversation=chat, alias="fast-chat", outcome={"content": "**Hi**", "request_id": "r1"})
    return playground.rename_conversation(conversation=chat, title=title)


def test_conversations_are_listed_reopened_renamed_and_deleted(signed_in, approved, developer, tenant_a):
    chat = _conversation(developer, tenant_a)

    listing = signed_in.get("/playground/").content.decode()
    assert f'href="/playground/c/{chat.pk}/"' in listing
    reopened = signed_in.get(f"/playground/c/{chat.pk}/").content.decode()
    assert "Hello there" in reopened
    assert "<strong>Hi</strong>" in reopened

    assert signed_in.post(f"/playground/c/{chat.pk}/rename", {"title": "Renamed"}).status_code == 200
    assert Conversation.objects.get(pk=chat.pk).title == "Renamed"
    assert signed_in.post(f"/playground/c/{chat.pk}/rename", {"title": "  "}).status_code == 400

    assert signed_in.post(f"/playground/c/{chat.pk}/delete").status_code == 302
    assert not Conversation.objects.filter(pk=chat.pk).exists()
    assert not ChatMessage.objects.exists()


def test_someone_elses_conversation_is_not_found(client, approved, developer, tenant_a, make_member):
    chat = _conversation(developer, tenant_a)
    colleague = make_member(tenant_a, TenantRole.ADMIN)
    client.force_login(colleague)

    assert client.get(f"/playground/c/{chat.pk}/").status_code == 404
    assert client.post(f"/playground/c/{chat.pk}/rename", {"title": "mine now"}).status_code == 404
    assert client.post(f"/playground/c/{chat.pk}/delete").status_code == 404
    assert client.post(f"/playground/c/{chat.pk}/send", {"content": "hi", "alias": "fast-chat"}).status_code == 404


def test_a_comparison_needs_two_or_three_different_models(signed_in, approved):
    one = signed_in.post("/playground/compare/start", {"team": "alpha", "alias": ["fast-chat"], "prompt": "hi"})
    assert one.status_code == 400
    assert "two or three" in one.json()["error"]
    twice = signed_in.post("/playground/compare/start", {"team": "alpha", "alias": ["fast-chat", "fast-chat"],
                                                         "prompt": "hi"})
    assert "different models" in twice.json()["error"]
    assert not Comparison.objects.exists()


def test_a_vote_marks_the_preferred_answer(signed_in, approved, make_alias, app, developer, model_owner, tenant_a):
    from portal import services

    other = make_alias("deep-chat", owners=[model_owner])
    sub = services.request_subscription(actor=developer, application=app, alias=other, use_case="x")
    services.approve_subscription(actor=model_owner, subscription=sub, comment="ok")
    started = signed_in.post("/playground/compare/start", {"team": "alpha", "alias": ["fast-chat", "deep-chat"],
                                                           "prompt": "Which is better?"})
    assert started.status_code == 200
    comparison = Comparison.objects.get(pk=started.json()["id"])
    assert [s["alias"] for s in started.json()["slots"]] == ["fast-chat", "deep-chat"]
    for answer in comparison.answers.all():
        playground.save_compared_answer(answer=answer, outcome={"content": f"from {answer.alias}", "request_id": "x"})

    voted = signed_in.post(f"/playground/compare/{comparison.pk}/vote", {"slot": "1"})
    assert voted.status_code == 200
    assert "You voted for deep-chat" in voted.content.decode()
    assert Comparison.objects.get(pk=comparison.pk).winner.alias == "deep-chat"
