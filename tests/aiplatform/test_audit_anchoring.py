"""The trail cannot be emptied, cut short or re-hashed without ``verify_audit`` saying so.

The chain is keyed (HMAC with ``AUDIT_HMAC_KEY``), so rows re-hashed without the key fail;
its head is written to signed checkpoints, so removing the newest rows (or all of them) fails.
"""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import override_settings

from aiplatform.audit import compute_hash, record_event
from aiplatform.models import AuditEvent

on_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="the triggers exist on PostgreSQL only")


@pytest.fixture(autouse=True)
def checkpoint_file(settings, tmp_path):
    """Each test anchors its own trail: the rows of one test are rolled back before the next."""
    settings.AUDIT_CHECKPOINT_PATH = tmp_path / "audit_checkpoints.jsonl"
    return settings.AUDIT_CHECKPOINT_PATH


def _bypassing_triggers(sql: str, params: list | None = None) -> None:
    """What a DBA with direct table access could do behind the application's back."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")  # skips ordinary triggers
        cursor.execute(sql, params or [])


@pytest.fixture
def events(tenant_a):
    for n in range(4):
        record_event(action="test.event", tenant=tenant_a, changes={"n": n})
    return list(AuditEvent.objects.order_by("seq"))


@on_postgres
@pytest.mark.django_db
def test_postgres_refuses_truncate(events):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL switchboard.allow_audit_truncate = off")  # the test suite's flush opts in
            cursor.execute("TRUNCATE aiplatform_auditevent")


@pytest.mark.smoke
@pytest.mark.django_db
def test_removing_the_newest_rows_after_a_checkpoint_is_reported(events):
    call_command("verify_audit")  # checkpoints the head
    _bypassing_triggers("DELETE FROM aiplatform_auditevent WHERE seq >= %s", [events[-2].seq])

    with pytest.raises(CommandError, match="broken"):
        call_command("verify_audit")


@pytest.mark.django_db
def test_emptying_the_trail_after_a_checkpoint_is_reported(events, capsys):
    call_command("verify_audit")
    _bypassing_triggers("DELETE FROM aiplatform_auditevent")

    with pytest.raises(CommandError):
        call_command("verify_audit")
    assert f"checkpointed at seq {events[-1].seq}" in capsys.readouterr().err


@pytest.mark.django_db
def test_the_beat_task_checkpoints_the_head(events, checkpoint_file):
    from aiplatform.tasks import write_audit_checkpoint

    write_audit_checkpoint()

    latest = json.loads(checkpoint_file.read_text().splitlines()[-1])
    assert (latest["seq"], latest["hash"]) == (events[-1].seq, events[-1].hash)


@pytest.mark.django_db
def test_the_beat_task_does_not_checkpoint_a_trail_cut_short(events, checkpoint_file):
    from aiplatform.tasks import write_audit_checkpoint

    write_audit_checkpoint()
    _bypassing_triggers("DELETE FROM aiplatform_auditevent WHERE seq = %s", [events[-1].seq])
    write_audit_checkpoint()

    assert len(checkpoint_file.read_text().splitlines()) == 1


@pytest.mark.smoke
@pytest.mark.django_db
def test_rows_rehashed_without_the_key_are_reported(events, capsys):
    """Edit a row and recompute every following hash, knowing the algorithm but not the key."""
    call_command("verify_audit")
    prev_hash = events[0].hash
    with override_settings(AUDIT_HMAC_KEY="the attacker's guess"):
        for row in events[1:]:
            if row.seq == events[1].seq:
                row.changes = {"n": "forged"}
            row.prev_hash = prev_hash
            row.hash = prev_hash = compute_hash(row)
            _bypassing_triggers(
                "UPDATE aiplatform_auditevent SET changes = %s, prev_hash = %s, hash = %s WHERE id = %s",
                [json.dumps(row.changes), row.prev_hash, row.hash, row.pk],
            )

    with pytest.raises(CommandError):
        call_command("verify_audit")
    err = capsys.readouterr().err
    assert f"seq {events[1].seq}: content does not match" in err


@pytest.mark.django_db
def test_a_checkpoint_line_not_signed_with_the_key_is_reported(events, checkpoint_file, capsys):
    call_command("verify_audit")
    line = json.loads(checkpoint_file.read_text().splitlines()[-1])
    line["seq"] = events[1].seq  # pretend the trail was shorter then
    with checkpoint_file.open("a") as f:
        f.write(json.dumps(line) + "\n")

    with pytest.raises(CommandError):
        call_command("verify_audit")
    assert "not signed with this key" in capsys.readouterr().err
