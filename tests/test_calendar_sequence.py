"""iCalendar identity and change tracking, read with a second parser (vobject): a series' SEQUENCE rises
on every change, a series cancelled as a whole stays as cancelled, one occurrence has one UID (and
RECURRENCE-ID) in its own file and in every feed, UIDs survive a new site address, and a registrant's
own feed changes (SEQUENCE, LAST-MODIFIED, validators) when their registration does."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import recurring_ical_events
from icalendar import Calendar
from litestar.testing import AsyncTestClient

from server.app import create_app
from server.settings import Settings
from sessions import registration, scheduling, store
from sessions import registration_store as rstore
from sessions.models import Recurrence, SessionInput, VenueInput
from tests.calendar_helpers import (
    ADDRESS, BASE, independent_event, local, read_independently, register, second_saturday, wait_for_a_new_second,
)
from tests.calendar_helpers import fresh_feed_cache  # noqa: F401 - fixtures, used by name
from tests.harness import make_account, make_session, make_venue

PUBLIC_FEEDS = ("/calendar.ics", "/orgs/kanazawa/calendar.ics")


async def monthly_series(db: Any, count: int = 4) -> tuple[list[int], int]:
    """A published series on the 2nd Saturday at 10:00; its occurrence ids and its venue."""
    account = await make_account(db, "organizer@example.jp")
    venue_id = await make_venue(db, account.org_id, address=ADDRESS)
    first = second_saturday()
    ids = await scheduling.create_sessions(db, account.org_id, SessionInput(
        title="まちづくり円卓会議", title_en="Town planning round table", kind="round_table", format="in_person",
        starts_at=first, ends_at=first + timedelta(hours=2), venue_id=venue_id, capacity_in_person=20,
        status="published", recurrence=Recurrence(freq="monthly", count=count, monthly_by="weekday")))
    return ids, venue_id


def master_of(content: bytes) -> dict[str, Any]:
    """The series' rule event as vobject reads it."""
    _head, events = read_independently(content)
    masters = [event for event in events if "rrule" in event]
    assert len(masters) == 1, events
    return masters[0]


async def series_sequences(client: Any) -> list[int]:
    """The series' SEQUENCE in every public feed (they must agree)."""
    found = []
    for path in PUBLIC_FEEDS:
        answer = await client.get(path)
        assert answer.status_code == 200, answer.text
        found.append(master_of(answer.content)["sequence"])
    assert len(set(found)) == 1, found
    return found[:1]


# ---------------------------------------------------------------- a series' SEQUENCE

async def test_every_change_to_a_series_raises_its_sequence_in_every_feed(client, db):
    ids, venue_id = await monthly_series(db)
    seen = await series_sequences(client)

    await scheduling.cancel_session(db, await store.get_session(db, ids[1]), "会場点検のため")
    seen += await series_sequences(client)
    await scheduling.cancel_session(db, await store.get_session(db, ids[2]), "台風のため")  # a second cancellation
    seen += await series_sequences(client)
    fourth = await store.get_session(db, ids[3])
    sunday = local(fourth.starts_at).date() + timedelta(days=1)
    await scheduling.move_occurrence(db, fourth, datetime.combine(sunday, time(13)), datetime.combine(sunday, time(15)))
    seen += await series_sequences(client)
    await scheduling.move_occurrence(db, await store.get_session(db, ids[3]), datetime.combine(sunday, time(14)),
                                     datetime.combine(sunday, time(16)))  # moved a second time
    seen += await series_sequences(client)
    await scheduling.change_venue(db, venue_id, VenueInput(name="市民交流センター 別館", address="石川県金沢市本町2-2-2"))
    seen += await series_sequences(client)

    assert seen == sorted(set(seen)), f"SEQUENCE must rise on every change: {seen}"


async def test_a_series_whose_every_occurrence_is_cancelled_stays_in_the_feeds_as_cancelled(client, db):
    ids, _venue = await monthly_series(db, count=2)
    before = master_of((await client.get("/calendar.ics")).content)

    for session_id in ids:
        await scheduling.cancel_session(db, await store.get_session(db, session_id), "事業終了のため")

    for path in PUBLIC_FEEDS:
        answer = await client.get(path)
        after = master_of(answer.content)
        assert after["uid"] == before["uid"], path
        assert after["status"] == "CANCELLED", path
        assert after["sequence"] > before["sequence"], path
        # a calendar app expanding the rule sees both dates, struck out
        instances = recurring_ical_events.of(Calendar.from_ical(answer.content)).between(
            second_saturday() - timedelta(days=1), second_saturday() + timedelta(days=70))
        assert [str(instance["STATUS"]) for instance in instances] == ["CANCELLED", "CANCELLED"], path


# ---------------------------------------------------------------- one occurrence, one UID

async def test_one_occurrence_has_the_same_uid_and_recurrence_id_in_its_file_and_in_every_feed(client, db, app):
    ids, _venue = await monthly_series(db)
    third = await store.get_session(db, ids[2])
    sunday = local(third.starts_at).date() + timedelta(days=1)
    await scheduling.move_occurrence(db, third, datetime.combine(sunday, time(13)), datetime.combine(sunday, time(15)))
    token = (await register(app, db, ids[2])).token

    own = independent_event((await client.get(f"/sessions/{ids[2]}.ics")).content)
    mine = independent_event((await client.get(f"/r/{token}/calendar.ics")).content)
    for path in PUBLIC_FEEDS:
        _head, events = read_independently((await client.get(path)).content)
        [override] = [event for event in events if "recurrence-id" in event]
        assert (own["uid"], own["recurrence-id"]) == (override["uid"], override["recurrence-id"]), path
        assert own["sequence"] == override["sequence"], path
    assert (mine["uid"], mine["recurrence-id"]) == (own["uid"], own["recurrence-id"])
    assert mine["sequence"] >= own["sequence"]
    assert local(own["recurrence-id"]) == local(third.recurrence_at)
    assert local(own["dtstart"]) == datetime.combine(sunday, time(13))
    # an occurrence that was not changed has no override in the feeds, and the same identity
    first = independent_event((await client.get(f"/sessions/{ids[0]}.ics")).content)
    assert first["uid"] == own["uid"] and local(first["recurrence-id"]) == local(first["dtstart"])


