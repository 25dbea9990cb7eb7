"""Take the workflow studio's screenshots in docs/console/: ``python docs/console/studio_screenshots.py``.

Like ``screenshots.py`` beside it: the embedded default in a fresh home, the credit application's
topic, table and state machine, and Debian's chromium. It photographs the studio editing the
credit application (a Choice selected), the same with a broken transition typed in the code, a
Task tested on its own, and a new machine's first states added from the palette.
"""

from __future__ import annotations

import json

from playwright.sync_api import Page, sync_playwright
from screenshots import CREDIT, FLAGS, HERE, URL, create_credit_machine, served


def main() -> None:
    with served():
        create_credit_machine()
        photograph()


def settled(page: Page) -> None:
    page.wait_for_selector("[data-studio][data-started]:not([data-checking])")
    page.wait_for_timeout(300)


def select(page: Page, name: str) -> None:
    page.locator(f'[data-studio-graph] [data-state="{name}"]').click()
    settled(page)


def photograph() -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{URL}/console/state-machines/credit-application/edit")
        settled(page)
        select(page, "Credit applied >= 5000?")
        shoot(page, "studio.png")

        broken = json.loads((CREDIT / "statemachine.asl.json").read_text())
        broken["States"]["Auto-approve limit"]["Next"] = "Verify the applicant"
        page.locator(".CodeMirror").click()
        page.keyboard.press("Control+A")
        page.keyboard.insert_text(json.dumps(broken, indent=2))
        settled(page)
        problem = page.locator("[data-problems] li", has_text="'Verify the applicant' is not a state")
        problem.get_by_role("button", name="Show").click()
        settled(page)
        shoot(page, "studio-problem.png")

        page.get_by_role("button", name="Undo").click()
        settled(page)
        select(page, "Get credit limit")
        form = page.locator("[data-form]")
        form.get_by_label("Test input (JSON)").fill((CREDIT / "input-auto-approve.json").read_text())
        form.get_by_role("button", name="Test state").click()
        page.wait_for_selector("[data-test-status]")
        form.get_by_role("heading", name="Test state").evaluate("heading => heading.scrollIntoView()")
        shoot(page, "studio-test-state.png")

        page.goto(f"{URL}/console/studio")  # a new machine, from the palette: the Choice has no rule yet
        settled(page)
        for kind in ("Lambda Invoke", "Choice", "Pass", "Map", "Lambda Invoke"):
            page.get_by_role("button", name=kind, exact=True).click()
            settled(page)
        shoot(page, "studio-new.png")
        browser.close()


def shoot(page: Page, file: str) -> None:
    page.screenshot(path=str(HERE / file))
    print(f"docs/console/{file}")


if __name__ == "__main__":
    main()
