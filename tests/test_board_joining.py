"""Joining a board (issue 20): the facilitator closes and reopens joining, sees how many participants
came from each connection (never an address), named polls stay off anonymous boards, and the join
limits follow TAIWA_RATE_LIMITS the way the other limits do.

The rules are tested without I/O (as in test_board_rules.py); the pages through the app, with each
person's browser on an address of its own (httpx's ASGITransport takes the client address).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from realtime.board import CommandError, fold, replay
from realtime.views import room_event, snapshot
from server.auth import accounts
from server.auth.limits import Limit
from server.core.middleware import LOGIN_COOKIE
from server.settings import Settings
from tests.conftest import csrf_from, html, login, make_account, make_session
from tests.board_model import AIKO, FAC, Workshop

LANG = {"taiwa_lang": "en"}
ORGANIZER = "joining@kanazawa.example"


@asynccontextmanager
async def browser(app: Any, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """Someone's browser on the same app, connecting from `address`."""
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local", cookies=LANG) as person:
        yield person


async def facilitator_board(client: Any, db: Any, **fields: str) -> tuple[int, str]:
    """A board made on the organizer page by the organizer signed in on `client` (signed in here the
    first time): (board id, join code)."""
    if LOGIN_COOKIE not in client.cookies:
        await make_account(db, ORGANIZER)
        assert (await login(client, ORGANIZER)).status_code == 200
        client.cookies.update(LANG)
    account = await accounts.get_account_by_email(db, ORGANIZER)
    session_id = await make_session(db, account.org_id, format="online", capacity_in_person=0, capacity_online=50,
                                    online_url="https://meet.example.jp/joining")
    page = await client.get(f"/organize/sessions/{session_id}/boards")
    made = await client.post(f"/organize/sessions/{session_id}/boards", data={
        "_csrf_token": csrf_from(page), "title": "駅前の将来", "prompts": "良いところ\n困りごと", **fields})
    found = re.match(r"^/boards/(\d+)/facilitate$", made.url.path)
    assert found, made.url
    code = re.search(r"/j/(\d{6})", made.text)
    assert code
    return int(found.group(1)), code.group(1)


async def join(person: httpx.AsyncClient, code: str, name: str) -> httpx.Response:
    page = await person.get(f"/j/{code}")
    return await person.post(f"/j/{code}", data={"_csrf_token": csrf_from(page), "display_name": name})


async def set_joining(client: Any, board_id: int, open_: bool) -> httpx.Response:
    """The console's button, as a plain form (no JavaScript): the HTTP command path."""
    console = html(await client.get(f"/boards/{board_id}/facilitate"))
    form = console.select_one("#joining form")
    assert form is not None, "the console has a joining form"
    fields = {field["name"]: field.get("value", "") for field in form.select("input[type=hidden]")}
    assert fields["type"] == "board:joining" and fields["open"] == ("1" if open_ else "0")
    return await client.post(form["action"], data=fields)


# ---------------------------------------------------------------- the rules

def test_only_the_facilitator_closes_joining_and_participants_are_not_told():
    board = Workshop()
    assert board.refuse(AIKO, "board:joining", {"open": False}) == "forbidden"
    (_seq, kind, data), = board.do(FAC, "board:joining", {"open": False})
    assert (kind, data) == ("board:joining_set", {"open": False}) and not board.state.joining_open
    assert board.do(FAC, "board:joining", {"open": False}) == [], "closing a closed board changes nothing"
    assert room_event(board.state, 1, kind, data, facilitators=False, participants=1)["type"] == "noop"
    assert room_event(board.state, 1, kind, data, facilitators=True, participants=1)["data"] == {"open": False}
    assert snapshot(board.state, FAC, title="", participants=1, server_now=0)["joining_open"] is False
    assert "joining_open" not in snapshot(board.state, AIKO, title="", participants=1, server_now=0)
    assert replay(board.initial, board.log).joining_open is False, "a restart keeps joining closed"
    board.do(FAC, "phase:set", {"phase": "closed"})
    assert board.do(FAC, "board:joining", {"open": True})[0][2] == {"open": True}, "also after the end"