async def test_a_single_session_has_the_same_uid_in_its_file_in_the_feeds_and_in_the_registrants_feed(client, db, app):
    account = await make_account(db, "organizer@example.jp")
    session_id = await make_session(db, account.org_id, await make_venue(db, account.org_id), title="駅前の対話")
    token = (await register(app, db, session_id)).token

    uids = {path: independent_event((await client.get(path)).content)["uid"]
            for path in (*PUBLIC_FEEDS, f"/sessions/{session_id}.ics", f"/r/{token}/calendar.ics")}

    assert len(set(uids.values())) == 1, uids


async def test_uids_stay_when_the_site_address_changes_and_differ_between_two_sites(tmp_path: Path):
    path = tmp_path / "taiwa.sqlite3"

    async def uids(base_url: str, secret: str) -> list[str]:
        app = create_app(Settings(db_path=path, secret=secret, base_url=base_url, background=False))
        async with AsyncTestClient(app=app, base_url=base_url) as client:
            db = app.litestar.state.db
            if not await store.any_sessions(db):
                await monthly_series(db, count=2)
                account = await make_account(db, "staff@example.jp")
                await make_session(db, account.org_id, await make_venue(db, account.org_id, name="別会場"))
            _head, events = read_independently((await client.get("/calendar.ics")).content)
            return sorted(event["uid"] for event in events)

    first = await uids("https://taiwa.city.example.jp", "first-secret-" + "x" * 20)
    moved = await uids("https://sanka.city.example.jp", "first-secret-" + "x" * 20)
    other_site = await uids("https://taiwa.city.example.jp", "other-secret-" + "x" * 20)

    assert len(first) == 2 and first == moved
    assert not set(first) & set(other_site), "two sites must never share a UID"
    assert all("city.example.jp" not in uid and "first-secret" not in uid for uid in first)


# ---------------------------------------------------------------- the registrant's feed

async def full_session_with_a_waitlist(app: Any, db: Any) -> tuple[int, str, str]:
    """A session with one place: a confirmed registrant and a waitlisted one; (id, first token, second token)."""
    account = await make_account(db, "organizer@example.jp")
    session_id = await make_session(db, account.org_id, await make_venue(db, account.org_id), capacity_in_person=1)
    first = await register(app, db, session_id, name="山田花子", email="hanako@example.jp")
    second = await register(app, db, session_id, name="佐藤一郎", email="ichiro@example.jp")
    assert (first.registration.status, second.registration.status) == ("confirmed", "waitlisted")
    return session_id, first.token, second.token


async def cancel(app: Any, db: Any, token: str) -> None:
    found = await rstore.registration_by_token_hash(db, registration.token_hash(token))
    await registration.cancel_registration(db, found, notify=app.litestar.state.notify)


async def test_the_registrants_feed_changes_sequence_and_last_modified_when_promoted_and_cancelled(client, db, app):
    _session_id, first, second = await full_session_with_a_waitlist(app, db)
    path = f"/r/{second}/calendar.ics"
    waitlisted = await client.get(path)
    await wait_for_a_new_second()

    await cancel(app, db, first)  # the second registrant moves up
    promoted = await client.get(path)
    await wait_for_a_new_second()
    await cancel(app, db, second)
    cancelled = await client.get(path)

    events = [independent_event(answer.content) for answer in (waitlisted, promoted, cancelled)]
    assert [event["status"] for event in events] == ["CONFIRMED", "CONFIRMED", "CANCELLED"]
    assert events[0]["sequence"] < events[1]["sequence"] < events[2]["sequence"]
    assert events[0]["last-modified"] < events[1]["last-modified"] < events[2]["last-modified"]
    assert len({answer.headers["etag"] for answer in (waitlisted, promoted, cancelled)}) == 3


async def test_if_modified_since_never_gets_a_stale_registrants_feed(tmp_path: Path):
    """A second worker (or the same one after a restart) must not answer 304 for a feed that changed."""
    settings = Settings(db_path=tmp_path / "taiwa.sqlite3", secret="test-secret-" + "x" * 20, base_url=BASE,
                        background=False)
    first_app = create_app(settings)
    async with AsyncTestClient(app=first_app, base_url=BASE) as client:
        db = first_app.litestar.state.db
        _session_id, first, second = await full_session_with_a_waitlist(first_app, db)
        path = f"/r/{second}/calendar.ics"
        old = await client.get(path)
        await cancel(first_app, db, first)  # promoted within the same second, most likely
    second_app = create_app(settings)
    async with AsyncTestClient(app=second_app, base_url=BASE) as client:
        since = old.headers.get("last-modified") or "Fri, 01 Jan 2100 00:00:00 GMT"
        again = await client.get(path, headers={"If-Modified-Since": since})
        assert again.status_code == 200
        assert "キャンセル待ち" in str(independent_event(old.content)["description"])
        assert "キャンセル待ち" not in str(independent_event(again.content)["description"])

        stale = await client.get(path, headers={"If-None-Match": old.headers["etag"]})
        assert stale.status_code == 200
        current = await client.get(path, headers={"If-None-Match": again.headers["etag"]})
        assert current.status_code == 304 and current.content == b""
