"""In the browser: a model's owner finds a thumbs-down in the review queue, triages and resolves it in place."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from aiplatform.roles import PlatformRole
from portal.services import feedback as feedback_services
from registry import services as registry_services
from tests.e2e.conftest import sign_in
from tests.portal.feedback_arrange import chat_answer

pytestmark = pytest.mark.e2e


def test_the_owner_triages_and_resolves_feedback_from_the_queue(page, make_user, make_member, tenant_a):
    owner = make_user("owner@example.com", platform_role=PlatformRole.MODEL_OWNER)
    registry_services.create_alias(actor=None, name="fast-chat", status="approved", owners=[owner])
    person = make_member(tenant_a)
    answer = chat_answer(person, tenant_a, content="The Eiffel Tower is in Rome.")
    feedback_services.submit_playground_feedback(user=person, request_id=answer.request_id, rating="down",
                                                 category="hallucination", comment="Wrong city")
    violations = []
    page.on("console", lambda message: violations.append(message.text) if "Content Security Policy" in message.text
            else None)

    sign_in(page, owner.email)
    page.goto("/portal/feedback/?alias=fast-chat&status=new")
    row = page.get_by_role("row").filter(has_text="Wrong city")
    expect(row).to_contain_text("Hallucination")
    expect(row).to_contain_text(person.email)
    row.get_by_text("The answer").click()
    expect(row).to_contain_text("The Eiffel Tower is in Rome.")

    row.get_by_label("Note").fill("Reproduced")
    row.get_by_role("button", name="Triage").click()
    expect(row).to_contain_text("Triaged by owner@example.com")
    row.get_by_label("Note").fill("Grounded on the knowledge base")
    row.get_by_role("button", name="Resolve").click()
    expect(row).to_contain_text("Resolved by owner@example.com")
    expect(row.get_by_role("button", name="Resolve")).to_have_count(0)
    assert violations == []
