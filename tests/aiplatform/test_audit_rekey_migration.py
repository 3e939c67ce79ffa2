"""Rows written before the chain was keyed are re-hashed once, and what was wrong with them is kept."""

from __future__ import annotations

import hashlib
import importlib
import json

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone

from aiplatform.audit import GENESIS_HASH, _canonical, _hashed_fields, verify_chain
from aiplatform.models import AuditEvent

rekey = importlib.import_module("aiplatform.migrations.0005_audit_chain_keyed").rekey


@pytest.fixture(autouse=True)
def checkpoint_file(settings, tmp_path):
    settings.AUDIT_CHECKPOINT_PATH = tmp_path / "audit_checkpoints.jsonl"


class _SchemaEditor:
    """What the migration uses of one, inside the test's transaction (SQLite refuses a real one there)."""

    connection = connection

    def execute(self, sql: str, params=None) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def _write_unkeyed_trail(changes_list: list[dict]) -> None:
    """Rows as the previous release wrote them: unkeyed SHA-256 over the Python value."""
    prev = GENESIS_HASH
    for seq, changes in enumerate(changes_list, start=1):
        row = AuditEvent(seq=seq, occurred_at=timezone.now(), actor_label="system", action="legacy.event",
                         changes=changes, prev_hash=prev)
        row.hash = prev = hashlib.sha256(_canonical(_hashed_fields(row))).hexdigest()
        row.save(force_insert=True)


@pytest.mark.smoke
@pytest.mark.django_db
def test_an_unkeyed_trail_verifies_after_rekeying():
    _write_unkeyed_trail([{"n": 1}, {"n": 2}, {"n": 3}])
    assert verify_chain().problems != []

    rekey(apps, _SchemaEditor())

    assert verify_chain().problems == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="JSONB's number rewriting is PostgreSQL's")
@pytest.mark.django_db
def test_rekeying_records_what_the_unkeyed_check_found():
    _write_unkeyed_trail([{"n": 1}, {"value": 1e20}, {"n": 3}])  # PostgreSQL stores 1e20 as 10**20

    rekey(apps, _SchemaEditor())

    event = AuditEvent.objects.get(action="audit.chain_rekeyed")
    assert event.seq == 4
    assert event.changes["legacy_problems"] == [{"seq": 2, "reason": "content did not match its unkeyed hash"}]
    assert verify_chain().problems == []
    assert json.loads(json.dumps(event.changes))["rekeyed_rows"] == 3
