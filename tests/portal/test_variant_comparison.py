"""A model owner compares an alias's A/B variants: calls, errors, latency, tokens, cost, retries, thumbs and compare
votes per variant, with the alias's routing; a variant with few calls is flagged; nobody else sees the page.

The ledger is seeded through the ORM, as the gateway's worker writes it: variant "a" serves two teams' calls, "b"
too few to compare.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from model_bakery import baker

from aiplatform.roles import PlatformRole, TenantRole
from portal import services
from portal.models import UsageEvent
from portal.selectors_variants import p95_by_ranks, period_ending_now, variant_comparison
from portal.services import feedback as feedback_services
from registry import services as registry_services
from registry.models import Provider
from tests.portal.feedback_arrange import comparison, request_id

pytestmark = pytest.mark.smoke


def call(key, *, variant: str, alias: str = "fast-chat", ago: timedelta = timedelta(hours=1), **fields) -> UsageEvent:
    """One call of ``key`` served by ``variant``, as the ledger holds it."""
    values = {"status": 200, "total_ms": 100.0, "ttfb_ms": None, "prompt_tokens": 0, "completion_tokens": 0,
              "cost": Decimal(0), "attempt_count": 1, **fields}
    return baker.make(UsageEvent, request_id=request_id(), key=key, application=key.application, tenant=key.tenant,
                      alias=alias, variant=variant, occurred_at=timezone.now() - ago, operation="chat",
                      endpoint=None, **values)


@pytest.fixture
def ab_alias(alias):
    """fast-chat split 90 / 10 between variants a and b, sticky per application."""
    provider = Provider.objects.get(name="acme")
    first = registry_services.create_endpoint(actor=None, provider=provider, upstream_model="model-a",
                                              capabilities=["chat"])
    second = registry_services.create_endpoint(actor=None, provider=provider, upstream_model="model-b",
                                               capabilities=["chat"])
    registry_services.set_routes(actor=None, alias=alias, routes=[
        registry_services.RouteSpec(endpoint=first, weight=90, variant="a"),
        registry_services.RouteSpec(endpoint=second, weight=10, variant="b")])
    return registry_services.update_alias(actor=None, alias=alias, strategy="weighted", sticky="application")


@pytest.fixture
def other_key(tenant_b, make_member):
    """A key of another team's application: the owner's comparison counts every team's calls."""
    lead = make_member(tenant_b, TenantRole.DEVELOPER)
    application = services.create_application(actor=lead, tenant=tenant_b, name="support-bot")
    key, _ = services.create_api_key(actor=lead, application=application)
    return key


@pytest.fixture
def ledger(ab_alias, api_key, other_key, developer, tenant_a):
    """Variant a: 38 successful calls at 10, 20 .. 380 ms (four of them on a second try), a 429 and a 503;
    thumbs 3 up, 1 down; a compare vote won. Variant b: 10 calls at 1000 ms, a thumbs-down, a vote lost.
    Beside them: an old call of a (8 days ago), and a call of another alias."""
    a_calls = [call(api_key if i % 2 else other_key, variant="a", total_ms=10.0 * i, ttfb_ms=50.0,
                    prompt_tokens=120, completion_tokens=30, cost=Decimal("0.002"), attempt_count=2 if i <= 4 else 1)
               for i in range(1, 39)]
    call(api_key, variant="a", status=429, total_ms=3.0, error_class="rate_limited")
    call(api_key, variant="a", status=503, total_ms=30000.0, error_class="upstream_unavailable", attempt_count=3)
    b_calls = [call(api_key, variant="b", total_ms=1000.0, ttfb_ms=400.0, prompt_tokens=120, completion_tokens=60,
                    cost=Decimal("0.01")) for _ in range(10)]
    call(api_key, variant="a", ago=timedelta(days=8))
    call(api_key, variant="x", alias="other-chat")

    mine = [c for c in a_calls if c.key_id == api_key.pk]
    for event, rating in zip(mine, ["up", "up", "up", "down"], strict=False):
        feedback_services.submit_api_feedback(key_id=api_key.pk, request_id=event.request_id, rating=rating,
                                              category="incorrect" if rating == "down" else "")
    feedback_services.submit_api_feedback(key_id=api_key.pk, request_id=b_calls[0].request_id, rating="down",
                                          category="unhelpful")

    _, won = comparison(developer, tenant_a, ("fast-chat", "slow-chat"), winner="fast-chat")
    won["fast-chat"].request_id = a_calls[0].request_id
    won["fast-chat"].save()
    _, lost = comparison(developer, tenant_a, ("fast-chat", "slow-chat"), winner="slow-chat")
    lost["fast-chat"].request_id = b_calls[0].request_id
    lost["fast-chat"].save()
    return ab_alias


def figures(page: str, row: str) -> list[str]:
    """The cells of one row of the comparison table, as text, one per variant."""
    html = page.split(f'<tr id="{row}">')[1].split("</tr>")[0]
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)]


