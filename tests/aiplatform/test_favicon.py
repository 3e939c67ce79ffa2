"""No page's favicon request is a 404: /favicon.ico leads to the SVG icon, which is served."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders


@pytest.mark.smoke
def test_favicon_ico_redirects_to_the_svg_icon(client, db):
    response = client.get("/favicon.ico")

    assert response.status_code == 301
    assert response["Location"].endswith("favicon.svg")


def test_the_icon_exists_in_static():
    assert finders.find("favicon.svg")


def test_every_page_names_its_icon(client, db):
    assert '<link rel="icon" href="/static/favicon' in client.get("/accounts/login/").content.decode()
