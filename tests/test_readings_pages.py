"""ふりがな over HTTP: the switch remembered like the language, ruby on every page and fragment (and
nowhere else), POST /api/readings with its limits, organizations' dictionaries of local names, and
sessions' easy-Japanese summaries with the guideline's checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from litestar.testing import AsyncTestClient

from server.app import create_app
from server.auth.limits import parse_limits
from server.settings import Settings
from tests.harness import field_errors, html, login, make_account, make_session, make_venue, post_form


def plain_text(soup: BeautifulSoup) -> str:
    """What a reader copies: the text without the readings (an independent parser, not our regexes)."""
    for element in soup.select("rt, rp"):  # (the readings are attributes; no text to take away)
        element.decompose()
    return re.sub(r"\s+", "", soup.get_text())


def main_text(response) -> str:
    soup = html(response)
    return plain_text(soup.select_one("main"))


async def test_the_switch_is_on_every_page_and_remembered_like_the_language(client, db):
    account = await make_account(db, "staff@kanazawa.example")
    session_id = await make_session(db, account.org_id, await make_venue(db, account.org_id), title="子育て世代の対話の場", description="市民と市が一緒に考えます。")
    for path in ["/", "/sessions", f"/sessions/{session_id}", "/organize/login"]:
        page = html(await client.get(path))
        switch = page.select_one(".ruby-switch a")
        assert switch is not None and "ruby=1" in switch["href"] and page.find("ruby") is None, path
    turned_on = await client.get(f"/sessions/{session_id}?ruby=1")
    assert "taiwa_ruby=1" in turned_on.headers["set-cookie"] and "HttpOnly" in turned_on.headers["set-cookie"]
    later = await client.get(f"/sessions/{session_id}")  # no parameter: the cookie remembers
    assert "cookie" in later.headers["vary"].lower()  # no shared cache hands one reader's page to another
    soup = html(later)
    assert soup.html.get("data-ruby") == "on"
    title = soup.select_one("h1")
    assert [(ruby.contents[0], ruby.rt["data-reading"]) for ruby in title.find_all("ruby")] == [
        ("子育", "こそだ"), ("世代", "せだい"), ("対話", "たいわ"), ("場", "ば")]
    assert all(rt.get("aria-hidden") == "true" and not rt.get_text() for rt in soup.find_all("rt"))
    assert "ruby=0" in soup.select_one(".ruby-switch a")["href"]
    # the same words as without the switch, once the readings are taken away
    client.cookies.set("taiwa_ruby", "0")
    without = await client.get(f"/sessions/{session_id}")
    assert main_text(later) == main_text(without) and html(without).find("ruby") is None
    assert html(await client.get("/?ruby=1")).find("ruby") is not None  # ?ruby=1 from any address
    assert html(await client.get("/sessions?ruby=0")).find("ruby") is None


async def test_translated_interface_strings_get_readings_and_english_pages_stay_as_they_are(client, db):
    page = html(await client.get("/sessions?ruby=1"))
    nav = page.select_one(".site-nav")
    assert nav.find("ruby") is not None and plain_text(nav).startswith("対話の場を探す")
    english = await client.get("/sessions?ruby=1&lang=en")
    assert html(english).select_one(".site-nav").find("ruby") is None


async def test_only_html_answers_get_ruby(client, db):
    account = await make_account(db, "staff@kanazawa.example")
    session_id = await make_session(db, account.org_id, await make_venue(db, account.org_id), title="防災の対話")
    client.cookies.set("taiwa_ruby", "1")
    api = await client.get(f"/api/sessions/{session_id}")
    assert api.json()["title"] == "防災の対話"
    ics = await client.get(f"/sessions/{session_id}.ics")
    assert "<ruby>" not in ics.text and "防災の対話" in ics.text
    css = await client.get("/static/css/taiwa.css")
    assert "<ruby>" not in css.text
    fragment = await client.get("/sessions?q=防災", headers={"HX-Request": "true"})
    assert "<ruby>防災" in fragment.text  # htmx fragments are pages' text too


async def test_the_readings_api_gives_the_reading_and_its_words(client):
    answer = await client.post("/api/readings", json={"text": "二十日に食べる。Taiwa"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["reading"] == "はつかにたべる。Taiwa"
    assert body["segments"][0] == {"text": "二十日", "reading": "はつか", "parts": [{"text": "二十日", "reading": "はつか"}]}
    assert {"text": "に"} in body["segments"]  # no kanji: no reading
    eat = next(segment for segment in body["segments"] if segment["text"] == "食べる")
    assert eat["parts"] == [{"text": "食", "reading": "た"}, {"text": "べる"}]
    assert "".join(segment["text"] for segment in body["segments"]) == "二十日に食べる。Taiwa"
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/api/readings" in schema["paths"]


async def test_the_readings_api_refuses_long_texts_and_bad_bodies_clearly(client):
    too_long = await client.post("/api/readings", json={"text": "漢" * 10_001})
    assert too_long.status_code in (413, 422)
    assert "10000" in too_long.json()["error"]["fields"]["text"] or "10,000" in too_long.json()["error"]["fields"]["text"]
    assert (await client.post("/api/readings", json={"text": "漢" * 10_000})).status_code == 200
    for bad in [b"{", b'{"text": 3}', b"{}", b'["text"]']:
        answer = await client.post("/api/readings", content=bad, headers={"Content-Type": "application/json"})
        assert answer.status_code in (400, 422) and "error" in answer.json(), bad
    odd = await client.post("/api/readings", content='{"text": "\\ud800市民\\u202e\\n\\u0000対話"}'.encode(),
                            headers={"Content-Type": "application/json"})
    assert odd.status_code in (200, 400)
    if odd.status_code == 200:
        assert "しみん" in odd.json()["reading"] and "たいわ" in odd.json()["reading"]


@pytest.fixture
def limited_settings(tmp_path: Path) -> Settings:
    return Settings(db_path=tmp_path / "taiwa.sqlite3", secret="test-secret-" + "x" * 20,
                    base_url="http://testserver.local", limits=parse_limits("readings=3/60"))


async def test_the_readings_api_is_limited_per_client_unless_limits_are_off(limited_settings, tmp_path):
    async with AsyncTestClient(app=create_app(limited_settings), base_url="http://testserver.local") as client:
        answers = [await client.post("/api/readings", json={"text": "市民"}) for _ in range(4)]
        assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
        assert answers[-1].headers["retry-after"].isdigit() and answers[-1].json()["error"]["message"]
    off = Settings(db_path=tmp_path / "off.sqlite3", secret="test-secret-" + "x" * 20, base_url="http://testserver.local",
                   limits=parse_limits("readings=3/60"), rate_limits=False)
    async with AsyncTestClient(app=create_app(off), base_url="http://testserver.local") as client:
        assert {(await client.post("/api/readings", json={"text": "市民"})).status_code for _ in range(6)} == {200}


async def test_an_organizers_names_are_read_their_way_on_every_page(client, db):
    account = await make_account(db, "staff@ichinoseki.example", org="ichinoseki")
    session_id = await make_session(db, account.org_id, await make_venue(db, account.org_id), title="達古袋地区の円卓会議")
    assert (await login(client, "staff@ichinoseki.example")).status_code == 200
    before = html(await client.get(f"/sessions/{session_id}?ruby=1")).select_one("h1")
    saved = await post_form(client, "/organize/readings", None, {"surface": "達古袋", "reading": "ヤコブクロ"})
    assert saved.status_code == 200 and saved.url.path == "/organize/readings"
    listed = html(saved)
    assert "達古袋" in plain_text(listed.select_one("table")) and "やこぶくろ" in listed.select_one("table").get_text()
    after = html(await client.get(f"/sessions/{session_id}")).select_one("h1")
    assert after.find("ruby").contents[0] == "達古袋" and after.find("ruby").rt["data-reading"] == "やこぶくろ"
    assert "やこぶくろ" not in str(before)  # the analyser alone reads it otherwise
    api = await client.post("/api/readings", json={"text": "達古袋に集まる", "org": "ichinoseki"})
    assert api.json()["reading"].startswith("やこぶくろに")
    plain = await client.post("/api/readings", json={"text": "達古袋に集まる"})  # no org: the built-in terms only
    assert not plain.json()["reading"].startswith("やこぶくろ")
    # entries that cannot be used are refused with the reason next to the field
    for surface, reading, field in [("", "よみ", "surface"), ("ひらがな", "よみ", "surface"), ("一関", "ichinoseki", "reading"),
                                    ("一関", "いちのせき<script>", "reading"), ("漢" * 41, "かん", "surface"),
                                    ('一関"><script>', "いちのせき", "surface"), ("一\u202e関", "いちのせき", "surface"),
                                    ("一関", "いちのseki", "reading")]:
        refused = await post_form(client, "/organize/readings", None, {"surface": surface, "reading": reading})
        assert refused.status_code == 422 and field_errors(refused), (surface, reading)


async def test_another_organization_cannot_see_or_remove_a_dictionary_entry(client, db):
    await make_account(db, "staff@ichinoseki.example", org="ichinoseki")
    await make_account(db, "staff@saku.example", org="saku")
    await login(client, "staff@ichinoseki.example")
    await post_form(client, "/organize/readings", None, {"surface": "厳美渓", "reading": "げんびけい"})
    entry = html(await client.get("/organize/readings")).select_one("table form")["action"]
    client.cookies.clear()
    await login(client, "staff@saku.example")
    theirs = html(await client.get("/organize/readings"))
    assert "厳美渓" not in theirs.get_text()
    page = await client.get("/organize/readings")
    refused = await client.post(entry, data={"_csrf_token": html(page).select_one("input[name=_csrf_token]")["value"]})
    assert refused.status_code == 404
    client.cookies.clear()
    await login(client, "staff@ichinoseki.example")
    assert "厳美渓" in html(await client.get("/organize/readings")).get_text()
    client.cookies.clear()
    anonymous = await client.get("/organize/readings", follow_redirects=False)
    assert anonymous.status_code in (302, 303, 401)


async def test_an_easy_japanese_summary_is_checked_and_shown_with_the_switch(client, db):
    account = await make_account(db, "staff@saku.example", org="saku")
    session_id = await make_session(db, account.org_id, await make_venue(db, account.org_id), title="佐久市の協働のまちづくり計画について話し合う会")
    await login(client, "staff@saku.example")
    summary = ("みんなで 佐久市の まちづくりを 話します。\n申し込まなければなりません。\n"
               "この会では、市民と市がいっしょにまちのことを考えて、みんなで話し合って、これから何をするかを決めていきます。\n鬱蒼とした森の近くです。")
    saved = await post_form(client, f"/organize/sessions/{session_id}/easy", None, {"body": summary})
    assert saved.status_code == 200 and saved.url.path == f"/organize/sessions/{session_id}/easy"
    flags = html(saved).select(".easy-flag")
    assert {flag["class"][1] for flag in flags} == {"easy-flag--long_sentence", "easy-flag--double_negative",
                                                    "easy-flag--rare_kanji"}
    assert html(saved).select_one(".easy-preview ruby") is not None
    client.cookies.clear()
    public = html(await client.get(f"/sessions/{session_id}"))
    assert public.select_one(".easy-summary") is None and "ruby=1" in public.select_one(".easy-summary-link a")["href"]
    shown = html(await client.get(f"/sessions/{session_id}?ruby=1")).select_one(".easy-summary")
    assert "みんなで佐久市のまちづくりを話します。" in plain_text(shown)
    assert shown.find("ruby") is not None
    too_long = await make_account(db, "other@saku.example", org="saku")
    await login(client, "other@saku.example")
    refused = await post_form(client, f"/organize/sessions/{session_id}/easy", None, {"body": "あ" * 4001})
    assert refused.status_code == 422 and field_errors(refused)
    assert too_long.org_id == account.org_id


async def test_another_organizations_session_summary_is_not_reachable(client, db):
    owner = await make_account(db, "staff@saku.example", org="saku")
    session_id = await make_session(db, owner.org_id, await make_venue(db, owner.org_id))
    await make_account(db, "staff@kanazawa.example", org="kanazawa")
    await login(client, "staff@kanazawa.example")
    assert (await client.get(f"/organize/sessions/{session_id}/easy")).status_code == 404
    page = await client.get("/organize/readings")
    token = html(page).select_one("input[name=_csrf_token]")["value"]
    answer = await client.post(f"/organize/sessions/{session_id}/easy", data={"_csrf_token": token, "body": "x"})
    assert answer.status_code == 404


async def test_names_added_by_another_process_are_read_within_the_refresh_interval(db):
    from readings import store
    from server.core.furigana import NameBooks

    books = NameBooks(db)
    assert "達古袋" not in (await books.current("ichinoseki")).entries
    account = await make_account(db, "staff@ichinoseki.example", org="ichinoseki")
    async with db.transaction() as conn:  # as another process would: nobody calls books.expire()
        await store.save_name(conn, account.org_id, "達古袋", "やこぶくろ")
    assert "達古袋" not in (await books.current("ichinoseki")).entries  # still within NAMES_TTL
    books.checked -= 60  # the interval has passed
    assert (await books.current("ichinoseki")).entries["達古袋"] == "やこぶくろ"
    assert "達古袋" not in (await books.current()).entries  # the built-in terms stay as they are
    async with db.transaction() as conn:
        await store.save_name(conn, account.org_id, "達古袋", "たっこぶくろ")  # a corrected reading
    books.checked -= 60
    assert (await books.current("ichinoseki")).entries["達古袋"] == "たっこぶくろ"
