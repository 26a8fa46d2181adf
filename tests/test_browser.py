"""A resident and an organizer in real Debian Chromium (Playwright), with axe-core on every page visited."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from sessions.demo import DEMO_PASSWORD
from tests.harness import axe_violations, new_page

pytestmark = pytest.mark.browser


@pytest.fixture
def server(demo_server: tuple[str, Path]) -> str:
    """`taiwa serve --demo` as a real process on a free port (one for this module): its base URL."""
    return demo_server[0]


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
