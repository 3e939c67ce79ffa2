"""The example store: save a playground answer as an example, who sees it, search, votes and reports, the card.

Search runs on PostgreSQL's full-text search in the full stack and on the word fallback on SQLite (smoke)."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiplatform.models import AuditEvent
from aiplatform.roles import TenantRole
from examples.models import Example
from portal.models import ChatMessage, ComparedAnswer, Comparison, Conversation
from registry import services as registry_services
from tests.portal.feedback_arrange import request_id

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


@pytest.fixture
def use_cases(alias, make_alias):
    registry_services.update_card(actor=None, alias=alias, use_cases=["summarization", "translation"])
    registry_services.update_card(actor=None, alias=make_alias("code-chat"), use_cases=["code"])


def answer_in_chat(user, team, *, alias="fast-chat", turns=("Summarise the minutes of the board meeting",),
                   answer="- The board approved the budget\n- Hiring resumes in March") -> ChatMessage:
    """A conversation of ``user``: earlier turns, the last prompt, and the model's answer (returned)."""
    chat = Conversation.objects.create(alias=alias, user=user, team=team, system_prompt="Be terse.",
                                       temperature="0.30", max_tokens=200)
    for i, prompt in enumerate(turns):
        ChatMessage.objects.create(conversation=chat, role="user", content=prompt, alias=alias)
        if i < len(turns) - 1:
            ChatMessage.objects.create(conversation=chat, role="assistant", content=f"answer {i}", alias=alias)
    return ChatMessage.objects.create(conversation=chat, role="assistant", alias=alias, content=answer,
                                      request_id=request_id())


def save(client, answer: ChatMessage, **fields):
    data = {"answer": answer.pk, "title": "Board minutes in two bullets", "tags": ["summarization"],
            "visibility": "team", **fields}
    return client.post("/examples/new", data)


def test_saving_an_answer_keeps_the_exchange_its_settings_and_tags(client, developer, tenant_a, use_cases):
    answer = answer_in_chat(developer, tenant_a, turns=("Here are the minutes: …", "Now in two bullets"))
    client.force_login(developer)
    form = client.get(f"/examples/new?answer={answer.pk}").content.decode()
    assert 'value="Now in two bullets"' in form  # the title is suggested from the prompt
    # The use cases are suggested from the model's card.
    assert re.search(r'value="summarization"[^>]*checked', form) and re.search(r'value="translation"[^>]*checked', form)
    assert not re.search(r'value="code"[^>]*checked', form)

    saved = save(client, answer, tags=["summarization", "translation"])
    example = Example.objects.get()
    assert saved.status_code == 302 and saved["Location"] == f"/examples/{example.pk}/"
    assert (example.prompt, example.answer, example.alias) == ("Now in two bullets", answer.content, "fast-chat")
    assert example.earlier_turns == [{"role": "user", "content": "Here are the minutes: …"},
                                     {"role": "assistant", "content": "answer 0"}]
    assert (example.system_prompt, str(example.temperature), example.max_tokens) == ("Be terse.", "0.30", 200)
    assert sorted(example.tag_names) == ["summarization", "translation"] and example.tenant == tenant_a
    assert example.request_id == answer.request_id
    assert AuditEvent.objects.filter(action="example.create", target_id=str(example.pk)).exists()

    answer.conversation.delete()  # the example is a copy: it outlives the conversation
    page = client.get(f"/examples/{example.pk}/").content.decode()
    assert "Now in two bullets" in page and "The board approved the budget" in page and "Be terse." in page


def test_a_comparison_answer_can_be_saved_too(client, developer, tenant_a, use_cases):
    comparison = Comparison.objects.create(user=developer, team=tenant_a, prompt="Write a haiku about rain")
    winner = ComparedAnswer.objects.create(comparison=comparison, slot=0, alias="fast-chat", content="Soft rain…",
                                           request_id=request_id())
    client.force_login(developer)
    saved = client.post("/examples/new", {"compared": winner.pk, "title": "Rain haiku", "tags": [],
                                          "visibility": "company"})
    assert saved.status_code == 302
    assert Example.objects.get().prompt == "Write a haiku about rain"


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"title": " "}, "title", "required"),
    ({"tags": ["made-up"]}, "tags", "made-up"),
    ({"visibility": "world"}, "visibility", "world"),
])
def test_bad_fields_are_refused_naming_the_field_and_nothing_is_saved(client, developer, tenant_a, use_cases,
                                                                      fields, field, message):
    client.force_login(developer)
    refused = save(client, answer_in_chat(developer, tenant_a), **fields)
    assert refused.status_code == 400
    assert message in refused.context["form"].errors[field][0]
    assert not Example.objects.exists()


