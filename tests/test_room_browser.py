"""The room in real Chromium against a real `taiwa serve`: the projector stage follows the facilitator
through every stage (screenshots at 1920×1080 kept in /tmp/shots-room, axe-core, body text ≥ 32 px),
its keys drive the board, the console's buttons follow changes made by another facilitator client
(a python-socketio client and a second tab) without a reload, and a note is grouped with two keys or
one drag."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.harness import PASSWORD, axe_violations, new_context
from tests.socket_clients import Api, add_note, facilitator, ok, participant
from tests.socket_clients import crowd, fast_server  # noqa: F401 - fixtures, used by name

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("TAIWA_SHOTS", "/tmp/shots-room"))
FULL_HD = {"width": 1920, "height": 1080}
# every element of the stage with text of its own, visible: its computed font size in px
FONT_SIZES = """() => Array.from(document.querySelectorAll('#board-list *'))
  .filter(el => !el.closest('.visually-hidden') && !el.closest('svg') && el.getClientRects().length
          && Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim()))
  .map(el => [el.tagName + '.' + el.className, parseFloat(getComputedStyle(el).fontSize)])"""


@pytest.fixture
async def api(fast_server):  # noqa: F811 - the JSON API of the server without rate limits
    client = Api(fast_server)
    yield client
    await client.close()


async def signed_in(browser: Browser, base: str, **options: Any) -> Page:
    page = await (await new_context(browser, locale="ja-JP", **options)).new_page()
    await page.goto(base + "/organize/login")
    await page.locator("#f-email").fill("facilitator@kanazawa.example")
    await page.locator("#f-password").fill(PASSWORD)
    await page.locator("#f-password").press("Enter")
    await expect(page).to_have_url(base + "/organize")
    return page


async def live(page: Page) -> None:
    texts = await page.locator("#board-i18n").text_content()
    assert texts
    import json
    await expect(page.locator("#connection")).to_have_text(json.loads(texts)["connected"])


async def check_stage(projector: Page, stage: str, axe: dict[str, list[str]], fonts: dict[str, float]) -> None:
    """The projector shows `stage`; a screenshot, axe-core, and the smallest text on it."""
    await expect(projector.locator("#board-list")).to_have_attribute("data-stage", stage)
    await projector.wait_for_timeout(300)  # fonts and the QR code drawn before the picture
    SHOTS.mkdir(parents=True, exist_ok=True)
    await projector.screenshot(path=str(SHOTS / f"stage-{stage}.png"))
    axe[stage] = await axe_violations(projector)
    sizes = await projector.evaluate(FONT_SIZES)
    assert sizes, f"no text on the {stage} stage"
    fonts[stage] = min(size for _what, size in sizes)
    assert fonts[stage] >= 32, (stage, sorted(sizes, key=lambda s: s[1])[:3])


async def test_projector_follows_every_stage_and_its_keys_drive_the_board(browser: Browser, fast_server, api, crowd):
    board = await api.new_board("まちの未来を話そう")
    console = await signed_in(browser, fast_server.base, viewport={"width": 1366, "height": 900})
    await console.goto(f"{fast_server.base}/boards/{board['id']}/facilitate")
    await live(console)
    projector = await console.context.new_page()
    await projector.set_viewport_size(FULL_HD)
    await projector.goto(f"{fast_server.base}/boards/{board['id']}/present")
    await live(projector)
    axe: dict[str, list[str]] = {}
    fonts: dict[str, float] = {}
    assert await projector.locator(".site-header, .site-footer").count() == 0  # nothing of the site for the hall

    await check_stage(projector, "join", axe, fonts)
    await expect(projector.locator(".stage-join .join-code")).to_have_text(board["join_code"])
    fac = await facilitator(api, crowd, board)
    aiko = await participant(api, crowd, board, "あいこ")
    ben = await participant(api, crowd, board, "べん")
    await expect(projector.locator("#stage-count")).to_contain_text("2")

    first = await add_note(aiko, "海が近くて気持ちいい", zone="z1")
    await add_note(ben, "バスが一時間に一本しかない", zone="z2")
    await add_note(ben, "空き家でカフェを開く", zone="z3")
    await check_stage(projector, "writing", axe, fonts)
    await expect(projector.locator("#zone-z2")).to_contain_text("バスが一時間に一本しかない")

    await projector.keyboard.press("n")  # the projector's key: next phase
    await check_stage(projector, "grouping", axe, fonts)
    await expect(console.locator("#control-next-phase")).to_contain_text("投票")  # the console followed
    await ok(fac, "group:set", note=first["note"], title="自然")
    await expect(projector.locator("#zone-z1 .cluster h3")).to_have_text("自然")

    await projector.keyboard.press("ArrowRight")
    await check_stage(projector, "voting", axe, fonts)
    await ok(aiko, "vote:cast", note=first["note"])
    await expect(projector.locator("#stage-voted")).to_contain_text("1")
    assert "海が近く" not in await projector.locator("#board-list").inner_text()  # nothing revealed yet

    await projector.keyboard.press("r")
    await check_stage(projector, "reveal", axe, fonts)
    await expect(projector.locator(".ranking li").first).to_contain_text("自然")
    await expect(console.locator("#control-reveal")).to_have_text("結果を隠す")

    await projector.keyboard.press("t")
    await expect(projector.locator(".stage-timer .timer__left")).to_have_text(re.compile(r"^[45]:\d\d$"))
    await expect(console.locator("#control-timer-stop")).to_be_visible()

    poll = await ok(fac, "poll:create", type="fist_to_five", question="この方向で進めてよいですか", live_results=True,
                    open=True)
    await ok(aiko, "poll:answer", poll=poll["id"], choice="o6")  # 5: fully agree
    await ok(ben, "poll:answer", poll=poll["id"], choice="o5")   # 4: agree
    await check_stage(projector, "poll", axe, fonts)
    await expect(projector.locator(".stage-chart li").first).to_contain_text("反対")
    await expect(projector.locator(".stage-chart li").nth(5)).to_contain_text("1 (50%)")

    await ok(fac, "poll:close", poll=poll["id"])
    question = await ok(ben, "question:ask", text="駐車場は増えますか")
    await ok(fac, "question:moderate", question=question["id"], action="pin")
    await check_stage(projector, "qa", axe, fonts)
    await expect(projector.locator(".stage-pinned")).to_contain_text("駐車場は増えますか")

    await ok(fac, "board:joining", open=False)
    await expect(projector.locator(".stage-bar__join")).to_have_text("参加の受付は締め切りました")
    await ok(fac, "question:moderate", question=question["id"], action="unpin")
    await ok(fac, "phase:set", phase="closed")
    await check_stage(projector, "closing", axe, fonts)

    await projector.keyboard.press("?")
    await expect(projector.locator("#stage-keys")).to_be_visible()
    await projector.screenshot(path=str(SHOTS / "stage-keys.png"))
    await projector.keyboard.press("Escape")
    await expect(projector.locator("#stage-keys")).to_be_hidden()

    console_axe = await axe_violations(console)
    await console.screenshot(path=str(SHOTS / "console-1366.png"), full_page=True)

    # the outcome as a closing report: what happens next, attendance, notes ranked by dots
    await console.locator("#next-steps").fill("3月に市の考え方を公表します。\n次回は4月です。")
    await console.locator("form[action$='/next-steps'] button[type=submit]").click()
    await expect(console.locator("#next-steps")).to_have_value("3月に市の考え方を公表します。\n次回は4月です。")
    await console.locator("form[action$='/outcome'] button[type=submit]").click()
    report = await (await new_context(browser, locale="ja-JP", viewport={"width": 1366, "height": 900})).new_page()
    await report.goto(f"{fast_server.base}/boards/{board['id']}/outcome")
    await expect(report.locator(".outcome__next-text")).to_contain_text("次回は4月です。")
    await expect(report.locator("#outcome-attendance")).to_have_text("会場 0 人・オンライン 2 人・計 2 人")
    await expect(report.locator("#oz-z1 ~ ol > li").first).to_contain_text("自然")
    await report.screenshot(path=str(SHOTS / "outcome-1366.png"), full_page=True)
    await report.emulate_media(media="print")
    await report.screenshot(path=str(SHOTS / "outcome-print.png"), full_page=True)
    await expect(report.locator(".site-header")).to_be_hidden()  # A4 print: the report alone
    await report.emulate_media(media="screen")
    assert await axe_violations(report) == []
    assert {stage: found for stage, found in axe.items() if found} == {}
    assert console_axe == []
    print("smallest text per stage (px):", fonts)


async def test_console_buttons_follow_another_facilitator_without_a_reload(browser: Browser, fast_server, api, crowd):
    board = await api.new_board("ボタンの追従")
    console = await signed_in(browser, fast_server.base, viewport={"width": 1366, "height": 900})
    await console.goto(f"{fast_server.base}/boards/{board['id']}/facilitate")
    second = await console.context.new_page()
    await second.goto(f"{fast_server.base}/boards/{board['id']}/facilitate")
    await live(console)
    await live(second)
    await console.evaluate("window.notReloaded = true")
    fac = await facilitator(api, crowd, board)  # another facilitator, over python-socketio

    started = time.monotonic()
    await ok(fac, "board:lock", locked=True)
    await expect(console.locator("#control-lock")).to_have_text("ボードを再開")
    print(f"console button updated {time.monotonic() - started:.2f} s after another facilitator paused the board")
    await expect(console.locator("#state-locked")).to_contain_text("一時停止中")
    await ok(fac, "votes:reveal", revealed=True)
    await expect(console.locator("#control-reveal")).to_have_text("結果を隠す")
    await ok(fac, "timer:start", seconds=120)
    await expect(console.locator("#control-timer-stop")).to_be_visible()
    poll = await ok(fac, "poll:create", type="single_choice", question="どちらが良いですか", options=["A", "B"])
    await expect(console.locator(f"#poll-status-{poll['id']}")).to_contain_text("受付を開始する")
    await ok(fac, "poll:open", poll=poll["id"])
    await expect(console.locator(f"#poll-status-{poll['id']}")).to_contain_text("締め切る")
    await expect(console.locator(f"#poll-{poll['id']} .poll__meta")).to_contain_text("受付中")

    await console.locator("#control-lock").click()  # this console resumes: the other tab follows
    await expect(second.locator("#control-lock")).to_have_text("ボードを一時停止")
    await expect(console.locator("#control-lock")).to_have_text("ボードを一時停止")
    await console.locator(f"#poll-status-{poll['id']}").click()
    await expect(second.locator(f"#poll-status-{poll['id']}")).to_contain_text("受付を再開する")
    await console.locator("#control-next-phase").click()
    await expect(second.locator("#control-next-phase")).to_contain_text("投票")
    assert await console.evaluate("window.notReloaded") is True  # the same page all along
    snapshot = await fac.board()
    assert (snapshot["locked"], snapshot["phase"]) == (False, "group")


async def test_a_note_is_grouped_with_two_keys_or_one_drag(browser: Browser, fast_server, api, crowd):
    board = await api.new_board("グループ化")
    fac = await facilitator(api, crowd, board)
    # tall enough that a note and its prompt's heading are on the screen together
    page = await (await new_context(browser, locale="ja-JP", viewport={"width": 1366, "height": 2000})).new_page()
    await page.goto(f"{fast_server.base}/j/{board['join_code']}")
    await page.locator("#f-display_name").fill("さくら")
    await page.locator("form[method=post] button[type=submit]").click()
    await live(page)
    notes = [await add_note(fac, text, zone="z1") for text in ("海が近い", "砂浜がきれい", "山も近い", "川で遊べる")]
    ids = [n["note"] for n in notes]
    await ok(fac, "phase:set", phase="group")
    await expect(page.locator(f"#cluster-{ids[0]}")).to_be_visible()

    # keyboard only: the select starts on "A new cluster"; Tab to its button, Enter
    await page.locator(f"#cluster-{ids[0]}").focus()
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    cluster = page.locator("#zone-z1 section.cluster")
    await expect(cluster).to_have_count(1)
    await expect(cluster.locator("h3")).to_have_text("海が近い")
    # the next note joins it: focus its select, one arrow key, then Tab and Enter
    await page.locator(f"#cluster-{ids[1]}").focus()
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await expect(cluster.locator(f"#note-{ids[1]}")).to_be_visible()
    for note in ids[:2]:  # each note's menu now names the cluster it is in
        await expect(page.locator(f"#cluster-{note} option:checked")).to_have_text("海が近い")

    # one drag with the mouse: a loose note onto another loose note makes a cluster of the two
    source, target = page.locator(f"#note-{ids[3]} .note__text"), page.locator(f"#note-{ids[2]} .note__text")
    await source.hover()
    await page.mouse.down()
    box = await target.bounding_box()
    assert box
    await page.mouse.move(box["x"] + 20, box["y"] + 10, steps=8)
    await page.mouse.up()
    await expect(page.locator("#zone-z1 section.cluster")).to_have_count(2)
    second = page.locator("#zone-z1 section.cluster", has=page.locator("h3", has_text="山も近い"))
    await expect(second.locator(f"#note-{ids[3]}")).to_be_visible()
    # and out again: drag it onto the zone's loose notes
    await page.locator("#zone-z1 > h2").scroll_into_view_if_needed()
    await page.locator(f"#note-{ids[3]} .note__text").hover()
    box = await page.locator("#zone-z1 > h2").bounding_box()
    assert box
    await page.mouse.down()
    await page.mouse.move(box["x"] + 30, box["y"] + 10, steps=8)
    await page.mouse.up()
    await expect(page.locator(f"#zone-z1-notes #note-{ids[3]}")).to_be_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "grouping-participant-1366.png"), full_page=True)
    assert await axe_violations(page) == []
    snapshot = await fac.board()
    grouped = {n["id"]: n["group"] for n in snapshot["notes"]}
    assert grouped[ids[0]] == grouped[ids[1]] is not None and grouped[ids[3]] is None and grouped[ids[2]] is not None


async def test_joining_from_the_room_qr_code_counts_in_the_room_on_the_projector(browser: Browser, fast_server, api):
    board = await api.new_board("会場とオンライン")
    console = await signed_in(browser, fast_server.base)
    projector = await console.context.new_page()
    await projector.set_viewport_size(FULL_HD)
    await projector.goto(f"{fast_server.base}/boards/{board['id']}/present")
    await live(projector)
    for name, suffix in (("会場の人", "?via=room"), ("家の人", "")):
        phone = await (await new_context(browser, locale="ja-JP", viewport={"width": 390, "height": 844})).new_page()
        await phone.goto(f"{fast_server.base}/j/{board['join_code']}{suffix}")
        assert await phone.locator("#place-room").is_checked() == (suffix != "")
        if suffix:
            await phone.screenshot(path=str(SHOTS / "join-from-room-390.png"), full_page=True)
            assert await axe_violations(phone) == []
        await phone.locator("#f-display_name").fill(name)
        await phone.locator("form[method=post] button[type=submit]").click()
        await live(phone)
    await expect(projector.locator("#stage-count")).to_have_text("参加:会場 1 人 · オンライン 1 人 · 計 2 人")


async def test_a_note_is_grouped_by_touch_on_its_handle(browser: Browser, fast_server, api, crowd):
    board = await api.new_board("指でグループ化")
    fac = await facilitator(api, crowd, board)
    context = await new_context(browser, locale="ja-JP", viewport={"width": 390, "height": 1600}, has_touch=True,
                                is_mobile=True)
    page = await context.new_page()
    await page.goto(f"{fast_server.base}/j/{board['join_code']}")
    await page.locator("#f-display_name").fill("ゆう")
    await page.locator("form[method=post] button[type=submit]").click()
    await live(page)
    ids = [(await add_note(fac, text, zone="z2"))["note"] for text in ("街灯が少ない", "歩道が狭い")]
    await ok(fac, "phase:set", phase="group")
    handle = page.locator(f"#note-{ids[1]} .note__handle")
    await expect(handle).to_be_visible()
    start, end = await handle.bounding_box(), await page.locator(f"#note-{ids[0]} .note__text").bounding_box()
    assert start and end
    touch = await context.new_cdp_session(page)  # real touch input, as a finger on a phone sends it
    x, y = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    await touch.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for step in range(1, 9):
        tx = x + (end["x"] + 20 - x) * step / 8
        ty = y + (end["y"] + 10 - y) * step / 8
        await touch.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": tx, "y": ty}]})
    await touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cluster = page.locator("#zone-z2 section.cluster")
    await expect(cluster).to_have_count(1)
    await expect(cluster.locator(f"#note-{ids[1]}")).to_be_visible()
    await expect(cluster.locator("h3")).to_have_text("街灯が少ない")
    await page.screenshot(path=str(SHOTS / "grouping-touch-390.png"), full_page=True)


async def test_console_previews_the_stage_and_follows_phase_changes(browser: Browser, fast_server, api, crowd):
    board = await api.new_board("プレビューの確認")
    console = await signed_in(browser, fast_server.base, viewport={"width": 1366, "height": 900})
    await console.goto(f"{fast_server.base}/boards/{board['id']}/facilitate")
    await live(console)
    await console.evaluate("window.notReloaded = true")
    preview = console.locator(".stage-preview")
    # for the eye only: hidden from assistive tech, inert, the text line says the same
    assert await preview.get_attribute("aria-hidden") == "true" and await preview.get_attribute("inert") is not None
    await expect(console.locator("#preview")).to_contain_text("参加画面")
    stage = preview.locator("#preview-board-list")
    await expect(stage).to_have_attribute("data-stage", "join")
    await expect(stage.locator(".join-code").first).to_have_text(board["join_code"])
    box = await preview.bounding_box()
    assert box and 470 <= box["width"] <= 490 and abs(box["width"] / box["height"] - 16 / 9) < 0.05
    inner = await stage.bounding_box()  # the 1920-px stage drawn inside the box, scaled down
    assert inner and inner["width"] <= box["width"] + 1
    assert await console.locator("#board-list").count() == 1  # ids of its own: the console's board is unique

    fac = await facilitator(api, crowd, board)
    aiko = await participant(api, crowd, board, "あいこ")
    await add_note(aiko, "海が近くて気持ちいい", zone="z1")
    await ok(fac, "phase:set", phase="write")
    await expect(stage).to_have_attribute("data-stage", "writing")
    await expect(preview.locator("#preview-zone-z1")).to_contain_text("海が近くて気持ちいい")
    await ok(fac, "phase:set", phase="group")
    await expect(stage).to_have_attribute("data-stage", "grouping")
    SHOTS.mkdir(parents=True, exist_ok=True)
    await console.screenshot(path=str(SHOTS / "console-preview-1366.png"))
    assert await axe_violations(console) == []
    await console.set_viewport_size({"width": 390, "height": 844})
    await console.screenshot(path=str(SHOTS / "console-preview-390.png"), full_page=True)
    small = await preview.bounding_box()
    assert small and small["width"] <= 330
    assert await axe_violations(console) == []
    assert await console.evaluate("window.notReloaded") is True
