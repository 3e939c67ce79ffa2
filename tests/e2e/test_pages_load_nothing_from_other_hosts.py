"""Every page's scripts and stylesheets come from this server (pinned packages under static/), never from a CDN:
the <script> and <link> elements name no other host, and the browser requests nothing from one."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from aiplatform import services as core_services
from aiplatform.roles import PlatformRole, TenantRole
from registry import services as registry_services
from tests.conftest import PASSWORD

pytestmark = pytest.mark.e2e

PAGES = ["/", "/models/", "/models/fast-chat/", "/models/manage/", "/portal/",
         "/portal/teams/alpha/", "/portal/approvals/", "/audit/", "/api/docs/"]


@pytest.fixture
def platform_admin_page(page, tenant_a, make_member):
    admin = make_member(tenant_a, TenantRole.ADMIN, email="platform-admin@example.com")
    core_services.grant_platform_role(actor=None, user=admin, role=PlatformRole.PLATFORM_ADMIN)
    registry_services.create_alias(actor=None, name="fast-chat", status="approved", owners=[admin])
    return page


def sign_in(page) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill("platform-admin@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page.locator(".who")).to_have_text("platform-admin@example.com")


def assets_elsewhere(page, ours: str) -> list[str]:
    page.wait_for_load_state("networkidle")
    assets = page.eval_on_selector_all("script[src], link[href]", "elements => elements.map(e => e.src || e.href)")
    assert assets, f"{page.url} links no asset at all"
    return [url for url in assets if urlsplit(url).netloc != ours]


def test_no_page_loads_a_script_or_stylesheet_from_another_host(platform_admin_page, server_url):
    page = platform_admin_page
    ours = urlsplit(server_url).netloc
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto("/accounts/login/")
    elsewhere = {"/accounts/login/": assets_elsewhere(page, ours)}
    sign_in(page)
    for path in PAGES:
        page.goto(path)
        elsewhere[path] = assets_elsewhere(page, ours)

    assert {path: urls for path, urls in elsewhere.items() if urls} == {}
    assert [url for url in requested if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc != ours] == []


def test_the_stylesheets_are_served_from_static(platform_admin_page, server_url):
    page = platform_admin_page
    sign_in(page)
    page.goto("/models/")

    sheets = page.eval_on_selector_all("link[rel=stylesheet]", "elements => elements.map(e => e.getAttribute('href'))")

    assert any(href.startswith("/static/vendor/pico/pico.min.") for href in sheets)
    assert all(href.startswith("/static/") for href in sheets)
    assert page.request.get(next(h for h in sheets if "pico" in h)).status == 200
