"""Live captions in real Debian Chromium (Playwright) with the official socket.io client: a captioner
working by keyboard only, viewers following and choosing how captions look, the band on the board, the
online room; axe-core on each page at phone and desktop widths, with screenshots to look at."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, WebSocketRoute, expect

from server.auth import accounts
from tests.caption_clients import CaptionClient, organizer, switch_on
from tests.harness import (
    TOKYO,
    TaiwaServer,
    Workshop,
    axe_violations,
    in_own_loop,
    make_account,
    make_session,
    make_venue,
    new_page,
    open_database,
    signed_in_page,
)
from tests.socket_clients import op, until

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots-captions")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


async def _seed(db_path: Path) -> Workshop:
    """A hybrid forum that starts in ten minutes, and its organizer's API token."""
    async with open_database(db_path) as db:
        account = await make_account(db, "staff@kanazawa.example")
        venue = await make_venue(db, account.org_id)
        start = (datetime.now(TOKYO) + timedelta(minutes=10)).replace(tzinfo=None, microsecond=0)
        session_id = await make_session(db, account.org_id, venue, title="市民フォーラム 2026", kind="forum",
                                        format="hybrid", capacity_online=30, online_url="https://meet.example/forum",
                                        starts_at=start, ends_at=start + timedelta(hours=2))
        async with db.transaction() as conn:
            token = await accounts.create_api_token(conn, account.id, "captions browser")
    return Workshop(db_path=db_path, session_id=session_id, api_token=token)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaiwaServer]:
    folder = tmp_path_factory.mktemp("captions-browser")
    running = TaiwaServer(in_own_loop(_seed(folder / "taiwa.sqlite3")), folder / "server.log")
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def look(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def no_violations(page: Page, name: str) -> None:
    for size, label in ((PHONE, "390"), (DESKTOP, "1366")):
        await page.set_viewport_size(size)
        await look(page, f"{name}-{label}")
        assert await axe_violations(page) == [], (name, label)


def shown_lines(page: Page, list_id: str = "#caption-lines") -> object:
    return page.locator(f"{list_id} li:not([hidden]) .caption-text")


async def typing_and_signed_in(browser: Browser, server: TaiwaServer, http: httpx.AsyncClient, line: str,
                               title: str) -> tuple[dict[str, Any], CaptionClient, dict[str, Any], Page]:
    """Captions on with a typist who has sent `line` (司会), a new board, and a page signed in as staff."""
    link = await switch_on(http, server)
    typist = CaptionClient("typist")
    await typist.join(server.base, {"code": link["code"], "token": link["captioner_token"]})
    assert (await typist.call("caption:line", {"op": op(), "text": line, "speaker": "司会"}))["ok"]
    board = (await http.post(f"{server.base}/api/sessions/{server.workshop.session_id}/boards",
                             json={"title": title, "prompts": ["意見"]}, headers=organizer(server))).json()
    page = await signed_in_page(browser, server.base, "staff@kanazawa.example")
    return link, typist, board, page


async def test_keyboard_only_captioner_relays_with_a_second_typist_and_viewers_see_it_live(browser: Browser, server,
                                                                                            http):
    link = await switch_on(http, server, "入力者1")
    partner = await switch_on(http, server, "入力者2")
    code = link["code"]
    viewer = await new_page(browser)
    await viewer.goto(f"{server.base}/c/{code}")
    await expect(viewer.locator("[data-connection]")).to_have_text("字幕をリアルタイムで表示しています。")

    typist = await new_page(browser)
    await typist.goto(link["captioner_url"])
    await expect(typist.locator("[data-connection]")).to_have_text("字幕をリアルタイムで表示しています。")
    box = typist.locator("#caption-input")
    await expect(box).to_be_focused()  # ready to type at once, no mouse
    await typist.keyboard.press("Alt+1")
    await expect(typist.locator("#speaker-1")).to_be_checked()
    await typist.keyboard.type("ただいまから市民フォーラムを始めます")
    await typist.keyboard.press("Enter")
    await expect(box).to_have_value("")
    await expect(shown_lines(viewer)).to_have_text(["ただいまから市民フォーラムを始めます"])
    await expect(viewer.locator("#caption-lines .caption-speaker")).to_have_text(["司会"])

    # the second typist takes over (python-socketio), the first types on; one stream, in order
    other = CaptionClient("入力者2")
    await other.join(server.base, {"code": code, "token": partner["captioner_token"]})
    assert (await other.call("caption:line", {"op": op(), "text": "市長、お願いします", "speaker": "司会"}))["ok"]
    await typist.keyboard.press("Alt+2")
    await typist.keyboard.type("みなさん、こんにちは。しみんの声を聞かせてください")
    await typist.keyboard.press("Enter")
    await expect(shown_lines(viewer)).to_have_text(["ただいまから市民フォーラムを始めます", "市長、お願いします",
                                                    "みなさん、こんにちは。しみんの声を聞かせてください"])
    await expect(typist.locator("#captioner-lines .caption-text")).to_have_count(3)

    # the corrector's fix by keyboard: Alt+↑ edits the latest line, Enter saves, focus returns to typing
    await typist.keyboard.press("Alt+ArrowUp")
    editor = typist.locator("#edit-3")
    await expect(editor).to_be_focused()
    await editor.fill("みなさん、こんにちは。市民の声を聞かせてください")
    await typist.keyboard.press("Enter")
    await expect(box).to_be_focused()
    await expect(shown_lines(viewer).nth(2)).to_have_text("みなさん、こんにちは。市民の声を聞かせてください")
    await until(lambda: other.lines.get(3, {}).get("text") == "みなさん、こんにちは。市民の声を聞かせてください",
                "the correction reaches the other typist")
    # Escape empties the field; Alt+0 takes the speaker away
    await typist.keyboard.type("消す文")
    await typist.keyboard.press("Escape")
    await expect(box).to_have_value("")
    await typist.keyboard.press("Alt+0")
    await expect(typist.locator("#speaker-0")).to_be_checked()
    await look(typist, "captioner-working")
    await look(viewer, "viewer-live")
    await other.leave()


async def test_speaker_labels_are_configurable_and_remembered(browser: Browser, server, http):
    link = await switch_on(http, server)
    page = await new_page(browser)
    await page.goto(link["captioner_url"])
    await page.locator(".captioner__labels summary").click()
    await page.locator("#speaker-labels").fill("司会\n副市長\n手話通訳\n会場A")
    await page.locator("#speaker-labels-form button").click()
    await expect(page.locator("#speaker-2")).to_have_value("副市長")
    await expect(page.locator("#speaker-4")).to_have_value("会場A")
    await page.reload()
    await expect(page.locator("#speaker-3")).to_have_value("手話通訳")
    await page.keyboard.press("Alt+4")
    await page.locator("#caption-input").fill("会場からの質問です")
    await page.keyboard.press("Enter")
    await expect(page.locator("#captioner-lines li").last.locator(".caption-speaker")).to_have_text("会場A")


async def test_viewer_chooses_size_colours_lines_and_announcing_and_it_is_remembered(browser: Browser, server, http):
    link = await switch_on(http, server)
    typist = CaptionClient("typist")
    await typist.join(server.base, {"code": link["code"], "token": link["captioner_token"]})
    for n in range(6):
        assert (await typist.call("caption:line", {"op": op(), "text": f"表示テスト {n}"}))["ok"]
    page = await new_page(browser)
    await page.goto(f"{server.base}/c/{link['code']}")
    view = page.locator("#captions-view")
    await page.locator(".captions-settings summary").click()
    await page.locator("#cs-size").select_option("xxl")
    await page.locator("#cs-theme").select_option("yellow")
    await page.locator("#cs-lines").select_option("3")
    await page.locator("#cs-announce").uncheck()
    await expect(view).to_have_class(["captions-page", "captions-size-xxl", "captions-theme-yellow"][0] and
                                     __import__("re").compile(r"captions-size-xxl.*captions-theme-yellow|"
                                                              r"captions-theme-yellow.*captions-size-xxl"))
    await expect(shown_lines(page)).to_have_text([f"表示テスト {n}" for n in range(3, 6)])
    await expect(page.locator("[role=log]")).to_have_attribute("aria-live", "off")
    assert (await typist.call("caption:line", {"op": op(), "text": "新しい行"}))["ok"]
    await expect(shown_lines(page)).to_have_text(["表示テスト 4", "表示テスト 5", "新しい行"])
    await look(page, "viewer-yellow-xxl")
    await page.reload()
    await expect(page.locator("#cs-size")).to_have_value("xxl")
    await expect(shown_lines(page)).to_have_count(3)
    await expect(page.locator("[role=log]")).to_have_attribute("aria-live", "off")
    await page.locator(".captions-settings summary").click()
    await page.locator("#cs-announce").check()
    await expect(page.locator("[role=log]")).to_have_attribute("aria-live", "polite")
    await typist.leave()


async def test_reconnecting_viewer_in_the_browser_catches_up(browser: Browser, server, http):
    """The page's socket drops (the server goes away and comes back); lines typed meanwhile arrive."""
    link = await switch_on(http, server)
    page = await new_page(browser)
    await page.goto(f"{server.base}/c/{link['code']}")
    await expect(page.locator("[data-connection]")).to_have_text("字幕をリアルタイムで表示しています。")
    await page.context.set_offline(True)
    typist = CaptionClient("typist")
    await typist.join(server.base, {"code": link["code"], "token": link["captioner_token"]})
    assert (await typist.call("caption:line", {"op": op(), "text": "切断中に入力された行"}))["ok"]
    await page.context.set_offline(False)
    await expect(page.locator("#caption-lines .caption-text").last).to_have_text("切断中に入力された行", timeout=30_000)
    await typist.leave()


async def test_a_viewer_that_misses_a_message_joins_again_for_it(browser: Browser, server, http):
    """A caption message lost on its way (here: dropped between the server and the page): the next one
    skips a seq, so the page joins again with `since` and gets the line it missed, without a reload."""
    link = await switch_on(http, server)
    sockets: list[object] = []
    dropped: list[str] = []

    def between(ws: WebSocketRoute) -> None:
        sockets.append(ws)
        upstream = ws.connect_to_server()

        def to_page(message: str | bytes) -> None:
            if isinstance(message, str) and "LOST-LINE" in message and not dropped:
                dropped.append(message)
                return
            ws.send(message)

        upstream.on_message(to_page)
        ws.on_message(upstream.send)

    page = await new_page(browser)
    await page.route_web_socket(re.compile(r".*/socket\.io/.*"), between)
    await page.goto(f"{server.base}/c/{link['code']}")
    await expect(page.locator("[data-connection]")).to_have_text("字幕をリアルタイムで表示しています。")
    await page.evaluate("window.sameDocument = true")
    before = await shown_lines(page).all_text_contents()  # the stream's lines so far (other tests' too)
    typist = CaptionClient("typist")
    await typist.join(server.base, {"code": link["code"], "token": link["captioner_token"]})
    for text in ("最初の行", "LOST-LINE 届かなかった行", "次の行"):
        assert (await typist.call("caption:line", {"op": op(), "text": text}))["ok"]
    await expect(shown_lines(page)).to_have_text([*before, "最初の行", "LOST-LINE 届かなかった行", "次の行"])
    assert dropped and len(sockets) == 2  # the message was lost, and the page joined again once
    assert await page.evaluate("window.sameDocument === true")  # no reload
    await typist.leave()


async def test_pages_pass_axe_at_phone_and_desktop_widths(browser: Browser, server, http):
    link = await switch_on(http, server)
    typist = CaptionClient("typist")
    await typist.join(server.base, {"code": link["code"], "token": link["captioner_token"]})
    assert (await typist.call("caption:line", {"op": op(), "text": "アクセシビリティの確認", "speaker": "司会"}))["ok"]
    page = await new_page(browser)
    await page.goto(f"{server.base}/c/{link['code']}")
    await expect(page.locator("[data-connection]")).to_have_text("字幕をリアルタイムで表示しています。")
    await page.locator(".captions-settings summary").click()
    await no_violations(page, "viewer")
    for theme in ("light", "yellow"):
        await page.locator("#cs-theme").select_option(theme)
        assert await axe_violations(page) == [], theme
    await page.goto(link["captioner_url"])
    await expect(page.locator("[data-connection]")).to_have_text("字幕をリアルタイムで表示しています。")
    await page.keyboard.press("Alt+ArrowUp")
    await no_violations(page, "captioner")

    board = await http.post(f"{server.base}/api/sessions/{server.workshop.session_id}/boards",
                            json={"title": "地域の未来", "prompts": ["良いところ", "困っていること"]},
                            headers=organizer(server))
    assert board.status_code == 201
    registered = await http.post(f"{server.base}/api/sessions/{server.workshop.session_id}/registrations",
                                 json={"name": "オンライン参加", "email": "online@example.jp", "mode": "online"})
    token = registered.json()["token"]
    await page.goto(f"{server.base}/r/{token}/room")
    await expect(page.locator("#connection")).not_to_have_text("接続しています…")
    await expect(page.locator("#captions-band .caption-text").last).to_have_text("アクセシビリティの確認")
    assert (await typist.call("caption:line", {"op": op(), "text": "オンライン会場にも届く"}))["ok"]
    await expect(page.locator("#captions-band .caption-text").last).to_have_text("オンライン会場にも届く")
    await no_violations(page, "online-room")
    await typist.leave()


async def test_the_band_on_the_participant_board_follows_the_captions(browser: Browser, server, http):
    link = await switch_on(http, server)
    board = (await http.post(f"{server.base}/api/sessions/{server.workshop.session_id}/boards",
                             json={"title": "字幕つきボード", "prompts": ["意見"]}, headers=organizer(server))).json()
    page = await new_page(browser)
    await page.goto(f"{server.base}/j/{board['join_code']}")
    await page.locator("#f-display_name").fill("さくら")
    await page.locator("#f-display_name").press("Enter")
    await expect(page).to_have_url(f"{server.base}/boards/{board['id']}")
    typist = CaptionClient("typist")
    await typist.join(server.base, {"code": link["code"], "token": link["captioner_token"]})
    assert (await typist.call("caption:line", {"op": op(), "text": "ボードの上にも字幕", "speaker": "市長"}))["ok"]
    await expect(page.locator("#captions-band .caption-text").last).to_have_text("ボードの上にも字幕")
    toggle = page.locator("#captions-band [data-announce-toggle]")
    await toggle.focus()
    await page.keyboard.press("Enter")
    await expect(toggle).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("#captions-band [role=log]")).to_have_attribute("aria-live", "polite")
    await no_violations(page, "board-band")
    await typist.leave()
    await asyncio.sleep(0)


