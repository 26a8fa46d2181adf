"""ふりがな with each organization's own dictionary: two cities write 大和 alike and read it differently
(やまと in one, だいわ in the other). Every page of a city's content, its board's live fragments and
POST /api/readings with `org` read its way; a list mixing cities reads each card its own way; one
city's change never changes the other's pages."""

from __future__ import annotations

from typing import Any

from bs4 import BeautifulSoup

from tests.board_http import new_board
from tests.harness import html, login, make_account, make_session, make_venue, post_form
from tests.registration_helpers import person, registered

TITLE = "大和地区の対話の場"


def readings(element: Any) -> dict[str, str]:
    """Each ruby's kanji with its reading, as an independent HTML parser sees them."""
    assert element is not None
    return {ruby.contents[0]: ruby.rt["data-reading"] for ruby in element.find_all("ruby")}


def card_of(soup: BeautifulSoup, session_id: int) -> Any:
    title = soup.select_one(f"#session-{session_id}-title")
    assert title is not None, session_id
    return title


async def entry(client: Any, email: str, surface: str, reading: str) -> None:
    """An organizer of the account's organization adds (or corrects) an entry on the dictionary page."""
    client.cookies.clear()
    assert (await login(client, email)).status_code == 200
    saved = await post_form(client, "/organize/readings", None, {"surface": surface, "reading": reading})
    assert saved.status_code == 200 and saved.url.path == "/organize/readings", saved.text
    client.cookies.clear()
    client.cookies.set("taiwa_ruby", "1")


async def two_cities(client: Any, db: Any) -> tuple[Any, Any, int, int]:
    """やまと市 and だいわ町, each with a session titled 大和地区の対話の場 and its own entry for 大和."""
    yamato = await make_account(db, "staff@yamato.example", org="yamato")
    daiwa = await make_account(db, "staff@daiwa.example", org="daiwa")
    yamato_session = await make_session(db, yamato.org_id, await make_venue(db, yamato.org_id), title=TITLE)
    daiwa_session = await make_session(db, daiwa.org_id, await make_venue(db, daiwa.org_id), title=TITLE)
    await entry(client, "staff@yamato.example", "大和", "やまと")  # the older entry
    await entry(client, "staff@daiwa.example", "大和", "だいわ")
    return yamato, daiwa, yamato_session, daiwa_session


