"""In the browser (issue 16): an employee picks a use case in the catalogue and sees the models ranked by what the
platform measured (seeded calls, thumbs and compare votes, ranked by the scheduled task), opens the evidence
behind the ranking, and finds the example behind the first rank."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from examples.models import Example, ExampleTag
from recommendations import tasks
from tests.e2e.conftest import sign_in
from tests.portal.conftest import (  # noqa: F401  (fixtures)
    _admins_without_mfa,
    alias,
    api_key,
    app,
    approved,
    developer,
    make_alias,
    model_owner,
    pending,
)
from tests.recommendations.arrange import SUMMARY_SEEDS, seed_use_case

pytestmark = pytest.mark.e2e


@pytest.fixture
def ranked(server_url, make_alias, tenant_a, app, api_key, developer):  # noqa: F811  (fixtures)
    seed_use_case(make_alias=make_alias, tenant=tenant_a, app=app, key=api_key, user=developer,
                  use_case="summarization", seeds=SUMMARY_SEEDS, compare_wins=("sharp-summary", "slow-summary", 3))
    example = Example.objects.create(tenant=tenant_a, author=developer, title="Ticket digest in three bullets",
                                     alias="sharp-summary", prompt="Summarise the ticket", answer="- a\n- b",
                                     visibility="company")
    ExampleTag.objects.create(example=example, name="summarization")
    tasks.rank_use_cases()  # what celery beat runs hourly
    return developer


def test_a_use_case_ranking_with_its_evidence(page, server_url, ranked, tmp_path):
    csp_violations = []
    page.on("console", lambda m: csp_violations.append(m.text) if "Content Security Policy" in m.text else None)
    sign_in(page, ranked.email)

    page.goto("/models/")
    page.get_by_label("Use case").select_option("summarization")
    panel = page.get_by_role("region", name="Best measured for summarization")
    expect(panel.get_by_role("listitem")).to_have_count(2)
    expect(panel.get_by_role("listitem").first).to_contain_text("sharp-summary")
    expect(panel.get_by_role("listitem").first).to_contain_text("92% positive of 12 votes")
    expect(panel.get_by_role("listitem").nth(1)).to_contain_text("slow-summary")
    assert "use_case=summarization" in page.url  # the filter is in the address (hx-push-url): a link to share
    page.screenshot(path=tmp_path / "catalogue-ranking.png", full_page=True)

    panel.get_by_role("link", name="The figures and examples behind the ranking").click()
    expect(page.get_by_role("heading", name="Best for summarization")).to_be_visible()
    first = page.locator(".standing").first
    expect(first.get_by_role("heading", level=2)).to_have_text("#1 sharp-summary")
    expect(first).to_contain_text("3.3% (1 of 30 calls)")
    expect(first).to_contain_text("$0.001933")
    expect(page.locator(".standing").nth(1)).to_contain_text("#2 slow-summary")
    expect(page.get_by_role("heading", name="Too few observations to rank")).to_be_visible()
    expect(page.locator(".too-few")).to_contain_text("fresh-summary: 5 calls of 20, 1 vote of 5.")
    page.get_by_text("How the ranking works").click()
    expect(page.locator(".how-scored")).to_contain_text("quality 50%")
    page.screenshot(path=tmp_path / "use-case-ranking.png", full_page=True)

    first.get_by_role("link", name="Ticket digest in three bullets").click()
    expect(page.get_by_role("heading", name="Ticket digest in three bullets")).to_be_visible()
    assert csp_violations == []
