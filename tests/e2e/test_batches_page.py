"""In the browser: a developer opens the team's batches page from the team page and watches a running batch's
progress bar move and end without reloading, then downloads its output; another team's batch is not there."""

from __future__ import annotations

import orjson
import pytest
from playwright.sync_api import expect

from aiplatform.roles import TenantRole
from tests.e2e.test_usage_dashboard import sign_in
from tests.integration.routing_setup import Setup, upstreams  # noqa: F401  (fixture)
from tests.integration.test_gateway_batches import chat_line, jsonl

pytestmark = pytest.mark.e2e

MODELS = """
  - alias: page-chat
    kind: chat
    status: approved
    routes:
      - {provider: p1, upstream_model: m, weight: 100}
"""


def test_a_developer_watches_a_batch_progress_live_and_downloads_its_output(page, real_server, upstreams, tmp_path,  # noqa: F811
                                                                           make_user):
    setup = Setup(real_server, upstreams, tmp_path, "batchpage").apply(MODELS, "p1", alias_names=("page-chat",))
    developer = make_user("dev@example.com")
    from aiplatform import services as core
    from aiplatform.models import Tenant

    core.add_member(actor=None, tenant=Tenant.objects.get(slug="acme"), user=developer, role=TenantRole.DEVELOPER)
    # 40 lines at 4 at a time, 1.5 s each: about 15 s of progress to watch, however slow the page is to come up
    # (with less, a loaded machine signed in after the batch had ended). Once seen, the rest is answered at once.
    setup.upstreams.set(setup.up("p1"), delay_ms=1500)
    source = setup.client.files.create(file=("in.jsonl", jsonl(chat_line(i, "page-chat") for i in range(40))),
                                       purpose="batch")
    batch = setup.client.batches.create(input_file_id=source.id, endpoint="/v1/chat/completions",
                                        completion_window="24h", metadata={"job": "scoring"})

    violations = sign_in(page, "dev@example.com")
    page.goto("/portal/teams/acme/")
    page.get_by_role("link", name="Batches").click()
    row = page.locator(f"#batch-{batch.id}")
    expect(row).to_contain_text("job=scoring")
    progress = row.locator("progress")
    # Part-way, then whole, with no reload: the row polls its own fragment while the batch runs.
    expect(progress).to_have_attribute("max", "40", timeout=30_000)
    page.wait_for_function(
        f"() => {{ const p = document.querySelector('#batch-{batch.id} progress');"
        " return p && p.value > 0 && p.value < 40; }", timeout=30_000)
    setup.upstreams.set(setup.up("p1"), delay_ms=0)
    expect(row.locator(".batch-status")).to_have_text("completed", timeout=60_000)
    expect(progress).to_have_attribute("value", "40")
    expect(row.locator(".batch-done")).to_have_text("40")
    expect(row.get_by_role("button", name="Cancel")).to_have_count(0)  # an ended batch cannot be cancelled

    with page.expect_download() as download:
        row.get_by_role("link", name="output").click()
    lines = [orjson.loads(line) for line in open(download.value.path(), "rb").read().splitlines()]
    assert sorted(line["custom_id"] for line in lines) == sorted(f"chat-{i}" for i in range(40))
    assert violations == []
