"""Workshop boards through the JSON API: creating a board with a six-digit join code, field messages, and
participants joining with the code or added by the organizer's token."""

from __future__ import annotations

import re

from realtime import store as board_store
from tests.board_http import api_token, bearer, browser, organizer_board, signed_in_organizer
from tests.board_http import english  # noqa: F401 - fixtures, used by name
from tests.harness import make_account


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
