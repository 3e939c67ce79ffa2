"""On a phone (390 px wide) every page fits the screen, the navigation folds into a menu that opens with a
click or from the keyboard, and the dark theme follows the system or the choice the person made, which the
browser remembers (issue 11.5, issue 12.8)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from aiplatform import services as core_services
from aiplatform.roles import PlatformRole, TenantRole
from portal import services as portal_services
from registry import services as registry_services
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def platform(tenant_a, make_member):
    """A platform admin (who sees every menu entry) and a developer's application waiting for a model."""
    admin = make_member(tenant_a, TenantRole.ADMIN, email="platform-admin@example.com")
    core_services.grant_platform_role(actor=None, user=admin, role=PlatformRole.PLATFORM_ADMIN)
    developer = make_member(tenant_a, TenantRole.DEVELOPER, email="developer-with-a-long-address@example.com")
    provider = registry_services.create_provider(actor=None, name="bedrock-eu-central", kind="openai-compatible",
                                                 base_url="https://upstream.example/v1", api_key="env:SB_TEST_UPSTREAM_KEY")
    endpoint = registry_services.create_endpoint(actor=None, provider=provider, capabilities=["chat", "tools", "json_output", "streaming"],
                                                 upstream_model="anthropic.claude-3-5-sonnet-20241022-v2:0-long-name",
                                                 context_window=200_000, input_price_per_mtok="3", output_price_per_mtok="15")
    alias = registry_services.create_alias(actor=None, name="fast-chat", status="approved", owners=[admin])
    registry_services.set_routes(actor=None, alias=alias, routes=[registry_services.RouteSpec(endpoint=endpoint)])
    registry_services.update_card(actor=None, alias=alias, summary="Quick answers for chat and summaries. " * 4,
                                  use_cases=["summarization", "customer-support"], data_residency="eu-central-1",
                                  license_url="https://vendor.example/eula/with/a/long/path/that/does/not/break")
    app = portal_services.create_application(actor=developer, tenant=tenant_a, name="checkout-assistant-for-customers")
    portal_services.request_subscription(actor=developer, application=app, alias=alias,
                                         use_case="Answer customer questions about orders, refunds and deliveries")
    portal_services.create_api_key(actor=developer, application=app, name="production-eu")
    return SimpleNamespace(admin=admin, app=app)


@pytest.fixture
def new_page(browser, server_url):
    """Open a tab in a fresh browser context (own cookies and storage): a phone unless told otherwise."""
    contexts = []

    def open_page(*, viewport=PHONE, color_scheme="light"):
        contexts.append(browser.new_context(base_url=server_url, viewport=viewport, color_scheme=color_scheme))
        return contexts[-1].new_page()

    yield open_page
    for context in contexts:
        context.close()


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_every_page_fits_a_phone_screen(new_page, platform, tmp_path):
    page = new_page()
    page.goto("/accounts/login/")
    too_wide = {"/accounts/login/": page_width(page)}
    sign_in(page, "platform-admin@example.com")
    paths = ["/", "/models/", "/models/fast-chat/", "/models/manage/", "/portal/", "/portal/teams/alpha/",
             f"/portal/applications/{platform.app.pk}/", "/portal/approvals/", "/audit/", "/portal/usage/", "/playground/"]

    for path in paths:
        page.goto(path)
        page.wait_for_load_state("networkidle")  # htmx loads parts of some pages after the first paint
        page.screenshot(path=tmp_path / f"{path.strip('/').replace('/', '-') or 'home'}.png", full_page=True)
        too_wide[path] = page_width(page)

    assert {path: width for path, width in too_wide.items() if width > PHONE["width"]} == {}


def test_on_a_phone_the_menu_is_folded_and_opens_with_a_click(new_page, platform):
    page = new_page()
    sign_in(page, "platform-admin@example.com")
    page.goto("/models/")
    menu_button = page.get_by_role("button", name="Menu")
    audit = page.get_by_role("link", name="Audit")

    expect(menu_button).to_have_attribute("aria-expanded", "false")
    expect(audit).to_be_hidden()

    menu_button.click()
    expect(menu_button).to_have_attribute("aria-expanded", "true")
    expect(audit).to_be_visible()
    page.get_by_role("button", name="platform-admin@example.com").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("link", name="Security")).to_be_visible()
    assert page_width(page) <= PHONE["width"]

    audit.click()
    expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
    expect(page.get_by_role("link", name="Audit")).to_be_hidden()


