"""Re-hash the existing audit trail with the keyed hash (HMAC-SHA256 with ``AUDIT_HMAC_KEY``).

Why re-hash rather than mark old rows as unkeyed: with a version marker, verification would
still accept unkeyed SHA-256 for marked rows, and the marker is a column anyone who can write
the table can set, so the whole trail could be "downgraded" and rewritten without the key.
Re-hashing leaves one algorithm to verify. It also re-anchors the rows whose large floats
PostgreSQL had rewritten (they could never verify again). What the old, unkeyed check finds
at this moment is not lost: it is printed and written, keyed, into the trail itself as an
``audit.chain_rekeyed`` event (rows re-hashed, and each problem). The content of every row
is left exactly as stored; only ``prev_hash`` and ``hash`` change.

Frozen here on purpose (a migration must not follow later changes to aiplatform/audit.py).
"""

import hashlib
import hmac
import json

from django.conf import settings
from django.db import migrations
from django.utils import timezone

GENESIS_HASH = "0" * 64
MAX_RECORDED_PROBLEMS = 1000


def _canonical(event):
    return json.dumps(event, sort_keys=True, separators=(",", ":"), default=str).encode()


def _hashed_fields(row):
    return {
        "seq": row.seq,
        "occurred_at": row.occurred_at.isoformat(),
        "actor_id": row.actor_id,
        "actor_label": row.actor_label,
        "tenant_id": row.tenant_id,
        "action": row.action,
        "target_type": row.target_type,
        "target_id": row.target_id,
        "target_label": row.target_label,
        "changes": row.changes,
        "ip": row.ip,
        "request_id": row.request_id,
        "prev_hash": row.prev_hash,
    }


def _unkeyed(row):
    return hashlib.sha256(_canonical(_hashed_fields(row))).hexdigest()


def _keyed(row):
    return hmac.new(settings.AUDIT_HMAC_KEY.encode(), _canonical(_hashed_fields(row)), hashlib.sha256).hexdigest()


def _legacy_problems(rows):
    problems, expected_seq, expected_prev = [], 1, GENESIS_HASH
    for row in rows:
        if row.seq != expected_seq:
            problems.append({"seq": expected_seq, "reason": f"rows {expected_seq}-{row.seq - 1} were missing"})
        elif row.prev_hash != expected_prev:
            problems.append({"seq": row.seq, "reason": "did not link to the row before it"})
        if _unkeyed(row) != row.hash:
            problems.append({"seq": row.seq, "reason": "content did not match its unkeyed hash"})
        expected_seq, expected_prev = row.seq + 1, row.hash
    return problems


def rekey(apps, schema_editor):
    AuditEvent = apps.get_model("aiplatform", "AuditEvent")
    rows = list(AuditEvent.objects.order_by("seq"))
    if not rows:
        return
    problems = _legacy_problems(rows)
    for problem in problems:
        print(f"\n  audit trail before re-keying: seq {problem['seq']}: {problem['reason']}", end="")
    postgres = schema_editor.connection.vendor == "postgresql"
    if postgres:  # inside this migration's transaction: nobody else ever sees the trigger off
        schema_editor.execute("ALTER TABLE aiplatform_auditevent DISABLE TRIGGER aiplatform_audit_append_only")
    prev_hash = GENESIS_HASH
    for row in rows:
        row.prev_hash = prev_hash
        row.hash = prev_hash = _keyed(row)
        AuditEvent.objects.filter(pk=row.pk).update(prev_hash=row.prev_hash, hash=row.hash)
    if postgres:
        schema_editor.execute("ALTER TABLE aiplatform_auditevent ENABLE TRIGGER aiplatform_audit_append_only")
    event = AuditEvent(
        seq=rows[-1].seq + 1,
        occurred_at=timezone.now(),
        actor_label="system",
        action="audit.chain_rekeyed",
        changes={"rekeyed_rows": len(rows), "legacy_problems": problems[:MAX_RECORDED_PROBLEMS],
                 "legacy_problem_count": len(problems)},
        prev_hash=prev_hash,
    )
    event.hash = _keyed(event)
    event.save(force_insert=True)


class Migration(migrations.Migration):
    dependencies = [("aiplatform", "0004_audit_refuse_truncate")]
    # Backwards: the rows keep their keyed hashes (the unkeyed chain is not worth restoring).
    operations = [migrations.RunPython(rekey, migrations.RunPython.noop)]
