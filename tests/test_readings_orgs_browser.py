"""An organization's dictionary in real Debian Chromium: text a page's own script writes (captions)
reads with the dictionary of the organization whose page it is, through TaiwaRuby.render and
POST /api/readings with `org`; a page of no organization reads with the built-in terms."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.harness import new_page
from tests.test_board_browser import server, session_id, signed_in_facilitator  # noqa: F401 - fixtures, used by name

pytestmark = pytest.mark.browser

RENDER = """async (text) => {
    const line = document.createElement('p'); document.querySelector('main').appendChild(line);
    await TaiwaRuby.render(line, text);
    return [...line.querySelectorAll('ruby')].map(r => [r.firstChild.textContent, r.querySelector('rt').dataset.reading]); }"""


async def test_a_script_written_text_reads_with_the_pages_organization(browser: Browser, server: str, session_id: int):
    organizer = await signed_in_facilitator(browser, server)
    await organizer.goto(server + "/organize/readings")
    await organizer.locator("#f-surface").fill("大和")
    await organizer.locator("#f-reading").fill("だいわ")
    await organizer.locator("#f-reading").press("Enter")
    await expect(organizer.locator("table")).to_contain_text("だいわ")
    page = await new_page(browser)
    await page.goto(f"{server}/sessions/{session_id}?ruby=1")
    assert await page.locator("html").get_attribute("data-reading-org") == "kanazawa"
    assert ["大和", "だいわ"] in await page.evaluate(RENDER, "大和に集まる")
    await page.goto(f"{server}/c?ruby=1")  # no organization's content: the built-in terms
    assert await page.locator("html").get_attribute("data-reading-org") is None
    assert ["大和", "だいわ"] not in await page.evaluate(RENDER, "大和に集まる")
