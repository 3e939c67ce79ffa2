"""Take the README's screenshots from a running Switchboard (Playwright driving Debian's Chromium).

    DEMO_ADMIN_PASSWORD=demo-password make run            # in one terminal
    .venv/bin/python manage.py registry apply docs/screenshots/registry.yaml
    .venv/bin/python manage.py create_api_key --tenant demo --app demo-app --models demo-chat-b  # the team's access
    .venv/bin/python docs/screenshots/take.py http://127.0.0.1:8000 admin@example.com demo-password

Writes catalogue.png, card.png, playground.png and compare.png (1280 x 800, light theme) next to this file; ``--out DIR --all`` also
takes each page at 390 px wide and in the dark theme, to look at before committing a change of style.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
SHOTS = {"catalogue": "/models/", "card": "/models/chat-large/"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url")
    parser.add_argument("email")
    parser.add_argument("password")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--all", action="store_true", help="also 390 px wide and dark")
    args = parser.parse_args()
    views = [(1280, 800, "light", "")]
    if args.all:
        views += [(1280, 800, "dark", "-dark"), (390, 844, "light", "-phone"), (390, 844, "dark", "-phone-dark")]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for width, height, scheme, suffix in views:
            context = browser.new_context(base_url=args.url, viewport={"width": width, "height": height},
                                          color_scheme=scheme)
            page = context.new_page()
            page.goto("/accounts/login/")
            page.get_by_label("Email").fill(args.email)
            page.get_by_label("Password").fill(args.password)
            page.get_by_role("button", name="Sign In").click()
            page.locator(".who").wait_for(state="attached")
            for name, path in SHOTS.items():
                page.goto(path)
                page.wait_for_load_state("networkidle")
                page.screenshot(path=args.out / f"{name}{suffix}.png")
            playground(page, args.out, suffix)
            context.close()
        browser.close()


def playground(page, out: Path, suffix: str) -> None:
    """A two-turn chat with the demo model, and the demo model compared with its second name."""
    page.goto("/playground/?alias=demo-chat")
    for prompt in ("What can I do in the playground?", "Show me a **markdown** answer with `code`."):
        page.get_by_label("Message").fill(prompt)
        page.get_by_role("button", name="Send", exact=True).click()
        page.locator("#transcript .turn-model:not(.streaming) .figures").last.wait_for()
    page.wait_for_timeout(2500)  # the ledger's tokens and cost under each answer
    page.screenshot(path=out / f"playground{suffix}.png")
    page.goto("/playground/compare/")
    page.get_by_label("Model 1").select_option("demo-chat")
    page.get_by_label("Model 2").select_option("demo-chat-b")
    page.get_by_label("Prompt", exact=True).fill("Summarise why teams share one AI gateway.")
    page.get_by_role("button", name="Compare").click()
    page.locator("#compare-vote button").first.wait_for()
    page.wait_for_timeout(2500)
    page.screenshot(path=out / f"compare{suffix}.png")


if __name__ == "__main__":
    main()
