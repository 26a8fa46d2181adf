"""The authorization matrix of the board socket: every /board event for every role that can connect (and
every handshake, accepted or refused), against a real `taiwa serve` with real python-socketio clients.
Another organization's board must stay unchanged.
"""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Any

import aiohttp  # noqa: F401 - python-socketio's AsyncClient needs it for its websocket transport
import socketio

from server.core.middleware import LOGIN_COOKIE
from tests.authz_world import NS, PROMPTS, ROLES, connect
from tests.authz_world import socket_server  # noqa: F401 - fixtures, used by name


# ---------------------------------------------------------------- the socket: a real server, real clients

async def call(client: socketio.AsyncClient, event: str, data: Any) -> Any:
    """The ack as a cell value: "ok" or the error code."""
    answer = await client.call(event, data, namespace=NS, timeout=15)
    return "ok" if answer.get("ok") else answer["error"]["code"]


def note_id(ack: dict[str, Any]) -> str:
    note = ack.get("note")
    return note if isinstance(note, str) else (note or {}).get("id") or ack.get("id", "")


def participant_row(*codes: Any) -> dict[str, Any]:
    """Answers for (participant, facilitator, organizer, admin); the other roles cannot connect."""
    return dict(zip(("participant", "facilitator", "organizer", "admin"), codes))


OK4 = participant_row("ok", "ok", "ok", "ok")
FACILITATORS = participant_row("forbidden", "ok", "ok", "ok")
NOT_YOURS = participant_row("not_yours", "ok", "ok", "ok")
# (event, data whose {own_note} / {their_note} / {poll} / {other_note} / {other_poll} fields are filled with
#  the world's ids before sending, answers)
SOCKET_EVENTS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("note:add", {"zone": "z1", "text": "権限確認のメモ"}, OK4),
    ("note:edit", {"note": "{own_note}", "text": "書き直し"}, OK4),
    ("note:edit", {"note": "{their_note}", "text": "他人のメモを書き換え"}, NOT_YOURS),
    # note ids count per board: another board's note id names a note of one's own board (or none);
    # the other board's notes are checked unchanged after the table
    ("note:edit", {"note": "{other_note}", "text": "別のボードのメモ"}, NOT_YOURS),
    ("note:edit", {"note": "n999999", "text": "存在しないメモ"}, participant_row(*["not_found"] * 4)),
    ("note:move", {"note": "{own_note}", "zone": "z2"}, OK4),
    ("note:move", {"note": "{their_note}", "zone": "z2"}, NOT_YOURS),
    ("group:set", {"note": "{own_note}", "group": None}, participant_row("wrong_phase", "ok", "ok", "ok")),
    ("vote:cast", {"note": "{their_note}"}, participant_row("wrong_phase", "forbidden", "forbidden", "forbidden")),
    ("vote:retract", {"note": "{their_note}"}, participant_row("wrong_phase", "invalid", "invalid", "invalid")),
    ("poll:answer", {"poll": "{poll}", "choice": "{choice}"}, participant_row("ok", "forbidden", "forbidden",
                                                                                "forbidden")),
    ("poll:answer", {"poll": "{other_poll}", "choice": "{choice}"}, participant_row("not_found", "forbidden",
                                                                                      "forbidden", "forbidden")),
    ("note:hide", {"note": "{their_note}", "hidden": False}, FACILITATORS),
    ("note:delete", {"note": "{their_note}"}, NOT_YOURS),
    ("note:delete", {"note": "{own_note}"}, OK4),
    ("phase:set", {"phase": "write"}, FACILITATORS),
    ("timer:start", {"seconds": 60}, FACILITATORS),
    ("timer:stop", {}, FACILITATORS),
    ("board:lock", {"locked": False}, FACILITATORS),
    ("board:joining", {"open": True}, FACILITATORS),
    ("votes:reveal", {"revealed": False}, FACILITATORS),
    ("poll:close", {"poll": "{poll}"}, FACILITATORS),
    ("poll:open", {"poll": "{poll}"}, FACILITATORS),
    ("poll:close", {"poll": "{other_poll}"}, participant_row("forbidden", "not_found", "not_found", "not_found")),
]


