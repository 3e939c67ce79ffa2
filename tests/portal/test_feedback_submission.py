"""Who may rate which answer: a person their own playground answers, an application its own calls; resending updates."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from aiplatform.models import AuditEvent
from portal import services as portal_services
from portal.models import Feedback
from portal.services import feedback as services
from tests.portal.feedback_arrange import chat_answer, comparison, ledger_line


@pytest.fixture
def answer(developer, tenant_a):
    return chat_answer(developer, tenant_a)


@pytest.fixture
def other_app_key(app, developer):
    """A key of another application of the same team."""
    other = portal_services.create_application(actor=developer, tenant=app.tenant, name="search-bot")
    key, _ = portal_services.create_api_key(actor=developer, application=other)
    return key


@pytest.mark.smoke
def test_a_person_rates_their_own_chat_answer(developer, answer, tenant_a):
    feedback = services.submit_playground_feedback(user=developer, request_id=answer.request_id, rating="down",
                                                   category="hallucination", comment="Paris is in France.")

    assert (feedback.alias, feedback.rating, feedback.category) == ("fast-chat", "down", "hallucination")
    assert feedback.source == "playground"
    assert feedback.user == developer
    assert feedback.tenant == tenant_a
    assert feedback.status == "new"
    assert AuditEvent.objects.filter(action="feedback.submit", actor=developer).exists()


def test_a_person_rates_their_own_compared_answer(developer, tenant_a):
    _, answers = comparison(developer, tenant_a)

    feedback = services.submit_playground_feedback(user=developer, request_id=answers["slow-chat"].request_id,
                                                   rating="up")

    assert feedback.alias == "slow-chat"


@pytest.mark.smoke
def test_another_persons_answer_is_refused_and_audited(answer, tenant_a, make_member):
    colleague = make_member(tenant_a)

    with pytest.raises(services.UnknownRequestId):
        services.submit_playground_feedback(user=colleague, request_id=answer.request_id, rating="up")

    assert not Feedback.objects.exists()
    assert AuditEvent.objects.filter(action="security.feedback_refused", actor=colleague).exists()


def test_an_unknown_request_id_is_refused_the_same_way(developer):
    with pytest.raises(services.UnknownRequestId):
        services.submit_playground_feedback(user=developer, request_id="0" * 32, rating="up")


def test_the_prompt_turn_is_not_an_answer(developer, answer):
    prompt = answer.conversation.messages.get(role="user")
    prompt.request_id = "a" * 32
    prompt.save()

    with pytest.raises(services.UnknownRequestId):
        services.submit_playground_feedback(user=developer, request_id="a" * 32, rating="up")


def test_sending_again_updates_the_one_feedback(developer, answer):
    services.submit_playground_feedback(user=developer, request_id=answer.request_id, rating="up")
    services.submit_playground_feedback(user=developer, request_id=answer.request_id, rating="down",
                                        category="incorrect", comment="On second thought")

    feedback = Feedback.objects.get()
    assert (feedback.rating, feedback.category, feedback.comment) == ("down", "incorrect", "On second thought")


def test_a_changed_feedback_goes_back_to_the_queue(developer, answer, model_owner, alias):
    feedback = services.submit_playground_feedback(user=developer, request_id=answer.request_id, rating="down",
                                                   category="incorrect")
    services.resolve_feedback(actor=model_owner, feedback=feedback, note="Known issue")

    services.submit_playground_feedback(user=developer, request_id=answer.request_id, rating="down",
                                        category="hallucination")

    feedback.refresh_from_db()
    assert feedback.status == "new"
    assert feedback.resolved_by is None


@pytest.mark.parametrize(("fields", "field"), [
    ({"rating": "meh"}, "rating"),
    ({"rating": "down", "category": "rude"}, "category"),
    ({"rating": "down"}, "category"),  # a thumbs-down says what was wrong
    ({"rating": "up", "comment": "x" * 2001}, "comment"),
])
def test_bad_input_is_refused_naming_the_field(developer, answer, fields, field):
    with pytest.raises(ValidationError) as caught:
        services.submit_playground_feedback(user=developer, request_id=answer.request_id, **fields)

    assert field in caught.value.message_dict


def test_a_comment_of_exactly_the_bound_is_kept(developer, answer):
    feedback = services.submit_playground_feedback(user=developer, request_id=answer.request_id, rating="up",
                                                   comment="x" * 2000)
    assert len(feedback.comment) == 2000


# --- applications, through their keys ------------------------------------------------------------------

@pytest.mark.smoke
def test_an_application_rates_its_own_call(api_key):
    call = ledger_line(api_key)

    feedback = services.submit_api_feedback(key_id=api_key.pk, request_id=call.request_id, rating="down",
                                            category="unhelpful", comment="Off topic")

    assert feedback.source == "api"
    assert feedback.application == api_key.application
    assert feedback.key == api_key
    assert feedback.user is None
    assert feedback.alias == "fast-chat"
    assert feedback.tenant == api_key.tenant


def test_another_application_of_the_same_team_is_refused(api_key, other_app_key):
    call = ledger_line(api_key)

    with pytest.raises(services.UnknownRequestId) as caught:
        services.submit_api_feedback(key_id=other_app_key.pk, request_id=call.request_id, rating="up")

    assert not isinstance(caught.value, services.NotInLedgerYet)
    assert not Feedback.objects.exists()
    assert AuditEvent.objects.filter(action="security.feedback_refused").exists()


def test_a_call_not_in_the_ledger_yet_is_said_so(api_key):
    with pytest.raises(services.NotInLedgerYet):
        services.submit_api_feedback(key_id=api_key.pk, request_id="f" * 32, rating="up")


def test_another_key_of_the_same_application_updates_the_feedback(api_key, app, developer):
    second, _ = portal_services.create_api_key(actor=developer, application=app)
    call = ledger_line(api_key)
    services.submit_api_feedback(key_id=api_key.pk, request_id=call.request_id, rating="up")

    services.submit_api_feedback(key_id=second.pk, request_id=call.request_id, rating="down", category="other")

    feedback = Feedback.objects.get()
    assert (feedback.rating, feedback.key) == ("down", second)


def test_the_same_feedback_twice_is_recorded_once(api_key):
    call = ledger_line(api_key)
    for _ in range(3):
        services.submit_api_feedback(key_id=api_key.pk, request_id=call.request_id, rating="up")

    assert Feedback.objects.count() == 1
    assert AuditEvent.objects.filter(action="feedback.submit").count() == 1
