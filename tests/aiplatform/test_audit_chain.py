"""The audit trail is append-only and hash-chained; tampering is detected."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from aiplatform.audit import record_event, verify_chain
from aiplatform.models import AuditEvent

on_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only")


def _bypassing_triggers(sql: str, params: list) -> None:
    """Do what a DBA with direct table access could: change rows behind the application's back."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")  # skips ordinary triggers
        cursor.execute(sql, params)


@pytest.fixture(autouse=True)
def checkpoint_file(settings, tmp_path):
    """Each test anchors its own trail: the rows of one test are rolled back before the next."""
    settings.AUDIT_CHECKPOINT_PATH = tmp_path / "audit_checkpoints.jsonl"


@pytest.fixture
def three_events(tenant_a, make_member):
    alice = make_member(tenant_a)
    before = AuditEvent.objects.count()
    for n in range(3):
        record_event(action="test.event", actor=alice, tenant=tenant_a, changes={"n": n})
    return list(AuditEvent.objects.order_by("seq")[before:])


@pytest.mark.smoke
@pytest.mark.django_db
def test_events_form_a_chain(three_events):
    first, second, third = three_events
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert [e.seq for e in three_events] == [first.seq, first.seq + 1, first.seq + 2]
    report = verify_chain()
    assert report.problems == []
    assert report.checked == AuditEvent.objects.count()


@pytest.mark.smoke
@pytest.mark.django_db
def test_a_modified_row_is_reported(three_events, capsys):
    victim = three_events[1]
    _bypassing_triggers("UPDATE aiplatform_auditevent SET changes = %s WHERE id = %s", ['{"n": 99}', victim.pk])

    with pytest.raises(CommandError, match="Audit trail broken: 1 problem"):
        call_command("verify_audit")
    assert f"seq {victim.seq}: content does not match" in capsys.readouterr().err


@pytest.mark.django_db
def test_a_deleted_row_is_reported(three_events):
    victim = three_events[1]
    _bypassing_triggers("DELETE FROM aiplatform_auditevent WHERE id = %s", [victim.pk])

    assert [(p.seq, p.reason) for p in verify_chain().problems] == [(victim.seq, f"row {victim.seq} is missing")]


@pytest.mark.django_db
def test_a_row_rewritten_with_a_fresh_hash_breaks_the_next_link(three_events):
    from aiplatform.audit import compute_hash

    victim = three_events[0]
    victim.changes = {"n": "forged"}
    forged_hash = compute_hash(victim)
    _bypassing_triggers(
        "UPDATE aiplatform_auditevent SET changes = %s, hash = %s WHERE id = %s",
        ['{"n": "forged"}', forged_hash, victim.pk],
    )

    problems = verify_chain().problems
    assert [p.seq for p in problems] == [three_events[1].seq]
    assert "does not link" in problems[0].reason


@pytest.mark.django_db
def test_verify_audit_reports_an_intact_trail(three_events, capsys):
    call_command("verify_audit")
    assert "Audit trail intact" in capsys.readouterr().out


@on_postgres
@pytest.mark.django_db
def test_postgres_refuses_update(three_events):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=three_events[0].pk).update(action="tampered")


@on_postgres
@pytest.mark.django_db
def test_postgres_refuses_delete(three_events):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=three_events[0].pk).delete()


@pytest.mark.django_db
def test_an_event_is_rolled_back_with_the_change_it_describes(tenant_a):
    before = AuditEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        record_event(action="test.rolled_back", tenant=tenant_a)
        raise RuntimeError("the change failed")
    assert AuditEvent.objects.count() == before
    assert verify_chain().problems == []


@pytest.mark.django_db
def test_an_event_from_a_request_carries_its_ip_and_request_id(client, tenant_a, tenant_b, make_member):
    alice = make_member(tenant_a)
    client.force_login(alice)

    response = client.get(f"/teams/{tenant_b.slug}/", REMOTE_ADDR="10.1.2.3")

    event = AuditEvent.objects.get(action="security.cross_tenant_access")
    assert event.request_id == response["x-request-id"]
    assert (event.ip, event.actor_label) == ("10.1.2.3", alice.email)
