"""iCalendar feeds (RFC 5545): every feed is a valid calendar in Tokyo time, a series with a cancelled and a
moved occurrence read by an independent consumer, Japanese text folded at 75 octets, and events written
directly that match icalendar byte for byte."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
import recurring_ical_events
from icalendar import Calendar

from server.public import calendars as feeds
from sessions import scheduling, store
from sessions.catalog import ACCOMMODATIONS
from sessions.models import ChildcareOffer, Recurrence, SessionInput
from tests.calendar_helpers import (
    ADDRESS, BASE, FEEDS, categories, feed_path, ja, local, only_event, parse, register, second_saturday,
    supported_session, vevents,
)
from tests.calendar_helpers import fresh_feed_cache  # noqa: F401 - fixtures, used by name
from tests.harness import make_account, make_session, make_venue, next_saturday


# ---------------------------------------------------------------- every feed

@pytest.mark.parametrize("which", FEEDS)
async def test_every_feed_is_a_valid_calendar_in_tokyo_time_with_what_residents_need(client, db, app, which):
    _account, _venue, session_id = await supported_session(db)
    token = (await register(app, db, session_id)).token
    session = await store.get_session(db, session_id)

    response = await client.get(feed_path(which, session_id, token))

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"])
    assert str(calendar["NAME"]) and str(calendar["X-WR-CALNAME"])
    assert calendar.decoded("REFRESH-INTERVAL") == timedelta(hours=1)
    assert str(calendar["X-PUBLISHED-TTL"]) == "PT1H"
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Asia/Tokyo"]
    lines = response.text.split("END:VTIMEZONE\r\n", 1)[-1].split("\r\n")  # the events
    assert any(line.startswith("DTSTART;TZID=Asia/Tokyo:") for line in lines)
    assert any(line.startswith("DTEND;TZID=Asia/Tokyo:") for line in lines)
    assert not any(line.startswith(("DTSTART:", "DTEND:")) for line in lines), "times must carry their zone"

    [event] = vevents(calendar)
    for name in ("UID", "DTSTAMP", "LAST-MODIFIED", "SEQUENCE", "STATUS", "URL", "LOCATION", "DESCRIPTION",
                 "CATEGORIES"):
        assert name in event, f"VEVENT without {name}"
    assert local(event.decoded("DTSTART")) == local(session.starts_at) == next_saturday()
    assert event.decoded("DTSTART").utcoffset() == timedelta(hours=9)
    assert local(event.decoded("DTEND")) == next_saturday() + timedelta(hours=2)
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["URL"]) == f"{BASE}/sessions/{session_id}"
    assert "市民交流センター" in str(event["LOCATION"]) and ADDRESS in str(event["LOCATION"])
    description = str(event["DESCRIPTION"])
    assert "託児" in description
    for code in ("sign_language", "captioning"):
        assert ja(ACCOMMODATIONS[code]) in description
    assert "子育て" in categories(event)


# ---------------------------------------------------------------- a series, read by an independent consumer

async def monthly_series_with_a_cancellation_and_a_move(db: Any) -> tuple[list[int], datetime]:
    """4 occurrences on the 2nd Saturday at 10:00; the 2nd cancelled, the 3rd moved to the Sunday at 13:00."""
    account = await make_account(db, "organizer@example.jp")
    venue_id = await make_venue(db, account.org_id, address=ADDRESS)
    first = second_saturday()
    ids = await scheduling.create_sessions(db, account.org_id, SessionInput(
        title="まちづくり円卓会議", kind="round_table", format="in_person", starts_at=first,
        ends_at=first + timedelta(hours=2), venue_id=venue_id, capacity_in_person=20, status="published",
        recurrence=Recurrence(freq="monthly", count=4, monthly_by="weekday")))
    assert len(ids) == 4
    await scheduling.cancel_session(db, await store.get_session(db, ids[1]), "会場点検のため")
    third = await store.get_session(db, ids[2])
    sunday = local(third.starts_at).date() + timedelta(days=1)
    await scheduling.move_occurrence(db, third, datetime.combine(sunday, time(13)), datetime.combine(sunday, time(15)))
    return ids, first


@pytest.mark.parametrize("path", ["/calendar.ics", "/orgs/kanazawa/calendar.ics"])
async def test_series_with_a_cancelled_and_a_moved_occurrence_expands_to_the_right_local_times(client, db, path):
    ids, first = await monthly_series_with_a_cancellation_and_a_move(db)
    occurrences = [await store.get_session(db, session_id) for session_id in ids]
    original = [local(o.recurrence_at) for o in occurrences]
    assert original[0] == first and all(day.weekday() == 5 and 8 <= day.day <= 14 for day in original)

    calendar = parse(await client.get(path))
    instances = recurring_ical_events.of(calendar).between(first - timedelta(days=1), original[3] + timedelta(days=2))

    starts = sorted(instance.decoded("DTSTART") for instance in instances)
    moved = datetime.combine(original[2].date() + timedelta(days=1), time(13))
    assert [local(start) for start in starts] == [original[0], moved, original[3]]
    assert all(start.utcoffset() == timedelta(hours=9) for start in starts)
    by_start = {local(i.decoded("DTSTART")): i for i in instances}
    assert local(by_start[moved].decoded("DTEND")) == moved + timedelta(hours=2)

    events = vevents(calendar)
    masters = [e for e in events if "RRULE" in e]
    overrides = [e for e in events if "RECURRENCE-ID" in e]
    assert len(masters) == 1 and len(overrides) == 1 and len(events) == 2
    master, override = masters[0], overrides[0]
    assert str(master["UID"]) == str(override["UID"])
    exdates = master.get("EXDATE")
    exdates = exdates if isinstance(exdates, list) else [exdates]
    assert [local(d.dt) for prop in exdates for d in prop.dts] == [original[1]]
    assert local(override.decoded("RECURRENCE-ID")) == original[2]
    assert local(override.decoded("DTSTART")) == moved


# ---------------------------------------------------------------- folding of Japanese text

LONG_TITLE = "市民と行政が一緒に考える金沢のまちづくり：子育て・高齢者・交通をテーマにした対話の場（第3回）"
LONG_DESCRIPTION = ("金沢市の中心部で、子育て世代と高齢者が同じテーブルを囲み、これからの暮らしについて話し合います。"
                    "手話通訳と要約筆記があります。参加費は無料、途中参加・途中退出もできます。\n"
                    "持ち物：筆記用具, 飲み物; 記号も そのまま「\\」残ります。🌸")


@pytest.mark.parametrize("which", ["all", "session"])
async def test_long_japanese_text_is_folded_at_75_octets_and_round_trips_unchanged(client, db, which):
    _account, _venue, session_id = await supported_session(db, title=LONG_TITLE, description=LONG_DESCRIPTION)
    assert len(LONG_TITLE.encode()) > 75

    response = await client.get(feed_path(which, session_id, ""))

    raw = response.content
    assert raw.count(b"\n") == raw.count(b"\r\n"), "content lines end with CRLF"
    physical = raw.split(b"\r\n")
    assert max(len(line) for line in physical) <= 75
    for line in physical:
        line.decode("utf-8")  # raises if a fold split a character
    assert any(line.startswith(b" ") for line in physical), "the long text was not folded at all"
    event = only_event(response)
    assert str(event["SUMMARY"]) == LONG_TITLE
    assert str(event["DESCRIPTION"]).startswith(LONG_DESCRIPTION + "\n")


TRICKY_TITLES = [
    "まちづくり対話, 第3回; 子育て\\N支援と防災\\",
    "A" * 73 + "\\,",  # an escape right where the line folds
    "市民フォーラム🙂絵文字と^カレット" * 4,
    "Line one\nline two\r\nline three\rfour",
    "ＡＢＣ全角とｶﾀｶﾅ、句読点。" * 6,
]


@pytest.mark.parametrize("locale", ["ja", "en"])
async def test_feed_events_written_directly_match_icalendar_byte_for_byte(db, locale):
    """The feed writes its VEVENTs without icalendar's general serialiser (5,000 events in about 0.15 s
    instead of 1.4 s); what it writes must be exactly what icalendar writes."""
    from server.core import i18n
    from sessions import calendar

    account = await make_account(db, "staff@kanazawa.example")
    venue = await make_venue(db, account.org_id, name="金沢市民交流センター, 2階; 会議室\\A",
                             address="石川県金沢市広坂1-1-1")
    ids = [await make_session(db, account.org_id, venue, title=title, description=title * 3,
                              themes=["子育て", "防災, 減災"], childcare=ChildcareOffer(places=3))
           for title in TRICKY_TITLES]
    ids.append(await make_session(db, account.org_id, None, title="オンライン説明会", format="online",
                                  online_url="https://meet.example.jp/x", capacity_in_person=0, capacity_online=9))
    cancelled = await make_session(db, account.org_id, venue, title="中止になった回")
    await scheduling.cancel_session(db, await store.get_session(db, cancelled), "台風のため")
    ids.append(cancelled)
    token = i18n.current_locale.set(locale)
    try:
        text = feeds.feed_text()
        for session_id in ids:
            session = await store.get_session(db, session_id)
            assert session is not None
            direct = calendar.feed_event(session, text=text, base_url="https://taiwa.example.jp", domain="x.taiwa")
            general = calendar.session_event(session, text=text, base_url="https://taiwa.example.jp",
                                             domain="x.taiwa").to_ical()
            assert direct == general, session.title
            assert all(len(line) <= 75 for line in direct.split(b"\r\n"))
    finally:
        i18n.current_locale.reset(token)
