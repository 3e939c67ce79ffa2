"""The README's five-minute tour, walked in a browser on what `make run` leaves on a fresh machine.

`make run` itself is started here (its own data directory: SQLite, no Redis, the file-system broker,
the seeded demo), so the walk sees exactly what a newcomer sees: the printed start, the seeded admin
and model owner, the console e-mail with the invitation link. Nothing is arranged through the ORM;
every step is a page, an e-mail or an API call. Each step is a section of the README's tour.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in
from tests.integration.gateway_setup import wait_for
from tests.servers import BASE_DIR, free_port

pytestmark = pytest.mark.e2e

ADMIN, ADMIN_PASSWORD = "admin@example.com", "first-run-admin-pw"
OWNER, OWNER_PASSWORD = "owner@example.com", "first-run-owner-pw"
DEVELOPER, DEVELOPER_PASSWORD = "dev@newteam.example", "first-run-dev-pw-1"


@dataclass
class MakeRun:
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def make_run(tmp_path_factory) -> Iterator[MakeRun]:
    """`make run` on an empty data directory, as on a fresh clone (the environment of `make test` removed)."""
    data_dir = tmp_path_factory.mktemp("first-run")
    port = free_port()
    env = {name: value for name, value in os.environ.items()
           if name not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE", "MAKEFLAGS",
                           "MAKELEVEL", "MFLAGS"}}
    env.update(DATA_DIR=str(data_dir), HOST="127.0.0.1", PORT=str(port),
               DEMO_ADMIN_PASSWORD=ADMIN_PASSWORD, DEMO_OWNER_PASSWORD=OWNER_PASSWORD)
    log_path = data_dir / "make-run.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(["make", "--no-print-directory", "run"], cwd=BASE_DIR, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    stack = MakeRun(url=f"http://127.0.0.1:{port}", log_path=log_path)
    try:
        wait_for(lambda: process.poll() is not None or _answers(stack.url + "/healthz"), seconds=240,
                 what="`make run` to serve")
        if process.poll() is not None:
            pytest.fail(f"`make run` exited with {process.returncode}:\n{stack.log()[-4000:]}")
        yield stack
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # Ctrl-C, as the start line says: honcho stops both
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_the_start_shows_the_address_and_both_demo_accounts_and_no_noise(make_run):
    printed = make_run.log()
    assert f"Switchboard on {make_run.url}" in printed
    assert f"Demo admin: {ADMIN} (password from DEMO_ADMIN_PASSWORD)" in printed
    assert f"{OWNER} (password from DEMO_OWNER_PASSWORD)" in printed
    for noise in ("superuser privileges", "No hostname was supplied", "Traceback", "ignored"):
        assert noise not in printed, f"`make run` printed {noise!r}:\n{printed[-3000:]}"


def test_from_a_new_team_to_a_working_key_and_back(make_run, browser, tmp_path):
    site = make_run.url

    def tab():
        return browser.new_context(base_url=site, viewport={"width": 1280, "height": 800}).new_page()

    # 1. The seeded admin signs in; the home page says what to do next, including creating a team.
    admin = tab()
    sign_in(admin, ADMIN, ADMIN_PASSWORD)
    expect(admin.get_by_role("link", name="Browse the models")).to_be_visible()
    admin.get_by_role("link", name="Create a team").first.click()

    # 2. ...creates a team (they are its owner) and invites a developer by e-mail.
    admin.get_by_label("Name").fill("Checkout")
    admin.get_by_label("Slug").fill("checkout")
    admin.get_by_label("Cost centre").fill("CC-42")
    admin.get_by_role("button", name="Create team").click()
    expect(admin.get_by_role("heading", name=re.compile("^Checkout"))).to_be_visible()
    expect(admin.locator("#members")).to_contain_text(ADMIN)
    admin.locator("#invite-form").get_by_label("Email").fill(DEVELOPER)
    admin.locator("#invite-form").get_by_label("Role").select_option(label="Developer")
    admin.get_by_role("button", name="Send invitation").click()
    expect(admin.get_by_text(f"{DEVELOPER} as Developer")).to_be_visible()

    # 3. The developer follows the link in the e-mail (printed whole by the console backend, on this
    #    server's own address), creates an account with the invited address filled in, and joins.
    link = re.compile(re.escape(site) + r"/invitations/[\w\-.~%]+/")
    wait_for(lambda: link.search(make_run.log()), what="the invitation e-mail")
    invitation_link = link.search(make_run.log()).group(0)
    developer = tab()
    developer.goto(invitation_link)
    expect(developer.get_by_role("heading", name="Join Checkout")).to_be_visible()
    developer.get_by_role("link", name="Create your account").click()
    expect(developer.get_by_label("Email")).to_have_value(DEVELOPER)
    developer.screenshot(path=tmp_path / "signup.png", full_page=True)
    developer.get_by_label(re.compile(r"^Password:?$")).fill(DEVELOPER_PASSWORD)
    developer.get_by_label("Password (again)").fill(DEVELOPER_PASSWORD)
    developer.get_by_role("button", name="Sign Up").click()
    developer.get_by_role("button", name="Accept and join").click()
    expect(developer.get_by_text("You joined Checkout.")).to_be_visible()

    # 4. ...registers a production application on the team page and asks for the demo model.
    developer.get_by_label("Name").fill("checkout-bot")
    developer.get_by_label("Environment").select_option(label="Production")
    developer.get_by_role("button", name="Register application").click()
    expect(developer.get_by_role("heading", name="checkout-bot")).to_be_visible()
    developer.get_by_label("Model").select_option("demo-chat")
    developer.get_by_label("Use case").fill("Answer questions about orders")
    developer.get_by_role("button", name="Request access").click()
    expect(developer.locator("#subscriptions")).to_contain_text("pending")

    # 5. The seeded model owner is told in the portal, follows the notification and approves.
    owner = tab()
    sign_in(owner, OWNER, OWNER_PASSWORD)
    expect(owner.get_by_role("region", name="Waiting for your decision")).to_contain_text("checkout-bot")
    owner.goto("/portal/notifications/")
    expect(owner.locator("#notifications-link")).to_have_text(re.compile(r"^Notifications\s+1$"))
    owner.get_by_role("link", name="Checkout asks for demo-chat").click()
    row = owner.get_by_role("row").filter(has_text="Answer questions about orders")
    expect(row).to_contain_text(DEVELOPER)
    expect(row).to_contain_text("Production")
    row.get_by_role("button", name="Approve").click()
    expect(owner.locator("#queue")).to_contain_text(f"approved by {OWNER}")

    # ...and the developer's open page turns the row to approved without a reload.
    expect(developer.locator("#subscriptions")).to_contain_text("approved", timeout=15_000)
    expect(developer.locator("#subscriptions")).not_to_contain_text("pending")

    # 6. A key, shown once; reloading that page shows it no more and makes no second key.
    developer.get_by_role("button", name="Create key").click()
    expect(developer.get_by_text("it is shown this once")).to_be_visible()
    secret = developer.locator("#secret").inner_text().strip()
    assert secret.startswith("sb-")
    developer.screenshot(path=tmp_path / "key.png")
    developer.reload()
    expect(developer.get_by_text("was shown once and cannot be shown again")).to_be_visible()
    assert secret not in developer.content()
    expect(developer.locator("#keys tbody tr")).to_have_count(1)

    # 7. The key calls the model with the official OpenAI SDK, as the card's snippet does.
    client = openai.OpenAI(base_url=f"{site}/v1", api_key=secret, max_retries=0)
    answer = client.chat.completions.create(model="demo-chat", messages=[{"role": "user", "content": "Hello"}])
    assert answer.choices[0].message.content
    assert answer.usage.total_tokens > 0

    # 8. ...the call shows in the team's usage (the worker of `make run` wrote the ledger)...
    def usage_shows_the_call() -> bool:
        developer.goto("/portal/teams/checkout/usage/")
        shown = developer.locator("main").inner_text()
        return "checkout-bot" in shown and "demo-chat" in shown

    wait_for(usage_shows_the_call, seconds=30, what="the call in the team's usage")

    # 9. ...and once revoked, the gateway refuses the key.
    developer.goto("/")
    developer.get_by_role("link", name="checkout-bot").click()
    developer.once("dialog", lambda dialog: dialog.accept())
    developer.locator("#keys").get_by_role("button", name="Revoke").click()
    expect(developer.locator("#keys")).to_contain_text("revoked")

    def refused() -> bool:
        try:
            client.chat.completions.create(model="demo-chat", messages=[{"role": "user", "content": "Hello"}])
        except openai.AuthenticationError:
            return True
        return False

    wait_for(refused, what="the gateway to refuse the revoked key")
