"""The embedded broker never shows a consumer a message that is still being written."""

from __future__ import annotations

import builtins
import os

import pytest
from kombu import Connection
from kombu.transport import filesystem as kombu_filesystem

from aiplatform import broker


def _channel(transport, folder):
    connection = Connection(
        "filesystem://",
        transport=transport,
        transport_options={
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        },
    )
    return connection, connection.default_channel


def _put_while_a_consumer_polls(monkeypatch, channel) -> list:
    """Put one message; in the middle of writing it, let a consumer poll the queue (as the worker does)."""
    seen = []
    real_open = builtins.open

    class WriteThenPoll:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            written = self.f.write(data[: len(data) // 2])
            try:
                seen.append(channel._get("celery"))
            except Exception as exc:  # noqa: BLE001 - what the worker would meet, whatever it is
                seen.append(exc)
            return written + self.f.write(data[len(data) // 2 :])

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.f.__exit__(*exc)

    def opening(path, mode="r", *args, **kwargs):
        f = real_open(path, mode, *args, **kwargs)
        return WriteThenPoll(f) if "w" in mode and str(path).endswith((".msg", broker.PARTIAL_SUFFIX)) else f

    monkeypatch.setattr(builtins, "open", opening)
    channel._put("celery", {"body": "x" * 100_000})
    monkeypatch.setattr(builtins, "open", real_open)
    return seen


def test_kombus_own_transport_shows_a_half_written_message(monkeypatch, tmp_path):
    """The race our transport closes, shown on kombu's: if this starts failing, kombu fixed it upstream."""
    connection, channel = _channel(kombu_filesystem.Transport, tmp_path)
    try:
        seen = _put_while_a_consumer_polls(monkeypatch, channel)
    finally:
        connection.release()

    assert len(seen) == 1 and isinstance(seen[0], ValueError)  # JSONDecodeError: the worker's fatal error


def test_a_message_appears_whole_or_not_at_all(monkeypatch, tmp_path):
    connection, channel = _channel(broker.Transport, tmp_path)
    try:
        seen = _put_while_a_consumer_polls(monkeypatch, channel)
        assert len(seen) == 1 and type(seen[0]).__name__ == "Empty"  # nothing visible mid-write
        assert channel._get("celery") == {"body": "x" * 100_000}  # and whole once written
        assert not [name for name in os.listdir(tmp_path) if name.endswith(broker.PARTIAL_SUFFIX)]
    finally:
        connection.release()


@pytest.mark.smoke
def test_the_embedded_settings_use_it():
    from django.conf import settings

    if settings.CELERY_BROKER_URL != "filesystem://":
        pytest.skip("the full-stack run uses Redis as the broker")
    from aiplatform.celery import app

    with app.connection_for_write() as connection:
        assert isinstance(connection.transport, broker.Transport)