def test_a_named_poll_is_refused_on_an_anonymous_board_and_an_old_one_stays_closed():
    board = Workshop(anonymous=True)
    with pytest.raises(CommandError) as refused:
        board.do(FAC, "poll:create", {"type": "single_choice", "question": "記名で", "options": ["A", "B"],
                                      "anonymous": False})
    assert "anonymous" in refused.value.message and not board.state.polls
    (_seq, _kind, created), = board.do(FAC, "poll:create", {"type": "single_choice", "question": "匿名で",
                                                             "options": ["A", "B"]})
    assert created["anonymous"] is True and board.do(FAC, "poll:open", {"poll": created["id"]})
    # a named poll logged before the rule existed is never opened
    fold(board.state, board.state.seq + 1, "poll:created", {**created, "id": "b1p99", "anonymous": False})
    with pytest.raises(CommandError):
        board.do(FAC, "poll:open", {"poll": "b1p99"})
    named = Workshop()
    (_seq, _kind, data), = named.do(FAC, "poll:create", {"type": "single_choice", "question": "記名で",
                                                          "options": ["A", "B"], "anonymous": False})
    assert data["anonymous"] is False, "a board that is not anonymous may still ask by name"


# ---------------------------------------------------------------- the console and the join page

async def test_the_facilitator_closes_and_reopens_joining_without_javascript(app, client, db):
    board_id, code = await facilitator_board(client, db)
    async with browser(app, "192.0.2.10") as hanako, browser(app, "192.0.2.11") as late:
        assert (await join(hanako, code, "花子")).status_code == 303

        closed = await set_joining(client, board_id, open_=False)
        assert closed.status_code == 200 and closed.url.path == f"/boards/{board_id}/facilitate"
        joining = html(closed).select_one("#joining")
        assert "Joining is closed" in joining.get_text() and joining.find("button").get_text() == "Reopen joining"

        page = await late.get(f"/j/{code}")
        assert "Joining this board is closed" in html(page).select_one("[role=alert]").get_text()
        refused = await join(late, code, "遅刻者")
        assert refused.status_code == 409 and "Joining this board is closed" in refused.text
        assert (await hanako.get(f"/boards/{board_id}/list")).status_code == 200, "those in keep their board"

        await set_joining(client, board_id, open_=True)
        assert (await join(late, code, "遅刻者")).status_code == 303


async def test_the_console_counts_participants_per_connection_without_their_addresses(app, client, db):
    board_id, code = await facilitator_board(client, db)
    other_id, other_code = await facilitator_board(client, db)
    async with browser(app, "198.51.100.23") as stuffer, browser(app, "203.0.113.5") as neighbour:
        for n in range(3):
            assert (await join(stuffer, code, f"票{n}")).status_code == 303
        assert (await join(neighbour, code, "近所の人")).status_code == 303
        assert (await join(stuffer, other_code, "別のボード")).status_code == 303

    console = await client.get(f"/boards/{board_id}/facilitate")
    joining = html(console).select_one("#joining")
    assert "4 joined, from 2 connections." in joining.get_text(" ", strip=True)
    rows = [[cell.get_text(strip=True) for cell in row.select("td")] for row in joining.select("tbody tr")]
    assert [count for _code, count in rows] == ["3", "1"], rows
    assert all(re.fullmatch(r"[0-9a-f]{6}", code_) for code_, _count in rows)
    assert "198.51.100.23" not in console.text and "203.0.113.5" not in console.text
    elsewhere = html(await client.get(f"/boards/{other_id}/facilitate")).select_one("#joining tbody td")
    assert elsewhere.get_text(strip=True) != rows[0][0], "a connection's code differs from board to board"


async def test_the_poll_form_of_an_anonymous_board_offers_no_named_answers(client, db):
    board_id, _code = await facilitator_board(client, db, anonymous="1")
    form = html(await client.get(f"/boards/{board_id}/facilitate")).select_one("#poll-new form")
    assert form.select_one("#poll-anon") is None
    assert [i["value"] for i in form.select("input[name=anonymous]")] == ["1"]


# ---------------------------------------------------------------- TAIWA_RATE_LIMITS=off

@pytest.fixture
def settings(db_target: Path | str, request: pytest.FixtureRequest) -> Settings:
    """The app's settings; `load_test` (indirect) turns per-client limits off and makes both join
    limits as tight as they go."""
    base = Settings(db_path=db_target, secret="test-secret-" + "x" * 20,
                    base_url="http://testserver.local", background=False)
    if getattr(request, "param", "") != "load_test":
        return base
    return dataclasses.replace(base, rate_limits=False,
                               limits={**base.limits, "join": Limit(1, 60), "join_lookup": Limit(1, 60)})


@pytest.mark.parametrize("settings", ["load_test"], indirect=True)
async def test_rate_limits_off_lets_a_load_test_join_but_never_lets_codes_be_swept(app, client, db):
    board_id, code = await facilitator_board(client, db)
    client.cookies.clear()
    for n in range(3):
        joined = await client.post(f"/api/boards/{board_id}/participants",
                                   json={"display_name": f"負荷{n}", "code": code})
        assert joined.status_code == 201, joined.text
    assert (await client.get("/j/000001")).status_code == 404
    assert (await client.get("/j/000002")).status_code == 429
