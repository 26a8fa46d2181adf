"""Live polls (issue 6) through the JSON API: creating a poll, refusals, other organizations' boards, and
results for the facilitator until revealed."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from realtime.board import Actor
from tests.board_http import LANG, api_token, bearer, browser, organizer_board
from tests.harness import make_account
from tests.poll_helpers import POLL, answer_as, polls_on


# ================================================================ the JSON API

async def api_board(client: Any, db: Any, **settings: Any) -> tuple[Any, Any, str]:
    client.cookies.update(LANG)
    account, board = await organizer_board(client, db, **settings)
    return account, board, await api_token(db, account)


async def test_api_creates_a_poll_and_returns_its_option_ids_and_labels(client, db):
    _account, board, token = await api_board(client, db)
    created = await client.post(f"/api/boards/{board.id}/polls", json=POLL, headers=bearer(token))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"] == f"b{board.id}p1" and body["status"] == "draft"
    assert body["options"] == [{"id": "o1", "label": "公園"}, {"id": "o2", "label": "図書館"},
                               {"id": "o3", "label": "バス路線"}]
    opened_now = await client.post(f"/api/boards/{board.id}/polls", headers=bearer(token),
                                   json={**POLL, "question": "今すぐ聞きます", "open": True})
    assert opened_now.status_code == 201 and opened_now.json()["status"] == "open"
    scale = await client.post(f"/api/boards/{board.id}/polls", json={"type": "scale", "question": "満足度"},
                              headers=bearer(token))
    assert scale.status_code == 201 and [o["label"] for o in scale.json()["options"]] == ["1", "2", "3", "4", "5"]
    page = polls_on(await client.get(f"/boards/{board.id}/facilitate"))
    assert list(page) == ["優先したいのは？", "今すぐ聞きます", "満足度"]
    assert "Not open yet" in page["優先したいのは？"].select_one(".poll__meta").get_text()
    assert "Open" in page["今すぐ聞きます"].select_one(".poll__meta").get_text()


@pytest.mark.parametrize("body", [
    {"type": "single_choice", "question": "q", "options": ["ひとつ"]},
    {"type": "survey", "question": "q", "options": ["a", "b"]},
    {"type": "multiple_choice", "question": "q", "options": ["a", "b"], "max_choices": 3},
    {"type": "single_choice", "question": "", "options": ["a", "b"]},
    {"question": "q", "options": ["a", "b"]},
    {"type": "single_choice", "question": "q", "options": "a,b"},
], ids=["one-option", "unknown-type", "too-many-allowed", "no-question", "no-type", "options-not-a-list"])
async def test_api_refuses_a_poll_that_cannot_work(app, client, db, body: dict[str, Any]):
    _account, board, token = await api_board(client, db)
    refused = await client.post(f"/api/boards/{board.id}/polls", json=body, headers=bearer(token))
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "invalid" and refused.json()["error"]["fields"]
    assert (await app.litestar.state.board_service.state(board.id)).polls == {}


async def test_api_poll_on_another_organizations_board_is_not_found(client, db):
    _account, board, _token = await api_board(client, db)
    stranger = await make_account(db, "staff@toyama.example", org="toyama")
    answer_ = await client.post(f"/api/boards/{board.id}/polls", json=POLL, headers=bearer(await api_token(db, stranger)))
    assert answer_.status_code == 404


async def test_api_poll_without_a_token_is_unauthorized(app, db, client):
    _account, board, _token = await api_board(client, db)
    async with browser(app) as anonymous:
        answer_ = await anonymous.post(f"/api/boards/{board.id}/polls", json=POLL)
    assert answer_.status_code == 401


async def test_api_results_are_for_the_facilitator_until_revealed_then_public(app, client, db):
    _account, board, token = await api_board(client, db)
    poll = (await client.post(f"/api/boards/{board.id}/polls", json={**POLL, "open": True},
                              headers=bearer(token))).json()["id"]
    for who, choice in (("p1", "o1"), ("p2", "o3"), ("p3", "o3")):
        await answer_as(app, board.id, poll, who, choice=choice)
    stranger = await make_account(db, "staff@toyama.example", org="toyama")
    async with browser(app) as anonymous:
        assert (await anonymous.get(f"/api/polls/{poll}/results")).status_code == 404
        assert (await anonymous.get(f"/api/polls/{poll}/results",
                                    headers=bearer(await api_token(db, stranger)))).status_code == 404
        mine = await anonymous.get(f"/api/polls/{poll}/results", headers=bearer(token))
        assert mine.status_code == 200
        assert mine.json()["total"] == 3 and mine.json()["counts"] == {"o1": 1, "o2": 0, "o3": 2}

        await app.litestar.state.board_service.handle(board.id, "poll:reveal", {"poll": poll},
                                                      Actor(id="f-x", facilitator=True), uuid.uuid4().hex)
        public = await anonymous.get(f"/api/polls/{poll}/results")
        assert public.status_code == 200 and public.json()["counts"] == {"o1": 1, "o2": 0, "o3": 2}


async def test_api_results_include_counts_from_the_room(app, client, db):
    _account, board, token = await api_board(client, db)
    poll = (await client.post(f"/api/boards/{board.id}/polls", json={**POLL, "open": True, "live_results": True},
                              headers=bearer(token))).json()["id"]
    await answer_as(app, board.id, poll, "p1", choice="o2")
    await app.litestar.state.board_service.handle(board.id, "poll:room", {"poll": poll, "counts": {"o2": 7, "o3": 2}},
                                                  Actor(id="f-x", facilitator=True), uuid.uuid4().hex)
    async with browser(app) as anonymous:  # live results are public
        result = (await anonymous.get(f"/api/polls/{poll}/results")).json()
    assert result["total"] == 10 and result["counts"] == {"o1": 0, "o2": 8, "o3": 2}


async def test_api_word_cloud_results_list_normalised_words(app, client, db):
    _account, board, token = await api_board(client, db)
    poll = (await client.post(f"/api/boards/{board.id}/polls", json={"type": "text", "question": "一言で", "open": True},
                              headers=bearer(token))).json()["id"]
    for who, text in (("p1", "ＡＩ"), ("p2", " ai "), ("p3", "まちづくり")):
        await answer_as(app, board.id, poll, who, text=text)
    result = (await client.get(f"/api/polls/{poll}/results", headers=bearer(token))).json()
    assert result == {"total": 3, "words": [{"text": "ai", "count": 2, "size": 5}, {"text": "まちづくり", "count": 1, "size": 3}]}


@pytest.mark.parametrize("poll", ["b1p99", "b999p1", "nonsense", "b1p"])
async def test_api_results_of_an_unknown_poll_are_not_found(client, db, poll: str):
    _account, _board, token = await api_board(client, db)
    assert (await client.get(f"/api/polls/{poll}/results", headers=bearer(token))).status_code == 404
