"""OpenAI's Files API through the real gateway, with the official SDK: upload, list, retrieve, content, delete;
per tenant, bounded, and every answer strictly an SDK ``FileObject``."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import orjson
import pytest
from django.conf import settings
from openai.types import FileObject

from portal.models import UploadedFile
from tests.servers import start_server

pytestmark = pytest.mark.integration

LINES = b"".join(orjson.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions",
                               "body": {"model": "fast-chat", "messages": [{"role": "user", "content": f"Hi {i}"}]}})
                 + b"\n" for i in range(3))


@pytest.fixture
def client(gateway):
    return openai.OpenAI(base_url=gateway.url, api_key=gateway.key, max_retries=0)


def strict_file(raw: dict) -> FileObject:
    found = FileObject.model_validate(raw, strict=True)
    assert set(raw) <= set(FileObject.model_fields), set(raw) - set(FileObject.model_fields)
    return found


@pytest.mark.smoke
def test_upload_list_retrieve_download_delete(client, real_server):
    raw = client.files.with_raw_response.create(file=("requests.jsonl", LINES), purpose="batch")
    uploaded = strict_file(orjson.loads(raw.http_response.content))
    assert (uploaded.filename, uploaded.bytes, uploaded.purpose, uploaded.status) == (
        "requests.jsonl", len(LINES), "batch", "processed")
    assert uploaded.id.startswith("file-") and uploaded.expires_at - uploaded.created_at == 30 * 86400

    assert [f.id for f in client.files.list()] == [uploaded.id]
    assert [f.id for f in client.files.list(purpose="batch")] == [uploaded.id]
    assert client.files.retrieve(uploaded.id) == uploaded
    assert client.files.content(uploaded.id).read() == LINES

    stored = Path(settings.FILES_DIR) / UploadedFile.objects.get(pk=uploaded.id).storage_name
    assert stored.read_bytes() == LINES  # in the files storage every server of the session shares (FILES_DIR)
    deleted = client.files.delete(uploaded.id)
    assert deleted.deleted and deleted.id == uploaded.id
    assert not stored.exists()  # the bytes went with the row
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(uploaded.id)


def test_files_are_listed_newest_first_and_paged(client):
    ids = [client.files.create(file=(f"f{i}.jsonl", LINES), purpose="batch").id for i in range(3)]
    assert [f.id for f in client.files.list()] == ids[::-1]
    first = client.files.list(limit=2)
    assert [f.id for f in first.data] == ids[:0:-1] and first.has_more
    assert [f.id for f in client.files.list(limit=2, after=ids[1])] == [ids[0]]
    assert [f.id for f in client.files.list(order="asc")] == ids


def test_a_key_never_sees_another_teams_files(client, gateway):
    mine = client.files.create(file=("mine.jsonl", LINES), purpose="batch")
    theirs = openai.OpenAI(base_url=gateway.url, api_key=gateway.other_key, max_retries=0)
    assert list(theirs.files.list()) == []
    for attempt in (lambda: theirs.files.retrieve(mine.id), lambda: theirs.files.content(mine.id),
                    lambda: theirs.files.delete(mine.id)):
        with pytest.raises(openai.NotFoundError):
            attempt()
    assert client.files.retrieve(mine.id).id == mine.id


def test_expires_after_keeps_a_file_for_less(client):
    short = client.files.create(file=("short.jsonl", LINES), purpose="batch",
                                expires_after={"anchor": "created_at", "seconds": 3600})
    assert short.expires_at - short.created_at == 3600


def test_a_file_over_the_limit_is_413_and_leaves_nothing(gateway, tmp_path):
    before = UploadedFile.objects.count()
    stored = tmp_path / "files"
    with start_server(env={"FILES_MAX_BYTES": "4096", "FILES_DIR": str(stored)}, worker=False) as small:
        answer = httpx.post(small.base_url + "/v1/files", headers={"authorization": f"Bearer {gateway.key}"},
                            files={"file": ("big.jsonl", b"x" * 5000)}, data={"purpose": "batch"})
        assert not stored.exists() or not any(p.is_file() for p in stored.rglob("*"))  # no bytes kept either
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"]["type"]
    assert UploadedFile.objects.count() == before


@pytest.mark.parametrize(("files", "data", "status", "param"), [
    ({"file": ("a.jsonl", LINES)}, {}, 400, "purpose"),
    ({"file": ("a.jsonl", LINES)}, {"purpose": "fine-tune"}, 400, "purpose"),
    ({}, {"purpose": "batch"}, 400, "file"),
    ({"file": ("a.jsonl", b"")}, {"purpose": "batch"}, 400, "file"),
    ({"file": ("a.jsonl", LINES)}, {"purpose": "batch", "expires_after[anchor]": "created_at",
                                    "expires_after[seconds]": "12"}, 400, "expires_after.seconds"),
])
def test_bad_uploads_are_400_naming_the_field(gateway, files, data, status, param):
    answer = httpx.post(gateway.url + "/files", headers={"authorization": f"Bearer {gateway.key}"},
                        files=files or {"other": ("x", b"y")}, data=data)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["param"] == param


def test_not_multipart_is_415_and_a_bad_key_401(gateway):
    answer = gateway.post("/files", json={"purpose": "batch"})
    assert answer.status_code == 415
    refused = httpx.post(gateway.url + "/files", headers={"authorization": "Bearer sb-wrong"},
                         files={"file": ("a.jsonl", LINES)}, data={"purpose": "batch"})
    assert refused.status_code == 401
    assert gateway.get("/files/file-unknown").status_code == 404
    assert gateway.get("/files/file-unknown/content").status_code == 404
