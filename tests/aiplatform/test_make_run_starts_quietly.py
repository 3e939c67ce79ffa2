"""`make run` starts without noise a newcomer would worry about: no broker hostname or worker-as-root warnings."""

from __future__ import annotations

import logging
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from kombu import Connection

ROOT = Path(__file__).resolve().parents[2]
ROOT_WARNING = "You're running the worker with superuser privileges: this is\nabsolutely not recommended!"


@pytest.mark.smoke
def test_the_embedded_broker_needs_no_hostname(tmp_path, caplog):
    folders = {name: str(tmp_path) for name in ("data_folder_in", "data_folder_out", "processed_folder",
                                                 "control_folder")}
    connection = Connection("filesystem://", transport="aiplatform.broker:Transport", transport_options=folders)

    with caplog.at_level(logging.WARNING, logger="kombu.connection"):
        connection.info()

    assert "No hostname was supplied" not in caplog.text


def _worker_warning_options() -> list[str]:
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("worker:"))
    words = shlex.split(line.removeprefix("worker:"))
    return [words[i + 1] for i, word in enumerate(words) if word == "-W"]


@pytest.mark.smoke
def test_the_procfile_worker_silences_celerys_root_warning_and_nothing_else():
    options = [arg for option in _worker_warning_options() for arg in ("-W", option)]
    script = ("import warnings; from celery.exceptions import SecurityWarning;"
              f"warnings.warn(SecurityWarning({ROOT_WARNING!r})); warnings.warn(UserWarning('other'))")

    result = subprocess.run([sys.executable, *options, "-c", script], capture_output=True, text=True, timeout=60)

    assert "superuser" not in result.stderr
    assert "other" in result.stderr
