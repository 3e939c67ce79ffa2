"""The feedback form under a playground answer: thumbs, a category for a thumbs-down, a comment; htmx fragments."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from portal.models import Feedback
from tests.conftest import PASSWORD
from tests.portal.feedback_arrange import chat_answer

HTMX = {"HX-Request": "true"}


@pytest.fixture
def answer(developer, tenant_a):
    return chat_answer(developer, tenant_a)


@pytest.fixture
def me(client, developer):
    client.login(email=developer.email, password=PASSWORD)
    return client


def test_the_form_has_labelled_controls():
    html = render_to_string("portal/feedback/_form.html", {"request_id": "abc123"})

    assert 'aria-label="Good answer"' in html
    assert 'aria-label="Bad answer"' in html
    assert '<label for="feedback-abc123-category">Category</label>' in html
    assert '<label for="feedback-abc123-comment">Comment</label>' in html
    assert ">Send feedback</button>" in html
    assert "style=" not in html
    assert "<script" not in html


def test_thumbs_up_is_stored_at_once_and_thanks(me, answer):
    response = me.post(reverse("portal:feedback_submit"), {"request_id": answer.request_id, "rating": "up"},
                       headers=HTMX)

    assert "Thanks" in response.content.decode()
    assert Feedback.objects.get().rating == "up"


def test_thumbs_down_asks_for_a_category_then_sends(me, answer):
    url = reverse("portal:feedback_submit")
    asked = me.post(url, {"request_id": answer.request_id, "rating": "down"}, headers=HTMX)

    assert "What was wrong?" in asked.content.decode()
    assert 'name="chosen_rating" value="down"' in asked.content.decode()
    assert not Feedback.objects.exists()

    sent = me.post(url, {"request_id": answer.request_id, "chosen_rating": "down", "category": "hallucination",
                         "comment": "Made up"}, headers=HTMX)

    assert "Thanks" in sent.content.decode()
    feedback = Feedback.objects.get()
    assert (feedback.rating, feedback.category, feedback.comment) == ("down", "hallucination", "Made up")


def test_someone_elses_answer_is_refused_in_the_form(client, answer, tenant_a, make_member):
    colleague = make_member(tenant_a)
    client.login(email=colleague.email, password=PASSWORD)

    response = client.post(reverse("portal:feedback_submit"), {"request_id": answer.request_id, "rating": "up"},
                           headers=HTMX)

    assert "only rate your own answers" in response.content.decode()
    assert not Feedback.objects.exists()


def test_a_too_long_comment_comes_back_with_an_error(me, answer):
    response = me.post(reverse("portal:feedback_submit"), {"request_id": answer.request_id, "rating": "up",
                                                           "comment": "x" * 2001}, headers=HTMX)

    assert 'role="alert"' in response.content.decode()
    assert not Feedback.objects.exists()


def test_without_htmx_it_redirects_back(me, answer):
    response = me.post(reverse("portal:feedback_submit"), {"request_id": answer.request_id, "rating": "up"},
                       headers={"Referer": "http://testserver/playground/"})

    assert response.status_code == 302
    assert response["Location"] == "http://testserver/playground/"


def test_signed_out_is_sent_to_sign_in(client, answer):
    response = client.post(reverse("portal:feedback_submit"), {"request_id": answer.request_id, "rating": "up"})

    assert response.status_code == 302
    assert not Feedback.objects.exists()