def test_only_ones_own_answers_can_be_saved(client, developer, tenant_a, make_member, use_cases):
    someone_else = make_member(tenant_a, TenantRole.DEVELOPER)
    theirs = answer_in_chat(someone_else, tenant_a)
    client.force_login(developer)
    for attempt in (client.get(f"/examples/new?answer={theirs.pk}"), save(client, theirs),
                    client.get("/examples/new?answer=abc"), client.get("/examples/new")):
        assert attempt.status_code == 404
    assert not Example.objects.exists()


def test_visibility_decides_who_finds_an_example(client, developer, tenant_a, tenant_b, make_member, use_cases):
    teammate = make_member(tenant_a, TenantRole.VIEWER)
    outsider = make_member(tenant_b, TenantRole.DEVELOPER)
    client.force_login(developer)
    for visibility in ("private", "team", "company"):
        save(client, answer_in_chat(developer, tenant_a), title=f"{visibility} one", visibility=visibility)
    ids = {e.visibility: e.pk for e in Example.objects.all()}

    def titles(user):
        client.force_login(user)
        return {e.title for e in client.get("/examples/").context["page"].object_list}

    assert titles(developer) == {"private one", "team one", "company one"}
    assert titles(teammate) == {"team one", "company one"}
    assert titles(outsider) == {"company one"}
    client.force_login(outsider)
    assert client.get(f"/examples/{ids['team']}/").status_code == 404
    assert client.post(f"/examples/{ids['team']}/upvote").status_code == 404
    assert client.get(f"/examples/{ids['company']}/").status_code == 200


def test_search_by_words_tag_and_model(client, developer, tenant_a, use_cases):
    client.force_login(developer)
    save(client, answer_in_chat(developer, tenant_a, turns=("Translate the contract into German",),
                                answer="Der Vertrag …"), title="Contract translation", tags=["translation"])
    save(client, answer_in_chat(developer, tenant_a, alias="code-chat", turns=("Write a SQL query for churn",),
                                answer="SELECT customer_id FROM …"), title="Churn query", tags=["code"])
    save(client, answer_in_chat(developer, tenant_a), title="Board minutes", tags=["summarization"])

    def found(query: str) -> list[str]:
        page = client.get("/examples/" + query)
        assert page.status_code == 200
        return sorted(e.title for e in page.context["page"].object_list)

    assert found("?q=contract") == ["Contract translation"]  # a word of the title
    assert found("?q=customer_id") == ["Churn query"]  # a word of the answer
    assert found("?q=board+budget") == ["Board minutes"]  # every word must match
    assert found("?q=board+churn") == []
    assert found("?tag=code") == ["Churn query"]
    assert found("?alias=fast-chat") == ["Board minutes", "Contract translation"]
    assert found("?tag=translation&q=german") == ["Contract translation"]
    facets = client.get("/examples/").context
    assert dict(facets["tags"]) == {"code": 1, "summarization": 1, "translation": 1}
    assert dict(facets["aliases"]) == {"code-chat": 1, "fast-chat": 2}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=st.text(max_size=300))
def test_any_search_text_is_answered_never_a_500(client, developer, q):
    client.force_login(developer)
    q = q.replace("\x00", "")
    assert client.get("/examples/", {"q": q, "tag": q[:60], "alias": q[:60], "page": q[:5]}).status_code == 200


def test_upvotes_count_once_per_person_and_not_the_authors_own(client, developer, tenant_a, make_member, use_cases):
    client.force_login(developer)
    save(client, answer_in_chat(developer, tenant_a), visibility="company")
    example = Example.objects.get()
    assert client.post(f"/examples/{example.pk}/upvote").status_code == 302
    example.refresh_from_db()
    assert example.upvotes == 0  # the author's own vote does not count

    voters = [make_member(tenant_a, TenantRole.VIEWER) for _ in range(2)]
    for voter in voters:
        client.force_login(voter)
        client.post(f"/examples/{example.pk}/upvote", HTTP_HX_REQUEST="true")
    example.refresh_from_db()
    assert example.upvotes == 2
    again = client.post(f"/examples/{example.pk}/upvote", HTTP_HX_REQUEST="true")  # the second voter takes it back
    assert 'aria-pressed="false"' in again.content.decode() and ">1<" in again.content.decode()
    example.refresh_from_db()
    assert example.upvotes == 1


