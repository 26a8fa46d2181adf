"""The live workshop board in real Debian Chromium (Playwright): a facilitator and participants in
separate browser contexts, the socket.io client in the page, axe-core on every page and phase."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from sessions.demo import DEMO_PASSWORD
from tests.harness import axe_violations, new_context, read_db, signed_in_page

pytestmark = pytest.mark.browser

ORGANIZER = "organizer@kanazawa.example"
PROMPTS = ("地域の良いところ", "困っていること", "やってみたいこと")


@pytest.fixture
def server(demo_server: tuple[str, Path]) -> str:
    """`taiwa serve --demo` as a real process on a free port (one for this module): its base URL."""
    return demo_server[0]


@pytest.fixture(scope="module")
def session_id(demo_server: tuple[str, Path]) -> int:
    """A published session of the demo organization "kanazawa" (the organizer's own)."""
    rows = read_db(demo_server[1], "select id from sessions where org_id = (select id from organizations where "
                                   "slug = ?) and status = 'published' order by id limit 1", ("kanazawa",))
    assert rows, "the demo data has no published kanazawa session"
    return rows[0][0]


# ---------------------------------------------------------------- people and boards

async def signed_in_facilitator(browser: Browser, server: str) -> Page:
    return await signed_in_page(browser, server, ORGANIZER, DEMO_PASSWORD)


async def create_board(page: Page, server: str, session_id: int, title: str) -> tuple[int, str]:
    """The facilitator sets up a board with three prompts; its id and six-digit join code."""
    await page.goto(f"{server}/organize/sessions/{session_id}/boards")
    await page.locator("#f-title").fill(title)
    await page.locator("#f-prompts").fill("\n".join(PROMPTS))
    await page.locator("form[method=post] button[type=submit]").last.click()
    await expect(page).to_have_url(re.compile(r"/boards/\d+/facilitate$"))
    board_id = int(re.search(r"/boards/(\d+)/facilitate", page.url).group(1))  # type: ignore[union-attr]
    code = (await page.locator(".join-code").last.inner_text()).strip()
    assert re.fullmatch(r"\d{6}", code), code
    await expect_live(page)
    return board_id, code


async def join(browser: Browser, server: str, code: str, name: str, *, list_view: bool = False,
               **options: object) -> Page:
    """A participant without an account joins by the code with a display name."""
    return await join_in(await new_context(browser, **options), server, code, name, list_view=list_view)


async def join_in(context: BrowserContext, server: str, code: str, name: str, *, list_view: bool = False) -> Page:
    page = await context.new_page()
    await page.goto(f"{server}/j/{code}")
    await page.locator("#f-display_name").fill(name)
    if list_view:
        await page.locator("#f-view").check()
    await page.locator("form[method=post] button[type=submit]").click()
    return page


async def board_texts(page: Page) -> dict:
    """The page's own translated messages (so assertions hold in either language)."""
    return json.loads(await page.locator("#board-i18n").text_content() or "{}")


async def expect_live(page: Page) -> None:
    """The socket is connected: the status line says so."""
    await expect(page.locator("#connection")).to_have_text((await board_texts(page))["connected"])


async def add_note(page: Page, zone: str, text: str) -> None:
    await page.locator(f"#text-{zone}").fill(text)
    await page.locator(f"#add-{zone} button[type=submit]").click()
    await expect(page.locator(f"#zone-{zone} .note__text", has_text=text)).to_be_visible()


async def note_id(page: Page, text: str) -> str:
    note = page.locator("li.note", has=page.locator(".note__text", has_text=text))
    return (await note.get_attribute("id") or "").removeprefix("note-")


async def set_phase(facilitator: Page, phase: str) -> None:
    await facilitator.locator("#phase-select").select_option(phase)
    await facilitator.locator("form:has(#phase-select) button[type=submit]").click()
    await expect(facilitator.locator(f"#board-list .phase--{phase}")).to_be_visible()


async def focus_with_tab(page: Page, element_id: str, limit: int = 12) -> None:
    """Press Tab until the element has focus, as a keyboard user would."""
    for _ in range(limit):
        if await page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
        await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement && document.activeElement.id") == element_id, \
        f"#{element_id} was not reached with Tab"


async def open_change_menu(page: Page, note: str) -> None:
    """Focus the note's "Change" summary and open it with Enter."""
    await page.locator(f"#more-{note} > summary").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator(f"#more-{note}")).to_have_attribute("open", "")


async def record_axe(results: dict[str, list[str]], label: str, page: Page) -> None:
    results[label] = await axe_violations(page)


# ---------------------------------------------------------------- tests

