"""An owner exports a model's feedback as CSV; a model card's summary counts thumbs, problems and compare votes."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from aiplatform.models import AuditEvent
from aiplatform.roles import PlatformRole
from portal.models import Feedback
from portal.selectors_feedback import feedback_summary
from portal.services import feedback as services
from tests.conftest import PASSWORD
from tests.portal.feedback_arrange import chat_answer, comparison, ledger_line


def rate(user, team, alias: str, rating: str, category: str = "", comment: str = "") -> Feedback:
    answer = chat_answer(user, team, alias=alias)
    return services.submit_playground_feedback(user=user, request_id=answer.request_id, rating=rating,
                                               category=category, comment=comment)


@pytest.mark.smoke
def test_the_owner_exports_every_feedback_on_the_model(client, model_owner, developer, tenant_a, alias, api_key):
    rate(developer, tenant_a, alias.name, "down", "incorrect", "=HYPERLINK(\"http://evil\")")
    call = ledger_line(api_key)
    services.submit_api_feedback(key_id=api_key.pk, request_id=call.request_id, rating="up")
    client.login(email=model_owner.email, password=PASSWORD)

    response = client.get(reverse("portal:feedback_csv", args=[alias.name]))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["rating"], r["source"]) for r in rows] == [("down", "playground"), ("up", "api")]
    assert rows[0]["author"] == developer.email
    assert rows[0]["comment"] == "'=HYPERLINK(\"http://evil\")"  # never run as a formula
    assert rows[1]["application"] == "checkout-bot"
    assert rows[1]["request_id"] == call.request_id
    assert AuditEvent.objects.filter(action="feedback.export", actor=model_owner, changes__rows=2).exists()


def test_another_owner_cannot_export_it(client, make_user, alias):
    stranger = make_user(platform_role=PlatformRole.MODEL_OWNER)
    client.login(email=stranger.email, password=PASSWORD)

    assert client.get(reverse("portal:feedback_csv", args=[alias.name])).status_code == 403


@pytest.mark.smoke
def test_the_summary_counts_thumbs_and_top_problems(developer, tenant_a, alias):
    rate(developer, tenant_a, alias.name, "up")
    rate(developer, tenant_a, alias.name, "up")
    rate(developer, tenant_a, alias.name, "down", "hallucination")
    rate(developer, tenant_a, alias.name, "down", "hallucination")
    rate(developer, tenant_a, alias.name, "down", "unhelpful")
    old = rate(developer, tenant_a, alias.name, "down", "incorrect")
    Feedback.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    rate(developer, tenant_a, "other-chat", "down", "inappropriate")

    summary = feedback_summary(alias)

    assert (summary.all_time.total, summary.all_time.positive, summary.all_time.negative) == (6, 2, 4)
    assert summary.all_time.share_positive == 33
    assert summary.last_30_days.total == 5
    assert summary.last_30_days.share_positive == 40
    assert [(c.value, c.count) for c in summary.last_30_days.top_categories] == [("hallucination", 2),
                                                                                 ("unhelpful", 1)]
    assert summary.weeks[-1].total == 5


def test_the_summary_counts_compare_votes_won_and_entered(developer, tenant_a, alias):
    comparison(developer, tenant_a, ("fast-chat", "slow-chat"), winner="fast-chat")
    comparison(developer, tenant_a, ("fast-chat", "slow-chat"), winner="slow-chat")
    comparison(developer, tenant_a, ("fast-chat", "slow-chat", "big-chat"), winner="fast-chat")
    comparison(developer, tenant_a, ("fast-chat", "slow-chat"))  # no vote: not counted

    summary = feedback_summary(alias)

    assert (summary.compare_won, summary.compare_entered) == (2, 3)
    assert summary.compare_share_won == 67


def test_the_summary_renders_for_a_card(developer, tenant_a, alias):
    rate(developer, tenant_a, alias.name, "down", "hallucination")

    html = render_to_string("registry/_feedback_summary.html", {"summary": feedback_summary(alias)})

    assert "0 %" in html
    assert "Hallucination (1)" in html
    assert "style=" not in html


@pytest.mark.django_db
def test_an_empty_summary_says_so():
    html = render_to_string("registry/_feedback_summary.html", {"summary": feedback_summary("nobody-chat")})
    assert "No feedback yet" in html


def test_the_summary_fragment_is_served_for_any_signed_in_person(client, developer, alias):
    client.login(email=developer.email, password=PASSWORD)

    response = client.get(reverse("portal:feedback_summary", args=[alias.name]))

    assert response.status_code == 200
    assert "What people say" in response.content.decode()
