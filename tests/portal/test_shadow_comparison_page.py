"""The shadow traffic page: an alias's owners compare its primary answers with its shadow's; nobody else does."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from aiplatform.models import AuditEvent
from aiplatform.roles import PlatformRole
from portal.services.shadow import record_shadow_results
from tests.conftest import PASSWORD
from tests.portal.shadow_arrange import shadow_result


def signed_in(client, user):
    client.login(email=user.email, password=PASSWORD)
    return client


def test_the_owner_sees_the_pairs_and_the_figures(client, model_owner, alias, tenant_a):
    shadow_result(tenant_a, alias, primary_text="The capital is Paris.", shadow_text="Paris, in France.")
    shadow_result(tenant_a, alias, shadow_status=500, shadow_error="bad_gateway", shadow_text="", shadow_cost="0",
                  shadow_prompt_tokens=0, shadow_completion_tokens=0, primary_total_ms=900.0, shadow_ms=5.0)

    page = signed_in(client, model_owner).get(reverse("portal:shadow_comparison"), {"alias": alias.name})

    assert page.status_code == 200
    html = page.content.decode()
    assert "The capital is Paris." in html
    assert "Paris, in France." in html
    assert "failed: 500 bad_gateway" in html
    [figures] = page.context["figures"]
    assert figures.calls == 2
    assert figures.shadow_errors == 1
    assert figures.shadow_error_rate == 0.5
    assert figures.primary_mean_ms == 100.0  # over the pair whose shadow answered
    assert figures.shadow_mean_ms == 300.0
    assert (figures.primary_tokens, figures.shadow_tokens) == (26, 15)
    assert figures.shadow_cost == Decimal("0.0001")
    assert page.context["shadow_cost"] == Decimal("0.0001")
    assert "Shadow traffic (charged to the platform)" in html


def test_answers_are_shown_as_text_never_as_markup(client, model_owner, alias, tenant_a):
    shadow_result(tenant_a, alias, shadow_text="<script>alert(1)</script>", primary_text="<b>bold</b>")

    html = signed_in(client, model_owner).get(reverse("portal:shadow_comparison")).content.decode()

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


def test_a_developer_is_refused(client, developer, alias, tenant_a):
    shadow_result(tenant_a, alias)

    page = signed_in(client, developer).get(reverse("portal:shadow_comparison"))

    assert page.status_code == 403
    assert AuditEvent.objects.filter(action="security.permission_denied", actor=developer).exists()


def test_an_owner_of_another_model_sees_none_of_these_and_is_refused_this_one(client, make_user, make_alias, alias,
                                                                              tenant_a):
    shadow_result(tenant_a, alias, shadow_text="only for fast-chat's owners")
    other_owner = make_user(platform_role=PlatformRole.MODEL_OWNER)
    make_alias("other-chat", owners=[other_owner])
    signed_in(client, other_owner)

    everything = client.get(reverse("portal:shadow_comparison"))
    this_one = client.get(reverse("portal:shadow_comparison"), {"alias": alias.name})

    assert everything.status_code == 200
    assert "only for fast-chat's owners" not in everything.content.decode()
    assert this_one.status_code == 403


def test_a_platform_admin_sees_every_teams_shadow_results(client, platform_admin, alias, tenant_a, make_tenant):
    shadow_result(tenant_a, alias, shadow_text="from alpha's call")
    shadow_result(make_tenant("beta", name="Beta"), alias, shadow_text="from beta's call")

    html = signed_in(client, platform_admin).get(reverse("portal:shadow_comparison")).content.decode()

    assert "from alpha&#x27;s call" in html
    assert "from beta&#x27;s call" in html


def test_results_older_than_the_window_are_left_out(client, model_owner, alias, tenant_a):
    shadow_result(tenant_a, alias, shadow_text="last year", occurred_at=timezone.now() - timedelta(days=365))

    page = signed_in(client, model_owner).get(reverse("portal:shadow_comparison"))

    assert page.context["figures"] == []
    assert "last year" not in page.content.decode()


def test_the_pairs_are_paged_newest_first(client, model_owner, alias, tenant_a):
    now = timezone.now()
    for n in range(25):
        shadow_result(tenant_a, alias, shadow_text=f"answer number {n:02}", occurred_at=now - timedelta(minutes=n))
    signed_in(client, model_owner)

    first = client.get(reverse("portal:shadow_comparison")).content.decode()
    second = client.get(reverse("portal:shadow_comparison"), {"page": 2}).content.decode()

    assert "answer number 00" in first
    assert "answer number 24" not in first
    assert "answer number 24" in second
    assert first.index("answer number 00") < first.index("answer number 01")


def test_the_card_links_its_owner_to_the_page(client, model_owner, alias):
    html = signed_in(client, model_owner).get(reverse("registry:card", args=[alias.name])).content.decode()

    assert f'{reverse("portal:shadow_comparison")}?alias={alias.name}' in html


def test_a_redelivered_batch_is_written_once(alias, tenant_a):
    first = shadow_result(tenant_a, alias)
    again = {"request_id": first.request_id, "occurred_at": first.occurred_at.isoformat(), "tenant_id": tenant_a.pk,
             "alias": alias.name, "streamed": False, "primary_endpoint_id": None, "primary_text": "other",
             "primary_ttfb_ms": None, "primary_total_ms": 1.0, "primary_prompt_tokens": 0,
             "primary_completion_tokens": 0, "primary_cost": "0", "shadow_endpoint_id": None, "shadow_text": "",
             "shadow_ms": 1.0, "shadow_prompt_tokens": 0, "shadow_completion_tokens": 0, "shadow_cost": "0",
             "shadow_status": 200}

    record_shadow_results(results=[again])

    first.refresh_from_db()
    assert first.primary_text == "Paris."


def test_the_platform_spend_page_shows_what_shadow_traffic_cost_the_platform(client, platform_admin, alias,
                                                                             tenant_a):
    shadow_result(tenant_a, alias, shadow_cost="0.25")
    shadow_result(tenant_a, alias, shadow_cost="0.5")

    page = signed_in(client, platform_admin).get(reverse("portal:platform_usage"))

    assert page.status_code == 200
    assert page.context["shadow_spend"] == Decimal("0.75")
    assert page.context["total"].cost == 0  # the teams' spend never includes it
    assert "Shadow traffic (charged to the platform)" in page.content.decode()
