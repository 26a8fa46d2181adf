"""iCalendar import: a preview that writes nothing until confirmed, drafts that residents do not see, bad
events listed with their line numbers, files that are not iCalendar, Shift_JIS, and times in UTC."""

from __future__ import annotations

import base64
from datetime import datetime, time, timedelta, timezone
from typing import Any

import pytest

from sessions import store
from tests.calendar_helpers import ja, local, session_count
from tests.calendar_helpers import fresh_feed_cache  # noqa: F401 - fixtures, used by name
from tests.harness import TOKYO, csrf_from, html, login, make_account


# ---------------------------------------------------------------- import

def ics(*events: str, head: str = "") -> bytes:
    body = "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//City of Kanazawa//Events//JA", *filter(None, [head]),
                        *events, "END:VCALENDAR"]) + "\r\n"
    return body.encode()


def vevent(uid: str, summary: str, start: str, end: str = "", extra: str = "") -> str:
    lines = ["BEGIN:VEVENT", f"UID:{uid}", f"SUMMARY:{summary}", f"DTSTART;TZID=Asia/Tokyo:{start}"]
    if end:
        lines.append(f"DTEND;TZID=Asia/Tokyo:{end}")
    if extra:
        lines.append(extra)
    lines.append("END:VEVENT")
    return "\r\n".join(lines)


def future(days: int, hour: int) -> str:
    day = datetime.now(TOKYO).date() + timedelta(days=days)
    return datetime.combine(day, time(hour)).strftime("%Y%m%dT%H%M%S")


async def upload(client: Any, content: bytes, filename: str = "city.ics") -> Any:
    form = await client.get("/organize/import")
    assert form.status_code == 200, form.text
    return await client.post("/organize/import", data={"_csrf_token": csrf_from(form)},
                             files={"file": (filename, content, "text/calendar")})


def preview_rows(response: Any) -> list[list[str]]:
    return [[cell.get_text(" ", strip=True) for cell in row.select("td, th")]
            for row in html(response).select("table.data-table tbody tr")]


def problems(response: Any) -> list[str]:
    return [li.get_text(" ", strip=True) for li in html(response).select("#cannot-title ~ ul li")]


async def confirm(client: Any, preview: Any) -> Any:
    page = html(preview)
    content = page.find("input", attrs={"name": "content"})
    assert content is not None, "the preview has nothing to confirm"
    return await client.post("/organize/import/confirm", follow_redirects=False,
                             data={"_csrf_token": csrf_from(preview), "content": str(content["value"])})


async def test_import_preview_lists_the_events_and_writes_nothing_until_confirmed(client, db):
    await make_account(db, "organizer@example.jp")
    await login(client, "organizer@example.jp")
    content = ics(vevent("a@city", "市民フォーラム「未来の金沢」", future(20, 14), future(20, 16), "LOCATION:金沢市役所"),
                  vevent("b@city", "地域防災ワークショップ", future(27, 10), future(27, 12)))

    preview = await upload(client, content)

    assert preview.status_code == 200, preview.text
    rows = preview_rows(preview)
    assert [row[1] for row in rows] == ["市民フォーラム「未来の金沢」", "地域防災ワークショップ"]
    day = datetime.now(TOKYO).date() + timedelta(days=20)
    assert f"{day.month}月{day.day}日" in rows[0][2] and "14:00" in rows[0][2]
    assert "金沢市役所" in rows[0][3]
    assert problems(preview) == []
    assert await session_count(db) == 0


async def test_confirmed_import_creates_drafts_the_organizer_sees_and_residents_do_not(client, db):
    await make_account(db, "organizer@example.jp")
    await login(client, "organizer@example.jp")
    preview = await upload(client, ics(vevent("a@city", "市民フォーラム「未来の金沢」", future(20, 14), future(20, 16)),
                                       vevent("b@city", "地域防災ワークショップ", future(27, 10), future(27, 12))))

    done = await confirm(client, preview)

    assert done.status_code == 303 and done.headers["location"].startswith("/organize")
    rows = await db.fetch_all("select title, status, starts_at from sessions order by starts_at")
    assert [(row["title"], row["status"]) for row in rows] == [("市民フォーラム「未来の金沢」", "draft"),
                                                               ("地域防災ワークショップ", "draft")]
    assert local(store.from_db(rows[0]["starts_at"])).hour == 14
    dashboard = (await client.get("/organize")).text
    assert "市民フォーラム「未来の金沢」" in dashboard and "地域防災ワークショップ" in dashboard
    await client.post("/organize/logout", data={"_csrf_token": csrf_from(await client.get("/organize"))})
    for path in ("/sessions", "/calendar.ics", "/orgs/kanazawa/calendar.ics"):
        assert "未来の金沢" not in (await client.get(path)).text, path


