"""The owners' review queue: each owner sees feedback on their models, triages and resolves it (audited), and is told."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from aiplatform.models import AuditEvent
from aiplatform.roles import PlatformRole
from portal.models import Feedback, Notification
from portal.services import feedback as services
from tests.conftest import PASSWORD
from tests.portal.feedback_arrange import chat_answer


@pytest.fixture
def bad_answer(developer, tenant_a, alias):
    answer = chat_answer(developer, tenant_a, alias=alias.name, content="The moon is made of cheese.")
    return services.submit_playground_feedback(user=developer, request_id=answer.request_id, rating="down",
                                               category="hallucination", comment="It is not.")


def signed_in(client, user):
    client.login(email=user.email, password=PASSWORD)
    return client


def test_the_owner_sees_feedback_on_their_model_with_the_answer(client, model_owner, bad_answer):
    page = signed_in(client, model_owner).get(reverse("portal:feedback_queue"))

    assert page.status_code == 200
    html = page.content.decode()
    assert "It is not." in html
    assert "The moon is made of cheese." in html  # the answer it is about
    assert bad_answer.request_id in html
    assert "dev@example.com" in html


def test_an_owner_does_not_see_feedback_on_someone_elses_model(client, make_user, make_alias, bad_answer):
    other_owner = make_user(platform_role=PlatformRole.MODEL_OWNER)
    make_alias("other-chat", owners=[other_owner])

    page = signed_in(client, other_owner).get(reverse("portal:feedback_queue"))

    assert page.status_code == 200
    assert "It is not." not in page.content.decode()


def test_a_platform_admin_sees_all_feedback(client, platform_admin, bad_answer):
    page = signed_in(client, platform_admin).get(reverse("portal:feedback_queue"))
    assert "It is not." in page.content.decode()


def test_someone_who_reviews_no_model_is_refused(client, developer, bad_answer):
    page = signed_in(client, developer).get(reverse("portal:feedback_queue"))

    assert page.status_code == 403
    assert AuditEvent.objects.filter(action="security.permission_denied", actor=developer).exists()


def test_filters_narrow_the_queue(client, model_owner, bad_answer, developer, tenant_a, alias):
    answer = chat_answer(developer, tenant_a, alias=alias.name)
    services.submit_playground_feedback(user=developer, request_id=answer.request_id, rating="up",
                                        comment="Lovely answer")
    client = signed_in(client, model_owner)

    ups = client.get(reverse("portal:feedback_queue"), {"rating": "up"}).content.decode()
    hallucinations = client.get(reverse("portal:feedback_queue"), {"category": "hallucination"}).content.decode()

    assert "Lovely answer" in ups
    assert "It is not." not in ups
    assert "It is not." in hallucinations
    assert "Lovely answer" not in hallucinations


@pytest.mark.smoke
def test_triage_then_resolve_through_the_queue_swaps_the_row_and_is_audited(client, model_owner, bad_answer):
    client = signed_in(client, model_owner)
    url = reverse("portal:feedback_review", args=[bad_answer.pk])

    triaged = client.post(url, {"action": "triage", "note": "Looking"}, headers={"HX-Request": "true"})
    resolved = client.post(url, {"action": "resolve", "note": "Grounding added"}, headers={"HX-Request": "true"})

    assert triaged.content.decode().lstrip().startswith(f'<tr id="feedback-row-{bad_answer.pk}"')
    assert "Grounding added" in resolved.content.decode()
    bad_answer.refresh_from_db()
    assert bad_answer.status == "resolved"
    assert bad_answer.triaged_by == model_owner
    assert bad_answer.resolution_note == "Grounding added"
    actions = list(AuditEvent.objects.filter(action__in=["feedback.triage", "feedback.resolve"])
                   .order_by("seq").values_list("action", "changes__status"))
    assert actions == [("feedback.triage", ["new", "triaged"]), ("feedback.resolve", ["triaged", "resolved"])]


def test_resolving_needs_a_note(client, model_owner, bad_answer):
    response = signed_in(client, model_owner).post(reverse("portal:feedback_review", args=[bad_answer.pk]),
                                                   {"action": "resolve", "note": ""}, headers={"HX-Request": "true"})

    assert "Say what was done" in response.content.decode()
    bad_answer.refresh_from_db()
    assert bad_answer.status == "new"


def test_triaging_twice_is_refused(model_owner, bad_answer):
    services.triage_feedback(actor=model_owner, feedback=bad_answer)

    with pytest.raises(services.InvalidTransition):
        services.triage_feedback(actor=model_owner, feedback=bad_answer)


def test_a_non_owner_cannot_review_by_guessing_the_url(client, make_user, bad_answer):
    stranger = make_user(platform_role=PlatformRole.MODEL_OWNER)

    response = signed_in(client, stranger).post(reverse("portal:feedback_review", args=[bad_answer.pk]),
                                                {"action": "triage"})

    assert response.status_code == 404
    bad_answer.refresh_from_db()
    assert bad_answer.status == "new"


def test_new_negative_feedback_tells_the_owners(developer, tenant_a, alias, model_owner,
                                                django_capture_on_commit_callbacks):
    answer = chat_answer(developer, tenant_a, alias=alias.name)
    with django_capture_on_commit_callbacks(execute=True):
        services.submit_playground_feedback(user=developer, request_id=answer.request_id, rating="down",
                                            category="inappropriate", comment="Rude")

    notice = Notification.objects.get(user=model_owner)
    assert notice.title == "New negative feedback on fast-chat"
    assert notice.link == reverse("portal:feedback_queue") + "?alias=fast-chat&status=new"
    assert mail.outbox[-1].to == [model_owner.email]


def test_a_burst_of_thumbs_down_is_one_notification(developer, tenant_a, alias, model_owner):
    for _ in range(3):
        answer = chat_answer(developer, tenant_a, alias=alias.name)
        services.submit_playground_feedback(user=developer, request_id=answer.request_id, rating="down",
                                            category="incorrect")

    assert Notification.objects.filter(user=model_owner).count() == 1
    assert Feedback.objects.count() == 3


def test_thumbs_up_tells_nobody(developer, tenant_a, alias, model_owner):
    answer = chat_answer(developer, tenant_a, alias=alias.name)
    services.submit_playground_feedback(user=developer, request_id=answer.request_id, rating="up")

    assert not Notification.objects.filter(user=model_owner).exists()
