"""Workshop boards through the app in-process, as the board page tests use them: an organizer's board,
participants in browsers of their own (own cookies, English pages), commands sent as the list view and the
facilitator page send them, and what the pages show.

A module that imports `english` (autouse) gets English pages on the test client."""

from __future__ import annotations

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
from tests.harness import csrf_from, html, login, make_account, make_session, make_venue


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
