"""Workshop boards over HTTP: setting up, joining by code, the plain-HTML list view, the facilitator's
controls, what each viewer may see, the projector, exports, the published outcome and the board API."""

from __future__ import annotations

import csv
import io
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from realtime import store as board_store
from realtime.board import Actor
from server.auth import accounts
from server.organize.boards import board_errors, create_board
from tests.conftest import csrf_from, field_errors, html, login, make_account, make_session, make_venue, post_form

LANG = {"taiwa_lang": "en"}  # English pages, so the assertions do not depend on the Japanese catalog
FACILITATOR = Actor(id="f-setup", name="ファシリ", facilitator=True)
PROMPTS = ["地域の良いところ", "困っていること", "やってみたいこと"]


# ---------------------------------------------------------------- helpers

@pytest.fixture(autouse=True)
def english(client: Any) -> None:
    client.cookies.update(LANG)


@asynccontextmanager
async def browser(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Another person's browser on the same app (its own cookies; no second lifespan)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver.local",
                                 follow_redirects=True, cookies=LANG) as other:
        yield other


async def signed_in_organizer(client: Any, db: Any, email: str = "staff@kanazawa.example",
                              org: str = "kanazawa", role: str = "organizer") -> tuple[accounts.Account, int]:
    """A signed-in account and a session of its organization."""
    account = await make_account(db, email, role=role, org=org)
    venue_id = await make_venue(db, account.org_id, name=f"{org} 市民交流センター")
    session_id = await make_session(db, account.org_id, venue_id, title="まちづくり対話")
    response = await login(client, email)
    assert response.status_code == 200 and response.url.path == "/organize", response.text
    return account, session_id


async def new_board(db: Any, session_id: int, org_id: int, **settings: Any) -> board_store.Board:
    """A board set up directly (the form is tested on its own)."""
    config, errors = board_errors({"title": "地域の未来ワークショップ", "prompts": PROMPTS, **settings})
    assert not errors, errors
    board = await board_store.get_board(db, await create_board(db, session_id, org_id, config))
    assert board is not None
    return board


async def organizer_board(client: Any, db: Any, **settings: Any) -> tuple[accounts.Account, board_store.Board]:
    account, session_id = await signed_in_organizer(client, db)
    return account, await new_board(db, session_id, account.org_id, **settings)


async def act(app: Any, board_id: int, kind: str, actor: Actor = FACILITATOR, **data: Any) -> dict[str, Any]:
    """Set up board state through the same service the socket and the forms use."""
    outcome = await app.litestar.state.board_service.handle(board_id, kind, data, actor, uuid.uuid4().hex)
    assert outcome.result["ok"], outcome.result
    return outcome.result


async def join(person: Any, board: board_store.Board, name: str = "さくら", **extra: str) -> Any:
    page = await person.get(f"/j/{board.join_code}")
    assert page.status_code == 200, page.text
    return await person.post(f"/j/{board.join_code}", data={"_csrf_token": csrf_from(page), "display_name": name,
                                                             **extra})


async def command(person: Any, board_id: int, kind: str, *, back: str = "list", op: str | None = None,
                  headers: dict[str, str] | None = None, csrf: str | None = None, **fields: Any) -> Any:
    """Submit a command form the way the list view (or the facilitator page) does; the CSRF token comes
    from a fresh page unless one from a page opened earlier is given."""
    if csrf is None:
        page = await person.get(f"/boards/{board_id}/{'facilitate' if back == 'facilitate' else 'list'}")
        assert page.status_code == 200, page.text
        csrf = csrf_from(page)
    data = {"_csrf_token": csrf, "type": kind, "op": op or uuid.uuid4().hex, "back": back, **fields}
    return await person.post(f"/boards/{board_id}/commands", data=data, headers=headers or {})


def note_texts(response: Any) -> list[str]:
    return [p.get_text(strip=True) for p in html(response).select("#board-list .note__text")]


def notice(response: Any) -> str:
    found = html(response).select_one(".notice")
    return found.get_text(" ", strip=True) if found else ""


def phase_shown(response: Any) -> str:
    return html(response).select_one("#board-list .phase strong").get_text(strip=True)


def zone_notes(response: Any, zone_title: str) -> list[str]:
    """The note texts under a zone's heading."""
    for zone in html(response).select("#board-list section.zone"):
        heading = zone.find("h2").get_text(" ", strip=True)
        if heading.startswith(zone_title):
            return [p.get_text(strip=True) for p in zone.select(".note__text")]
    raise AssertionError(f"no zone {zone_title}")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept-Language": "en"}


async def api_token(db: Any, account: accounts.Account) -> str:
    async with db.transaction() as conn:
        return await accounts.create_api_token(conn, account.id)