def test_reported_outdated_examples_are_marked_until_the_author_clears_them(client, developer, tenant_a,
                                                                            make_member, alias, use_cases):
    client.force_login(developer)
    save(client, answer_in_chat(developer, tenant_a), visibility="company", title="Old trick")
    example = Example.objects.get()
    reader = make_member(tenant_a, TenantRole.VIEWER)
    client.force_login(reader)
    card = client.get("/models/fast-chat/").content.decode()
    assert "Old trick" in card  # the card shows its best examples

    client.post(f"/examples/{example.pk}/report", {"note": "The model no longer follows the format"})
    client.post(f"/examples/{example.pk}/report", {"note": "again"})  # once per person: the note is updated
    example.refresh_from_db()
    assert example.outdated_reports == 1
    assert "Reported outdated by 1 person" in client.get(f"/examples/{example.pk}/").content.decode()
    assert "Old trick" not in client.get("/models/fast-chat/").content.decode()  # not among the best any more
    assert client.post(f"/examples/{example.pk}/clear-reports").status_code == 403  # a reader may not clear them
    assert client.post(f"/examples/{example.pk}/delete").status_code == 403

    client.force_login(developer)
    assert "again" in client.get(f"/examples/{example.pk}/").content.decode()  # the author reads the reports
    client.post(f"/examples/{example.pk}/clear-reports")
    example.refresh_from_db()
    assert example.outdated_reports == 0 and not example.reports.exists()
    assert AuditEvent.objects.filter(action="example.clear_reports").exists()


def test_the_author_edits_and_a_team_admin_deletes(client, developer, tenant_a, make_member, use_cases):
    client.force_login(developer)
    save(client, answer_in_chat(developer, tenant_a), visibility="private")
    example = Example.objects.get()
    edited = client.post(f"/examples/{example.pk}/edit", {"title": "Better title", "tags": ["translation"],
                                                          "visibility": "team"})
    assert edited.status_code == 302
    example.refresh_from_db()
    assert (example.title, example.tag_names, example.visibility) == ("Better title", ["translation"], "team")
    assert AuditEvent.objects.get(action="example.update").changes["visibility"] == ["private", "team"]

    admin = make_member(tenant_a, TenantRole.ADMIN)
    client.force_login(admin)
    assert client.get(f"/examples/{example.pk}/edit").status_code == 403  # only the author edits
    assert client.post(f"/examples/{example.pk}/delete").status_code == 302
    assert not Example.objects.exists()
    assert AuditEvent.objects.filter(action="example.delete").exists()


def test_opening_an_example_in_the_playground_fills_in_its_prompt_and_settings(client, developer, tenant_a,
                                                                               approved, use_cases):
    client.force_login(developer)
    save(client, answer_in_chat(developer, tenant_a, turns=("First the context", "Then the question")))
    example = Example.objects.get()
    opened = client.post(f"/examples/{example.pk}/open")
    # Its earlier turn leads a new conversation, so the model sees it as it did when the answer was made.
    chat = Conversation.objects.filter(user=developer).latest("pk")
    assert opened.status_code == 302 and opened["Location"] == f"/playground/c/{chat.pk}/"
    assert [(m.role, m.content) for m in chat.messages.all()] == [("user", "First the context"), ("assistant", "answer 0")]
    assert (chat.alias, chat.system_prompt, str(chat.temperature), chat.max_tokens) == ("fast-chat", "Be terse.",
                                                                                       "0.30", 200)
    page = client.get(opened["Location"]).content.decode()
    assert ">Then the question</textarea>" in page
    assert "Be terse.</textarea>" in page and 'value="0.30"' in page and 'value="200"' in page
    assert '<option value="fast-chat" selected>' in page
    assert "First the context" in page and f'href="/examples/{example.pk}/"' in page
    again = client.get(opened["Location"]).content.decode()  # the draft is shown once; the turns stay
    assert ">Then the question</textarea>" not in again and "First the context" in again


def test_an_example_without_earlier_turns_opens_a_new_chat_and_says_when_the_team_lacks_its_model(
        client, developer, tenant_a, approved, use_cases):
    client.force_login(developer)
    save(client, answer_in_chat(developer, tenant_a, turns=("Only the question",)))
    example = Example.objects.get()
    chats_before = Conversation.objects.count()
    opened = client.post(f"/examples/{example.pk}/open")
    assert opened.status_code == 302 and opened["Location"] == "/playground/"
    assert Conversation.objects.count() == chats_before
    page = client.get("/playground/").content.decode()
    assert ">Only the question</textarea>" in page and "has no access" not in page

    Example.objects.filter(pk=example.pk).update(alias="retired-model")
    client.post(f"/examples/{example.pk}/open")
    page = client.get("/playground/").content.decode()
    assert ">Only the question</textarea>" in page and "has no access to retired-model" in page
    assert client.get(f"/examples/{example.pk}/open").status_code == 405