"""The world the authorization matrices run in: the roles (kinds of visitor) and their accounts, and for the
socket a real `taiwa serve` (a module fixture) on a database seeded with every role's API token and login,
plus a /board client that is None when the handshake is refused."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp  # noqa: F401 - python-socketio's AsyncClient needs it for its websocket transport
import pytest
import socketio

from server.auth import accounts
from sessions import registration
from sessions.registration_models import RegistrationInput
from tests.harness import ServerProcess, in_own_loop, make_account, make_session, make_venue, open_database


ROLES = ("anonymous", "participant", "registrant", "facilitator", "other_facilitator", "organizer",
         "other_organizer", "admin")
ACCOUNT_ROLES = {"facilitator": ("fac@kanazawa.example", "facilitator", "kanazawa"),
                 "other_facilitator": ("fac@toyama.example", "facilitator", "toyama"),
                 "organizer": ("staff@kanazawa.example", "organizer", "kanazawa"),
                 "other_organizer": ("staff@toyama.example", "organizer", "toyama"),
                 "admin": ("admin@taiwa.example", "admin", "taiwa-admin")}
PROMPTS = ["地域の良いところ", "困っていること"]
NS = "/board"
SOCKET_SECRET = "authz-socket-secret-0123456789abcdef"


@dataclass
class SocketWorld:
    db_path: Path
    api_tokens: dict[str, str]
    logins: dict[str, str]
    session: int
    other_session: int
    registrant_token: str


async def _no_mail(*_args: Any, **_kwargs: Any) -> None:
    """The seed needs no mail."""


async def _seed_socket_world(db_path: Path) -> SocketWorld:
    async with open_database(db_path) as db:
        people = {role: await make_account(db, email, role=kind, org=org)
                  for role, (email, kind, org) in ACCOUNT_ROLES.items()}
        venue = await make_venue(db, people["organizer"].org_id)
        session = await make_session(db, people["organizer"].org_id, venue)
        other_session = await make_session(db, people["other_organizer"].org_id, None, format="online",
                                           online_url="https://meet.example.jp/x", capacity_online=5,
                                           capacity_in_person=0)
        async with db.transaction() as conn:
            api_tokens = {role: await accounts.create_api_token(conn, a.id) for role, a in people.items()}
            logins = {role: await accounts.start_login(conn, a.id) for role, a in people.items()}
        result = await registration.register(
            db, session, RegistrationInput(name="本人 太郎", email="taro@example.jp", mode="in_person"),
            notify=_no_mail, derive_token=lambda salt: hashlib.sha256(salt.encode()).hexdigest())
    return SocketWorld(db_path=db_path, api_tokens=api_tokens, logins=logins, session=session,
                       other_session=other_session, registrant_token=result.token)


@pytest.fixture(scope="module")
def socket_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """`python -m server.cli serve` (uvicorn) on a free port, on a seeded database: (base URL, the world)."""
    folder = tmp_path_factory.mktemp("authz-socket")
    world = in_own_loop(_seed_socket_world(folder / "taiwa.sqlite3"))
    with ServerProcess(world.db_path, folder / "server.log", secret=SOCKET_SECRET,
                       env={"TAIWA_RATE_LIMITS": "off"}) as server:
        yield server.base, world


async def connect(base: str, auth: dict[str, Any], headers: dict[str, str] | None = None) -> socketio.AsyncClient | None:
    """A connected /board client, or None when the server refused the handshake."""
    client = socketio.AsyncClient(reconnection=False)
    try:
        await client.connect(base, namespaces=[NS], auth=auth, headers=headers or {}, transports=["websocket"],
                             wait_timeout=10)
    except socketio.exceptions.ConnectionError:
        await client.disconnect()
        return None
    if NS not in client.namespaces:
        await client.disconnect()
        return None
    return client