# ---------------------------------------------------------------- setting up boards

async def test_organizer_creates_board_with_prompts_as_zones_and_chosen_settings(client, db):
    _account, session_id = await signed_in_organizer(client, db)
    response = await post_form(client, f"/organize/sessions/{session_id}/boards", None, {
        "title": "地域の未来ワークショップ", "prompts": "地域の良いところ\n\n困っていること\nやってみたいこと\n",
        "vote_budget": "6", "max_votes_per_note": "2", "colors": ["pink", "blue"], "anonymous": "1",
        "private_writing": "1"})
    assert response.status_code == 200 and re.fullmatch(r"/boards/\d+/facilitate", response.url.path)
    page = html(response)
    assert "地域の未来ワークショップ" in page.find("h1").get_text()
    assert [h.get_text(" ", strip=True).rsplit(" ", 1)[0] for h in page.select("#board-list .zone h2")] == PROMPTS
    assert re.fullmatch(r"\d{6}", page.select_one(".join-code").get_text(strip=True))
    assert [o["value"] for o in page.select("#color-z1 option")] == ["pink", "blue"]
    board = (await board_store.session_boards(db, session_id))[0]
    assert (board.vote_budget, board.max_votes_per_note, board.anonymous, board.private_writing) == (6, 2, True, True)
    listing = html(await client.get(f"/organize/sessions/{session_id}/boards"))
    assert board.join_code in listing.select_one("table.data-table tbody").get_text()


async def test_board_saved_as_template_prefills_the_new_board_form(client, db):
    _account, session_id = await signed_in_organizer(client, db)
    await post_form(client, f"/organize/sessions/{session_id}/boards", None, {
        "title": "防災を考える", "prompts": "備え\n不安", "vote_budget": "4", "max_votes_per_note": "1",
        "colors": ["green"], "anonymous": "1", "save_template": "1", "template_name": "防災テンプレート"})
    form_page = html(await client.get(f"/organize/sessions/{session_id}/boards"))
    option = next(o for o in form_page.select("#template option") if o.get_text(strip=True) == "防災テンプレート")
    prefilled = await client.get(f"/organize/sessions/{session_id}/boards?template={option['value']}")
    page = html(prefilled)
    assert page.select_one("#f-title")["value"] == "防災を考える"
    assert page.select_one("#f-prompts").get_text().split() == ["備え", "不安"]
    assert page.select_one("#f-vote_budget")["value"] == "4"
    assert page.select_one("#f-max_votes_per_note")["value"] == "1"
    assert [box["value"] for box in page.select("input[name=colors][checked]")] == ["green"]
    assert page.select_one("#f-anonymous").has_attr("checked")
    assert not page.select_one("#f-private_writing").has_attr("checked")


async def test_saving_a_template_without_a_name_asks_for_one(client, db):
    _account, session_id = await signed_in_organizer(client, db)
    response = await post_form(client, f"/organize/sessions/{session_id}/boards", None, {
        "title": "防災を考える", "prompts": "備え", "save_template": "1", "template_name": " "})
    assert response.status_code == 422
    assert any("Name the template" in m for m in field_errors(response))
    assert await board_store.session_boards(db, session_id) == []


async def test_invalid_board_form_is_shown_again_with_a_message_per_field(client, db):
    _account, session_id = await signed_in_organizer(client, db)
    response = await post_form(client, f"/organize/sessions/{session_id}/boards", None, {
        "title": "", "prompts": "\n".join(f"問い{i}" for i in range(9)), "vote_budget": "3",
        "max_votes_per_note": "5"})
    assert response.status_code == 422
    messages = field_errors(response)
    assert any("title" in m for m in messages)
    assert any("1 to 8 prompts" in m for m in messages)
    assert any("cannot exceed the dots per person" in m for m in messages)
    assert "問い8" in html(response).select_one("#f-prompts").get_text()  # what was typed is kept
    assert await board_store.session_boards(db, session_id) == []


async def test_another_organizations_organizer_cannot_see_or_run_the_boards(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    async with browser(app) as other:
        await make_account(db, "staff@toyama.example", org="toyama")
        assert (await login(other, "staff@toyama.example")).url.path == "/organize"
        assert (await other.get(f"/organize/sessions/{session_id}/boards")).status_code == 404
        assert (await other.get(f"/boards/{board.id}/facilitate")).status_code == 404
        assert (await other.get(f"/boards/{board.id}/export.csv")).status_code == 404


async def test_facilitator_of_the_same_organization_may_run_the_board(app, client, db):
    organizer, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, organizer.org_id)
    async with browser(app) as other:
        await make_account(db, "facilitator@kanazawa.example", role="facilitator")
        await login(other, "facilitator@kanazawa.example")
        response = await other.get(f"/boards/{board.id}/facilitate")
        assert response.status_code == 200
        assert html(response).select_one("#phase-select") is not None


