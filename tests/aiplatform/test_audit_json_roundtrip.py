"""What the database gives back is what was hashed, and ``verify_audit`` names every bad row."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from aiplatform.audit import record_event, verify_chain
from aiplatform.models import AuditEvent

on_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="JSONB's number rewriting is PostgreSQL's")

AWKWARD = {
    "1e16": 1e16,
    "1e20": 1e20,
    "-1e20": -1e20,
    "1.5e300": 1.5e300,
    "-0.0": -0.0,
    "tiny": 1e-7,
    "pi": 3.141592653589793,
    "big int": 2**64 + 1,
    "negative big int": -(2**70),
    "nested": {"list": [1e17, {"deeper": 2.5e25}, -0.0], "ok": 0.1},
}


@pytest.fixture(autouse=True)
def checkpoint_file(settings, tmp_path):
    settings.AUDIT_CHECKPOINT_PATH = tmp_path / "audit_checkpoints.jsonl"


@on_postgres
@pytest.mark.django_db
@pytest.mark.parametrize("key", sorted(AWKWARD))
def test_a_number_postgres_rewrites_still_verifies(key, tenant_a):
    record_event(action="test.number", tenant=tenant_a, changes={"value": AWKWARD[key]})

    assert verify_chain().problems == []


@pytest.mark.smoke
@pytest.mark.django_db
def test_the_stored_changes_are_what_was_recorded(tenant_a):
    row = record_event(action="test.number", tenant=tenant_a, changes=AWKWARD)

    assert AuditEvent.objects.get(pk=row.pk).changes == row.changes


@pytest.mark.smoke
@pytest.mark.django_db
def test_a_float_keeps_its_value(tenant_a):
    row = record_event(action="test.number", tenant=tenant_a, changes={"value": 1e20, "ratio": 0.25})

    stored = AuditEvent.objects.get(pk=row.pk).changes
    assert stored["value"] == 1e20
    assert stored["ratio"] == 0.25


@pytest.mark.smoke
@pytest.mark.django_db
def test_verify_audit_reports_every_bad_row(tenant_a, capsys):
    rows = [record_event(action="test.event", tenant=tenant_a, changes={"n": n}) for n in range(5)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        for victim in (rows[1], rows[3]):
            cursor.execute("UPDATE aiplatform_auditevent SET changes = %s WHERE id = %s", ['{"n": 99}', victim.pk])

    with pytest.raises(CommandError):
        call_command("verify_audit")
    err = capsys.readouterr().err
    assert f"seq {rows[1].seq}: content does not match" in err
    assert f"seq {rows[3].seq}: content does not match" in err
