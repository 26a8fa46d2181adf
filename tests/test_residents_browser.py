"""Issue 15, residents, in real Chromium (Playwright) against `taiwa serve --demo`: a 390-px phone sees
the results of a filtered list on its first screen, adds and removes children in place, cannot pick
childcare with online participation, reads stacked tables with their column labels and whole words; a
desktop keeps shared filter addresses clean; a browser asking for English gets English. axe-core checks
every page these touch."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.harness import axe_violations, new_page, read_db
from tests.test_board_browser import (
    create_board,
    expect_live,
    join,
    signed_in_facilitator,
)
from tests.test_poll_browser import answer_scale, create_poll, poll_command

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
SHOTS = Path("/tmp/shots-residents")


@pytest.fixture(scope="module")
def server(demo_server: tuple[str, Path]) -> str:
    return demo_server[0]


def demo_session(demo_server: tuple[str, Path], where: str) -> int:
    rows = read_db(demo_server[1], f"select id from sessions where status = 'published' and {where} "
                                   "and starts_at > strftime('%Y-%m-%dT%H:%M:%SZ', 'now') order by id limit 1")
    assert rows, f"the demo data has no published session where {where}"
    return rows[0][0]


async def shot(page: Page, name: str, at: str | None = None) -> None:
    SHOTS.mkdir(exist_ok=True)
    if at:
        await page.locator(at).first.scroll_into_view_if_needed()
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


async def no_axe_violations(page: Page) -> None:
    assert await axe_violations(page) == [], page.url


# ---------------------------------------------------------------- the list on a phone

async def test_with_childcare_on_results_start_on_the_first_phone_screen(browser: Browser, server: str):
    page = await new_page(browser, viewport=PHONE)
    await page.goto(server + "/sessions")
    await no_axe_violations(page)
    await page.locator("a.chip", has_text="託児あり").click()
    await expect(page).to_have_url(server + "/sessions?childcare=1")
    first = page.locator(".session-card").first
    box = await first.bounding_box()
    assert box is not None and box["y"] < PHONE["height"], f"the first result starts at {box} on a 844-px screen"
    await expect(first.locator(".badge--childcare")).to_have_count(1)
    await expect(first.locator(".session-card__places")).to_be_visible()
    await expect(page.locator("a.chip--on")).to_have_attribute("aria-current", "true")
    await shot(page, "sessions-childcare-390")
    await no_axe_violations(page)

    # the conditions are one press away, and pressing the chip again takes the filter off
    await page.locator("details.filters-panel > summary").click()
    await expect(page.locator("#f-childcare")).to_be_checked()
    await page.locator("a.chip--on").click()
    await expect(page).to_have_url(server + "/sessions")


async def test_desktop_filters_stay_open_and_addresses_carry_only_what_was_chosen(browser: Browser, server: str):
    page = await new_page(browser, viewport=DESKTOP)
    await page.goto(server + "/sessions?childcare=1")
    await expect(page.locator("details.filters-panel")).to_have_attribute("open", "")
    await page.locator("#f-childcare").uncheck()  # htmx asks for the results as the box changes
    await expect(page).to_have_url(server + "/sessions")
    await page.locator("#f-format").select_option("online")
    await expect(page).to_have_url(re.compile(r"/sessions\?format=online$"))
    await page.locator("#f-childcare").check()
    await expect(page).to_have_url(re.compile(r"childcare=1"))
    # the chips above follow what the form chose (refreshed with the results)
    await expect(page.locator("a.chip--on")).to_have_count(2)
    await expect(page.locator("a.chip--on", has_text="託児あり")).to_be_visible()
    query = parse_qsl(urlsplit(page.url).query, keep_blank_values=True)
    assert query and all(value for _key, value in query), page.url
    await shot(page, "sessions-filters-1366")
    await no_axe_violations(page)


# ---------------------------------------------------------------- the registration form on a phone

async def test_children_are_added_and_removed_in_place_and_online_excludes_them(
        browser: Browser, server: str, demo_server: tuple[str, Path]):
    session_id = demo_session(demo_server, "format = 'hybrid' and childcare_places is not null")
    page = await new_page(browser, viewport=PHONE)
    await page.goto(f"{server}/sessions/{session_id}/register")
    children = page.locator("fieldset.child")
    await expect(children).to_have_count(1)
    await no_axe_violations(page)

    await page.locator("#f-name").fill("山田 花子")
    await page.locator("#f-child_1_years").select_option("2")
    await page.locator("#add-child").click()
    await expect(children).to_have_count(2)
    await expect(page.locator("#f-child_2_years")).to_be_focused()
    assert page.url == f"{server}/sessions/{session_id}/register"  # in place, no new page
    await expect(page.locator("#f-name")).to_have_value("山田 花子")
    await expect(page.locator("#f-child_1_years")).to_have_value("2")
    await page.locator("#f-child_2_years").select_option("4")
    await shot(page, "register-two-children-390", "#children")
    await no_axe_violations(page)

    await page.get_by_role("button", name="1人目のお子さんを削除").click()
    await expect(children).to_have_count(1)
    await expect(page.locator("#f-child_1_years")).to_have_value("4")

    # online: the children's fields are switched off and the hint says why
    await page.locator("#f-mode-online").check()
    await expect(page.locator("#f-child_1_years")).to_be_disabled()
    await expect(page.locator("#add-child")).to_be_disabled()
    await expect(page.locator("#childcare-in-person")).to_have_class(re.compile("hint--active"))
    await shot(page, "register-online-390")
    await no_axe_violations(page)
    await page.locator("#f-mode-in_person").check()
    await expect(page.locator("#f-child_1_years")).to_be_enabled()


async def test_enter_in_a_field_registers_rather_than_adding_a_child(
        browser: Browser, server: str, demo_server: tuple[str, Path]):
    session_id = demo_session(demo_server, "format = 'in_person' and childcare_places is not null")
    page = await new_page(browser, viewport=PHONE)
    await page.goto(f"{server}/sessions/{session_id}/register")
    await page.locator("#f-name").fill("")
    await page.locator("#f-email").fill("enter@example.jp")
    await page.wait_for_timeout(2200)  # the demo's anti-bot minimum time
    await page.locator("#f-email").press("Enter")
    await expect(page.locator(".error-summary")).to_be_visible()  # the name is missing: it tried to register
    await expect(page.locator("fieldset.child")).to_have_count(1)


# ---------------------------------------------------------------- tables on a phone

async def test_stacked_support_table_keeps_labels_and_whole_words(
        browser: Browser, server: str, demo_server: tuple[str, Path]):
    session_id = demo_session(demo_server, "id in (select session_id from session_accommodations "
                                           "where code = 'captioning')")
    for lang, label in (("ja", "対応方法"), ("en", "How it is provided")):
        page = await new_page(browser, viewport=PHONE)
        await page.goto(f"{server}/sessions/{session_id}?lang={lang}")
        cell = page.locator("table.offers tbody td").first
        style = await cell.evaluate("""cell => {
            const own = getComputedStyle(cell), before = getComputedStyle(cell, '::before');
            return {wrap: own.overflowWrap, lineBreak: own.lineBreak, display: own.display,
                    label: before.content, body: getComputedStyle(document.body).overflowWrap};
        }""")
        assert style["wrap"] != "anywhere" and style["body"] != "anywhere", style
        assert style["lineBreak"] == "strict" and style["display"] != "table-cell", style
        assert style["label"] == f'"{label}"', style
        # a support's name is never cut inside a word (手話通/訳, "Captionin g")
        word = "Captioning" if lang == "en" else "要約筆記"
        lines = await page.evaluate("""word => {
            const walker = document.createTreeWalker(document.querySelector('table.offers'), NodeFilter.SHOW_TEXT);
            while (walker.nextNode()) {
                const at = walker.currentNode.data.indexOf(word);
                if (at >= 0) {
                    const range = document.createRange();
                    range.setStart(walker.currentNode, at); range.setEnd(walker.currentNode, at + word.length);
                    return new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top))).size;
                }
            }
            return -1;
        }""", word)
        assert lines == 1, f"{word} is drawn on {lines} lines"
        map_link = page.locator("a.map-link")
        if await map_link.count():
            assert "noopener" in (await map_link.get_attribute("rel") or "")
        await shot(page, f"session-support-{lang}-390", "table.offers")
        await no_axe_violations(page)


async def test_poll_results_stack_with_their_column_labels_on_a_phone(
        browser: Browser, server: str, demo_server: tuple[str, Path]):
    session_id = demo_session(demo_server, "org_id = (select id from organizations where slug = 'kanazawa')")
    facilitator = await signed_in_facilitator(browser, server)
    board_id, code = await create_board(facilitator, server, session_id, "スマホで結果を見る")
    poll = await create_poll(facilitator, "scale", "満足度は？")
    await poll_command(facilitator, poll, "poll:open")
    phone = await join(browser, server, code, "はなこ", viewport=PHONE)
    await expect(phone).to_have_url(f"{server}/boards/{board_id}")
    await expect_live(phone)
    await answer_scale(phone, poll, "o4")
    await poll_command(facilitator, poll, "poll:reveal")
    table = phone.locator(f"#poll-{poll} table.poll-table")
    await expect(table).to_have_count(1)
    cells = await table.evaluate("""table => {
        const headers = Array.from(table.querySelectorAll('thead th')).map(th => th.textContent.trim());
        const row = table.querySelector('tbody tr');
        return {headers, cells: Array.from(row.children).map(cell => ({
            label: getComputedStyle(cell, '::before').content, display: getComputedStyle(cell).display}))};
    }""")
    assert all(cell["display"] != "table-cell" for cell in cells["cells"]), cells  # stacked
    # every value cell says its column (the row's own header cell is its title)
    assert [cell["label"] for cell in cells["cells"][1:]] == [f'"{h}"' for h in cells["headers"][1:]]
    await shot(phone, "poll-results-390", f"#poll-{poll} table.poll-table")
    await no_axe_violations(phone)


async def test_the_door_roster_on_a_phone_keeps_its_column_labels(
        browser: Browser, server: str, demo_server: tuple[str, Path]):
    session_id = demo_session(demo_server, "org_id = (select id from organizations where slug = 'kanazawa') "
                                           "and format = 'in_person'")
    async with httpx.AsyncClient(base_url=server) as http:
        made = await http.post(f"/api/sessions/{session_id}/registrations",
                               json={"name": "受付 花子", "email": "roster-phone@example.jp"})
        assert made.status_code == 201, made.text
    organizer = await signed_in_facilitator(browser, server)
    await organizer.set_viewport_size(PHONE)
    await organizer.goto(f"{server}/organize/sessions/{session_id}/registrations")
    cell = organizer.locator("table.roster tbody td").first
    await expect(cell).to_be_visible()
    label = await cell.evaluate("cell => getComputedStyle(cell, '::before').content")
    assert label == '"状態"', label
    await shot(organizer, "roster-390", "table.roster")
    await no_axe_violations(organizer)


# ---------------------------------------------------------------- the registrant's page after cancelling

async def test_cancelled_registrant_page_on_a_phone(browser: Browser, server: str, demo_server: tuple[str, Path]):
    session_id = demo_session(demo_server, "format = 'in_person'")
    async with httpx.AsyncClient(base_url=server) as http:
        made = await http.post(f"/api/sessions/{session_id}/registrations",
                               json={"name": "取消 太郎", "email": "cancel-browser@example.jp"})
        assert made.status_code == 201, made.text
        token = made.json()["token"]
        assert (await http.delete(f"/api/registrations/{token}")).status_code in (200, 204)
    page = await new_page(browser, viewport=PHONE)
    await page.goto(f"{server}/r/{token}?new=1")
    await expect(page.locator("#registration-cancelled")).to_contain_text("申込をキャンセルしました")
    await expect(page.locator(".calendar-links")).to_have_count(0)
    await expect(page.locator("body")).not_to_contain_text("0番")
    await shot(page, "registrant-cancelled-390")
    await no_axe_violations(page)


# ---------------------------------------------------------------- English on the first visit

async def test_a_browser_set_to_english_gets_english_on_its_first_visit(browser: Browser, server: str):
    page = await new_page(browser, viewport=PHONE, locale="en-US")
    await page.goto(server + "/sessions?childcare=1")
    assert await page.locator("html").get_attribute("lang") == "en"
    await expect(page.locator("h1")).to_have_text("Find a session")
    await shot(page, "sessions-english-390")
    await no_axe_violations(page)
    # the remembered choice wins over the browser's
    await page.goto(server + "/lang/ja?next=/sessions")
    assert await page.locator("html").get_attribute("lang") == "ja"


# ---------------------------------------------------------------- every page this work touched, both sizes

async def test_pages_touched_have_no_accessibility_violations(
        browser: Browser, server: str, demo_server: tuple[str, Path]):
    session_id = demo_session(demo_server, "org_id = (select id from organizations where slug = 'kanazawa') "
                                           "and childcare_places is not null")
    public = ["/", "/sessions", "/sessions?childcare=1", f"/sessions/{session_id}", f"/sessions/{session_id}?lang=en",
              f"/sessions/{session_id}/register", "/orgs/kanazawa"]
    staff = ["/organize", f"/organize/sessions/{session_id}", f"/organize/sessions/{session_id}/registrations",
             f"/organize/sessions/{session_id}/registrations/new", "/organize/sessions/new", "/organize/arrange",
             "/organize/venues"]
    found: dict[str, list[str]] = {}
    for viewport in (PHONE, DESKTOP):
        page = await new_page(browser, viewport=viewport)
        for path in public:
            await page.goto(server + path)
            found[f"{viewport['width']} {path}"] = await axe_violations(page)
        organizer = await signed_in_facilitator(browser, server)
        await organizer.set_viewport_size(viewport)
        for path in staff:
            await organizer.goto(server + path)
            found[f"{viewport['width']} {path}"] = await axe_violations(organizer)
    assert {where: v for where, v in found.items() if v} == {}