async def test_facilitator_and_two_participants_run_a_whole_workshop(browser: Browser, server: str,
                                                                      session_id: int):
    axe: dict[str, list[str]] = {}
    errors: list[str] = []
    facilitator = await signed_in_facilitator(browser, server)
    board_id, code = await create_board(facilitator, server, session_id, "まちの未来を話そう")
    projector = await facilitator.context.new_page()
    await projector.goto(f"{server}/boards/{board_id}/present")
    await expect(projector.locator(".join-code")).to_have_text(code)

    aiko = await join(browser, server, code, "あいこ")
    await expect(aiko).to_have_url(f"{server}/boards/{board_id}")
    ben = await join(browser, server, code, "Ben")
    await expect(ben).to_have_url(f"{server}/boards/{board_id}")
    await expect_live(aiko)
    await expect_live(ben)
    for page in (facilitator, projector, aiko, ben):
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    # write: each adds notes in different zones and sees the other's appear live
    await add_note(aiko, "z1", "港の朝市がにぎやか")
    await add_note(aiko, "z2", "バス停が遠い")
    await add_note(ben, "z2", "夜道が暗い")
    await add_note(ben, "z3", "空き家でカフェを開く")
    await expect(ben.locator("#zone-z1 .note__text")).to_contain_text(["港の朝市がにぎやか"])
    await expect(ben.locator("#zone-z2")).to_contain_text("バス停が遠い")
    await expect(aiko.locator("#zone-z2")).to_contain_text("夜道が暗い")
    await expect(aiko.locator("#zone-z3")).to_contain_text("空き家でカフェを開く")
    await expect(facilitator.locator("#zone-z3")).to_contain_text("空き家でカフェを開く")
    await expect(projector.locator("#zone-z3")).to_contain_text("空き家でカフェを開く")
    for label, page in (("participant", aiko), ("facilitator", facilitator), ("projector", projector)):
        await record_axe(axe, f"write/{label}", page)

    # group: by keyboard only, two notes of zone 2 go into a new cluster
    await set_phase(facilitator, "group")
    await expect(aiko.locator("#board-list .phase--group")).to_be_visible()
    await expect(projector.locator("#board-list .phase--group")).to_be_visible()
    bus, dark = await note_id(aiko, "バス停が遠い"), await note_id(aiko, "夜道が暗い")

    await open_change_menu(aiko, dark)
    await record_axe(axe, "group/participant (change menu open)", aiko)
    await focus_with_tab(aiko, f"group-{dark}")
    await focus_with_tab(aiko, f"newgroup-{dark}")
    await aiko.keyboard.type("移動と安全")
    await aiko.keyboard.press("Enter")
    for page in (aiko, ben, facilitator, projector):
        await expect(page.locator("#board-list section.cluster h3")).to_have_text(["移動と安全"])
    cluster = (await aiko.locator("section.cluster").get_attribute("id") or "").removeprefix("cluster-")

    await open_change_menu(aiko, bus)
    await focus_with_tab(aiko, f"group-{bus}")
    await aiko.keyboard.press("ArrowDown")
    await expect(aiko.locator(f"#group-{bus}")).to_have_value(cluster)
    await focus_with_tab(aiko, f"newgroup-{bus}")
    await aiko.keyboard.press("Enter")
    for page in (aiko, ben, facilitator, projector):
        await expect(page.locator(f"#cluster-{cluster} .note__text")).to_have_text(
            ["バス停が遠い", "夜道が暗い"])
    for label, page in (("participant", aiko), ("facilitator", facilitator), ("projector", projector)):
        await record_axe(axe, f"group/{label}", page)

    # vote: dots with aria-pressed and a live "N of M have voted"
    await set_phase(facilitator, "vote")
    market = await note_id(aiko, "港の朝市がにぎやか")
    await expect(aiko.locator(f"#vote-{market}")).to_have_attribute("aria-pressed", "false")
    await expect(aiko.locator(".votes-left")).to_contain_text(re.compile(r"0\D+2"))
    await aiko.locator(f"#vote-{market}").click()
    await expect(aiko.locator(f"#vote-{market}")).to_have_attribute("aria-pressed", "true")
    await expect(ben.locator(".votes-left")).to_contain_text(re.compile(r"1\D+2"))
    for note in (bus, dark):  # Ben votes by keyboard
        await ben.locator(f"#vote-{note}").focus()
        await ben.keyboard.press("Enter")
        await expect(ben.locator(f"#vote-{note}")).to_have_attribute("aria-pressed", "true")
    await expect(aiko.locator(".votes-left")).to_contain_text(re.compile(r"2\D+2"))
    await expect(aiko.locator("section.results")).to_have_count(0)
    for label, page in (("participant", aiko), ("facilitator", facilitator), ("projector", projector)):
        await record_axe(axe, f"vote/{label}", page)

    # reveal: the results appear for everyone, the cluster first
    await facilitator.locator("form:has(input[name=type][value='votes:reveal']) button").click()
    for page in (aiko, ben):
        await expect(page.locator("section.results h2")).to_be_visible()
        await expect(page.locator("section.results li").first).to_contain_text("移動と安全")
    await expect(projector.locator("#board-list")).to_have_attribute("data-stage", "reveal")  # full screen
    await expect(projector.locator(".ranking li").first).to_contain_text("移動と安全")
    for label, page in (("participant", aiko), ("facilitator", facilitator), ("projector", projector)):
        await record_axe(axe, f"revealed/{label}", page)

    # export: the facilitator downloads the Markdown, with every note, the cluster and the ranking
    async with facilitator.expect_download() as download_info:
        await facilitator.get_by_role("link", name="Markdown").click()
    download = await download_info.value
    assert download.suggested_filename == f"board-{board_id}.md"
    markdown = Path(await download.path()).read_text(encoding="utf-8")
    for text in ("港の朝市がにぎやか", "バス停が遠い", "夜道が暗い", "空き家でカフェを開く", "### 移動と安全",
                 *PROMPTS):
        assert text in markdown
    assert re.search(r"^1\. 移動と安全 — 2\b", markdown, re.MULTILINE), markdown

    assert {label: found for label, found in axe.items() if found} == {}
    assert errors == []