async def test_organizer_page_and_the_projector_band_pass_axe(browser: Browser, server, http):
    _link, typist, board, page = await typing_and_signed_in(browser, server, http, "プロジェクターの字幕", "投影するボード")
    await page.goto(f"{server.base}/organize/sessions/{server.workshop.session_id}/captions")
    await page.locator("form.inline-form button.secondary").last.click()
    await expect(page.locator("#new-captioner-link")).to_contain_text("/captioner/ct_")
    await no_violations(page, "organize-captions")

    await page.set_viewport_size({"width": 1920, "height": 1080})
    await page.goto(f"{server.base}/boards/{board['id']}/present")
    await expect(page.locator("#captions-band .caption-text").last).to_have_text("プロジェクターの字幕")
    assert (await typist.call("caption:line", {"op": op(), "text": "投影中に届いた行"}))["ok"]
    await expect(page.locator("#captions-band .caption-text").last).to_have_text("投影中に届いた行")
    await page.screenshot(path=str(SHOTS / "present-1920.png"))
    # the room reads the captions without scrolling: a band at the bottom of the screen, in stage-sized type
    band = await page.locator("#captions-band .caption-text").last.bounding_box()
    assert band is not None and 540 <= band["y"] and band["y"] + band["height"] <= 1080, band
    size = await page.locator("#captions-band .caption-text").last.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 32, size
    assert await axe_violations(page) == []
    await typist.leave()


