"""ふりがな in real Debian Chromium (Playwright): what the accessibility tree exposes (the kanji once,
never the reading as well), what copying gives, axe-core with the switch on at phone and desktop
widths, the live board's notes and polls getting readings as they arrive, and the script hook for
texts a page writes itself (captions)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.harness import axe_violations, new_context, new_page
from tests.test_board_browser import create_board, expect_live, join, signed_in_facilitator
from tests.test_board_browser import server, session_id  # noqa: F401 - fixtures, used by name

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots-readings")


async def ax_nodes(page: Page) -> list[dict]:
    """Chromium's full accessibility tree, as screen readers get it (DevTools protocol)."""
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Accessibility.enable")
    return (await cdp.send("Accessibility.getFullAXTree"))["nodes"]


def ax_name(node: dict) -> str:
    return (node.get("name") or {}).get("value", "")


async def test_screen_readers_get_the_kanji_once_and_copying_gives_the_plain_text(browser: Browser, server: str,
                                                                                 session_id: int):
    page = await new_page(browser)
    await page.goto(f"{server}/sessions/{session_id}?ruby=1")
    heading = page.locator("h1")
    await expect(heading.locator("ruby").first).to_be_visible()
    plain = await page.evaluate("""() => {
        const copy = document.querySelector('h1').cloneNode(true);
        copy.querySelectorAll('rt, rp').forEach(e => e.remove());
        return copy.textContent.trim(); }""")
    readings = [await rt.get_attribute("data-reading") for rt in await heading.locator("rt").all()]
    assert plain and readings
    nodes = await ax_nodes(page)
    headings = [node for node in nodes if (node.get("role") or {}).get("value") == "heading"
                and any(p["name"] == "level" and p["value"]["value"] == 1 for p in node.get("properties", []))]
    assert [ax_name(node) for node in headings] == [plain]  # the name is the kanji text, no reading in it
    spoken = " ".join(ax_name(node) for node in nodes if not node.get("ignored"))
    for reading in readings:  # no reading of the heading is exposed anywhere as text to speak
        assert not any(ax_name(node) == reading for node in nodes if not node.get("ignored")), reading
    assert plain in spoken
    rubies = [node for node in nodes if (node.get("role") or {}).get("value") == "Ruby"]
    assert rubies and not any((node.get("description") or {}).get("value") for node in rubies)  # no reading as a description
    copied = await page.evaluate("""() => {
        const range = document.createRange(); range.selectNodeContents(document.querySelector('h1'));
        const selection = getSelection(); selection.removeAllRanges(); selection.addRange(range);
        return selection.toString().trim(); }""")
    assert copied == plain
    # find in page finds the words across the ruby elements, and innerText (what tools read) is plain
    assert await page.evaluate("(word) => { getSelection().removeAllRanges(); return window.find(word); }", plain)
    assert (await heading.inner_text()).strip() == plain
    SHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SHOTS / "session-desktop.png"), full_page=True)


@pytest.mark.parametrize("width", [390, 1366])
async def test_pages_with_the_switch_on_have_no_axe_violations(browser: Browser, server: str, session_id: int,
                                                               width: int):
    context = await new_context(browser, viewport={"width": width, "height": 900})
    page = await context.new_page()
    results = {}
    for path in ["/?ruby=1", "/sessions", f"/sessions/{session_id}", "/organize/login"]:
        await page.goto(server + path)
        assert await page.locator("html[data-ruby=on]").count() == 1, path
        results[path] = await axe_violations(page)
        SHOTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(SHOTS / f"{path.strip('/').replace('/', '_').replace('?ruby=1', '') or 'home'}-{width}.png"),
                              full_page=False)
    from tests.test_board_browser import ORGANIZER
    from sessions.demo import DEMO_PASSWORD
    await page.goto(server + "/organize/login")
    await page.locator("#f-email").fill(ORGANIZER)
    await page.locator("#f-password").fill(DEMO_PASSWORD)
    await page.locator("#f-password").press("Enter")
    await expect(page).to_have_url(server + "/organize")
    for path in ["/organize", "/organize/readings", f"/organize/sessions/{session_id}/easy"]:
        await page.goto(server + path)
        results[path] = await axe_violations(page)
        await page.screenshot(path=str(SHOTS / f"{path.strip('/').replace('/', '_')}-{width}.png"), full_page=False)
    assert results == {path: [] for path in results}