# ---------------------------------------------------------------- joining

async def test_join_page_shows_the_board_title_and_a_name_field(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    async with browser(app) as person:
        page = html(await person.get(f"/j/{board.join_code}"))
        assert "地域の未来ワークショップ" in page.select_one("main, body").get_text()
        assert page.select_one("form[method=post] input[name=display_name]") is not None
        assert page.find("label", attrs={"for": "f-display_name"}) is not None


async def test_unknown_join_code_says_there_is_no_such_board(client, db):
    response = await client.get("/j/000000")
    assert 400 <= response.status_code < 500
    assert any("no board with this code" in m for m in field_errors(response))
    assert html(response).select_one("input[name=code]")["value"] == "000000"


async def test_joining_sets_a_participant_cookie_and_opens_the_board(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    async with browser(app) as person:
        response = await person.post(f"/j/{board.join_code}", follow_redirects=False, data={
            "_csrf_token": csrf_from(await person.get(f"/j/{board.join_code}")), "display_name": "さくら"})
        assert response.status_code == 303 and response.headers["location"] == f"/boards/{board.id}"
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"taiwa_bp_{board.id}=bp_")
        assert "HttpOnly" in cookie and f"Path=/boards/{board.id}" in cookie
        opened = await person.get(f"/boards/{board.id}")
        assert opened.status_code == 200 and opened.url.path == f"/boards/{board.id}"
        assert "地域の未来ワークショップ" in html(opened).find("h1").get_text()


async def test_joining_with_the_list_view_choice_opens_the_list_view(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    async with browser(app) as person:
        response = await join(person, board, view="list")
        assert response.status_code == 200 and response.url.path == f"/boards/{board.id}/list"
        assert html(response).select_one("#board-list form.add-note") is not None


async def test_too_long_display_name_is_refused_with_a_message(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    async with browser(app) as person:
        response = await join(person, board, name="長" * 41)
        assert response.status_code == 422
        assert any("under 40 characters" in m for m in field_errors(response))
        assert not any(name.startswith("taiwa_bp_") for name in person.cookies.keys())
    assert await board_store.participant_count(db, board.id) == 0


async def test_signed_in_organizer_opening_the_participant_board_goes_to_the_facilitator_page(client, db):
    _account, board = await organizer_board(client, db)
    response = await client.get(f"/boards/{board.id}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/boards/{board.id}/facilitate"


async def test_board_without_a_participant_cookie_sends_to_the_join_page(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    async with browser(app) as person:
        for path in (f"/boards/{board.id}", f"/boards/{board.id}/list"):
            response = await person.get(path, follow_redirects=False)
            assert response.status_code == 303 and response.headers["location"] == f"/j/{board.join_code}"


async def test_join_code_form_goes_to_the_code_page(client):
    response = await client.get("/j?code=123456", follow_redirects=False)
    assert response.status_code in (302, 303) and response.headers["location"] == "/j/123456"
    form = html(await client.get("/j"))
    assert form.select_one("form[action='/j'] input[name=code]") is not None


# ---------------------------------------------------------------- the list view (plain forms)

async def test_list_view_adds_a_note_and_says_saved(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    async with browser(app) as person:
        await join(person, board, view="list")
        response = await command(person, board.id, "note:add", zone="z2", text="バスが少ない", color="pink")
        assert response.status_code == 200 and response.url.path == f"/boards/{board.id}/list"
        assert response.history[0].status_code == 303
        assert notice(response) == "Saved."
        assert zone_notes(response, "困っていること") == ["バスが少ない"]
        note = html(response).select_one("#board-list .note")
        assert "note--pink" in note["class"] and "your note" in note.get_text()


async def test_resubmitting_the_same_op_does_not_add_a_second_note(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    async with browser(app) as person:
        await join(person, board, view="list")
        op = uuid.uuid4().hex
        await command(person, board.id, "note:add", op=op, zone="z1", text="公園がきれい")
        again = await command(person, board.id, "note:add", op=op, zone="z1", text="公園がきれい")
        assert notice(again) == "Already saved."
        assert note_texts(again) == ["公園がきれい"]


async def test_empty_note_is_refused_with_a_message_and_nothing_changes(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    async with browser(app) as person:
        await join(person, board, view="list")
        response = await command(person, board.id, "note:add", zone="z1", text="   ")
        assert notice(response) == "note cannot be empty."
        assert note_texts(response) == []
    assert (await app.litestar.state.board_service.state(board.id)).seq == 0


async def test_voting_during_the_writing_phase_is_refused(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    note = (await act(app, board.id, "note:add", zone="z1", text="商店街"))["note"]
    async with browser(app) as person:
        await join(person, board, view="list")
        response = await command(person, board.id, "vote:cast", note=note)
        assert notice(response) == "This is not possible in the current phase."
    state = await app.litestar.state.board_service.state(board.id)
    assert state.tally(note) == 0 and state.votes == {}


async def test_command_without_the_csrf_token_is_forbidden(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    async with browser(app) as person:
        await join(person, board, view="list")
        response = await person.post(f"/boards/{board.id}/commands", data={
            "type": "note:add", "zone": "z1", "text": "CSRF なし", "op": uuid.uuid4().hex, "back": "list"})
        assert response.status_code == 403
        assert note_texts(await person.get(f"/boards/{board.id}/list")) == []


async def test_participant_cannot_use_facilitator_commands(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    async with browser(app) as person:
        await join(person, board, view="list")
        response = await command(person, board.id, "phase:set", phase="vote")
        assert notice(response) == "Only the facilitator can do this."
        assert phase_shown(response) == "Write"
    assert (await app.litestar.state.board_service.state(board.id)).phase == "write"


async def test_htmx_list_requests_answer_only_the_board_list_fragment(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    async with browser(app) as person:
        await join(person, board, view="list")
        fragment_headers = {"HX-Request": "true", "HX-Target": "board-list"}
        posted = await command(person, board.id, "note:add", headers=fragment_headers, zone="z3", text="祭りをしたい")
        assert posted.status_code == 200 and not posted.history
        fragment = html(posted)
        assert fragment.find("html") is None and fragment.find("h1") is None
        assert [div["id"] for div in fragment.find_all("div", recursive=False)] == ["board-list"]
        assert notice(posted) == "Saved." and note_texts(posted) == ["祭りをしたい"]
        fetched = await person.get(f"/boards/{board.id}/list", headers=fragment_headers)
        assert html(fetched).find("html") is None and note_texts(fetched) == ["祭りをしたい"]


# ---------------------------------------------------------------- the facilitator over HTTP

async def test_facilitator_moves_the_board_to_grouping_and_voting(app, client, db):
    _account, board = await organizer_board(client, db)
    async with browser(app) as person:
        await join(person, board, view="list")
        response = await command(client, board.id, "phase:set", back="facilitate", phase="group")
        assert response.url.path == f"/boards/{board.id}/facilitate" and notice(response) == "Saved."
        assert phase_shown(await person.get(f"/boards/{board.id}/list")) == "Group"
        await command(client, board.id, "phase:set", back="facilitate", phase="vote")
        seen = await person.get(f"/boards/{board.id}/list")
        assert phase_shown(seen) == "Vote"
        assert "5 of 5 left" in html(seen).select_one(".votes-left").get_text(" ", strip=True)


async def test_timer_in_minutes_shows_its_end_time(client, db):
    _account, board = await organizer_board(client, db)
    before = int(time.time() * 1000)
    response = await command(client, board.id, "timer:start", back="facilitate", unit="minutes", seconds="3")
    timer = html(response).select_one("#board-list .timer")
    assert timer is not None and timer.select_one(".timer__left").get_text(strip=True) == "3:00"
    assert before + 180_000 <= int(timer["data-ends-at"]) <= int(time.time() * 1000) + 180_000


async def test_paused_board_refuses_participants_notes(app, client, db):
    _account, board = await organizer_board(client, db)
    async with browser(app) as person:
        opened_before_the_pause = await join(person, board, view="list")
        await command(client, board.id, "board:lock", back="facilitate", locked="1")
        page = await person.get(f"/boards/{board.id}/list")
        assert "Paused by the facilitator" in html(page).select_one(".board-bar").get_text()
        assert html(page).select_one("form.add-note") is None
        response = await command(person, board.id, "note:add", csrf=csrf_from(opened_before_the_pause), zone="z1",
                                 text="止まっている？")
        assert notice(response) == "The facilitator has paused the board."
        assert note_texts(response) == []


async def test_facilitator_adds_a_note_for_someone_in_the_room(app, client, db):
    _account, board = await organizer_board(client, db)
    response = await command(client, board.id, "note:add", back="facilitate", zone="z1", text="紙に書かれた意見")
    assert zone_notes(response, "地域の良いところ") == ["紙に書かれた意見"]
    async with browser(app) as person:
        await join(person, board, view="list")
        meta = html(await person.get(f"/boards/{board.id}/list")).select_one(".note__meta").get_text()
        assert "entered by the facilitator" in meta


async def test_revealing_votes_shows_the_results(app, client, db):
    _account, board = await organizer_board(client, db)
    note = (await act(app, board.id, "note:add", zone="z1", text="図書館が静か"))["note"]
    await act(app, board.id, "phase:set", phase="vote")
    async with browser(app) as person:
        await join(person, board, view="list")
        voted = await command(person, board.id, "vote:cast", note=note)
        assert html(voted).select_one("#board-list .results") is None
        assert html(voted).select_one(f"#vote-{note}")["aria-pressed"] == "true"
        await command(client, board.id, "votes:reveal", back="facilitate", revealed="1")
        results = html(await person.get(f"/boards/{board.id}/list")).select_one("#board-list .results")
        assert results is not None
        assert results.select_one("li").get_text(" ", strip=True).startswith("図書館が静か — 1 dots (online 1")


async def test_proxy_votes_from_the_room_are_counted_apart_from_online_dots(app, client, db):
    _account, board = await organizer_board(client, db)
    note = (await act(app, board.id, "note:add", zone="z1", text="子ども食堂"))["note"]
    await act(app, board.id, "phase:set", phase="vote")
    await act(app, board.id, "vote:cast", Actor(id="p-online", name="online"), note=note)
    response = await command(client, board.id, "proxy:vote", back="facilitate", note=note, count="7")
    tally = html(response).select_one(f"#note-{note} .note__tally").get_text(" ", strip=True)
    assert tally == "8 dots (online 1, in the room 7)"
    assert html(response).select_one(f"#proxy-{note}")["value"] == "7"


# ---------------------------------------------------------------- what each viewer sees

async def test_hidden_note_disappears_for_participants_and_is_marked_for_the_facilitator(app, client, db):
    _account, board = await organizer_board(client, db)
    await act(app, board.id, "note:add", zone="z1", text="残すメモ")
    rude = (await act(app, board.id, "note:add", zone="z1", text="不適切なメモ"))["note"]
    response = await command(client, board.id, "note:hide", back="facilitate", note=rude, hidden="1")
    marked = html(response).select_one(f"#note-{rude}")
    assert "note--hidden" in marked["class"] and "hidden from participants" in marked.get_text()
    async with browser(app) as person:
        await join(person, board, view="list")
        assert note_texts(await person.get(f"/boards/{board.id}/list")) == ["残すメモ"]


async def test_anonymous_board_never_shows_author_names_to_participants(app, client, db):
    _account, board = await organizer_board(client, db, anonymous=True)
    async with browser(app) as author, browser(app) as reader:
        await join(author, board, name="山田花子", view="list")
        await command(author, board.id, "note:add", zone="z1", text="川がきれい")
        await join(reader, board, name="佐藤", view="list")
        for page in (await reader.get(f"/boards/{board.id}/list"), await reader.get(f"/boards/{board.id}"),
                     await author.get(f"/boards/{board.id}/list")):
            assert "川がきれい" in page.text
            assert "山田花子" not in page.text


async def test_named_board_shows_the_author_to_other_participants(app, client, db):
    _account, board = await organizer_board(client, db)
    async with browser(app) as author, browser(app) as reader:
        await join(author, board, name="山田花子", view="list")
        await command(author, board.id, "note:add", zone="z1", text="川がきれい")
        await join(reader, board, name="佐藤", view="list")
        meta = html(await reader.get(f"/boards/{board.id}/list")).select_one(".note__meta").get_text()
        assert "山田花子" in meta


async def test_private_writing_hides_others_notes_until_the_grouping_phase(app, client, db):
    _account, board = await organizer_board(client, db, private_writing=True)
    async with browser(app) as writer_a, browser(app) as writer_b:
        await join(writer_a, board, name="A", view="list")
        await join(writer_b, board, name="B", view="list")
        await command(writer_a, board.id, "note:add", zone="z2", text="Aの秘密のメモ")
        await command(writer_b, board.id, "note:add", zone="z2", text="Bのメモ")
        during = await writer_b.get(f"/boards/{board.id}/list")
        assert "Aの秘密のメモ" not in during.text
        assert zone_notes(during, "困っていること") == ["Bのメモ"]
        hint = html(during).select_one("#zone-z2 .hint").get_text(strip=True)
        assert hint.startswith("1 note by others")
        await command(client, board.id, "phase:set", back="facilitate", phase="group")
        after = await writer_b.get(f"/boards/{board.id}/list")
        assert sorted(zone_notes(after, "困っていること")) == ["Aの秘密のメモ", "Bのメモ"]
        assert html(after).select_one("#zone-z2 .hint") is None


# ---------------------------------------------------------------- the projector

async def test_projector_requires_the_organizer_login(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    async with browser(app) as anonymous:
        response = await anonymous.get(f"/boards/{board.id}/present", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/organize/login")
        await join(anonymous, board)  # a participant is not the projector either
        assert (await anonymous.get(f"/boards/{board.id}/present")).url.path == "/organize/login"


async def test_projector_shows_the_join_code_and_an_inline_svg_qr_code(client, db):
    _account, board = await organizer_board(client, db)
    page = html(await client.get(f"/boards/{board.id}/present"))
    assert page.select_one(".present__join .join-code").get_text(strip=True) == board.join_code
    svg = page.select_one(".present__join svg")
    assert svg is not None and "qr" in svg.get("class", [])
    assert f"http://testserver.local/j/{board.join_code}" in page.select_one(".present__join").get_text()


async def test_projector_shows_notes_by_zone_and_cluster(app, client, db):
    _account, board = await organizer_board(client, db)
    first = (await act(app, board.id, "note:add", zone="z1", text="海が近い"))["note"]
    await act(app, board.id, "note:add", zone="z3", text="朝市をやりたい")
    await act(app, board.id, "group:set", note=first, title="自然")
    page = await client.get(f"/boards/{board.id}/present")
    assert zone_notes(page, "地域の良いところ") == ["海が近い"]
    assert zone_notes(page, "やってみたいこと") == ["朝市をやりたい"]
    assert zone_notes(page, "困っていること") == []
    cluster = html(page).select_one("#zone-z1 .cluster")
    assert cluster.find("h3").get_text(strip=True) == "自然" and "海が近い" in cluster.get_text()
    assert html(page).select_one("#board-list form") is None  # a projector shows, it does not act


async def test_projector_never_shows_hidden_notes(app, client, db):
    _account, board = await organizer_board(client, db)
    await act(app, board.id, "note:add", zone="z1", text="映すメモ")
    rude = (await act(app, board.id, "note:add", zone="z1", text="映さないメモ"))["note"]
    await act(app, board.id, "note:hide", note=rude, hidden=True)
    assert note_texts(await client.get(f"/boards/{board.id}/present")) == ["映すメモ"]


async def test_projector_shows_results_only_after_reveal(app, client, db):
    _account, board = await organizer_board(client, db)
    note = (await act(app, board.id, "note:add", zone="z1", text="温泉"))["note"]
    await act(app, board.id, "phase:set", phase="vote")
    await act(app, board.id, "vote:cast", Actor(id="p1", name="p1"), note=note)
    before = html(await client.get(f"/boards/{board.id}/present"))
    assert before.select_one(".results") is None and before.select_one(".note__tally") is None
    await act(app, board.id, "votes:reveal", revealed=True)
    after = html(await client.get(f"/boards/{board.id}/present"))
    assert "温泉 — 1 dots" in after.select_one(".results li").get_text(" ", strip=True)


# ---------------------------------------------------------------- exports


async def workshop(app: Any, board: board_store.Board) -> dict[str, str]:
    """Notes in two zones, a cluster, online and proxy dots, and one hidden note."""
    author = Actor(id="p-hana", name="山田花子")
    ids = {
        "bus": (await act(app, board.id, "note:add", author, zone="z2", text="バスが少ない"))["note"],
        "taxi": (await act(app, board.id, "note:add", author, zone="z2", text="タクシーが高い"))["note"],
        "park": (await act(app, board.id, "note:add", author, zone="z1", text="公園が広い"))["note"],
        "rude": (await act(app, board.id, "note:add", author, zone="z1", text="非表示のメモ"))["note"],
    }
    await act(app, board.id, "group:set", note=ids["bus"], title="交通")
    await act(app, board.id, "note:hide", note=ids["rude"], hidden=True)
    await act(app, board.id, "phase:set", phase="vote")
    await act(app, board.id, "vote:cast", Actor(id="p-voter", name="voter"), note=ids["bus"])
    await act(app, board.id, "proxy:vote", note=ids["bus"], count=4)
    return ids


async def test_markdown_export_has_zone_and_cluster_headings_and_notes(app, client, db):
    _account, board = await organizer_board(client, db)
    await workshop(app, board)
    response = await client.get(f"/boards/{board.id}/export.md")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/markdown")
    lines = response.text.splitlines()
    assert lines[0] == "# 地域の未来ワークショップ"
    assert {"## 地域の良いところ", "## 困っていること", "## やってみたいこと", "### 交通"} <= set(lines)
    assert lines.index("## 困っていること") < lines.index("### 交通") < lines.index("- バスが少ない — 山田花子 (5)")
    assert "- タクシーが高い — 山田花子" in lines and "- 公園が広い — 山田花子" in lines


async def test_csv_export_has_a_bom_a_header_and_one_row_per_visible_note(app, client, db):
    _account, board = await organizer_board(client, db)
    await workshop(app, board)
    response = await client.get(f"/boards/{board.id}/export.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert {"zone", "cluster", "note", "dots_online", "dots_proxy"} <= set(rows[0])
    assert sorted(r["note"] for r in rows) == sorted(["バスが少ない", "タクシーが高い", "公園が広い"])
    bus = next(r for r in rows if r["note"] == "バスが少ない")
    assert (bus["zone"], bus["cluster"], bus["dots_online"], bus["dots_proxy"]) == ("困っていること", "交通", "1", "4")


async def test_json_export_has_zones_notes_and_results(app, client, db):
    _account, board = await organizer_board(client, db)
    await workshop(app, board)
    response = await client.get(f"/boards/{board.id}/export.json")
    assert response.status_code == 200
    data = json.loads(response.content)
    assert [z["title"] for z in data["zones"]] == PROMPTS
    assert {n["note"] for n in data["notes"]} == {"バスが少ない", "タクシーが高い", "公園が広い"}
    top = data["results"][0]
    assert (top["title"], top["online"], top["proxy"], top["total"]) == ("交通", 1, 4, 5)


async def test_exports_leave_out_hidden_notes(app, client, db):
    _account, board = await organizer_board(client, db)
    await workshop(app, board)
    for fmt in ("md", "csv", "json"):
        response = await client.get(f"/boards/{board.id}/export.{fmt}")
        assert response.status_code == 200
        assert "非表示のメモ" not in response.content.decode("utf-8-sig"), fmt


async def test_api_export_works_with_a_bearer_token(app, client, db):
    account, board = await organizer_board(client, db)
    await workshop(app, board)
    token = await api_token(db, account)
    async with browser(app) as integrator:
        csv_answer = await integrator.get(f"/api/boards/{board.id}/export.csv", headers=bearer(token))
        assert csv_answer.status_code == 200 and csv_answer.content.startswith(b"\xef\xbb\xbf")
        data = (await integrator.get(f"/api/boards/{board.id}/export.json", headers=bearer(token))).json()
        assert len(data["notes"]) == 3 and data["results"]
        markdown = await integrator.get(f"/api/boards/{board.id}/export.md", headers=bearer(token))
        assert "### 交通" in markdown.text.splitlines()


async def test_unknown_export_format_is_not_found(app, client, db):
    account, board = await organizer_board(client, db)
    token = await api_token(db, account)
    assert (await client.get(f"/boards/{board.id}/export.xlsx")).status_code == 404
    async with browser(app) as integrator:
        answer = await integrator.get(f"/api/boards/{board.id}/export.xlsx", headers=bearer(token))
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


async def test_exports_need_a_login_or_a_token(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    async with browser(app) as anonymous:
        page = await anonymous.get(f"/boards/{board.id}/export.csv", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/organize/login")
        api = await anonymous.get(f"/api/boards/{board.id}/export.csv")
        assert api.status_code == 401 and api.json()["error"]["code"] == "unauthorized"


async def test_another_organizations_token_cannot_export(app, client, db):
    _account, board = await organizer_board(client, db)
    stranger = await make_account(db, "staff@toyama.example", org="toyama")
    token = await api_token(db, stranger)
    async with browser(app) as integrator:
        assert (await integrator.get(f"/api/boards/{board.id}/export.json", headers=bearer(token))).status_code == 404


# ---------------------------------------------------------------- the published outcome

async def publish(client: Any, board_id: int, **fields: str) -> Any:
    return await post_form(client, f"/boards/{board_id}/facilitate", f"/boards/{board_id}/outcome", fields)


async def test_outcome_is_not_public_before_it_is_published(app, client, db):
    _account, board = await organizer_board(client, db)
    await workshop(app, board)
    async with browser(app) as public:
        assert (await public.get(f"/boards/{board.id}/outcome")).status_code == 404


async def test_published_outcome_is_public_and_without_names_by_default(app, client, db):
    _account, board = await organizer_board(client, db)
    await workshop(app, board)
    response = await publish(client, board.id, publish="1")
    assert response.url.path == f"/boards/{board.id}/facilitate"
    async with browser(app) as public:
        page = await public.get(f"/boards/{board.id}/outcome")
        assert page.status_code == 200
        text = html(page).get_text()
        assert "バスが少ない" in text and "公園が広い" in text
        assert "山田花子" not in page.text and "非表示のメモ" not in page.text
        assert "交通 — 5 dots" in html(page).select_one("#ranked-title").find_next("ol").get_text(" ", strip=True)


async def test_published_outcome_with_names_shows_the_authors(app, client, db):
    _account, board = await organizer_board(client, db)
    await workshop(app, board)
    await publish(client, board.id, publish="1", names="1")
    async with browser(app) as public:
        page = await public.get(f"/boards/{board.id}/outcome")
        items = [li.get_text(" ", strip=True) for li in html(page).select("section[aria-labelledby^=oz-] li")]
        assert "交通 : バスが少ない — 山田花子" in items


async def test_anonymous_boards_outcome_never_shows_names(app, client, db):
    _account, board = await organizer_board(client, db, anonymous=True)
    await workshop(app, board)
    await publish(client, board.id, publish="1", names="1")
    async with browser(app) as public:
        page = await public.get(f"/boards/{board.id}/outcome")
        assert page.status_code == 200 and "バスが少ない" in page.text and "山田花子" not in page.text


async def test_withdrawn_outcome_is_not_found_again(app, client, db):
    _account, board = await organizer_board(client, db)
    await publish(client, board.id, publish="1")
    await publish(client, board.id, publish="0")
    async with browser(app) as public:
        assert (await public.get(f"/boards/{board.id}/outcome")).status_code == 404


async def test_session_page_links_the_published_outcome(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    await publish(client, board.id, publish="1")
    async with browser(app) as public:
        page = html(await public.get(f"/sessions/{session_id}"))
        assert page.select_one(f"a[href='/boards/{board.id}/outcome']") is not None


# ---------------------------------------------------------------- the board API

async def test_api_creates_a_board_with_a_six_digit_join_code(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    token = await api_token(db, account)
    async with browser(app) as integrator:
        response = await integrator.post(f"/api/sessions/{session_id}/boards", headers=bearer(token), json={
            "title": "オンライン意見交換会", "prompts": ["良いところ", "困りごと"], "vote_budget": 3,
            "max_votes_per_note": 1, "anonymous": True})
    assert response.status_code == 201, response.text
    data = response.json()
    assert re.fullmatch(r"\d{6}", data["join_code"]) and isinstance(data["id"], int)
    assert data["zones"] == [{"id": "z1", "title": "良いところ"}, {"id": "z2", "title": "困りごと"}]
    assert data["join_url"].endswith(f"/j/{data['join_code']}") and data["anonymous"] is True
    assert (await board_store.get_board(db, data["id"])).vote_budget == 3


async def test_api_refuses_an_invalid_board_with_field_messages(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    token = await api_token(db, account)
    async with browser(app) as integrator:
        response = await integrator.post(f"/api/sessions/{session_id}/boards", headers=bearer(token), json={
            "title": " ", "prompts": [], "vote_budget": 2, "max_votes_per_note": 3})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid" and {"title", "prompts", "max_votes_per_note"} <= set(error["fields"])
    assert await board_store.session_boards(db, session_id) == []


async def test_api_board_creation_needs_a_token(app, client, db):
    _account, session_id = await signed_in_organizer(client, db)
    async with browser(app) as integrator:
        response = await integrator.post(f"/api/sessions/{session_id}/boards",
                                         json={"title": "t", "prompts": ["p"]})
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"


async def test_api_participant_with_the_join_code_gets_a_token(app, client, db):
    _account, board = await organizer_board(client, db)
    async with browser(app) as phone:
        response = await phone.post(f"/api/boards/{board.id}/participants",
                                    json={"display_name": "さくら", "code": board.join_code})
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    assert token.startswith("bp_")
    participant = await board_store.participant_by_token(db, token)
    assert participant["board_id"] == board.id and participant["display_name"] == "さくら"


async def test_api_participant_with_a_wrong_code_is_not_found(app, client, db):
    _account, board = await organizer_board(client, db)
    wrong = "111111" if board.join_code != "111111" else "222222"
    async with browser(app) as phone:
        response = await phone.post(f"/api/boards/{board.id}/participants",
                                    json={"display_name": "さくら", "code": wrong})
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert await board_store.participant_count(db, board.id) == 0


async def test_api_organizer_token_of_the_boards_organization_adds_a_participant_without_code(app, client, db):
    account, board = await organizer_board(client, db)
    token = await api_token(db, account)
    async with browser(app) as integrator:
        response = await integrator.post(f"/api/boards/{board.id}/participants", headers=bearer(token),
                                         json={"display_name": "会場の皆さん", "place": "room"})
    assert response.status_code == 201 and response.json()["token"].startswith("bp_")


async def test_api_organizer_token_of_another_organization_needs_the_code(app, client, db):
    _account, board = await organizer_board(client, db)
    token = await api_token(db, await make_account(db, "staff@toyama.example", org="toyama"))
    async with browser(app) as integrator:
        response = await integrator.post(f"/api/boards/{board.id}/participants", headers=bearer(token),
                                         json={"display_name": "よそ者"})
    assert response.status_code == 404
