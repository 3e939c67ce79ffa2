"""A person signs in with a real browser and sees their team."""

import pytest
from playwright.sync_api import expect

from aiplatform.roles import TenantRole
from tests.conftest import PASSWORD

pytestmark = pytest.mark.e2e


def test_a_member_signs_in_and_sees_their_team(page, tenant_a, make_member, tmp_path):
    make_member(tenant_a, role=TenantRole.ADMIN, email="dana@example.com")

    page.goto("/accounts/login/")
    page.screenshot(path=tmp_path / "login.png")
    page.get_by_label("Email").fill("dana@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()

    expect(page.get_by_role("heading", name="Your teams")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="Alpha")
    expect(row).to_contain_text("Admin")
    expect(page.locator(".who")).to_have_text("dana@example.com")
    page.screenshot(path=tmp_path / "home.png", full_page=True)
