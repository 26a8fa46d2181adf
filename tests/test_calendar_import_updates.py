"""iCalendar import, the cases real exports produce: lines folded inside a multi-byte character (legal,
RFC 5545 §3.1), changed dates (RECURRENCE-ID) of a repeating event that is not imported, and the same
file imported again (its UIDs update the drafts they made instead of adding more)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec
import pytest

from sessions import scheduling, store
from tests.calendar_helpers import ja, local, session_count
from tests.calendar_helpers import fresh_feed_cache  # noqa: F401 - fixtures, used by name
from tests.harness import html, login, make_account, make_venue
from tests.test_calendar_import import confirm, future, ics, preview_rows, problems, upload, vevent

TITLE = "市民フォーラム「未来の金沢」"
DESCRIPTION = "金沢市の中心部で、子育て世代と高齢者が同じテーブルを囲み、これからの暮らしについて話し合います。🌸"


def folded_inside_characters(content: bytes) -> bytes:
    """Every line longer than 75 octets folded at exactly 75 octets, wherever that falls (as some
    exporters do): often between the bytes of one character."""
    lines = []
    for line in content.split(b"\r\n"):
        while len(line) > 75:
            lines.append(line[:75])
            line = b" " + line[75:]
        lines.append(line)
    return b"\r\n".join(lines)


async def signed_in(client: Any, db: Any) -> Any:
    account = await make_account(db, "organizer@example.jp")
    await login(client, "organizer@example.jp")
    return account


@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
async def test_a_line_folded_inside_a_multibyte_character_is_read(client, db, encoding):
    await signed_in(client, db)
    description = DESCRIPTION if encoding == "utf-8" else DESCRIPTION.replace("🌸", "")
    text = ics(vevent("a@city", TITLE * 3, future(20, 14), future(20, 16), f"DESCRIPTION:{description}"),
               vevent("b@city", "日時の読めない催し", "来月のどこか")).decode()
    content = folded_inside_characters(text.encode(encoding))
    with pytest.raises(UnicodeDecodeError):
        for line in content.split(b"\r\n"):
            line.decode(encoding)  # precondition: some physical line ends inside a character
    bad_line = [n for n, line in enumerate(content.split(b"\r\n"), start=1) if line == b"BEGIN:VEVENT"][1]

    preview = await upload(client, content)

    assert preview.status_code == 200, preview.text
    assert [row[1] for row in preview_rows(preview)] == [TITLE * 3]
    [problem] = problems(preview)
    assert f"{bad_line}" in problem and "日時の読めない催し" in problem, "line numbers count physical lines"
    await confirm(client, preview)
    row = await db.fetch_one("select title, description from sessions")
    assert (row["title"], row["description"]) == (TITLE * 3, description)


async def test_changed_dates_of_a_refused_repeating_event_are_refused_with_it(client, db):
    await signed_in(client, db)
    override = vevent("weekly@city", "毎週の体操教室（この回は会場変更）", future(21, 10), future(21, 12),
                      f"RECURRENCE-ID;TZID=Asia/Tokyo:{future(21, 10)}")
    master = vevent("weekly@city", "毎週の体操教室", future(14, 10), future(14, 12), "RRULE:FREQ=WEEKLY;COUNT=5")
    single = vevent("single@city", "地域防災ワークショップ", future(27, 10), future(27, 12))

    preview = await upload(client, ics(override, master, single))  # the change may come before its rule

    assert [row[1] for row in preview_rows(preview)] == ["地域防災ワークショップ"]
    found = problems(preview)
    assert len(found) == 2
    assert any("毎週の体操教室（この回は会場変更）" in problem for problem in found)
    assert any("毎週の体操教室" in problem and "RRULE" not in problem for problem in found)
    await confirm(client, preview)
    assert [row["title"] for row in await db.fetch_all("select title from sessions")] == ["地域防災ワークショップ"]


async def test_importing_the_same_file_again_updates_its_drafts_instead_of_adding_more(client, db):
    await signed_in(client, db)
    await confirm(client, await upload(client, ics(vevent("a@city", TITLE, future(20, 14), future(20, 16)),
                                                   vevent("b@city", "地域防災ワークショップ", future(27, 10), future(27, 12)))))
    assert await session_count(db) == 2

    changed = ics(vevent("a@city", TITLE + "（時間変更）", future(20, 15), future(20, 17)),
                  vevent("b@city", "地域防災ワークショップ", future(27, 10), future(27, 12)),
                  vevent("c@city", "新しい催し", future(30, 10), future(30, 12)))
    preview = await upload(client, changed)

    rows = preview_rows(preview)
    assert [ja("updates the draft imported before") in row[1] for row in rows] == [True, True, False]
    await confirm(client, preview)
    sessions = await db.fetch_all("select title, status, starts_at from sessions order by id")
    assert [(row["title"], row["status"]) for row in sessions] == [
        (TITLE + "（時間変更）", "draft"), ("地域防災ワークショップ", "draft"), ("新しい催し", "draft")]
    assert local(store.from_db(sessions[0]["starts_at"])).hour == 15


async def test_a_published_session_is_not_changed_by_importing_its_event_again(client, db):
    account = await signed_in(client, db)
    await confirm(client, await upload(client, ics(vevent("a@city", TITLE, future(20, 14), future(20, 16)))))
    row = await db.fetch_one("select id from sessions")
    draft = await store.get_session(db, row["id"])
    venue_id = await make_venue(db, account.org_id)

    await scheduling.change_session(db, draft, msgspec.structs.replace(draft.as_input(), venue_id=venue_id,
                                                                        capacity_in_person=20), status="published")

    preview = await upload(client, ics(vevent("a@city", "上書きされては困る題名", future(20, 9), future(20, 10))))

    assert preview_rows(preview) == []
    [problem] = problems(preview)
    assert "上書きされては困る題名" in problem
    assert html(preview).find("input", attrs={"name": "content"}) is None, "nothing to confirm"
    assert (await store.get_session(db, row["id"])).title == TITLE


# ---------------------------------------------------------------- in a real browser

@pytest.mark.browser
async def test_the_import_preview_that_updates_drafts_is_accessible_on_a_phone_and_a_desktop(demo_server, browser,
                                                                                             tmp_path):
    from playwright.async_api import expect

    from sessions.demo import DEMO_PASSWORD
    from tests.harness import axe_violations, new_page

    server, _db = demo_server
    shots = Path("/tmp/shots-calendars")
    shots.mkdir(exist_ok=True)
    calendar_file = tmp_path / "city.ics"
    calendar_file.write_bytes(folded_inside_characters(ics(
        vevent("phone@city", TITLE * 2, future(20, 14), future(20, 16)),
        vevent("weekly@city", "毎週の体操教室", future(14, 10), future(14, 12), "RRULE:FREQ=WEEKLY;COUNT=5"))))
    page = await new_page(browser, viewport={"width": 1366, "height": 900})
    await page.goto(server + "/organize/login")
    await page.locator("#f-email").fill("organizer@kanazawa.example")
    await page.locator("#f-password").fill(DEMO_PASSWORD)
    await page.locator("#f-password").press("Enter")
    await expect(page).to_have_url(server + "/organize")

    for attempt in ("first", "again"):
        await page.goto(server + "/organize/import")
        await page.locator("#f-file").set_input_files(str(calendar_file))
        await page.locator("form[enctype] button[type=submit]").click()
        await expect(page.locator("table.data-table")).to_be_visible()
        assert await axe_violations(page) == []
        if attempt == "first":
            await page.locator("form.actions button[type=submit]").click()
            await expect(page).to_have_url(re.compile(r"/organize\?imported=1"))
    await expect(page.locator("table.data-table .badge")).to_have_text(ja("updates the draft imported before"))
    await page.screenshot(path=str(shots / "import-again-1366.png"), full_page=True)
    await page.set_viewport_size({"width": 390, "height": 844})
    assert await axe_violations(page) == []
    await page.screenshot(path=str(shots / "import-again-390.png"), full_page=True)