def test_the_keyboard_reaches_the_skip_link_and_the_menu(new_page, platform):
    page = new_page()
    sign_in(page, "platform-admin@example.com")
    page.goto("/models/")

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Switchboard")).to_be_focused()
    page.keyboard.press("Tab")
    menu_button = page.get_by_role("button", name="Menu")
    expect(menu_button).to_be_focused()

    page.keyboard.press("Enter")
    expect(menu_button).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Teams")).to_be_focused()

    page.keyboard.press("Escape")
    expect(menu_button).to_have_attribute("aria-expanded", "false")
    expect(menu_button).to_be_focused()
    expect(page.get_by_role("link", name="Teams")).to_be_hidden()


def test_the_skip_link_moves_the_focus_to_the_page(new_page, platform):
    page = new_page()
    sign_in(page, "platform-admin@example.com")
    page.goto("/models/")

    page.keyboard.press("Tab")
    page.keyboard.press("Enter")

    expect(page.locator("main")).to_be_focused()


def test_on_a_wide_screen_the_menu_is_open_without_a_button(new_page, platform):
    page = new_page(viewport={"width": 1280, "height": 800})
    sign_in(page, "platform-admin@example.com")
    page.goto("/models/")

    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(page.get_by_role("link", name="Audit")).to_be_visible()
    assert page.evaluate("document.querySelector('.site-menu').getBoundingClientRect().height") < 80  # one line
    expect(page.get_by_role("link", name="Models", exact=True)).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("link", name="Teams")).not_to_have_attribute("aria-current", "page")


def test_the_account_entries_open_under_the_e_mail(new_page, platform):
    page = new_page(viewport={"width": 1280, "height": 800})
    sign_in(page, "platform-admin@example.com")
    page.goto("/models/")
    account = page.get_by_role("button", name="platform-admin@example.com")
    sign_out = page.get_by_role("button", name="Sign out")

    expect(sign_out).to_be_hidden()
    account.click()
    expect(sign_out).to_be_visible()
    expect(page.get_by_role("link", name="Security")).to_be_visible()
    page.keyboard.press("Escape")
    expect(sign_out).to_be_hidden()
    expect(account).to_be_focused()

    account.click()
    page.locator("main h1").click()  # a click elsewhere closes it
    expect(sign_out).to_be_hidden()

    account.click()
    sign_out.click()
    expect(page).to_have_url(re.compile("/accounts/login/"))


def background(page) -> str:
    return page.evaluate("getComputedStyle(document.documentElement).backgroundColor")


def test_the_dark_theme_is_chosen_with_the_toggle_and_remembered(new_page, platform):
    page = new_page(color_scheme="light")
    sign_in(page, "platform-admin@example.com")
    page.goto("/models/")
    page.get_by_role("button", name="Menu").click()
    toggle = page.get_by_role("button", name="Dark mode")
    light = background(page)

    expect(page.locator("html")).not_to_have_attribute("data-theme", "dark")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    assert background(page) != light

    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.goto("/portal/")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")

    page.get_by_role("button", name="Menu").click()
    page.get_by_role("button", name="Dark mode").click()
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    assert background(page) == light


def test_without_a_choice_the_theme_follows_the_system(new_page, platform):
    light_page = new_page(color_scheme="light")
    dark_page = new_page(color_scheme="dark")
    for page in (light_page, dark_page):
        sign_in(page, "platform-admin@example.com")
        page.goto("/models/")

    expect(dark_page.locator("html")).not_to_have_attribute("data-theme", "dark")
    expect(dark_page.get_by_role("button", name="Dark mode", include_hidden=True)).to_have_attribute("aria-pressed", "true")
    assert background(dark_page) != background(light_page)