async def test_socket_authorization_matrix(socket_server):
    base, world = socket_server
    import httpx

    started = time.monotonic()
    wrong: list[str] = []
    checked = 0
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        bearer = lambda role: {"Authorization": f"Bearer {world.api_tokens[role]}"}  # noqa: E731

        async def board_with_note_and_poll(session: int, role: str) -> dict[str, Any]:
            made = await http.post(f"/api/sessions/{session}/boards", json={"title": "ソケット", "prompts": PROMPTS},
                                   headers=bearer(role))
            assert made.status_code == 201, made.text
            board = made.json()
            poll = await http.post(f"/api/boards/{board['id']}/polls", headers=bearer(role), json={
                "type": "single_choice", "question": "どちら？", "options": ["はい", "いいえ"], "open": True})
            assert poll.status_code == 201, poll.text
            board["poll"] = poll.json()
            seeder = await connect(base, {"token": world.api_tokens[role], "board": board["id"]})
            assert seeder is not None
            added = await seeder.call("note:add", {"op": uuid.uuid4().hex, "zone": "z1", "text": "進行役のメモ"},
                                      namespace=NS, timeout=15)
            assert added["ok"], added
            board["note"] = note_id(added)
            await seeder.disconnect()
            return board

        other = await board_with_note_and_poll(world.other_session, "other_organizer")
        # who connects how, and whether the handshake is accepted
        boards = {role: await board_with_note_and_poll(world.session, "organizer")
                  for role in ("participant", "facilitator", "organizer", "admin", "refused")}
        assert all(b["note"] for b in boards.values()), boards

        async def participant_token(board: dict[str, Any]) -> str:
            joined = await http.post(f"/api/boards/{board['id']}/participants",
                                     json={"display_name": "参加者", "code": board["join_code"]})
            assert joined.status_code == 201, joined.text
            return joined.json()["token"]

        other_before = (await http.get(f"/api/boards/{other['id']}/export.json", headers=bearer("other_organizer"))).json()
        mine = await participant_token(boards["participant"])
        theirs = await participant_token(other)
        target = boards["refused"]["id"]
        login = lambda role: {"Cookie": f"{LOGIN_COOKIE}={world.logins[role]}"}  # noqa: E731
        handshakes: list[tuple[str, dict[str, Any], dict[str, str], bool]] = [
            ("anonymous", {}, {}, False),
            ("anonymous with a board", {"board": target}, {}, False),
            ("forged participant token", {"token": "bp_" + secrets.token_urlsafe(24)}, {}, False),
            ("participant of another board", {"token": theirs, "board": target}, {}, False),
            ("participant naming another board", {"token": mine, "board": other["id"]}, {}, False),
            ("registrant token", {"token": world.registrant_token, "board": target}, {}, False),
            ("registrant token as a bearer", {"token": "tw_" + world.registrant_token, "board": target}, {}, False),
            ("other facilitator's API token", {"token": world.api_tokens["other_facilitator"], "board": target}, {},
             False),
            ("other organizer's API token", {"token": world.api_tokens["other_organizer"], "board": target}, {}, False),
            ("other organizer's login cookie", {"board": target}, login("other_organizer"), False),
            ("organizer's API token without a board", {"token": world.api_tokens["organizer"]}, {}, False),
            ("participant token from a foreign origin", {"token": mine}, {"Origin": "https://evil.example"}, False),
            ("facilitator's API token", {"token": world.api_tokens["facilitator"], "board": target}, {}, True),
            ("organizer's login cookie", {"board": target}, login("organizer"), True),
            ("facilitator's login cookie", {"board": target}, login("facilitator"), True),
            ("admin's API token", {"token": world.api_tokens["admin"], "board": target}, {}, True),
            ("participant token", {"token": mine}, {}, True),
        ]
        for label, auth, headers, accepted in handshakes:
            client = await connect(base, auth, headers)
            checked += 1
            if (client is not None) != accepted:
                wrong.append(f"handshake {label}: expected {'accepted' if accepted else 'refused'}")
            if client is not None:
                await client.disconnect()

        clients = {
            "participant": await connect(base, {"token": mine}),
            **{role: await connect(base, {"token": world.api_tokens[role], "board": boards[role]["id"]})
               for role in ("facilitator", "organizer", "admin")},
        }
        assert all(clients.values()), clients
        own_notes: dict[str, str] = {}
        for event, template, answers in SOCKET_EVENTS:
            for role, client in clients.items():
                board = boards[role]
                if event == "note:add":
                    ack = await client.call(event, {"op": uuid.uuid4().hex, **template}, namespace=NS, timeout=15)
                    got = "ok" if ack.get("ok") else ack["error"]["code"]
                    own_notes[role] = note_id(ack) if ack.get("ok") else ""
                else:
                    values = {"own_note": own_notes.get(role, ""), "their_note": board["note"], "poll": board["poll"]["id"],
                              "choice": board["poll"]["options"][0]["id"], "other_note": other["note"],
                              "other_poll": other["poll"]["id"]}
                    data = {key: values.get(str(value).strip("{}"), value) if isinstance(value, str) else value
                            for key, value in template.items()}
                    got = await call(client, event, {"op": uuid.uuid4().hex, **data})
                checked += 1
                if got != answers[role]:
                    wrong.append(f"{event} {template} as {role}: expected {answers[role]}, got {got}")
        for client in clients.values():
            await client.disconnect()
        other_after = (await http.get(f"/api/boards/{other['id']}/export.json", headers=bearer("other_organizer"))).json()
        checked += 1
        if other_after != other_before:
            wrong.append("another organization's board changed through this board's events")
        refused_roles = len([r for r in ROLES if r not in clients])
        # every event of the roles that cannot connect is refused at the handshake
        checked += refused_roles * len(SOCKET_EVENTS)
    print(f"\n[authz] socket matrix: {checked} cells ({len(handshakes)} handshakes, {len(SOCKET_EVENTS)} events x "
          f"{len(ROLES)} roles) in {time.monotonic() - started:.1f} s")
    assert not wrong, "\n".join(wrong)
