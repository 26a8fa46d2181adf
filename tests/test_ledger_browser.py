"""The ledger's pages in Debian Chromium (論点整理): the public theme page on a phone and a desktop, its
print layout (print media emulated), the status filter without JavaScript, following by mail, and the
organizer's pages, each with zero axe-core violations. Screenshots go to /tmp/shots-ledger/."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger import store as ledger_store
from ledger import themes
from ledger.models import IssueInput, OpinionInput, ResponseInput, ThemeInput
from realtime import store as board_store
from realtime.board import Actor
from realtime.service import BoardService
from server.organize.boards import board_errors, create_board
from tests.harness import (
    ServerProcess, axe_violations, everything, in_own_loop, make_account, make_session, make_venue, new_page,
    next_saturday, open_database,
)

SHOTS = Path("/tmp/shots-ledger")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
EMAIL = "staff@saku.example"

pytestmark = pytest.mark.browser


async def seed(db_path: Path) -> dict[str, Any]:
    """A theme with three sessions, opinions from boards, questions and paper, issues whose responses change
    status over time (one draft), an unpublished theme, and a board with notes to send."""
    async with open_database(db_path) as db:
        account = await make_account(db, EMAIL, org="saku")
        venue = await make_venue(db, account.org_id, name="佐久市役所 会議室")
        sessions = [await make_session(db, account.org_id, venue, title=f"第{n}回 地域公共交通を考える対話",
                                       starts_at=next_saturday(weeks=w)) for n, w in ((1, -8), (2, -3), (3, 3))]
        theme = await themes.create_theme(db, account.org_id, ThemeInput(
            title="地域公共交通の見直し", slug="koutsuu",
            description="市内のバス路線と乗合タクシーの見直しについて、いただいた意見と市の考え方を時系列で公開します。"))
        for session_id in sessions:
            await themes.attach_session(db, theme, session_id)
        texts = [("バスの本数を朝夕だけでも増やしてほしい", "board"), ("病院へ行く便がない\n乗り換えが不便", "paper"),
                 ("乗合タクシーを予約制で試してほしい", "question"), ("<b>バス停</b>に屋根とベンチを", "mail"),
                 ("運転免許を返納した後が心配", "phone"), ("通学の時間帯に合わせてほしい", "public_comment")]
        ops = [await themes.add_opinion(db, theme, OpinionInput(text=t, source=s, session_id=sessions[0] if s == "board"
                                                                 else None)) for t, s in texts]
        issues = [await themes.raise_issue(db, theme, IssueInput(title=title, opinion_ids=ids)) for title, ids in (
            ("バスの本数と時間帯をどうするか", [ops[0], ops[5]]), ("病院・買い物への移動手段", [ops[1], ops[4]]),
            ("乗合タクシーを導入するか", [ops[2], ops[4]]), ("バス停の環境", [ops[3]]))]
        rows = [await ledger_store.issue_row(db, i) for i in issues]
        for row, body, status, publish in (
                (rows[0], "ダイヤ改正に合わせて検討します。", "considering", True),
                (rows[0], "平日の朝夕に各2便を増やします。", "adopted", True),
                (rows[1], "病院経由の路線を一部見直します。", "partly_adopted", True),
                (rows[2], "実証運行を来年度も続けます。", "continuing", True),
                (rows[2], "（下書き）本格運行は困難です。", "not_feasible", False)):
            await themes.append_response(db, row, ResponseInput(body=body, status=status, department="交通政策課",
                                                                session_id=sessions[1], publish=publish), author_id=None)
        await themes.create_theme(db, account.org_id, ThemeInput(title="非公開", slug="hidden", published=False))
        config, errors = board_errors({"title": "交通ワークショップ", "prompts": "困っていること\nやってみたいこと"})
        assert not errors
        board = await create_board(db, sessions[0], account.org_id, config)
        async with db.transaction() as conn:
            await board_store.set_outcome(conn, board, True, False)
        service, writer = BoardService(db), Actor(id="p1", name="佐藤 花子")
        for text in ("夜の便がほしい", "駅までの坂がつらい"):
            await service.handle(board, "note:add", {"zone": "z1", "text": text}, writer, uuid.uuid4().hex)
        await service.handle(board, "question:ask", {"text": "乗合タクシーの料金は？"}, writer, uuid.uuid4().hex)
    return {"theme": theme.id, "issue": issues[0], "board": board, "session": sessions[2]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("ledger-browser")
    ids = in_own_loop(seed(folder / "taiwa.sqlite3"))
    with ServerProcess(folder / "taiwa.sqlite3", folder / "server.log", secret="ledger-browser-secret-" + "x" * 16,
                       env={"TAIWA_RATE_LIMITS": "off"}, inherit=everything) as running:
        yield running.base, ids


async def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_the_public_theme_page_passes_axe_and_filters_without_javascript(browser, server, viewport):
    base, _ids = server
    page = await new_page(browser, viewport=viewport, java_script_enabled=False)
    await page.goto(f"{base}/themes/koutsuu")
    assert await page.locator("h1").inner_text() == "地域公共交通の見直し"
    assert await page.locator("article.issue").count() == 4
    assert "本格運行は困難" not in await page.locator("main").inner_text(), "a draft is never shown"
    await shot(page, f"theme-{viewport['width']}")
    await page.select_option("#f-status", "adopted")
    await page.get_by_role("button", name="表示").click()
    assert page.url.endswith("status=adopted")
    assert await page.locator("article.issue h3").all_inner_texts() == ["バスの本数と時間帯をどうするか"]
    await page.close()
    page = await new_page(browser, viewport=viewport)  # axe needs scripts (the page's own CSP still holds)
    await page.goto(f"{base}/themes/koutsuu")
    assert await axe_violations(page) == []
    await page.goto(f"{base}/themes/koutsuu?status=continuing")
    assert await axe_violations(page) == []


async def test_the_print_layout_keeps_the_story_and_drops_the_controls(browser, server):
    base, _ids = server
    page = await new_page(browser, viewport=DESKTOP)
    await page.goto(f"{base}/themes/koutsuu")
    await page.emulate_media(media="print")
    for hidden in (".site-header", ".site-footer", "#follow", "form.filter-form"):
        assert not await page.locator(hidden).is_visible(), hidden
    for shown in ("h1", ".timeline", "article.issue >> nth=3", ".responses"):
        assert await page.locator(shown).first.is_visible(), shown
    avoid = await page.locator("article.issue").first.evaluate("e => getComputedStyle(e).breakInside")
    assert avoid == "avoid", "an issue is not split across pages"
    await shot(page, "theme-print")
    pdf = await page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000


async def test_following_by_mail_in_the_browser(browser, server):
    base, _ids = server
    page = await new_page(browser, viewport=PHONE)
    await page.goto(f"{base}/themes/koutsuu")
    await page.locator("#f-email").fill("not an address")
    await page.get_by_role("button", name="フォローする").click()
    assert await page.locator(".field-error").count() == 1 and await axe_violations(page) == []
    await page.locator("#f-email").fill("hanako@example.jp")
    await page.locator("#f-email").press("Enter")
    assert await page.locator("h1").inner_text() == "メールを確認してください"
    assert await axe_violations(page) == []
    await shot(page, "follow-asked-390")
    await page.goto(f"{base}/themes/koutsuu/unsubscribe/not-a-token")
    assert await axe_violations(page) == []
    missing = await page.goto(f"{base}/themes/hidden")
    assert missing is not None and missing.status == 404


async def test_the_organizer_pages_pass_axe(browser, server):
    base, ids = server
    page = await new_page(browser, viewport=DESKTOP)
    await page.goto(f"{base}/organize/login")
    await page.locator("#f-email").fill(EMAIL)
    await page.locator("#f-password").fill("correct-horse-battery")
    await page.locator("#f-password").press("Enter")
    await page.wait_for_url(f"{base}/organize")
    for url, name in (("/organize/themes", "organize-themes"), (f"/organize/themes/{ids['theme']}", "organize-theme"),
                      (f"/organize/issues/{ids['issue']}", "organize-issue"),
                      (f"/organize/themes/{ids['theme']}/unanswered", "organize-unanswered"),
                      (f"/organize/themes/{ids['theme']}/due", "organize-due"),
                      (f"/boards/{ids['board']}/opinions", "board-opinions"),
                      (f"/sessions/{ids['session']}", "session-link"), (f"/boards/{ids['board']}/outcome", "outcome-link")):
        answer = await page.goto(base + url)
        assert answer is not None and answer.status == 200, url
        if "opinions" in url:
            assert await page.locator("main form input[type=checkbox]").count() == 3, "two notes and a question"
            assert "佐藤" not in await page.locator("main").inner_text(), "no names"
        assert await axe_violations(page) == [], url
        await shot(page, name)
    await page.goto(f"{base}/organize/issues/{ids['issue']}")
    await page.locator("#f-body").fill("訂正：朝の便は7時台に2便です。")
    await page.select_option("#f-status", "adopted")
    await page.locator("#f-body").focus()
    await page.keyboard.press("Tab")
    await page.get_by_role("button", name="市の考え方を追加する").click()
    assert "訂正：朝の便は7時台に2便です。" in await page.locator("#responses").inner_text()
    assert await axe_violations(page) == []
    phone = await new_page(browser, viewport=PHONE)
    await phone.goto(f"{base}/themes/koutsuu#issue-{ids['issue']}")
    assert "訂正：朝の便は7時台に2便です。" in await phone.locator(f"#issue-{ids['issue']}").inner_text()