async def test_the_facilitators_console_shows_the_band_live_and_passes_axe(browser: Browser, server, http):
    link, typist, board, page = await typing_and_signed_in(browser, server, http, "進行役の画面にも字幕", "進行役のボード")
    await page.goto(f"{server.base}/boards/{board['id']}/facilitate")
    band = page.locator("#captions-band")
    await expect(band.locator("[data-connection]")).to_have_text("字幕をリアルタイムで表示しています。")
    await expect(band.locator(".caption-text").last).to_have_text("進行役の画面にも字幕")
    assert (await typist.call("caption:line", {"op": op(), "text": "進行中に届いた行", "speaker": "市長"}))["ok"]
    await expect(band.locator(".caption-text").last).to_have_text("進行中に届いた行")
    # the console's own live parts re-render around it (a phase change) and the band stays as it is
    phase = page.locator("#board-controls .control-state strong").first
    before = await phase.text_content()
    await page.locator("#control-next-phase").click()
    await expect(phase).not_to_have_text(before or "")
    await expect(band.locator("li:not([hidden]) .caption-text").last).to_have_text("進行中に届いた行")
    await expect(band.locator("li:not([hidden]) .caption-text").nth(-2)).to_have_text("進行役の画面にも字幕")
    # the viewer's controls, by keyboard: announcing new lines on, and the full-screen view
    toggle = band.locator("[data-announce-toggle]")
    await toggle.focus()
    await page.keyboard.press("Enter")
    await expect(toggle).to_have_attribute("aria-pressed", "true")
    await expect(band.locator("[role=log]")).to_have_attribute("aria-live", "polite")
    await expect(band.locator(f"a[href='/c/{link['code']}']")).to_be_visible()
    await no_violations(page, "console-band")
    await page.set_viewport_size(PHONE)
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(SHOTS / "console-band-390-top.png"))  # what a phone shows first
    await typist.leave()
