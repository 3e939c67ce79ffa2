"""Use-case rankings: measured from the ledger's rollups and the votes, ranked by the scheduled task, shown in
the catalogue and on the ranking page with the figures and examples behind each rank."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django_celery_beat.models import PeriodicTask
from hypothesis import given
from hypothesis import strategies as st

from examples.models import Example, ExampleTag
from recommendations import scoring, tasks
from recommendations.models import UseCaseStanding
from tests.recommendations.arrange import SUMMARY_SEEDS, Seed, seed_use_case

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


@pytest.fixture
def summaries(make_alias, tenant_a, app, api_key, developer):
    seed_use_case(make_alias=make_alias, tenant=tenant_a, app=app, key=api_key, user=developer,
                  use_case="summarization", seeds=SUMMARY_SEEDS, compare_wins=("sharp-summary", "slow-summary", 3))


def test_the_task_ranks_each_use_case_from_measured_usage_and_votes(summaries):
    stored = tasks.rank_use_cases()
    standings = {s.alias: s for s in UseCaseStanding.objects.filter(use_case="summarization")}
    assert stored == len(standings) == 3
    sharp, slow, fresh = standings["sharp-summary"], standings["slow-summary"], standings["fresh-summary"]
    assert (sharp.rank, slow.rank, fresh.rank) == (1, 2, None)
    # The figures the rank came from.
    assert (sharp.calls, sharp.errors, sharp.thumbs_up, sharp.thumbs_down) == (30, 1, 8, 1)
    assert (sharp.compare_wins, sharp.compare_losses, slow.compare_wins, slow.compare_losses) == (3, 0, 0, 3)
    assert sharp.cost == Decimal("0.058") and sharp.cost_per_call == Decimal("0.058") / 30
    assert 250 < sharp.p95_ms <= 500 and 2500 < slow.p95_ms <= 5000  # from the rollups' latency histograms
    assert slow.error_rate == pytest.approx(3 / 25)
    assert sharp.parts["cost"] == 1 and slow.parts["cost"] == 0 and sharp.parts["latency"] == 1
    assert sharp.score > slow.score
    # Too few observations: measured, shown, not ranked, and it says what is missing.
    assert fresh.score is None and fresh.parts == {}
    assert fresh.missing == ["5 calls of 20", "1 vote of 5"]


def test_a_run_replaces_the_last_and_the_bar_follows_the_settings(summaries, settings):
    tasks.rank_use_cases()
    settings.RECOMMENDATION_MIN_CALLS, settings.RECOMMENDATION_MIN_VOTES = 1, 1
    assert tasks.rank_use_cases() == 3
    assert UseCaseStanding.objects.count() == 3
    assert UseCaseStanding.objects.get(alias="fresh-summary").rank is not None
    assert PeriodicTask.objects.filter(task="recommendations.rank_use_cases", enabled=True).exists()


def test_the_catalogue_and_the_ranking_page_show_the_figures_and_examples(client, summaries, developer, tenant_a):
    example = Example.objects.create(tenant=tenant_a, author=developer, title="Ticket digest in three bullets",
                                     alias="sharp-summary", prompt="Summarise", answer="- a\n- b",
                                     visibility="company")
    ExampleTag.objects.create(example=example, name="summarization")
    tasks.rank_use_cases()
    client.force_login(developer)

    catalogue = client.get("/models/", {"use_case": "summarization"}).content.decode()
    panel = catalogue[catalogue.index("Best measured for summarization"):catalogue.index("catalogue-count")]
    assert panel.index("sharp-summary") < panel.index("slow-summary") and "fresh-summary" not in panel
    assert "92% positive of 12 votes" in panel  # 8 thumbs up + 3 compare wins, of 9 thumbs + 3 compare votes
    assert "1 model with too few observations" in panel

    page = client.get("/recommendations/summarization/").content.decode()
    ranked = page[page.index('aria-label="Ranked models"'):page.index("Too few observations to rank")]
    assert (ranked.index("#1") < ranked.index(">sharp-summary</a>") < ranked.index("#2")
            < ranked.index(">slow-summary</a>"))
    assert "Ticket digest in three bullets" in ranked  # the example behind the rank
    assert "3.3% (1 of 30 calls)" in ranked and "12.0% (3 of 25 calls)" in ranked
    assert "$0.001933" in ranked and "$0.0088" in ranked  # cost per call (errors cost nothing)
    too_few = page[page.index("Too few observations to rank"):]
    assert "fresh-summary</a>: 5 calls of 20, 1 vote of 5." in too_few


def test_pages_before_anything_is_measured_and_for_unknown_use_cases(client, developer):
    client.force_login(developer)
    catalogue = client.get("/models/", {"use_case": "summarization"}).content.decode()
    assert "Not measured yet" in catalogue
    missing = client.get("/recommendations/summarization/")
    assert missing.status_code == 404 and "Not measured yet." in missing.content.decode()
    assert client.get("/recommendations/").status_code == 200
    assert client.get("/recommendations/<script>/").status_code == 404
    client.logout()
    assert client.get("/recommendations/summarization/").status_code == 302  # to sign in


def test_no_model_ranked_says_so(client, make_alias, tenant_a, app, api_key, developer):
    seed_use_case(make_alias=make_alias, tenant=tenant_a, app=app, key=api_key, user=developer, use_case="code",
                  seeds={"tiny-coder": Seed(calls=3, errors=0, cost_per_call="0.001", total_ms=100,
                                            thumbs_up=0, thumbs_down=0)})
    tasks.rank_use_cases()
    client.force_login(developer)
    page = client.get("/recommendations/code/").content.decode()
    assert "No model has enough observations to be ranked for code yet" in page
    assert "tiny-coder</a>: 3 calls of 20, 0 votes of 5." in page


measured = st.builds(
    scoring.Measured, alias=st.text(min_size=1, max_size=8), calls=st.integers(1, 10_000),
    errors=st.integers(0, 10_000), cost=st.decimals(0, 100, places=6), p95_ms=st.none() | st.floats(0, 60_000),
    positive=st.integers(0, 500), votes=st.integers(0, 500),
).filter(lambda m: m.errors <= m.calls and m.positive <= m.votes)


@given(st.lists(measured, min_size=1, max_size=6, unique_by=lambda m: m.alias))
def test_scores_stay_within_bounds_and_ranks_are_dense(models):
    scored = scoring.rank(models, min_calls=1, min_votes=1)
    ranked = [m for m in models if m.votes >= 1]
    assert sorted(s.rank for s in scored.values()) == list(range(1, len(ranked) + 1))
    assert all(0 <= s.score <= 100 for s in scored.values())
    by_rank = sorted(scored.values(), key=lambda s: s.rank)
    assert all(a.score >= b.score for a, b in zip(by_rank, by_rank[1:], strict=False))


@given(st.integers(0, 200), st.integers(1, 200))
def test_more_positive_votes_never_lower_the_quality_bound(positive, total):
    positive = min(positive, total)
    bound = scoring.wilson_lower_bound(positive, total)
    assert 0 <= bound <= positive / total + 1e-9
    if positive < total:
        assert scoring.wilson_lower_bound(positive + 1, total) >= bound
