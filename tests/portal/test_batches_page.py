"""The team's batches page: who sees what, who may cancel, and the files behind the links; the validation of an
input file, run in process (the integration tests run whole batches through the real gateway)."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from aiplatform.models import AuditEvent
from aiplatform.roles import TenantRole
from portal.models import Batch, BatchLine, BatchStatus
from portal.services.batches import finalize_batch, validate_batch
from portal.services.files import store_file
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _file(tenant, key, content: bytes, purpose: str = "batch"):
    return store_file(tenant_id=tenant.pk, application_id=key.application_id, key_id=key.pk, purpose=purpose,
                      filename="in.jsonl", content=ContentFile(content, name="in.jsonl"), size=len(content),
                      keep_seconds=3600)


def _batch(tenant, key, content: bytes) -> Batch:
    source = _file(tenant, key, content)
    return Batch.objects.create(id=f"batch_{source.pk[-24:]}", tenant=tenant, application_id=key.application_id,
                                key_id=key.pk, endpoint="/v1/chat/completions", input_file_id=source.pk,
                                expires_at=timezone.now() + timedelta(hours=24))


def _line(i: int, model: str = "fast-chat") -> bytes:
    return orjson.dumps({"custom_id": f"c{i}", "method": "POST", "url": "/v1/chat/completions",
                         "body": {"model": model, "messages": [{"role": "user", "content": "hi"}]}}) + b"\n"


def test_validation_keeps_every_line_or_none(tenant_a, api_key):
    good = _batch(tenant_a, api_key, _line(1) + b"\n" + _line(2))  # a blank line is no request
    assert validate_batch(good)
    good.refresh_from_db()
    assert (good.status, good.total, good.model) == (BatchStatus.IN_PROGRESS, 2, "fast-chat")
    assert list(BatchLine.objects.filter(batch=good).values_list("number", "custom_id")) == [(1, "c1"), (3, "c2")]

    bad = _batch(tenant_a, api_key, _line(1) + _line(2, "not-subscribed"))
    assert not validate_batch(bad)
    bad.refresh_from_db()
    assert bad.status == BatchStatus.FAILED and not BatchLine.objects.filter(batch=bad).exists()
    assert [(e["line"], e["code"]) for e in bad.errors] == [(2, "model_not_found")]


def test_members_watch_developers_cancel_other_teams_see_nothing(client, tenant_a, tenant_b, api_key, developer,
                                                                make_member):
    batch = _batch(tenant_a, api_key, _line(1))
    validate_batch(batch)
    viewer = make_member(tenant_a, TenantRole.VIEWER, email="viewer@example.com")
    outsider = make_member(tenant_b, TenantRole.ADMIN, email="outsider@example.com")

    client.login(email=viewer.email, password=PASSWORD)
    page = client.get(f"/portal/teams/{tenant_a.slug}/batches/")
    assert page.status_code == 200 and batch.pk in page.content.decode()
    assert b"Cancel</button>" not in page.content and b'hx-trigger="every 2s"' in page.content  # it polls
    assert client.post(f"/portal/batches/{batch.pk}/cancel").status_code == 404

    client.login(email=outsider.email, password=PASSWORD)
    assert client.get(f"/portal/teams/{tenant_a.slug}/batches/").status_code == 404
    for url in (f"/portal/batches/{batch.pk}/row", f"/portal/batches/{batch.pk}/files/output"):
        assert client.get(url).status_code == 404
    assert client.post(f"/portal/batches/{batch.pk}/cancel").status_code == 404

    client.login(email=developer.email, password=PASSWORD)
    assert b"Cancel</button>" in client.get(f"/portal/teams/{tenant_a.slug}/batches/").content
    assert client.post(f"/portal/batches/{batch.pk}/cancel").status_code == 302
    batch.refresh_from_db()
    assert batch.status == BatchStatus.CANCELLING and batch.cancelling_at
    assert AuditEvent.objects.filter(action="batch.cancel", actor=developer).exists()


def test_an_ended_batch_stops_polling_and_serves_its_files(client, tenant_a, api_key, developer):
    batch = _batch(tenant_a, api_key, _line(1) + _line(2))
    validate_batch(batch)
    BatchLine.objects.filter(batch=batch, number=1).update(state="answered", status_code=200, response={"ok": 1},
                                                           request_id="batch_req_1")
    BatchLine.objects.filter(batch=batch, number=2).update(state="not_run", error_code="batch_expired",
                                                           error_message="too late")
    Batch.objects.filter(pk=batch.pk).update(completed=1, failed=1)
    finalize_batch(batch.pk, BatchStatus.COMPLETED)
    client.login(email=developer.email, password=PASSWORD)
    row = client.get(f"/portal/batches/{batch.pk}/row")
    assert row.status_code == 200 and b"hx-trigger" not in row.content and b"completed" in row.content
    output = b"".join(client.get(f"/portal/batches/{batch.pk}/files/output").streaming_content)
    assert [orjson.loads(x)["response"]["body"] for x in output.splitlines()] == [{"ok": 1}]
    errors = b"".join(client.get(f"/portal/batches/{batch.pk}/files/errors").streaming_content)
    assert orjson.loads(errors)["error"] == {"code": "batch_expired", "message": "too late"}
