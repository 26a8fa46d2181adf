"""Calendars in the reader's language, read with a second parser (vobject): `?lang=en` translates every text
the feed writes (SUMMARY too), calendar names are escaped TEXT, a language chosen by cookie varies the
cache, English pages link English feeds, and a filtered feed says so in the reader's language."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from server.core.middleware import LANG_COOKIE
from tests.calendar_helpers import (
    FEEDS, feed_path, independent_event, ja, read_independently, register, supported_session,
)
from tests.calendar_helpers import fresh_feed_cache  # noqa: F401 - fixtures, used by name
from tests.harness import html, make_account, make_session, make_venue


async def bilingual_session(app: Any, db: Any) -> tuple[int, str]:
    """A session with English title, description and venue; (id, a registrant's token)."""
    account = await make_account(db, "organizer@example.jp")
    venue_id = await make_venue(db, account.org_id, name="市民交流センター", name_en="Civic Exchange Center",
                                address="金沢市広坂1-1-1", address_en="1-1-1 Hirosaka, Kanazawa")
    session_id = await make_session(db, account.org_id, venue_id, title="子育てと地域の対話",
                                    title_en="Parenting and the neighbourhood", description="地域で話し合います。",
                                    description_en="We talk it over together.")
    return session_id, (await register(app, db, session_id)).token


@pytest.mark.parametrize("which", FEEDS)
async def test_lang_en_translates_the_summary_and_every_other_text_of_every_feed(client, db, app, which):
    session_id, token = await bilingual_session(app, db)
    path = feed_path(which, session_id, token)

    english = independent_event((await client.get(path + "?lang=en")).content)
    japanese = independent_event((await client.get(path)).content)

    assert english["summary"] == "Parenting and the neighbourhood"
    assert japanese["summary"] == "子育てと地域の対話"
    assert "We talk it over together." in english["description"]
    assert "Civic Exchange Center" in english["location"] and "Hirosaka" in english["location"]
    assert "Dialogue" in english["categories"] or "dialogue" in " ".join(english["categories"]).lower()
    japanese_text = [character for character in english["description"] if "\u3040" <= character <= "\u9fff"]
    assert japanese_text == [], "the English feed writes no Japanese of its own"


async def test_a_calendar_name_is_escaped_text(client, db):
    title = r"C:\new 対話, 第3回; 金沢\\"
    account = await make_account(db, "organizer@example.jp")
    session_id = await make_session(db, account.org_id, await make_venue(db, account.org_id), title=title)

    head, _events = read_independently((await client.get(f"/sessions/{session_id}.ics")).content)

    assert head["name"] == title
    assert head["x-wr-calname"] == title


async def test_a_language_chosen_by_cookie_varies_the_cache_and_lang_in_the_address_wins(client, db, app):
    await supported_session(db)
    client.cookies.set(LANG_COOKIE, "en")

    by_cookie = await client.get("/calendar.ics")
    by_address = await client.get("/calendar.ics?lang=ja")

    assert "Cookie" in by_cookie.headers.get("vary", "")
    assert read_independently(by_cookie.content)[0]["name"] == "Taiwa: dialogue sessions"
    assert read_independently(by_address.content)[0]["name"] == ja("Taiwa: dialogue sessions")
    assert by_cookie.headers["etag"] != by_address.headers["etag"]


async def test_english_pages_link_english_feeds(client, db, app):
    session_id, token = await bilingual_session(app, db)

    pages = {f"/sessions/{session_id}?lang=en": ".calendar-links a[href]", "/sessions?lang=en": ".feed-links a[href]",
             "/orgs/kanazawa?lang=en": ".feed-links a[href]", f"/r/{token}?lang=en": ".calendar-links a[href]"}
    for page, links in pages.items():
        answer = await client.get(page)
        assert answer.status_code == 200, page
        feeds = [str(a["href"]) for a in html(answer).select(links) if ".ics" in str(a["href"])]
        assert feeds, page
        for href in feeds:
            assert parse_qs(urlsplit(href).query).get("lang") == ["en"], (page, href)
            client.cookies.set(LANG_COOKIE, "ja")  # the calendar app has not the reader's cookie
            fetched = await client.get(urlsplit(href)._replace(scheme="", netloc="").geturl())
            assert "Parenting and the neighbourhood" in fetched.text, href
    japanese = [str(a["href"]) for a in html(await client.get(f"/sessions/{session_id}?lang=ja")).select(
        ".calendar-links a[href]") if ".ics" in str(a["href"])]
    assert japanese and all("lang=" not in href for href in japanese)


@pytest.mark.parametrize("lang", ["ja", "en"])
async def test_a_filtered_feed_says_so_in_the_readers_language(client, db, lang):
    await supported_session(db)

    head, _events = read_independently((await client.get(f"/calendar.ics?childcare=1&lang={lang}")).content)

    if lang == "en":
        assert head["name"] == "Taiwa: dialogue sessions (filtered)"
    else:
        assert "filtered" not in head["name"]
        assert head["name"].startswith(ja("Taiwa: dialogue sessions"))
        assert head["name"] != ja("Taiwa: dialogue sessions")
