"""What the calendar tests share: a fresh feed cache for every test (autouse: a module that imports
`fresh_feed_cache` gets it), parsing iCalendar answers, local Tokyo times, and sessions with support,
registrations and series to put in feeds."""

from __future__ import annotations

import asyncio
import time as clock
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
import vobject
from icalendar import Calendar

from server.core.i18n import translations
from server.public import calendars as feeds
from sessions import registration
from sessions.models import AccommodationOffer, ChildcareOffer
from sessions.registration_models import RegistrationInput
from tests.harness import TOKYO, make_account, make_session, make_venue


BASE = "http://testserver.local"
SECRET_LINK = "https://meet.example.jp/secret"
ADDRESS = "石川県金沢市広坂1-1-1"


@pytest.fixture(autouse=True)
def fresh_feed_cache() -> Iterator[None]:
    """Rendered feeds are cached in a module-level dict shared by every app in the process (see
    test_two_apps_on_different_databases_never_serve_each_others_feed): no test may see another's."""
    cache = getattr(feeds, "_cache", None)
    if cache is not None:
        cache.clear()
    yield
    if cache is not None:
        cache.clear()


# ---------------------------------------------------------------- helpers

def ja(message: str) -> str:
    """What a Japanese reader sees for one of the app's messages."""
    return translations("ja").gettext(message)


def parse(response: Any) -> Calendar:
    assert response.status_code == 200, response.text
    return Calendar.from_ical(response.content)


def read_independently(content: bytes) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A calendar file as vobject (a second parser, independent of the icalendar library the app writes
    with) reads it: the calendar's properties and each VEVENT's, as {name: value} (the first of each,
    names in lower case, SEQUENCE as an int)."""
    calendar = vobject.readOne(content.decode("utf-8"))
    head = {name: lines[0].value for name, lines in calendar.contents.items() if name not in ("vevent", "vtimezone")}
    events = []
    for event in calendar.contents.get("vevent", []):
        values = {name: lines[0].value for name, lines in event.contents.items()}
        if "sequence" in values:
            values["sequence"] = int(values["sequence"])
        events.append(values)
    return head, events


def independent_event(content: bytes) -> dict[str, Any]:
    """The one VEVENT of a calendar file, as vobject reads it."""
    _head, events = read_independently(content)
    assert len(events) == 1, [event.get("summary") for event in events]
    return events[0]


def vevents(calendar: Calendar) -> list[Any]:
    return list(calendar.walk("VEVENT"))


def only_event(response: Any) -> Any:
    events = vevents(parse(response))
    assert len(events) == 1, [str(e.get("SUMMARY")) for e in events]
    return events[0]


def local(value: datetime) -> datetime:
    """An aware time as a naive wall-clock time in Tokyo."""
    return value.astimezone(TOKYO).replace(tzinfo=None)


def categories(event: Any) -> list[str]:
    found = event.get("CATEGORIES")
    found = found if isinstance(found, list) else [found] if found is not None else []
    return [str(name) for prop in found for name in prop.cats]


def second_saturday(months_ahead: int = 1, hour: int = 10) -> datetime:
    """The 2nd Saturday (第2土曜日) of a month ahead, at a local hour (naive wall time in Tokyo)."""
    today = datetime.now(TOKYO).date()
    month_index = today.month - 1 + months_ahead
    first = date(today.year + month_index // 12, month_index % 12 + 1, 1)
    first_saturday = first + timedelta(days=(5 - first.weekday()) % 7)
    return datetime.combine(first_saturday + timedelta(days=7), time(hour))


async def session_count(db: Any) -> int:
    row = await db.fetch_one("select count(*) from sessions")
    return int(row[0])


async def register(app: Any, db: Any, session_id: int, **values: Any) -> Any:
    state = app.litestar.state
    data = RegistrationInput(**{"name": "山田花子", "email": "hanako@example.jp", **values})
    return await registration.register(db, session_id, data, notify=state.notify, derive_token=state.derive_token)


async def supported_session(db: Any, **values: Any) -> tuple[Any, int, int]:
    """An organizer's published in-person session with childcare, sign language and captioning."""
    account = await make_account(db, "organizer@example.jp")
    venue_id = await make_venue(db, account.org_id, address=ADDRESS)
    session_id = await make_session(db, account.org_id, venue_id, **{
        "title": "子育てと地域の対話", "themes": ["子育て"],
        "childcare": ChildcareOffer(places=5, min_age_months=12, max_age_months=72),
        "accommodations": [AccommodationOffer(code="sign_language"),
                           AccommodationOffer(code="captioning", mode="on_request")], **values})
    return account, venue_id, session_id


async def wait_for_a_new_second() -> None:
    """Sleep to just after a second boundary, so the next few writes share one updated_at second."""
    await asyncio.sleep(1.02 - clock.time() % 1)


FEEDS = ["all", "organization", "session", "registrant"]


def feed_path(which: str, session_id: int, token: str) -> str:
    return {"all": "/calendar.ics", "organization": "/orgs/kanazawa/calendar.ics",
            "session": f"/sessions/{session_id}.ics", "registrant": f"/r/{token}/calendar.ics"}[which]