async def test_each_citys_pages_read_the_same_name_its_own_way(client, db):
    _yamato, daiwa, yamato_session, daiwa_session = await two_cities(client, db)
    for session_id, reading in [(yamato_session, "やまと"), (daiwa_session, "だいわ")]:
        page = html(await client.get(f"/sessions/{session_id}"))
        assert readings(page.select_one("h1"))["大和"] == reading, session_id
        assert page.html.get("data-reading-org") in ("yamato", "daiwa")  # what the page's own scripts pass on
        register = html(await client.get(f"/sessions/{session_id}/register"))
        assert readings(register.select_one("main"))["大和"] == reading, session_id
    for slug, session_id, reading in [("yamato", yamato_session, "やまと"), ("daiwa", daiwa_session, "だいわ")]:
        org_page = html(await client.get(f"/orgs/{slug}"))
        assert readings(card_of(org_page, session_id))["大和"] == reading
    # the registrant's own page (/r/{token})
    token = (await registered(client, daiwa_session, **person(1)))["token"]
    assert readings(html(await client.get(f"/r/{token}")).select_one("main"))["大和"] == "だいわ"
    # the board's live list (the fragment board.js fetches on each change) reads with the board's city
    board = await new_board(db, daiwa_session, daiwa.org_id, prompts=["大和の良いところ", "困っていること"])
    visitor = client
    visitor.cookies.clear()
    visitor.cookies.set("taiwa_ruby", "1")
    join_page = await visitor.get(f"/j/{board.join_code}")
    joined = await visitor.post(f"/j/{board.join_code}", data={
        "_csrf_token": html(join_page).select_one("input[name=_csrf_token]")["value"], "display_name": "さくら"})
    assert joined.status_code == 200, joined.text
    fragment = await visitor.get(f"/boards/{board.id}/list", headers={"HX-Request": "true", "HX-Target": "board-list"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    zone = BeautifulSoup(fragment.text, "html.parser").select_one("h2")
    assert readings(zone)["大和"] == "だいわ"


async def test_a_list_of_both_cities_reads_each_card_its_own_way(client, db):
    _yamato, _daiwa, yamato_session, daiwa_session = await two_cities(client, db)
    for path in ["/sessions", "/", "/sessions?q=大和"]:
        soup = html(await client.get(path))
        assert readings(card_of(soup, yamato_session))["大和"] == "やまと", path
        assert readings(card_of(soup, daiwa_session))["大和"] == "だいわ", path
    fragment = await client.get("/sessions?q=大和", headers={"HX-Request": "true"})  # the search as it is typed
    soup = BeautifulSoup(fragment.text, "html.parser")
    assert readings(card_of(soup, daiwa_session))["大和"] == "だいわ"
    assert readings(card_of(soup, yamato_session))["大和"] == "やまと"


async def test_the_readings_api_reads_with_the_organization_asked_for(client, db):
    await two_cities(client, db)
    text = "大和に集まる"
    assert (await client.post("/api/readings", json={"text": text, "org": "yamato"})).json()["reading"].startswith("やまと")
    assert (await client.post("/api/readings", json={"text": text, "org": "daiwa"})).json()["reading"].startswith("だいわ")
    built_in = (await client.post("/api/readings", json={"text": "達古袋に集まる"})).json()["reading"]
    assert built_in.endswith("にあつまる")
    # an organization without entries reads with the built-in terms; an unknown one is refused, clearly
    await make_account(db, "staff@saku.example", org="saku")
    assert (await client.post("/api/readings", json={"text": "市民", "org": "saku"})).json()["reading"] == "しみん"
    for org in ["nowhere", "", "yamato\n", "ＹＡＭＡＴＯ", "y" * 5_000, "yamato' or '1'='1", "\u202eyamato"]:
        refused = await client.post("/api/readings", json={"text": text, "org": org})
        assert refused.status_code == 422, org
        assert "org" in refused.json()["error"]["fields"], org
    client.cookies.set("taiwa_lang", "en")
    english = await client.post("/api/readings", json={"text": text, "org": "nowhere"})
    assert "organization" in english.json()["error"]["fields"]["org"].lower()
    wrong_type = await client.post("/api/readings", json={"text": text, "org": 3})
    assert wrong_type.status_code in (400, 422)


async def test_one_citys_correction_leaves_the_other_citys_pages_as_they_were(client, db, app):
    _yamato, daiwa, yamato_session, daiwa_session = await two_cities(client, db)
    assert readings(html(await client.get(f"/sessions/{daiwa_session}")).select_one("h1"))["大和"] == "だいわ"
    books = app.litestar.state.name_books
    daiwa_book = await books.current("daiwa")
    await entry(client, "staff@yamato.example", "大和", "おおわ")  # yamato corrects its entry
    assert readings(html(await client.get(f"/sessions/{yamato_session}")).select_one("h1"))["大和"] == "おおわ"
    assert readings(html(await client.get(f"/sessions/{daiwa_session}")).select_one("h1"))["大和"] == "だいわ"
    assert await books.current("daiwa") is daiwa_book  # its cached readings stay valid
    # nobody's text can claim another city's dictionary: a title with the marker is text, not markup
    hostile = await make_session(db, daiwa.org_id, await make_venue(db, daiwa.org_id, name="会場2"),
                                 title='<b data-reading-org="yamato">大和</b>の会')
    shown = html(await client.get(f"/sessions/{hostile}")).select_one("h1")
    assert readings(shown)["大和"] == "だいわ" and shown.find("b") is None
