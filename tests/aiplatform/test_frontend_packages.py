"""Front-end packages are pinned in package-lock.json, installed by npm ci and served from static/, never a CDN."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

from aiplatform.frontend_packages import NodePackagesFinder

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.smoke
def test_every_package_is_pinned_exactly_and_locked():
    wanted = json.loads((ROOT / "package.json").read_text())["dependencies"]
    locked = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    for name, version in wanted.items():
        assert version[0].isdigit(), f"{name} is not pinned exactly: {version}"
        assert locked[f"node_modules/{name}"]["version"] == version


@pytest.mark.smoke
def test_pico_is_found_under_static_vendor():
    assert finders.find("vendor/pico/pico.min.css").endswith("node_modules/@picocss/pico/css/pico.min.css")


@pytest.mark.smoke
def test_only_the_listed_files_are_collected():
    listed = [storage.prefix + "/" + path for path, storage in NodePackagesFinder().list([])]
    assert listed == ["vendor/pico/pico.min.css"]


@pytest.mark.smoke
def test_a_missing_node_modules_says_how_to_install_it(settings, tmp_path):
    settings.BASE_DIR = tmp_path

    errors = NodePackagesFinder().check()

    assert [e.id for e in errors] == ["switchboard.E001"]
    assert "make install" in errors[0].hint


@pytest.mark.smoke
def test_make_and_the_image_install_the_lock_with_npm_ci():
    assert "npm ci --ignore-scripts" in (ROOT / "Makefile").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM node:" in dockerfile
    assert "npm ci --ignore-scripts" in dockerfile
