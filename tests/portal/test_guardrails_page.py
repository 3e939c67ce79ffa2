"""The guardrails dashboard: auditors see every team's decisions, a team's admins their own team's, others none;
the filters narrow the counts; a call's payload is read by auditors only, and the reading is audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from aiplatform.models import AuditEvent
from aiplatform.roles import PlatformRole, TenantRole
from tests.conftest import PASSWORD
from tests.portal.guardrails_arrange import decided_call, decision, team_key

pytestmark = pytest.mark.django_db

URL = "/portal/guardrails/"


def signed_in(client, user):
    client.login(email=user.email, password=PASSWORD)
    return client


@pytest.fixture
def auditor(make_user):
    return make_user("auditor@example.com", platform_role=PlatformRole.AUDITOR)


@pytest.fixture
def keys(tenant_a, tenant_b):
    return team_key(tenant_a), team_key(tenant_b)


@pytest.fixture
def decided(keys):
    """Alpha: three e-mails masked on one call, a card blocked on another; Bravo: an injection flagged."""
    alpha, bravo = keys
    decided_call(alpha, decision("email", "mask", count=3))
    blocked = decided_call(alpha, decision("email", "mask"), decision("payment_card", "block"))
    decided_call(bravo, decision("prompt_injection", "flag", policy="injection-guard"), alias="slow-chat")
    return blocked


def _rules(page) -> dict[tuple[str, str, str, str], tuple[int, int]]:
    return {(r.policy, r.stage, r.detector, r.action): (r.count, r.calls) for r in page.context["rules"]}


def test_an_auditor_sees_which_rules_fire_most_across_every_team(client, auditor, decided):
    page = signed_in(client, auditor).get(URL)

    assert page.status_code == 200
    assert _rules(page) == {
        ("pii-basic", "input", "email", "mask"): (4, 2),
        ("pii-basic", "input", "payment_card", "block"): (1, 1),
        ("injection-guard", "input", "prompt_injection", "flag"): (1, 1),
    }
    assert page.context["rules"][0].detector == "email"  # most matches first
    assert page.context["rules"][0].share == pytest.approx(4 / 6)
    assert page.context["total"] == 6


def test_a_team_admin_sees_only_their_teams_decisions(client, tenant_a, make_member, decided):
    admin = make_member(tenant_a, TenantRole.ADMIN)

    page = signed_in(client, admin).get(URL)

    assert page.status_code == 200
    assert ("injection-guard", "input", "prompt_injection", "flag") not in _rules(page)
    assert _rules(page)[("pii-basic", "input", "email", "mask")] == (4, 2)
    assert "slow-chat" not in page.context["aliases"]


def test_a_team_admin_cannot_filter_to_another_team(client, tenant_a, make_member, decided):
    admin = make_member(tenant_a, TenantRole.ADMIN)

    page = signed_in(client, admin).get(URL, {"tenant": "bravo"})

    assert page.status_code == 400
    assert b"prompt_injection" not in page.content


@pytest.mark.parametrize("role", [TenantRole.VIEWER, TenantRole.DEVELOPER])
def test_team_members_below_admin_are_refused_and_the_refusal_audited(client, tenant_a, make_member, decided, role):
    member = make_member(tenant_a, role)

    page = signed_in(client, member).get(URL)

    assert page.status_code == 403
    assert AuditEvent.objects.filter(action="security.permission_denied", actor=member,
                                     changes__attempted="guardrails.view").exists()


def test_the_period_filter_leaves_out_older_decisions(client, auditor, keys):
    alpha, _ = keys
    decided_call(alpha, decision("email", "mask"), ago=timedelta(hours=2))
    decided_call(alpha, decision("iban", "mask"), ago=timedelta(days=3))
    decided_call(alpha, decision("jwt", "block"), ago=timedelta(days=20))
    client = signed_in(client, auditor)

    def detectors(period):
        return {r.detector for r in client.get(URL, {"period": period}).context["rules"]}

    assert detectors("24h") == {"email"}
    assert detectors("7d") == {"email", "iban"}
    assert detectors("30d") == {"email", "iban", "jwt"}


def test_team_alias_and_action_filters_narrow_the_counts(client, auditor, decided):
    client = signed_in(client, auditor)

    by_team = client.get(URL, {"tenant": "bravo"})
    by_alias = client.get(URL, {"alias": "fast-chat"})
    by_action = client.get(URL, {"action": "block"})

    assert set(_rules(by_team)) == {("injection-guard", "input", "prompt_injection", "flag")}
    assert {k[2] for k in _rules(by_alias)} == {"email", "payment_card"}
    assert set(_rules(by_action)) == {("pii-basic", "input", "payment_card", "block")}


def test_each_day_of_the_period_has_a_row_with_its_counts(client, auditor, keys):
    alpha, _ = keys
    decided_call(alpha, decision("email", "mask", count=2), ago=timedelta(days=2))
    decided_call(alpha, decision("payment_card", "block"), ago=timedelta(minutes=1))

    days = signed_in(client, auditor).get(URL, {"period": "7d"}).context["days"]

    assert len(days) == 8  # seven days back and today, in UTC days
    assert days[-1].by_action["block"] == 1
    assert days[-3].by_action["mask"] == 2
    assert sum(d.calls for d in days) == 2


def test_the_latest_blocked_calls_are_listed_with_their_rule(client, auditor, decided):
    page = signed_in(client, auditor).get(URL)

    [blocked] = page.context["blocked"]
    assert blocked.request_id == decided
    assert blocked.detector == "payment_card"
    assert decided in page.content.decode()


def test_an_auditor_reads_a_calls_payload_with_its_mode_and_the_reading_is_audited(client, auditor, keys):
    alpha, _ = keys
    request_id = decided_call(alpha, decision("payment_card", "block"), payload={
        "mode": "redacted", "request": "my card is <script>x</script>", "response": None, "messages": 1,
        "chars": 28, "images": 0})
    client = signed_in(client, auditor)

    dashboard = client.get(URL).content.decode()
    page = client.get(reverse("portal:guardrails_payload", args=[request_id]))

    assert reverse("portal:guardrails_payload", args=[request_id]) in dashboard
    assert page.status_code == 200
    html = page.content.decode()
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert "<script>x</script>" not in html
    assert "redacted</strong> mode" in html
    viewed = AuditEvent.objects.get(action="guardrail.payload_viewed")
    assert viewed.actor == auditor
    assert viewed.changes == {"request_id": request_id, "mode": "redacted"}


@pytest.mark.parametrize("who", ["platform admin", "team admin"])
def test_only_auditors_read_payloads(client, platform_admin, tenant_a, make_member, keys, who):
    alpha, _ = keys
    request_id = decided_call(alpha, decision("email", "mask"), payload={
        "mode": "full", "request": "ann@example.com", "response": "ok", "messages": 1, "chars": 15, "images": 0})
    user = platform_admin if who == "platform admin" else make_member(tenant_a, TenantRole.ADMIN)

    page = signed_in(client, user).get(reverse("portal:guardrails_payload", args=[request_id]))

    assert page.status_code == 403
    assert b"ann@example.com" not in page.content


def test_a_call_without_a_payload_is_a_404_for_an_auditor(client, auditor):
    assert signed_in(client, auditor).get(reverse("portal:guardrails_payload", args=["nope"])).status_code == 404


def test_the_menu_links_the_pages_for_those_who_may_see_them(client, tenant_a, make_member, auditor):
    admin, viewer = make_member(tenant_a, TenantRole.ADMIN), make_member(tenant_a, TenantRole.VIEWER)
    dashboard, dry_run = f'href="{URL}"', 'href="/portal/guardrails/dry-run/"'

    as_admin = signed_in(client, admin).get("/portal/").content.decode()
    as_viewer = signed_in(client, viewer).get("/portal/").content.decode()

    assert dashboard in as_admin
    assert dry_run in as_admin
    assert dashboard not in as_viewer
    assert dry_run not in as_viewer