async def test_import_lists_a_bad_event_with_its_line_number_and_imports_the_good_ones(client, db):
    await make_account(db, "organizer@example.jp")
    await login(client, "organizer@example.jp")
    good_first = vevent("a@city", "市民フォーラム", future(20, 14), future(20, 16))
    bad = vevent("b@city", "日時の読めない催し", "来月のどこか")
    good_last = vevent("c@city", "地域防災ワークショップ", future(27, 10), future(27, 12))
    content = ics(good_first, bad, good_last)
    bad_line = [n for n, line in enumerate(content.decode().split("\r\n"), start=1) if line == "BEGIN:VEVENT"][1]
    assert bad_line == 10

    preview = await upload(client, content)

    assert preview.status_code == 200, preview.text
    assert [row[1] for row in preview_rows(preview)] == ["市民フォーラム", "地域防災ワークショップ"]
    [problem] = problems(preview)
    assert problem.startswith(ja("Line %(line)d: %(message)s").split("%(message)s")[0] % {"line": bad_line}), problem
    assert "日時の読めない催し" in problem
    assert await session_count(db) == 0
    await confirm(client, preview)
    titles = [row[0] for row in await db.fetch_all("select title from sessions order by starts_at")]
    assert titles == ["市民フォーラム", "地域防災ワークショップ"]


PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


@pytest.mark.parametrize("content", [PNG, "会議のお知らせ\n11月23日 14:00 市役所\n".encode(), b""],
                         ids=["png", "plain-text", "empty"])
async def test_import_refuses_a_file_that_is_not_icalendar_and_writes_nothing(client, db, content):
    await make_account(db, "organizer@example.jp")
    await login(client, "organizer@example.jp")

    response = await upload(client, content, filename="poster.png")

    assert 400 <= response.status_code < 500
    error = html(response).select_one(".error-summary")
    assert error is not None and error.get_text(strip=True)
    assert "Traceback" not in response.text
    assert html(response).find("input", attrs={"name": "content"}) is None, "nothing to confirm"
    assert await session_count(db) == 0


async def test_import_reads_a_shift_jis_file(client, db):
    await make_account(db, "organizer@example.jp")
    await login(client, "organizer@example.jp")
    content = ics(vevent("a@city", "髙島屋前の広場で語る会～令和の金沢～", future(20, 14), future(20, 16),
                         "DESCRIPTION:①駐車場はありません。")).decode().encode("cp932")
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")

    preview = await upload(client, content)

    assert preview.status_code == 200, preview.text
    assert [row[1] for row in preview_rows(preview)] == ["髙島屋前の広場で語る会～令和の金沢～"]
    await confirm(client, preview)
    row = await db.fetch_one("select title, description from sessions")
    assert row["title"] == "髙島屋前の広場で語る会～令和の金沢～"
    assert "①駐車場はありません。" in row["description"]


async def test_import_of_times_written_in_utc_shows_them_at_tokyo_local_time(client, db):
    await make_account(db, "organizer@example.jp")
    await login(client, "organizer@example.jp")
    day = datetime.now(TOKYO).date() + timedelta(days=20)
    start = datetime.combine(day, time(10), tzinfo=TOKYO).astimezone(timezone.utc)
    event = "\r\n".join(["BEGIN:VEVENT", "UID:utc@city", "SUMMARY:UTCで書かれた催し",
                         f"DTSTART:{start.strftime('%Y%m%dT%H%M%SZ')}",
                         f"DTEND:{(start + timedelta(hours=2)).strftime('%Y%m%dT%H%M%SZ')}", "END:VEVENT"])

    preview = await upload(client, ics(event))
    await confirm(client, preview)

    row = await db.fetch_one("select starts_at, timezone from sessions")
    assert store.from_db(row["starts_at"]) == start
    assert row["timezone"] == "Asia/Tokyo"
    assert "10:00" in preview_rows(preview)[0][2]