def comparison_page(client, user, query: str = "") -> tuple[int, str]:
    client.force_login(user)
    response = client.get(reverse("portal:variant_comparison", args=["fast-chat"]) + query)
    return response.status_code, response.content.decode()


def test_the_owner_sees_each_variant_side_by_side(client, model_owner, ledger):
    status, page = comparison_page(client, model_owner)

    assert status == 200
    header = page.split('<table class="table" id="variants">')[1].split("</thead>")[0]
    assert re.findall(r'<th scope="col" class="mono">(\w+)', header) == ["a", "b"]
    assert figures(page, "calls") == ["40", "10"]
    assert figures(page, "applications") == ["2", "1"]
    assert figures(page, "errors") == ["5.0 % (2)", "0.0 % (0)"]
    assert figures(page, "server-errors") == ["2.5 % (1)", "0.0 % (0)"]
    assert figures(page, "mean-latency") == ["195 ms", "1,000 ms"]
    assert figures(page, "p95-latency") == ["362 ms", "1,000 ms"]  # 360 + 0.15 × 10: percentile_cont's
    assert figures(page, "mean-ttfb") == ["50 ms", "400 ms"]
    assert figures(page, "prompt-tokens") == ["120", "120"]
    assert figures(page, "completion-tokens") == ["30", "60"]
    assert figures(page, "cost") == ["$0.076", "$0.10"]
    assert figures(page, "cost-per-call") == ["$0.0019", "$0.01"]
    assert figures(page, "retried") == ["12.5 % (5)", "0.0 % (0)"]
    assert figures(page, "thumbs") == ["75.0 % of 4", "0.0 % of 1"]
    assert figures(page, "votes") == ["1 of 1 (100.0 %)", "0 of 1 (0.0 %)"]


def test_a_variant_with_few_calls_is_too_few_to_compare(client, model_owner, ledger):
    _, page = comparison_page(client, model_owner)

    notes = re.findall(r'<p class="message warning too-few">(.*?)</p>', page, re.S)
    assert len(notes) == 1
    assert "<strong class=\"mono\">b</strong>: 10 calls, too few calls to compare" in notes[0]


def test_the_page_shows_the_current_routing(client, model_owner, ledger):
    _, page = comparison_page(client, model_owner)

    routing = page.split('id="routing"')[1].split("</dl>")[0]
    assert "Weighted" in routing
    assert "Per application" in routing
    routes = page.split('<table class="table" id="routes">')[1].split("</table>")[0]
    rows = [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
            for r in routes.split("<tr>")[2:]]
    assert [row[:4] for row in rows] == [["a", "0", "90", "90.0 %"], ["b", "0", "10", "10.0 %"]]


def test_a_longer_period_reaches_older_calls(client, model_owner, ledger):
    _, page = comparison_page(client, model_owner, "?period=30d")

    assert figures(page, "calls") == ["41", "10"]


def test_an_unknown_period_is_refused(client, model_owner, ledger):
    status, _ = comparison_page(client, model_owner, "?period=1y")

    assert status == 400


def test_a_platform_admin_sees_it(client, platform_admin, ledger):
    status, page = comparison_page(client, platform_admin)

    assert status == 200
    assert figures(page, "calls") == ["40", "10"]


def test_the_owner_of_another_alias_is_refused(client, make_user, make_alias, ledger):
    stranger = make_user(platform_role=PlatformRole.MODEL_OWNER)
    make_alias("slow-chat", owners=[stranger])

    status, _ = comparison_page(client, stranger)

    assert status == 403


def test_a_developer_is_refused(client, developer, ledger):
    status, _ = comparison_page(client, developer)

    assert status == 403


def test_an_unknown_alias_is_not_found(client, model_owner, db):
    client.force_login(model_owner)

    assert client.get(reverse("portal:variant_comparison", args=["no-such-model"])).status_code == 404


def test_the_card_links_its_owners_to_the_comparison(client, model_owner, developer, ledger):
    link = reverse("portal:variant_comparison", args=["fast-chat"])
    client.force_login(model_owner)
    assert link in client.get(reverse("registry:card", args=["fast-chat"])).content.decode()

    client.force_login(developer)
    assert link not in client.get(reverse("registry:card", args=["fast-chat"])).content.decode()


def test_the_comparison_takes_a_bounded_number_of_queries(django_assert_max_num_queries, api_key, ledger):
    for variant in ("c", "d", "e"):
        call(api_key, variant=variant)

    with django_assert_max_num_queries(7):
        result = variant_comparison(ledger, period_ending_now("7d"))

    assert [v.variant for v in result.variants] == ["a", "b", "c", "d", "e"]


def test_the_p95_by_ranks_matches_percentile_cont(ledger):
    events = UsageEvent.objects.filter(alias="fast-chat", occurred_at__gte=timezone.now() - timedelta(days=7))

    p95 = p95_by_ranks(events)

    assert p95["a"] == pytest.approx(361.5)
    assert p95["b"] == pytest.approx(1000.0)
