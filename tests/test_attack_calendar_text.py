"""An attacker's titles in calendars: line breaks (CR, LF, U+2028, U+2029), commas, semicolons, backslashes,
emoji, combining marks and property-looking text reach every calendar file as the text that was saved,
read back the same by two independent parsers (icalendar and vobject), and never add a property or
an event of their own."""

from __future__ import annotations

import pytest
from icalendar import Calendar

from sessions import store
from tests.calendar_helpers import FEEDS, feed_path, read_independently, register
from tests.calendar_helpers import fresh_feed_cache  # noqa: F401 - fixtures, used by name
from tests.harness import make_account, make_session, make_venue

ODD_TITLES = [
    "対話\r\nATTENDEE:mailto:victim@example.com\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:偽の予定",
    "まちづくり, 第3回; 子育て\\N支援\\,と防災\\",
    "絵文字🙂👨‍👩‍👧‍👦と国旗🇯🇵、異体字 葛󠄀城",
    "結合文字 e\u0301 が\u3099 ﾊﾟ ｶﾞ",
    "行区切り\u2028段落区切り\u2029おわり",
    "A" * 73 + "\\;" + "あ" * 30,
]


def as_calendars_carry_it(title: str) -> str:
    """What a TEXT value can carry: a line break is a line feed (RFC 5545 §3.3.11)."""
    return title.replace("\r\n", "\n").replace("\r", "\n")


def summaries(content: bytes) -> tuple[list[str], list[str]]:
    """Every SUMMARY as icalendar reads it, and as vobject reads it."""
    ours = [str(event["SUMMARY"]) for event in Calendar.from_ical(content).walk("VEVENT")]
    _head, events = read_independently(content)
    return ours, [event["summary"] for event in events]


@pytest.mark.parametrize("title", ODD_TITLES, ids=["injection", "escapes", "emoji", "combining", "u2028", "fold"])
@pytest.mark.parametrize("which", FEEDS)
async def test_an_odd_title_round_trips_through_two_parsers_in_every_calendar(client, db, app, title, which):
    account = await make_account(db, "organizer@example.jp")
    session_id = await make_session(db, account.org_id, await make_venue(db, account.org_id), title=title)
    token = (await register(app, db, session_id)).token
    saved = (await store.get_session(db, session_id)).title

    answer = await client.get(feed_path(which, session_id, token))

    assert answer.status_code == 200
    ours, theirs = summaries(answer.content)
    assert ours == theirs == [as_calendars_carry_it(saved)]
    _head, events = read_independently(answer.content)
    assert "attendee" not in events[0], "text in a title never becomes a property"
    assert all(len(line) <= 75 for line in answer.content.split(b"\r\n"))
    for line in answer.content.split(b"\r\n"):
        line.decode("utf-8")  # never folded inside a character


async def test_an_odd_calendar_name_round_trips_through_two_parsers(client, db):
    title = ODD_TITLES[0] + ODD_TITLES[1]
    account = await make_account(db, "organizer@example.jp")
    session_id = await make_session(db, account.org_id, await make_venue(db, account.org_id), title=title)

    answer = await client.get(f"/sessions/{session_id}.ics")

    head, events = read_independently(answer.content)
    assert len(events) == 1
    one_line = " ".join(title.split())
    # (icalendar 7 reads NAME and X-WR-CALNAME without unescaping them: vobject reads them as TEXT, as
    # calendar apps do)
    assert head["name"] == head["x-wr-calname"] == one_line