async def test_participant_without_javascript_adds_a_note_in_the_simple_list_view(browser: Browser, server: str,
                                                                                  session_id: int):
    facilitator = await signed_in_facilitator(browser, server)
    board_id, code = await create_board(facilitator, server, session_id, "リスト表示で参加")
    page = await join(browser, server, code, "ちえ", list_view=True, java_script_enabled=False)
    await expect(page).to_have_url(f"{server}/boards/{board_id}/list")
    await expect(page.locator("#zone-z2-title")).to_contain_text(PROMPTS[1])

    await page.locator("#text-z2").fill("商店街に休める椅子がほしい")
    await page.locator("#add-z2 button[type=submit]").click()
    await expect(page).to_have_url(re.compile(rf"/boards/{board_id}/list\?msg="))
    await expect(page.locator("#board-list .notice")).to_have_text(re.compile("保存|Saved"))
    await expect(page.locator("#zone-z2 .note__text")).to_have_text(["商店街に休める椅子がほしい"])
    await expect(facilitator.locator("#zone-z2 .note__text")).to_have_text(["商店街に休める椅子がほしい"])

    # axe needs script, so the same person's list view (same cookies, same URL) is checked with it on
    checker = await (await new_context(browser, storage_state=await page.context.storage_state())).new_page()
    await checker.goto(page.url)
    await expect(checker.locator("#zone-z2 .note__text")).to_have_text(["商店街に休める椅子がほしい"])
    await expect(checker.locator("#board-list .notice")).to_have_text(re.compile("保存|Saved"))
    assert await axe_violations(checker) == []


async def test_keyboard_user_keeps_focus_and_unsent_text_when_others_add_notes(browser: Browser, server: str,
                                                                             session_id: int):
    facilitator = await signed_in_facilitator(browser, server)
    _board_id, code = await create_board(facilitator, server, session_id, "フォーカスを保つ")
    aiko = await join(browser, server, code, "あいこ")
    ben = await join(browser, server, code, "Ben")
    await expect_live(aiko)
    await expect_live(ben)

    draft = aiko.locator("#text-z2")
    await draft.focus()
    await aiko.keyboard.type("駅前の駐輪場が")
    await add_note(ben, "z2", "ゴミの分別がわかりにくい")
    await add_note(ben, "z2", "子どもの遊び場が少ない")
    await expect(aiko.locator("#zone-z2 .note__text")).to_have_text(
        ["ゴミの分別がわかりにくい", "子どもの遊び場が少ない"])

    assert await aiko.evaluate("document.activeElement.id") == "text-z2"
    await expect(draft).to_have_value("駅前の駐輪場が")
    await aiko.keyboard.type("いつも満車")  # typing simply goes on
    await expect(draft).to_have_value("駅前の駐輪場がいつも満車")


