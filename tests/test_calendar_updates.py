"""iCalendar feeds (RFC 5545): changes and cancellations reach subscribers (SEQUENCE, STATUS), and
validators (ETag, Last-Modified, 304, HEAD) answer right."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from server.app import create_app
from server.settings import Settings
from sessions import scheduling, store
from sessions.models import VenueInput
from tests.calendar_helpers import (
    ADDRESS, BASE, FEEDS, SECRET_LINK, feed_path, local, only_event, parse, register, supported_session, vevents,
    wait_for_a_new_second,
)
from tests.calendar_helpers import fresh_feed_cache  # noqa: F401 - fixtures, used by name
from tests.harness import login, make_account, make_session, make_venue, next_saturday, post_form


# ---------------------------------------------------------------- changes, cancellations, validators

async def test_moving_a_session_raises_sequence_and_keeps_its_uid(client, db):
    _account, _venue, session_id = await supported_session(db)
    before = only_event(await client.get("/calendar.ics"))

    session = await store.get_session(db, session_id)
    later = next_saturday(hour=14)
    await scheduling.move_occurrence(db, session, later, later + timedelta(hours=2))
    after = only_event(await client.get("/calendar.ics"))

    assert str(after["UID"]) == str(before["UID"])
    assert after.decoded("SEQUENCE") > before.decoded("SEQUENCE")
    assert local(after.decoded("DTSTART")) == later
    single = only_event(await client.get(f"/sessions/{session_id}.ics"))
    assert single.decoded("SEQUENCE") == after.decoded("SEQUENCE") and local(single.decoded("DTSTART")) == later


async def test_moving_a_session_with_the_organizer_form_raises_sequence(client, db):
    _account, _venue, session_id = await supported_session(db)
    before = only_event(await client.get(f"/sessions/{session_id}.ics"))
    await login(client, "organizer@example.jp")

    day = next_saturday().date() + timedelta(days=1)
    moved = await post_form(client, f"/organize/sessions/{session_id}/move", None,
                            {"date": day.isoformat(), "start_time": "13:30", "end_time": "15:30"})
    assert moved.status_code == 200, moved.text

    after = only_event(await client.get(f"/sessions/{session_id}.ics"))
    assert str(after["UID"]) == str(before["UID"])
    assert after.decoded("SEQUENCE") > before.decoded("SEQUENCE")
    assert local(after.decoded("DTSTART")) == datetime.combine(day, time(13, 30))


async def test_cancelled_session_stays_in_the_feed_marked_cancelled(client, db):
    _account, _venue, session_id = await supported_session(db)
    before = only_event(await client.get("/calendar.ics"))

    await scheduling.cancel_session(db, await store.get_session(db, session_id), "台風接近のため")

    for path in ("/calendar.ics", "/orgs/kanazawa/calendar.ics", f"/sessions/{session_id}.ics"):
        after = only_event(await client.get(path))
        assert str(after["STATUS"]) == "CANCELLED", path
        assert str(after["UID"]) == str(before["UID"])
        assert after.decoded("SEQUENCE") > before.decoded("SEQUENCE")
        assert "台風接近のため" in str(after["DESCRIPTION"])


async def test_repeated_fetches_give_the_same_uids_and_etag_and_an_edit_changes_the_etag(client, db):
    account, _venue, session_id = await supported_session(db)
    await make_session(db, account.org_id, None, title="オンライン説明会", format="online", online_url=SECRET_LINK,
                       capacity_in_person=0, capacity_online=50, starts_at=next_saturday(2))
    first, second = await client.get("/calendar.ics"), await client.get("/calendar.ics")

    assert first.headers["etag"] == second.headers["etag"]
    assert first.headers["last-modified"] == second.headers["last-modified"]
    uids = sorted(str(e["UID"]) for e in vevents(parse(first)))
    assert len(uids) == 2 and len(set(uids)) == 2
    assert sorted(str(e["UID"]) for e in vevents(parse(second))) == uids

    session = await store.get_session(db, session_id)
    await scheduling.move_occurrence(db, session, next_saturday(hour=15), next_saturday(hour=17))
    edited = await client.get("/calendar.ics")
    assert edited.headers["etag"] != first.headers["etag"]
    assert sorted(str(e["UID"]) for e in vevents(parse(edited))) == uids


@pytest.mark.parametrize("which", FEEDS)
async def test_revalidation_with_the_current_etag_answers_304_with_no_body(client, db, app, which):
    _account, _venue, session_id = await supported_session(db)
    token = (await register(app, db, session_id)).token
    path = feed_path(which, session_id, token)
    fresh = await client.get(path)

    again = await client.get(path, headers={"If-None-Match": fresh.headers["etag"]})

    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == fresh.headers["etag"]


@pytest.mark.parametrize("which", [feed for feed in FEEDS if feed != "registrant"])  # see test_calendar_sequence
async def test_revalidation_with_last_modified_answers_304(client, db, app, which):
    _account, _venue, session_id = await supported_session(db)
    token = (await register(app, db, session_id)).token
    path = feed_path(which, session_id, token)
    fresh = await client.get(path)

    again = await client.get(path, headers={"If-Modified-Since": fresh.headers["last-modified"]})

    assert again.status_code == 304
    assert again.content == b""


async def test_a_stale_etag_gets_the_new_calendar(client, db):
    _account, _venue, session_id = await supported_session(db)
    old = await client.get("/calendar.ics")
    await scheduling.cancel_session(db, await store.get_session(db, session_id))

    response = await client.get("/calendar.ics", headers={"If-None-Match": old.headers["etag"]})

    assert response.status_code == 200
    assert response.headers["etag"] != old.headers["etag"]
    assert str(only_event(response)["STATUS"]) == "CANCELLED"


async def test_revalidation_with_the_weak_form_of_the_etag_answers_304(client, db):
    await supported_session(db)
    fresh = await client.get("/calendar.ics")

    again = await client.get("/calendar.ics", headers={"If-None-Match": "W/" + fresh.headers["etag"]})

    assert again.status_code == 304


async def test_a_head_request_answers_like_get_without_the_calendar(client, db):
    await supported_session(db)
    fresh = await client.get("/calendar.ics")

    head = await client.head("/calendar.ics")

    assert head.status_code == 200
    assert head.headers["etag"] == fresh.headers["etag"]
    assert head.headers["content-type"] == "text/calendar; charset=utf-8"
    assert head.content == b""


async def test_an_unpublished_session_leaves_the_feed_for_clients_that_revalidate_by_date(client, db):
    account, venue_id, _kept = await supported_session(db)
    await wait_for_a_new_second()
    withdrawn = await make_session(db, account.org_id, venue_id, title="取り下げる会", starts_at=next_saturday(2))
    await wait_for_a_new_second()  # Last-Modified has one-second resolution: change in a later second
    old = await client.get("/calendar.ics")
    assert "取り下げる会" in old.text

    session = await store.get_session(db, withdrawn)
    await scheduling.change_session(db, session, session.as_input(), status="draft")

    again = await client.get("/calendar.ics", headers={"If-Modified-Since": old.headers["last-modified"]})
    assert again.status_code == 200
    assert "取り下げる会" not in again.text


async def test_a_changed_venue_address_reaches_subscribers(client, db):
    _account, venue_id, session_id = await supported_session(db)
    old = await client.get("/calendar.ics")
    assert ADDRESS in str(only_event(old)["LOCATION"])

    await scheduling.change_venue(db, venue_id, VenueInput(name="市民交流センター 別館", address="石川県金沢市本町2-2-2"))

    for path in ("/calendar.ics", f"/sessions/{session_id}.ics"):
        fresh = await client.get(path)
        assert "石川県金沢市本町2-2-2" in str(only_event(fresh)["LOCATION"]), path
    revalidated = await client.get("/calendar.ics", headers={"If-None-Match": old.headers["etag"]})
    assert revalidated.status_code == 200


async def test_a_quick_description_fix_reaches_subscribers(client, db):
    account = await make_account(db, "organizer@example.jp")
    venue_id = await make_venue(db, account.org_id)
    await wait_for_a_new_second()
    session_id = await make_session(db, account.org_id, venue_id, description="会場は2階です。")
    old = await client.get("/calendar.ics")
    session = await store.get_session(db, session_id)
    await scheduling.change_session(db, session, msgspec.structs.replace(session.as_input(), description="会場は3階です。"))
    edited = await store.get_session(db, session_id)
    assert edited.updated_at == session.updated_at, "precondition: both writes in the same second"

    fresh = await client.get("/calendar.ics")

    assert str(only_event(fresh)["DESCRIPTION"]).startswith("会場は3階です。")
    assert fresh.headers["etag"] != old.headers["etag"]


async def test_two_apps_on_different_databases_never_serve_each_others_feed(tmp_path: Path):
    apps = [create_app(Settings(db_path=tmp_path / f"{name}.sqlite3", secret="test-secret-" + "x" * 20,
                                base_url=BASE)) for name in ("a", "b")]
    async with AsyncTestClient(app=apps[0], base_url=BASE) as first, AsyncTestClient(app=apps[1], base_url=BASE) as second:
        dbs = [app.litestar.state.db for app in apps]
        for db, title in zip(dbs, ("金沢の対話", "富山の対話")):
            account = await make_account(db, "organizer@example.jp")
            await make_session(db, account.org_id, await make_venue(db, account.org_id), title=title)
        # the two databases alike in everything a feed's validators could be made of (on a busy machine the
        # two writes need not fall in the same second, so the times are made the same)
        same = await dbs[0].fetch_one("select created_at, updated_at, published_at from sessions where id = 1")
        async with dbs[1].transaction() as conn:
            await conn.execute("update sessions set created_at = ?, updated_at = ?, published_at = ? where id = 1",
                               tuple(same))
        assert (await store.get_session(dbs[0], 1)).updated_at == (await store.get_session(dbs[1], 1)).updated_at, \
            "precondition: both sessions written in the same second"

        answers = [await first.get("/calendar.ics"), await second.get("/calendar.ics")]

    assert [str(only_event(answer)["SUMMARY"]) for answer in answers] == ["金沢の対話", "富山の対話"]
