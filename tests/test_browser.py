"""A resident and an organizer in real Debian Chromium (Playwright), with axe-core on every page visited."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from sessions.demo import DEMO_PASSWORD
from tests.conftest import running_demo_server

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`taiwa serve --demo` as a real process on a free port."""
    with running_demo_server(tmp_path_factory.mktemp("browser") / "taiwa.sqlite3") as base:
        yield base


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: `make test` installs it (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        await launched.close()


async def new_page(browser: Browser, **options: object) -> Page:
    context = await browser.new_context(**options)  # type: ignore[arg-type]
    # axe-core is injected by the DevTools protocol, so the page's CSP (no inline script) still holds
    await context.add_init_script(path=str(AXE))
    return await context.new_page()


async def axe_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.x A/AA violations on the current page, one readable line each."""
    results = await page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS)
    return [f"{v['id']}: {v['help']} -> {[n['target'] for n in v['nodes']][:3]}" for v in results["violations"]]


async def test_resident_switches_language_filters_childcare_and_opens_a_session(browser: Browser, server: str):
    page = await new_page(browser, viewport={"width": 390, "height": 844})
    csp_errors: list[str] = []
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    await page.goto(server + "/")
    assert await page.get_attribute("html", "lang") == "ja"
    assert await axe_violations(page) == []

    await page.get_by_role("link", name="English").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Take part in shaping your town")
    await page.get_by_role("link", name="日本語").click()
    await expect(page.locator("html")).to_have_attribute("lang", "ja")

    await page.goto(server + "/sessions")
    assert await axe_violations(page) == []
    before = await page.locator("#result-count").inner_text()
    await page.locator("#f-childcare").check()  # htmx swaps the results without a reload
    await expect(page).to_have_url(re.compile(r"[?&]childcare=1"))
    await expect(page.locator("#result-count")).not_to_have_text(before)
    cards = page.locator(".session-card")
    assert await cards.count() >= 3
    for index in range(await cards.count()):
        await expect(cards.nth(index).locator(".badge--childcare")).to_be_visible()
    assert await axe_violations(page) == []

    await cards.first.get_by_role("link").click()
    await expect(page.get_by_role("heading", name="託児と配慮")).to_be_visible()
    assert "/sessions/" in page.url
    assert await axe_violations(page) == []
    assert csp_errors == []


async def test_filter_form_works_with_javascript_off(browser: Browser, server: str):
    page = await new_page(browser, java_script_enabled=False)
    await page.goto(server + "/sessions")
    await page.locator("#f-childcare").check()
    await page.locator("form.filters button[type=submit]").click()
    await expect(page).to_have_url(re.compile(r"[?&]childcare=1"))
    assert await page.locator(".session-card").count() >= 3


async def test_keyboard_user_reaches_main_content_with_the_skip_link(browser: Browser, server: str):
    page = await new_page(browser)
    await page.goto(server + "/")
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.getAttribute('href')")
    assert focused == "#main"
    await page.keyboard.press("Enter")
    assert await page.evaluate("location.hash") == "#main"


async def test_organizer_session_form_has_no_accessibility_violations(browser: Browser, server: str):
    page = await new_page(browser)
    await page.goto(server + "/organize/login")
    assert await axe_violations(page) == []
    await page.locator("#f-email").fill("organizer@kanazawa.example")
    await page.locator("#f-password").fill(DEMO_PASSWORD)
    await page.locator("#f-password").press("Enter")
    await expect(page).to_have_url(server + "/organize")
    assert await axe_violations(page) == []
    await page.goto(server + "/organize/sessions/new")
    assert await axe_violations(page) == []
    # submitting the empty form shows the errors, which must be accessible too
    await page.locator("button[value=draft]").click()
    await expect(page.locator(".error-summary")).to_be_visible()
    assert await axe_violations(page) == []
    summary = json.dumps(await page.locator(".field-error").all_inner_texts(), ensure_ascii=False)
    assert "タイトル" in summary
