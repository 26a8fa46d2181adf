"""iCalendar feeds (RFC 5545): filtered feeds, what public feeds never show (drafts, online links), and the
registrant's own feed with their status and link."""

from __future__ import annotations

from sessions import registration
from sessions.catalog import REGISTRATION_STATUSES
from sessions.models import Recurrence
from tests.calendar_helpers import (
    BASE, SECRET_LINK, ja, only_event, parse, register, second_saturday, supported_session, vevents,
)
from tests.calendar_helpers import fresh_feed_cache  # noqa: F401 - fixtures, used by name
from tests.harness import login, make_account, make_session, make_venue, next_saturday


# ---------------------------------------------------------------- filters and privacy

async def test_childcare_filter_feed_lists_only_sessions_with_childcare(client, db):
    account, venue_id, with_care = await supported_session(db)
    await make_session(db, account.org_id, venue_id, title="託児なしの説明会", starts_at=next_saturday(2))

    events = vevents(parse(await client.get("/calendar.ics?childcare=1")))
    everything = vevents(parse(await client.get("/calendar.ics")))

    assert [str(e["URL"]) for e in events] == [f"{BASE}/sessions/{with_care}"]
    assert len(everything) == 2


async def test_org_filter_feed_lists_only_that_organizations_sessions(client, db):
    _account, _venue, ours = await supported_session(db)
    other = await make_account(db, "toyama@example.jp", org="toyama")
    theirs = await make_session(db, other.org_id, await make_venue(db, other.org_id, name="富山市民プラザ"),
                                title="富山の対話")

    for path in ("/calendar.ics?org=kanazawa", "/orgs/kanazawa/calendar.ics"):
        assert [str(e["URL"]) for e in vevents(parse(await client.get(path)))] == [f"{BASE}/sessions/{ours}"], path
    assert [str(e["URL"]) for e in vevents(parse(await client.get("/orgs/toyama/calendar.ics")))] == \
        [f"{BASE}/sessions/{theirs}"]
    assert (await client.get("/orgs/nowhere/calendar.ics")).status_code == 404


async def test_drafts_never_appear_in_feeds(client, db):
    account, venue_id, _published = await supported_session(db)
    draft = await make_session(db, account.org_id, venue_id, title="下書きの秘密の会", status="draft",
                               starts_at=next_saturday(2))
    await make_session(db, account.org_id, venue_id, title="下書きの連続講座", status="draft",
                       starts_at=second_saturday(2), recurrence=Recurrence(freq="monthly", count=3))
    await login(client, "organizer@example.jp")  # not even the organizer's own drafts

    for path in ("/calendar.ics", "/orgs/kanazawa/calendar.ics", "/calendar.ics?q=下書き"):
        body = (await client.get(path)).text
        assert "下書き" not in body, path
    assert (await client.get(f"/sessions/{draft}.ics")).status_code == 404


async def test_online_link_never_appears_in_public_feeds(client, db, app):
    account = await make_account(db, "organizer@example.jp")
    venue_id = await make_venue(db, account.org_id)
    online = await make_session(db, account.org_id, None, title="オンライン説明会", format="online",
                                online_url=SECRET_LINK, capacity_in_person=0, capacity_online=50)
    series = await make_session(db, account.org_id, venue_id, title="ハイブリッド連続講座", format="hybrid",
                                online_url=SECRET_LINK + "-series", capacity_online=50, starts_at=second_saturday(),
                                recurrence=Recurrence(freq="monthly", count=3))
    await register(app, db, online, mode="online")

    paths = ["/calendar.ics", "/calendar.ics?format=online", "/orgs/kanazawa/calendar.ics", f"/sessions/{online}.ics",
             f"/sessions/{series}.ics"]
    for path in paths:
        response = await client.get(path)
        assert response.status_code == 200, path
        assert "meet.example.jp" not in response.text, path
        assert "CONFERENCE" not in response.text, path
    assert len(vevents(parse(await client.get("/calendar.ics")))) == 2


# ---------------------------------------------------------------- the registrant's own feed

async def test_registrant_feed_shows_their_session_their_status_and_the_online_link(client, db, app):
    account = await make_account(db, "organizer@example.jp")
    online = await make_session(db, account.org_id, None, title="オンライン説明会", format="online",
                                online_url=SECRET_LINK, capacity_in_person=0, capacity_online=1)
    await make_session(db, account.org_id, None, title="別のオンライン会", format="online",
                       online_url=SECRET_LINK + "-other", capacity_in_person=0, capacity_online=5)
    confirmed = await register(app, db, online, mode="online")
    waitlisted = await register(app, db, online, mode="online", name="佐藤一郎", email="ichiro@example.jp")
    assert (confirmed.registration.status, waitlisted.registration.status) == ("confirmed", "waitlisted")

    response = await client.get(f"/r/{confirmed.token}/calendar.ics")
    assert response.headers["cache-control"].startswith("private")
    event = only_event(response)
    assert str(event["URL"]) == f"{BASE}/sessions/{online}"
    assert str(event["SUMMARY"]) == "オンライン説明会"
    description = str(event["DESCRIPTION"])
    assert ja(REGISTRATION_STATUSES["confirmed"]) == "確定" and "確定" in description
    assert SECRET_LINK in description or str(event.get("CONFERENCE", "")) == SECRET_LINK
    assert "-other" not in response.text

    waiting = only_event(await client.get(f"/r/{waitlisted.token}/calendar.ics"))
    assert "キャンセル待ち" in str(waiting["DESCRIPTION"])
    assert "meet.example.jp" not in waiting.to_ical().decode()


async def test_cancelled_registration_shows_as_cancelled_in_the_registrants_feed(client, db, app):
    _account, _venue, session_id = await supported_session(db)
    result = await register(app, db, session_id)
    before = only_event(await client.get(f"/r/{result.token}/calendar.ics"))
    assert str(before["STATUS"]) == "CONFIRMED"

    await registration.cancel_registration(db, result.registration, notify=app.litestar.state.notify)

    after = only_event(await client.get(f"/r/{result.token}/calendar.ics"))
    assert str(after["STATUS"]) == "CANCELLED"
    assert str(after["UID"]) == str(before["UID"])


async def test_registrant_feed_with_a_wrong_token_is_404(client, db, app):
    _account, _venue, session_id = await supported_session(db)
    token = (await register(app, db, session_id)).token

    for wrong in (token[:-2] + ("aa" if not token.endswith("aa") else "bb"), "x" * 200, "nothing"):
        response = await client.get(f"/r/{wrong}/calendar.ics")
        assert response.status_code == 404
        assert "BEGIN:VCALENDAR" not in response.text
