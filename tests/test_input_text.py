"""Invisible control characters (NUL, escape, …) typed or pasted into any field are dropped on the
way in (API, forms, board commands); tabs and line breaks stay."""

from __future__ import annotations

from typing import Any

from realtime.board import Actor
from tests.board_http import new_board
from tests.harness import make_account, make_session, make_venue

DIRTY = "市民\x00フォーラム\x1b[31m\x7f"
CLEAN = "市民フォーラム[31m"


async def test_a_registration_through_the_api_is_stored_without_control_characters(client: Any, db: Any) -> None:
    account = await make_account(db, "staff@kanazawa.example")
    session_id = await make_session(db, account.org_id, await make_venue(db, account.org_id))
    answer = await client.post(f"/api/sessions/{session_id}/registrations",
                               json={"name": "山田\x00 花子", "email": "hanako@example.jp",
                                     "note": "一行目\n二行目\x07", "consent_sensitive": True})
    assert answer.status_code == 201, answer.text
    row = (await db.fetch_all("select name, note from registrations"))[0]
    assert (row["name"], row["note"]) == ("山田 花子", "一行目\n二行目")


async def test_a_session_and_a_note_are_stored_without_control_characters(client: Any, db: Any, app: Any) -> None:
    account = await make_account(db, "staff@kanazawa.example")
    session_id = await make_session(db, account.org_id, await make_venue(db, account.org_id), title=DIRTY,
                                    description="説明\tです\x00")
    row = (await db.fetch_all("select title, description from sessions where id = ?", (session_id,)))[0]
    assert (row["title"], row["description"]) == (CLEAN, "説明\tです")
    board = await new_board(db, session_id, account.org_id)
    outcome = await app.litestar.state.board_service.handle(board.id, "note:add", {"zone": "z1", "text": DIRTY},
                                                            Actor(id="p1", name="花子"), "op-1")
    assert outcome.result["ok"]
    assert outcome.events[0][2]["text"] == CLEAN
