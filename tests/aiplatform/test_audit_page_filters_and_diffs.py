"""The audit page shows who did what to which object with a readable diff, filters and pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from aiplatform import services
from aiplatform.audit import record_event
from aiplatform.audit_diff import ChangeLine, change_lines
from aiplatform.models import AuditEvent
from aiplatform.roles import PlatformRole, TenantRole


@pytest.fixture
def auditor_client(client, make_user):
    client.force_login(make_user("audit@example.com", platform_role=PlatformRole.AUDITOR))
    return client


@pytest.mark.smoke
def test_a_role_change_reads_as_before_and_after(auditor_client, tenant_a, make_member):
    member = make_member(tenant_a, TenantRole.DEVELOPER, email="dev@example.com")
    membership = member.memberships.get()
    services.change_member_role(actor=None, membership=membership, role=TenantRole.ADMIN)

    page = auditor_client.get("/audit/?action=membership.change_role").text

    assert "<del>developer</del> → <ins>admin</ins>" in page
    assert "{&#x27;" not in page  # no raw Python dict
    assert "membership.change_role" in page


def test_change_lines_tell_changes_from_facts():
    lines = change_lines({"role": ["developer", "admin"], "user": "dev@example.com", "limits": {"rpm": [1, 2]}},
                         action="membership.change_role")

    assert lines == [ChangeLine("role", "developer", "admin"), ChangeLine("user", None, "dev@example.com"),
                     ChangeLine("limits.rpm", "1", "2")]


def test_a_creation_lists_values_not_changes():
    assert change_lines({"owners": ["a@x.org", "b@x.org"]}, action="alias.create") == [
        ChangeLine("owners", None, "a@x.org, b@x.org")]


def test_filter_by_actor(auditor_client, make_user):
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    record_event(action="test.by_alice", actor=alice)
    record_event(action="test.by_bob", actor=bob)

    page = auditor_client.get("/audit/?actor=alice").text

    assert "test.by_alice" in page
    assert "test.by_bob" not in page


def test_filter_by_team(auditor_client, tenant_a, tenant_b):
    record_event(action="test.alpha_event", tenant=tenant_a)
    record_event(action="test.bravo_event", tenant=tenant_b)

    page = auditor_client.get(f"/audit/?tenant={tenant_b.slug}").text

    assert "test.bravo_event" in page
    assert "test.alpha_event" not in page


def test_filter_by_dates(auditor_client):
    record_event(action="test.today")
    today = timezone.now().date()

    included = auditor_client.get(f"/audit/?since={today}&until={today}").text
    excluded = auditor_client.get(f"/audit/?until={today - timedelta(days=1)}").text

    assert "test.today" in included
    assert "test.today" not in excluded


def test_a_reversed_date_range_is_a_field_error(auditor_client):
    response = auditor_client.get("/audit/?since=2026-12-02&until=2026-12-01")

    assert response.context["form"].errors["until"] == ["The end is before the start."]


def test_a_team_admin_may_filter_only_by_their_teams(client, tenant_a, tenant_b, make_member):
    client.force_login(make_member(tenant_a, TenantRole.ADMIN))

    teams = list(client.get("/audit/").context["form"].fields["tenant"].queryset)

    assert teams == [tenant_a]


def test_pages_keep_the_filters(auditor_client):
    for n in range(51):
        record_event(action=f"test.paged_{n}")

    first = auditor_client.get("/audit/?action=test.paged").text
    second = auditor_client.get("/audit/?action=test.paged&page=2").text

    assert 'href="?page=2&amp;action=test.paged"' in first
    assert "Page 2 of 2" in second
    assert AuditEvent.objects.filter(action__startswith="test.paged").count() == 51