async def test_announcements_are_muted_with_the_mute_button_and_it_is_remembered(browser: Browser, server: str,
                                                                               session_id: int):
    facilitator = await signed_in_facilitator(browser, server)
    _board_id, code = await create_board(facilitator, server, session_id, "読み上げの切り替え")
    people = []
    for name in ("あいこ", "Ben"):
        context = await new_context(browser)
        await context.clock.install()  # announcements are throttled by a timer; the test moves the clock on
        people.append(await join_in(context, server, code, name))
    aiko, ben = people

    mute = aiko.locator("#mute")
    await expect(mute).to_have_attribute("aria-pressed", "false")
    await mute.click()
    await expect(mute).to_have_attribute("aria-pressed", "true")
    await aiko.reload()
    await expect(mute).to_have_attribute("aria-pressed", "true")
    await expect(ben.locator("#mute")).to_have_attribute("aria-pressed", "false")
    await expect_live(aiko)
    await expect_live(ben)

    await add_note(facilitator, "z1", "川沿いの桜並木")
    for page in (aiko, ben):
        await expect(page.locator("#zone-z1 .note__text")).to_have_text(["川沿いの桜並木"])
        await page.clock.fast_forward(5000)
    await expect(ben.locator("#announcer")).to_contain_text(PROMPTS[0])
    await expect(aiko.locator("#announcer")).to_have_text("")

    await mute.click()
    await expect(mute).to_have_attribute("aria-pressed", "false")
    await add_note(facilitator, "z3", "古民家で料理教室")
    await expect(aiko.locator("#zone-z3 .note__text")).to_have_text(["古民家で料理教室"])
    await aiko.clock.fast_forward(5000)
    await expect(aiko.locator("#announcer")).to_contain_text(PROMPTS[2])


async def test_keyboard_user_keeps_an_unsent_edit_when_someone_adds_a_note_to_the_same_zone(
        browser: Browser, server: str, session_id: int):
    facilitator = await signed_in_facilitator(browser, server)
    _board_id, code = await create_board(facilitator, server, session_id, "編集中の付箋")
    aiko = await join(browser, server, code, "あいこ")
    ben = await join(browser, server, code, "Ben")
    await expect_live(aiko)
    await expect_live(ben)
    await add_note(aiko, "z2", "街灯が少ない")
    mine = await note_id(aiko, "街灯が少ない")

    await open_change_menu(aiko, mine)
    await focus_with_tab(aiko, f"edit-{mine}")
    await aiko.keyboard.press("End")
    await aiko.keyboard.type("（特に川沿い）")
    await add_note(ben, "z2", "歩道が狭い")
    await expect(aiko.locator("#zone-z2 .note__text")).to_have_text(["街灯が少ない", "歩道が狭い"])

    assert await aiko.evaluate("document.activeElement.id") == f"edit-{mine}"
    await expect(aiko.locator(f"#edit-{mine}")).to_have_value("街灯が少ない（特に川沿い）")


async def test_draft_survives_the_first_hidden_note_by_others_during_private_writing(
        browser: Browser, server: str, session_id: int):
    facilitator = await signed_in_facilitator(browser, server)
    await facilitator.goto(f"{server}/organize/sessions/{session_id}/boards")
    await facilitator.locator("#f-title").fill("ひとりで書く時間")
    await facilitator.locator("#f-private_writing").check()
    await facilitator.locator("form[method=post] button[type=submit]").last.click()
    await expect(facilitator).to_have_url(re.compile(r"/boards/\d+/facilitate$"))
    code = (await facilitator.locator(".join-code").last.inner_text()).strip()
    aiko = await join(browser, server, code, "あいこ")
    ben = await join(browser, server, code, "Ben")
    await expect_live(aiko)
    await expect_live(ben)

    await aiko.locator("#text-z2").focus()
    await aiko.keyboard.type("公民館の予約が取りにくい")
    await add_note(ben, "z2", "回覧板が届くのが遅い")
    await expect(aiko.locator("#zone-z2 .hint")).to_be_visible()  # "1 note by others (shown after writing)"
    await expect(aiko.locator("#zone-z2 .note__text")).to_have_count(0)

    assert await aiko.evaluate("document.activeElement.id") == "text-z2"
    await expect(aiko.locator("#text-z2")).to_have_value("公民館の予約が取りにくい")


async def test_own_note_is_confirmed_but_not_announced_as_news(browser: Browser, server: str, session_id: int):
    facilitator = await signed_in_facilitator(browser, server)
    _board_id, code = await create_board(facilitator, server, session_id, "自分の付箋")
    context = await new_context(browser)
    await context.clock.install()  # announcements are throttled by a timer; the test moves the clock on
    aiko = await join_in(context, server, code, "あいこ")
    await expect_live(aiko)
    texts = await board_texts(aiko)

    await add_note(aiko, "z1", "朝市の活気")
    await expect(aiko.locator("#board-message")).to_have_text(texts["saved"])
    await aiko.clock.fast_forward(5000)
    await expect(aiko.locator("#announcer")).to_have_text("")

    await add_note(facilitator, "z1", "港の夕日")  # someone else's note is news
    await expect(aiko.locator("#zone-z1 .note__text")).to_have_text(["朝市の活気", "港の夕日"])
    await aiko.clock.fast_forward(5000)
    await expect(aiko.locator("#announcer")).to_contain_text(PROMPTS[0])