async def test_notes_and_polls_get_readings_live_on_the_board(browser: Browser, server: str, session_id: int):
    facilitator = await signed_in_facilitator(browser, server)
    board_id, code = await create_board(facilitator, server, session_id, "防災を考える")
    reader = await join(browser, server, code, "ひかり")
    await expect_live(reader)
    await reader.goto(f"{server}/boards/{board_id}?ruby=1")  # the child turns the switch on
    await expect_live(reader)
    writer = await join(browser, server, code, "大人")
    await expect_live(writer)
    await writer.locator("#text-z1").fill("避難所の場所を確認したい")
    await writer.locator("#add-z1 button[type=submit]").click()
    note = reader.locator("#zone-z1 .note__text", has_text="避難所")
    await expect(note.locator("ruby").first).to_be_visible()  # arrived live, with its readings
    assert [await rt.get_attribute("data-reading") for rt in await note.locator("rt").all()] == [
        "ひなんじょ", "ばしょ", "かくにん"]
    await expect(writer.locator("#zone-z1 .note__text ruby")).to_have_count(0)  # only for who asked
    nodes = await ax_nodes(reader)
    texts = {ax_name(node) for node in nodes if (node.get("role") or {}).get("value") == "StaticText"}
    assert {"避難所", "場所", "確認"} <= texts  # the words a screen reader reads, once each
    assert not any("ひなんじょ" in ax_name(node) for node in nodes if not node.get("ignored"))
    # a poll the facilitator opens is read the same way
    await facilitator.locator("#poll-new > summary").click()
    await facilitator.locator("#poll-type").select_option("scale")
    await facilitator.locator("#poll-question").fill("地域の防災訓練に参加したいですか")
    await facilitator.locator("#poll-new button[type=submit]").click()
    poll = facilitator.locator("article.poll", has=facilitator.locator("h3", has_text="防災訓練"))
    await expect(poll).to_be_visible()
    poll_id = (await poll.get_attribute("id") or "").removeprefix("poll-")
    # (a new poll opens as it is created: the console's "open it now" box is ticked by default)
    question = reader.locator(f"#poll-{poll_id} h3")
    await expect(question.locator("ruby").first).to_be_visible()
    assert "ぼうさいくんれん" in "".join([await rt.get_attribute("data-reading") or "" for rt in await question.locator("rt").all()])
    assert await axe_violations(reader) == []
    SHOTS.mkdir(exist_ok=True)
    await reader.set_viewport_size({"width": 390, "height": 900})
    await reader.screenshot(path=str(SHOTS / "board-390.png"), full_page=True)


async def test_the_script_hook_gives_ruby_to_text_a_page_writes_itself(browser: Browser, server: str):
    page = await new_page(browser)
    await page.goto(f"{server}/?ruby=1")
    html = await page.evaluate("""async () => {
        const line = document.createElement('p'); line.id = 'caption'; document.querySelector('main').appendChild(line);
        await TaiwaRuby.render(line, '二十日に市民会議を開きます');
        return line.innerHTML; }""")
    assert '<ruby>二十日<rt aria-hidden="true" data-reading="はつか"></rt></ruby>に' in html
    assert '<ruby>開<rt aria-hidden="true" data-reading="ひら"></rt></ruby>きます' in html
    off = await new_page(browser)
    await off.goto(f"{server}/?ruby=0")
    plain = await off.evaluate("""async () => {
        const line = document.createElement('p'); document.querySelector('main').appendChild(line);
        await TaiwaRuby.render(line, '<b>市民</b>'); return line.innerHTML; }""")
    assert plain == "&lt;b&gt;市民&lt;/b&gt;"  # text, never markup
