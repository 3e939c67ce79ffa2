"""A provider whose secret cannot be resolved is shown as unhealthy on the management page."""

from __future__ import annotations


def test_the_manage_page_names_an_unresolvable_secret(admin_client, make_provider, monkeypatch):
    monkeypatch.delenv("SB_TEST_NEVER_SET", raising=False)
    make_provider("keyless", api_key="env:SB_TEST_NEVER_SET")
    make_provider("fine", api_key="env:SB_TEST_SET_FOR_PAGE")
    monkeypatch.setenv("SB_TEST_SET_FOR_PAGE", "sk-x")

    page = admin_client.get("/models/manage/").content.decode()
    keyless_row = page.split(">keyless<", 1)[1].split("</tr>", 1)[0]
    fine_row = page.split(">fine<", 1)[1].split("</tr>", 1)[0]
    assert "unhealthy" in keyless_row and "SB_TEST_NEVER_SET is not set" in keyless_row
    assert "unhealthy" not in fine_row
