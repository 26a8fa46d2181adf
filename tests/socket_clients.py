"""The live board over the wire, as the socket tests use it: a seeded workshop's real `taiwa serve` (a module
fixture, rate limits on, and one with TAIWA_RATE_LIMITS=off for load), its JSON API, and python-socketio
AsyncClients on the /board namespace that keep everything they received."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp  # noqa: F401 - python-socketio's AsyncClient needs it for its websocket transport
import httpx
import pytest
import socketio
from babel.messages.pofile import read_po

from tests.harness import fresh_database, ROOT, TaiwaServer, prepare_workshop, read_db

NS = "/board"
JA_CATALOG = ROOT / "server" / "locale" / "ja" / "LC_MESSAGES" / "messages.po"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
PROMPTS = ["地域の良いところ", "困っていること", "やってみたいこと"]


# ---------------------------------------------------------------- a real server

def _running_server(tmp_path_factory: pytest.TempPathFactory, name: str, *, rate_limits: bool) -> Iterator[TaiwaServer]:
    folder = tmp_path_factory.mktemp(name)
    server = TaiwaServer(prepare_workshop(fresh_database(folder)), folder / "server.log", rate_limits=rate_limits)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        errors = [line for line in server.log().splitlines() if "Traceback" in line or " ERROR" in line]
        print(f"\n[{name}] server log: {server.log_path} ({len(errors)} error lines)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaiwaServer]:
    """The app as deployed: rate limits on."""
    yield from _running_server(tmp_path_factory, "board", rate_limits=True)


@pytest.fixture(scope="module")
def fast_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaiwaServer]:
    """The app with TAIWA_RATE_LIMITS=off, for load."""
    yield from _running_server(tmp_path_factory, "board-load", rate_limits=False)


# ---------------------------------------------------------------- HTTP and socket clients

class Api:
    """The JSON API of a running server, used as organizers and participants do."""

    def __init__(self, server: TaiwaServer) -> None:
        self.server = server
        self.http = httpx.AsyncClient(base_url=server.base, timeout=30)

    @property
    def organizer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.server.workshop.api_token}"}

    async def new_board(self, title: str = "地域の未来を話そう", **settings: Any) -> dict[str, Any]:
        answer = await self.http.post(f"/api/sessions/{self.server.workshop.session_id}/boards",
                                      json={"title": title, "prompts": PROMPTS, **settings}, headers=self.organizer)
        assert answer.status_code == 201, answer.text
        return answer.json()

    async def new_participant(self, board: dict[str, Any], name: str) -> dict[str, Any]:
        answer = await self.http.post(f"/api/boards/{board['id']}/participants",
                                      json={"display_name": name, "code": board["join_code"]})
        assert answer.status_code == 201, answer.text
        return answer.json()

    async def close(self) -> None:
        await self.http.aclose()


class Member:
    """One board client (participant or facilitator) and everything it received, in order."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.sio = socketio.AsyncClient(reconnection=False)
        self.snapshots: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.received: list[tuple[str, Any]] = []  # every message and ack, for privacy checks
        self.token = ""  # a participant's token, to come back with
        self.participant_id = ""

        @self.sio.on("snapshot", namespace=NS)
        async def on_snapshot(data: Any) -> None:
            self.snapshots.append(data)
            self.received.append(("snapshot", data))

        @self.sio.on("event", namespace=NS)
        async def on_event(data: Any) -> None:
            self.events.append(data)
            self.received.append(("event", data))

        @self.sio.on("*", namespace=NS)
        async def on_anything(name: str, *data: Any) -> None:
            self.received.append((name, data))

    async def join(self, base: str, auth: dict[str, Any], headers: dict[str, str] | None = None) -> Member:
        await self.sio.connect(base, namespaces=[NS], auth=auth, transports=["websocket"], headers=headers or {},
                               wait_timeout=15)
        return self

    @property
    def connected(self) -> bool:
        return self.sio.connected and NS in self.sio.namespaces

    async def call(self, event: str, data: Any = None) -> dict[str, Any]:
        answer = await self.sio.call(event, data, namespace=NS, timeout=30)
        self.received.append((f"ack:{event}", answer))
        return answer

    async def board(self) -> dict[str, Any]:
        """The current snapshot, asked for (its ack also comes after every event already sent to this client)."""
        answer = await self.call("board:snapshot")
        assert answer["ok"], answer
        return answer["snapshot"]

    def seqs(self, type_: str | None = None) -> list[int]:
        return [e["seq"] for e in self.events if type_ is None or e["type"] == type_]

    def wire(self) -> str:
        return json.dumps(self.received, ensure_ascii=False)

    async def leave(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


@pytest.fixture
async def api(server: TaiwaServer) -> AsyncIterator[Api]:
    client = Api(server)
    yield client
    await client.close()


@pytest.fixture
async def crowd() -> AsyncIterator[Callable[[str], Member]]:
    """Makes board clients and disconnects them all at the end."""
    made: list[Member] = []

    def make(label: str) -> Member:
        member = Member(label)
        made.append(member)
        return member

    yield make
    await asyncio.gather(*(member.leave() for member in made), return_exceptions=True)


async def participant(api: Api, crowd: Callable[[str], Member], board: dict[str, Any], name: str,
                      **auth: Any) -> Member:
    """A participant who joined by the board's code and connected with the token."""
    joined = await api.new_participant(board, name)
    member = crowd(name)
    member.participant_id, member.token = joined["participant"], joined["token"]
    return await member.join(api.server.base, {"token": joined["token"], **auth})


async def facilitator(api: Api, crowd: Callable[[str], Member], board: dict[str, Any], **auth: Any) -> Member:
    """The organizer, by API token and board id."""
    return await crowd("facilitator").join(api.server.base, {"token": api.server.workshop.api_token,
                                                             "board": board["id"], **auth})


async def until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Wait for something that must happen (a deadline against hanging, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.02)


_op_numbers = iter(range(1, 10**9))


def op() -> str:
    return f"op-{os.getpid()}-{next(_op_numbers)}"


async def add_note(member: Member, text: str, zone: str = "z1", **extra: Any) -> dict[str, Any]:
    answer = await member.call("note:add", {"op": op(), "zone": zone, "text": text, **extra})
    assert answer["ok"], answer
    return answer


async def ok(member: Member, event: str, **data: Any) -> dict[str, Any]:
    answer = await member.call(event, {"op": op(), **data})
    assert answer["ok"], (event, answer)
    return answer


def committed_events(db_path: Path, board_id: int, *types: str) -> list[tuple[str, dict[str, Any]]]:
    """A board's events of some types as committed to its event log, in seq order (straight from the SQLite file)."""
    rows = read_db(db_path, f"select type, data from board_events where board_id = ? and type in "  # noqa: S608
                            f"({', '.join('?' * len(types))}) order by seq", (board_id, *types))
    return [(row["type"], json.loads(row["data"])) for row in rows]


def dots_in_the_log(db_path: Path, board_id: int) -> dict[str, int]:
    """Online dots per note as committed to the board's event log (read straight from the SQLite file)."""
    dots: dict[str, int] = {}
    for kind, data in committed_events(db_path, board_id, "vote:cast", "vote:retracted"):
        note = data["note"]
        dots[note] = dots.get(note, 0) + (1 if kind == "vote:cast" else -1)
    return {note: count for note, count in dots.items() if count}


def translated_in_japanese(message: str) -> bool:
    """Whether the Japanese catalog has a translation of this message yet."""
    with JA_CATALOG.open("rb") as source:
        entry = read_po(source, locale="ja").get(message)
    return bool(entry is not None and entry.string)
