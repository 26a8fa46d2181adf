"""Workshop boards over HTTP: an organizer sets up a board (prompts as zones, settings, templates, per-field
errors, who may run it) and participants join it by its code with a display name."""

from __future__ import annotations

import re

from realtime import store as board_store
from tests.board_http import PROMPTS, browser, join, new_board, organizer_board, signed_in_organizer
from tests.board_http import english  # noqa: F401 - fixtures, used by name
from tests.harness import csrf_from, field_errors, html, login, make_account, post_form


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


async def test_board_without_a_participant_cookie_sends_to_the_join_form_without_the_code(app, client, db):
    account, session_id = await signed_in_organizer(client, db)
    board = await new_board(db, session_id, account.org_id)
    async with browser(app) as person:
        for path in (f"/boards/{board.id}", f"/boards/{board.id}/list"):
            response = await person.get(path, follow_redirects=False)
            assert response.status_code == 303 and response.headers["location"] == "/j"  # never the code


async def test_join_code_form_goes_to_the_code_page(client):
    response = await client.get("/j?code=123456", follow_redirects=False)
    assert response.status_code in (302, 303) and response.headers["location"] == "/j/123456"
    form = html(await client.get("/j"))
    assert form.select_one("form[action='/j'] input[name=code]") is not None
