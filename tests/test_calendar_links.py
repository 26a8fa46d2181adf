"""iCalendar feeds: the links pages offer (download, subscribe, Google and Outlook; the registrant's own
feed; the sessions list's current filters; an organization's feed)."""

from __future__ import annotations

from datetime import timedelta, timezone
from urllib.parse import parse_qs, urlsplit

from sessions import calendar, store
from tests.calendar_helpers import BASE, only_event, parse, register, supported_session, vevents
from tests.calendar_helpers import fresh_feed_cache  # noqa: F401 - fixtures, used by name
from tests.harness import html, make_session, next_saturday


# ---------------------------------------------------------------- links on pages

async def test_session_page_offers_download_subscribe_google_and_outlook_links(client, db, app):
    _account, _venue, session_id = await supported_session(db)
    session = await store.get_session(db, session_id)

    page = html(await client.get(f"/sessions/{session_id}"))
    hrefs = [str(a["href"]) for a in page.select(".calendar-links a[href]")]

    assert f"{BASE}/sessions/{session_id}.ics" in hrefs
    assert f"webcal://testserver.local/sessions/{session_id}.ics" in hrefs
    google = next(h for h in hrefs if h.startswith("https://calendar.google.com/"))
    query = parse_qs(urlsplit(google).query)
    utc = "%Y%m%dT%H%M%SZ"
    assert query["action"] == ["TEMPLATE"] and query["text"] == [session.title]
    assert query["dates"] == [f"{session.starts_at.astimezone(timezone.utc).strftime(utc)}/"
                              f"{session.ends_at.astimezone(timezone.utc).strftime(utc)}"]
    assert query["dates"][0].startswith(f"{(next_saturday() - timedelta(hours=9)).strftime('%Y%m%dT%H')}0000Z")
    outlook = next(h for h in hrefs if h.startswith("https://outlook."))
    query = parse_qs(urlsplit(outlook).query)
    assert query["startdt"] == [next_saturday().isoformat() + "+09:00"]
    assert query["enddt"] == [(next_saturday() + timedelta(hours=2)).isoformat() + "+09:00"]

    download = await client.get(urlsplit(f"{BASE}/sessions/{session_id}.ics").path)
    domain = calendar.uid_domain(app.litestar.state.secret)
    assert str(only_event(download)["UID"]) == f"session-{session_id}@{domain}"


async def test_registrant_page_offers_their_own_feed(client, db, app):
    _account, _venue, session_id = await supported_session(db)
    token = (await register(app, db, session_id)).token

    hrefs = [str(a["href"]) for a in html(await client.get(f"/r/{token}")).select(".calendar-links a[href]")]

    assert f"{BASE}/r/{token}/calendar.ics" in hrefs
    assert f"webcal://testserver.local/r/{token}/calendar.ics" in hrefs


async def test_sessions_list_offers_a_subscription_with_the_current_filters(client, db):
    account, venue_id, with_care = await supported_session(db)
    await make_session(db, account.org_id, venue_id, title="託児なしの説明会", starts_at=next_saturday(2))

    page = html(await client.get("/sessions?childcare=1"))
    links = [str(a["href"]) for a in page.select(".feed-links a[href]")]

    webcal = next(link for link in links if link.startswith("webcal://"))
    parts = urlsplit(webcal)
    assert parts.netloc == "testserver.local" and parts.path == "/calendar.ics"
    assert parse_qs(parts.query) == {"childcare": ["1"]}
    assert f"{BASE}/calendar.ics?childcare=1" in links
    subscribed = vevents(parse(await client.get(f"/calendar.ics?{parts.query}")))
    assert [str(e["URL"]) for e in subscribed] == [f"{BASE}/sessions/{with_care}"]


async def test_organization_page_offers_its_feed(client, db):
    await supported_session(db)

    links = [str(a["href"]) for a in html(await client.get("/orgs/kanazawa")).select(".feed-links a[href]")]

    assert "webcal://testserver.local/orgs/kanazawa/calendar.ics" in links
