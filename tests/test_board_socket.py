"""The live board over the wire: a real `taiwa serve` (uvicorn) on a free port and real python-socketio
AsyncClients on the /board namespace — joining, fan-out, idempotent ops, error acks, replay after a
dropped connection, recovery after a server restart, voting privacy, no sensitive data, and a burst."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import aiohttp  # noqa: F401 - python-socketio's AsyncClient needs it for its websocket transport
import httpx
import pytest
import socketio
from babel.messages.pofile import read_po

from server.auth import accounts
from server.core.database import Database
from sessions.models import AccommodationOffer, ChildcareOffer
from tests.conftest import make_account, make_session, make_venue, next_saturday

ROOT = Path(__file__).resolve().parent.parent
NS = "/board"
JA_CATALOG = ROOT / "server" / "locale" / "ja" / "LC_MESSAGES" / "messages.po"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
PROMPTS = ["地域の良いところ", "困っていること", "やってみたいこと"]


# ---------------------------------------------------------------- a real server

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Workshop:
    """What exists in the database before the server starts: a session and an organizer's API token."""

    db_path: Path
    session_id: int
    api_token: str


async def _prepare(db_path: Path) -> Workshop:
    db = Database(db_path)
    await db.open()
    try:
        account = await make_account(db, "facilitator@kanazawa.example")
        venue = await make_venue(db, account.org_id)
        session_id = await make_session(
            db, account.org_id, venue, title="まちづくりワークショップ", kind="workshop",
            starts_at=next_saturday(weeks=6), childcare=ChildcareOffer(places=5, min_age_months=6),
            accommodations=[AccommodationOffer(code="sign_language", mode="on_request")])
        async with db.transaction() as conn:
            token = await accounts.create_api_token(conn, account.id, "board socket tests")
    finally:
        await db.close()
    return Workshop(db_path=db_path, session_id=session_id, api_token=token)


def prepare_workshop(db_path: Path) -> Workshop:
    """Seed a fresh database file (in a thread of its own, away from the test's event loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _prepare(db_path)).result()


class TaiwaServer:
    """`python -m server.cli serve` as a real process; it can be stopped and started again on the same port."""

    def __init__(self, workshop: Workshop, log_path: Path, *, rate_limits: bool = True,
                 env: dict[str, str] | None = None) -> None:
        self.workshop = workshop
        self.env = env or {}  # e.g. TAIWA_REDIS_URL for a worker of a scaled-out deployment
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.rate_limits = rate_limits
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {key: value for key, value in os.environ.items()
               if key not in ("TAIWA_DB", "TAIWA_REDIS_URL", "TAIWA_SMTP_URL")}
        env.update(TAIWA_BASE_URL=self.base, TAIWA_SECRET="board-socket-test-secret-0123456789",
                   TAIWA_RATE_LIMITS="on" if self.rate_limits else "off", **self.env)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "server.cli", "serve", "--db", str(self.workshop.db_path),
                 "--port", str(self.port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urlopen(self.base + "/", timeout=2):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop(signal.SIGKILL)
                    pytest.fail(f"the server did not start:\n{self.log()}")
                time.sleep(0.1)

    def stop(self, how: signal.Signals = signal.SIGTERM) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(how)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _running_server(tmp_path_factory: pytest.TempPathFactory, name: str, *, rate_limits: bool) -> Iterator[TaiwaServer]:
    folder = tmp_path_factory.mktemp(name)
    server = TaiwaServer(prepare_workshop(folder / "taiwa.sqlite3"), folder / "server.log", rate_limits=rate_limits)
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


def dots_in_the_log(db_path: Path, board_id: int) -> dict[str, int]:
    """Online dots per note as committed to the board's event log (read straight from the SQLite file)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = conn.execute("select type, data from board_events where board_id = ? and type in "
                            "('vote:cast', 'vote:retracted') order by seq", (board_id,)).fetchall()
    finally:
        conn.close()
    dots: dict[str, int] = {}
    for kind, data in rows:
        note = json.loads(data)["note"]
        dots[note] = dots.get(note, 0) + (1 if kind == "vote:cast" else -1)
    return {note: count for note, count in dots.items() if count}


def translated_in_japanese(message: str) -> bool:
    """Whether the Japanese catalog has a translation of this message yet."""
    with JA_CATALOG.open("rb") as source:
        entry = read_po(source, locale="ja").get(message)
    return bool(entry is not None and entry.string)


# ---------------------------------------------------------------- joining

async def test_participant_joins_and_sees_the_empty_board_in_the_writing_phase(api, crowd):
    board = await api.new_board()
    hanako = await participant(api, crowd, board, "花子")

    await until(lambda: hanako.snapshots, "a snapshot on join")
    snapshot = hanako.snapshots[0]
    assert len(hanako.snapshots) == 1 and hanako.events == []
    assert snapshot["seq"] == 0
    assert snapshot["board"]["id"] == board["id"]
    assert [zone["title"] for zone in snapshot["zones"]] == PROMPTS
    assert all(zone["id"] for zone in snapshot["zones"])
    assert snapshot["phase"] == "write"
    assert snapshot["notes"] == []
    assert snapshot["me"] == {"name": "花子", "facilitator": False}
    assert "tallies" not in snapshot  # results are hidden from participants until revealed


async def test_facilitator_joins_with_api_token_and_board(api, crowd):
    board = await api.new_board()
    organizer = await facilitator(api, crowd, board)

    await until(lambda: organizer.snapshots, "a snapshot on join")
    assert organizer.snapshots[0]["me"]["facilitator"] is True
    assert organizer.snapshots[0]["board"]["id"] == board["id"]
    assert "tallies" in organizer.snapshots[0]


@pytest.mark.parametrize("case", ["wrong token", "token of another board", "no token", "empty auth",
                                  "organizer token without board", "organizer token for a missing board"])
async def test_connection_without_a_valid_board_token_is_refused(api, crowd, case):
    board, other = await api.new_board(), await api.new_board("別のボード")
    own_token = (await api.new_participant(board, "太郎"))["token"]
    auth: dict[str, Any] = {
        "wrong token": {"token": "bp_" + "x" * 32},
        "token of another board": {"token": own_token, "board": other["id"]},
        "no token": {"board": board["id"]},
        "empty auth": {},
        "organizer token without board": {"token": api.server.workshop.api_token},
        "organizer token for a missing board": {"token": api.server.workshop.api_token, "board": 999_999},
    }[case]
    refused = crowd(case)

    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.join(api.server.base, auth)

    assert not refused.connected
    assert refused.snapshots == [] and refused.events == []
    # the same participant token on its own board still works
    welcome = await crowd("太郎").join(api.server.base, {"token": own_token, "board": board["id"]})
    await until(lambda: welcome.snapshots, "a snapshot for the rightful board")
    assert welcome.snapshots[0]["board"]["id"] == board["id"]


async def test_connection_from_a_foreign_origin_is_refused_and_from_our_own_is_welcome(api, crowd):
    board = await api.new_board()
    token = (await api.new_participant(board, "花子"))["token"]

    evil = crowd("evil")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await evil.join(api.server.base, {"token": token}, headers={"Origin": "http://evil.example"})
    assert evil.snapshots == []

    own = await crowd("own").join(api.server.base, {"token": token}, headers={"Origin": api.server.base})
    await until(lambda: own.snapshots, "a snapshot for a page of our own origin")
    assert own.connected


# ---------------------------------------------------------------- fan-out and idempotency

async def test_a_note_reaches_every_participant_and_the_facilitator_exactly_once(api, crowd):
    board = await api.new_board()
    people = await asyncio.gather(*(participant(api, crowd, board, f"参加者{n}") for n in range(20)))
    organizer = await facilitator(api, crowd, board)
    writer, others = people[0], people[1:]

    answer = await add_note(writer, "公園のベンチを増やしたい", zone="z3")

    assert answer["ok"] is True and answer["note"] and answer["seq"] == 1
    everyone = [*people, organizer]
    await asyncio.gather(*(member.board() for member in everyone))  # each ack follows every earlier event
    for member in everyone:
        matching = [e for e in member.events if e["seq"] == answer["seq"]]
        assert len(matching) == 1, (member.label, member.events)
        event = matching[0]
        assert event["type"] == "note:added"
        assert event["data"]["id"] == answer["note"]
        assert event["data"]["text"] == "公園のベンチを増やしたい"
        assert event["data"]["zone"] == "z3"
    print(f"\nfan-out: {len(others)} other participants and the facilitator each received the note once")


async def test_a_repeated_op_is_applied_once_and_acked_with_the_original_result(api, crowd):
    board = await api.new_board()
    writer, reader = (await participant(api, crowd, board, "花子"), await participant(api, crowd, board, "太郎"))
    organizer = await facilitator(api, crowd, board)
    command = {"op": "resend-after-flaky-wifi-1", "zone": "z1", "text": "駅前の駐輪場が足りない"}

    first = await writer.call("note:add", command)
    second = await writer.call("note:add", command)  # what the client does after a reconnect without the ack

    assert first["ok"] is True
    assert second == first
    snapshot = await organizer.board()
    assert [note["text"] for note in snapshot["notes"]] == ["駅前の駐輪場が足りない"]
    assert snapshot["seq"] == first["seq"]
    await reader.board()
    for member in (writer, reader, organizer):
        assert member.seqs("note:added") == [first["seq"]], (member.label, member.events)


async def test_an_op_resent_on_a_new_connection_is_not_applied_again(api, crowd):
    board = await api.new_board()
    writer = await participant(api, crowd, board, "花子")
    command = {"op": "unacked-before-the-tunnel", "zone": "z2", "text": "バス停に屋根がほしい"}
    first = await writer.call("note:add", command)
    await writer.leave()  # the phone lost the ack: its client resends the op after reconnecting

    back = await crowd("花子（再接続）").join(api.server.base, {"token": writer.token, "since": first["seq"]})
    again = await back.call("note:add", command)

    assert again == first
    snapshot = await back.board()
    assert [n["text"] for n in snapshot["notes"]] == ["バス停に屋根がほしい"] and snapshot["seq"] == first["seq"]
    assert back.events == []


async def test_the_same_op_sent_twice_at_once_is_applied_once(api, crowd):
    board = await api.new_board()
    writer = await participant(api, crowd, board, "花子")
    reader = await participant(api, crowd, board, "太郎")
    command = {"op": "double-tap", "zone": "z1", "text": "二度押ししてしまった"}

    answers = await asyncio.gather(*(writer.call("note:add", command) for _ in range(5)))

    assert all(answer == answers[0] for answer in answers) and answers[0]["ok"]
    assert [n["text"] for n in (await reader.board())["notes"]] == ["二度押ししてしまった"]
    assert reader.seqs() == [answers[0]["seq"]]


async def test_an_op_id_is_per_participant_so_two_people_may_reuse_one(api, crowd):
    board = await api.new_board()
    hanako, taro = (await participant(api, crowd, board, "花子"), await participant(api, crowd, board, "太郎"))

    one = await hanako.call("note:add", {"op": "1", "zone": "z1", "text": "花子の意見"})
    two = await taro.call("note:add", {"op": "1", "zone": "z1", "text": "太郎の意見"})

    assert one["ok"] and two["ok"] and one["note"] != two["note"]
    assert sorted(n["text"] for n in (await hanako.board())["notes"]) == ["太郎の意見", "花子の意見"]


# ---------------------------------------------------------------- bad events

BAD_EVENTS = {
    # case: (event, data, expected code)
    "unknown event": ("note:explode", {"op": "x1", "note": "n1"}, "unknown_event"),
    "missing op": ("note:add", {"zone": "z1", "text": "op を忘れた"}, "invalid"),
    "data not an object": ("note:add", "ただの文字列", "invalid"),
    "no data at all": ("note:add", None, "invalid"),
    "note too long": ("note:add", {"op": "x2", "zone": "z1", "text": "あ" * 600}, "too_long"),
    "empty text": ("note:add", {"op": "x3", "zone": "z1", "text": "   "}, "invalid"),
    "unknown zone": ("note:add", {"op": "x4", "zone": "z99", "text": "どこにもない"}, "invalid"),
    "wrong phase": ("vote:cast", {"op": "x5", "note": "n1"}, "wrong_phase"),
    "facilitator only": ("phase:set", {"op": "x6", "phase": "vote"}, "forbidden"),
    "another's note": ("note:edit", {"op": "x7", "text": "書き換えてやる"}, "not_yours"),
}


@pytest.mark.parametrize("case", list(BAD_EVENTS))
async def test_bad_event_gets_an_error_ack_and_the_connection_stays_up(api, crowd, case):
    board = await api.new_board()
    author = await participant(api, crowd, board, "作者")
    theirs = await add_note(author, "作者のメモ")
    sender = await participant(api, crowd, board, "送信者", lang="en")
    event, data, code = BAD_EVENTS[case]
    if case == "another's note":
        data = {**data, "note": theirs["note"]}

    answer = await sender.call(event, data)

    assert answer["ok"] is False, answer
    assert answer["error"]["code"] == code
    assert isinstance(answer["error"]["message"], str) and answer["error"]["message"].strip()
    assert sender.connected
    after = await add_note(sender, "まだつながっている")
    assert after["seq"] == theirs["seq"] + 1  # the refused event changed nothing
    snapshot = await sender.board()
    assert sorted(n["text"] for n in snapshot["notes"]) == ["まだつながっている", "作者のメモ"]


async def test_a_dot_over_the_budget_is_refused_with_the_budget_in_the_message(api, crowd):
    board = await api.new_board(vote_budget=2, max_votes_per_note=2)
    organizer = await facilitator(api, crowd, board)
    voter = await participant(api, crowd, board, "Emma", lang="en")
    first, second = [(await add_note(organizer, text))["note"] for text in ("案A", "案B")]
    await ok(organizer, "phase:set", phase="vote")
    await ok(voter, "vote:cast", note=first)
    await ok(voter, "vote:cast", note=second)

    answer = await voter.call("vote:cast", {"op": op(), "note": first})

    assert answer["ok"] is False and answer["error"]["code"] == "over_budget"
    assert "2" in answer["error"]["message"]
    assert voter.connected
    await ok(voter, "vote:retract", note=second)
    await ok(voter, "vote:cast", note=first)  # moving a dot within the budget is fine
    assert (await voter.board())["votes"]["mine"] == {first: 2}


@pytest.mark.parametrize("code, event, message", [
    ("wrong_phase", "vote:cast", "This is not possible in the current phase."),
    ("forbidden", "phase:set", "Only the facilitator can do this."),
])
async def test_error_messages_are_in_the_participants_language(api, crowd, code, event, message):
    board = await api.new_board()
    japanese = await participant(api, crowd, board, "花子", lang="ja")
    english = await participant(api, crowd, board, "Emma", lang="en")
    data = {"op": op(), "note": "n1", "phase": "vote"}

    in_japanese = await japanese.call(event, data)
    in_english = await english.call(event, {**data, "op": op()})

    assert in_japanese["error"]["code"] == in_english["error"]["code"] == code
    assert in_english["error"]["message"] == message
    assert in_japanese["error"]["message"].strip()
    if translated_in_japanese(message):
        assert JAPANESE.search(in_japanese["error"]["message"]), in_japanese
        assert in_japanese["error"]["message"] != message
    else:
        print(f"\n(ja catalog has no translation yet for {message!r}; Japanese not asserted)")


# ---------------------------------------------------------------- reconnect and replay

async def test_reconnecting_with_since_gets_exactly_the_missed_events_and_no_snapshot(api, crowd):
    board = await api.new_board()
    phone = await participant(api, crowd, board, "スマホの人")
    laptop = await participant(api, crowd, board, "PCの人")
    await add_note(laptop, "最初のメモ")
    await phone.board()
    seen = max(phone.seqs())
    token = phone.token
    await phone.leave()

    missed = [await add_note(laptop, f"見逃したメモ{n}", zone=f"z{n}") for n in (1, 2, 3)]
    back = await crowd("スマホの人（再接続）").join(api.server.base, {"token": token, "since": seen})
    snapshot = await back.board()  # the ack comes after whatever the join sent

    assert back.snapshots == []
    assert back.seqs() == [seen + 1, seen + 2, seen + 3] == [answer["seq"] for answer in missed]
    assert [e["type"] for e in back.events] == ["note:added"] * 3
    assert [e["data"]["text"] for e in back.events] == ["見逃したメモ1", "見逃したメモ2", "見逃したメモ3"]
    assert snapshot["seq"] == seen + 3 and len(snapshot["notes"]) == 4


async def test_reconnecting_while_nothing_changed_gets_nothing(api, crowd):
    board = await api.new_board()
    hanako = await participant(api, crowd, board, "花子")
    seen = (await add_note(hanako, "メモ"))["seq"]
    again = await crowd("again").join(api.server.base, {"token": hanako.token, "since": seen})
    await again.board()
    assert again.snapshots == [] and again.events == []


@pytest.mark.parametrize("since", [-1, "3", 2.5, True, None, 10_000, {"seq": 1}],
                         ids=["negative", "text", "fraction", "boolean", "null", "ahead of the board", "object"])
async def test_reconnecting_with_an_unusable_since_gets_a_fresh_snapshot(api, crowd, since):
    board = await api.new_board()
    writer = await participant(api, crowd, board, "花子")
    last = [await add_note(writer, f"メモ{n}") for n in range(3)][-1]

    back = await crowd("back").join(api.server.base, {"token": writer.token, "since": since})
    await until(lambda: back.snapshots, "a snapshot instead of a replay")

    assert back.events == []
    assert back.snapshots[0]["seq"] == last["seq"]
    assert len(back.snapshots[0]["notes"]) == 3


async def test_reconnecting_far_behind_gets_a_snapshot_instead_of_a_replay(fast_server, crowd):
    api = Api(fast_server)
    try:
        board = await api.new_board()
        writers = await asyncio.gather(*(participant(api, crowd, board, f"書く人{n}") for n in range(10)))
        late = await api.new_participant(board, "遅れて来た人")
        # 1,010 notes: more than the server replays (REPLAY_LIMIT = 1000)
        await asyncio.gather(*(add_note(w, f"{w.label}のメモ{n}") for w in writers for n in range(101)))
        back = await crowd("late").join(api.server.base, {"token": late["token"], "since": 1})
        await until(lambda: back.snapshots, "a snapshot for a client too far behind")
        assert back.events == []
        assert back.snapshots[0]["seq"] == 1010
        assert len(back.snapshots[0]["notes"]) == 1010
    finally:
        await api.close()


async def test_replay_survives_a_note_hidden_then_deleted_by_the_facilitator(api, crowd):
    board = await api.new_board()
    organizer = await facilitator(api, crowd, board)
    phone = await participant(api, crowd, board, "スマホの人")
    seen = (await add_note(phone, "ふつうのメモ"))["seq"]
    await phone.leave()
    rude = await add_note(organizer, "不適切なメモ")
    await ok(organizer, "note:hide", note=rude["note"], hidden=True)
    await ok(organizer, "note:delete", note=rude["note"])
    later = await add_note(organizer, "あとのメモ")

    back = await crowd("スマホの人（再接続）").join(api.server.base, {"token": phone.token, "since": seen})
    snapshot = await back.board()

    assert back.seqs() == list(range(seen + 1, later["seq"] + 1))  # every seq, so no gap to worry about
    assert "不適切なメモ" not in back.wire()  # the moderated text is not replayed
    assert [n["text"] for n in snapshot["notes"]] == ["ふつうのメモ", "あとのメモ"]


# ---------------------------------------------------------------- restart recovery

@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["terminated", "killed"])
async def test_acknowledged_notes_and_dots_survive_a_server_restart(tmp_path, crowd, how):
    server = TaiwaServer(prepare_workshop(tmp_path / "taiwa.sqlite3"), tmp_path / "server.log")
    await asyncio.to_thread(server.start)
    api = Api(server)
    try:
        board = await api.new_board(vote_budget=5, max_votes_per_note=3)
        organizer = await facilitator(api, crowd, board)
        hanako = await participant(api, crowd, board, "花子")
        taro = await participant(api, crowd, board, "太郎")
        notes = [(await add_note(hanako, "子ども食堂を広げたい", zone="z3"))["note"],
                 (await add_note(hanako, "夜道が暗い", zone="z2"))["note"],
                 (await add_note(taro, "商店街のお祭り", zone="z1"))["note"]]
        await ok(organizer, "phase:set", phase="vote")
        for voter, note in ((hanako, notes[0]), (hanako, notes[0]), (hanako, notes[2]), (taro, notes[0]),
                            (taro, notes[1])):
            last = await ok(voter, "vote:cast", note=note)
        before = await organizer.board()
        assert before["tallies"][notes[0]]["online"] == 3
        participant_tokens = {hanako.label: hanako.token, taro.label: taro.token}

        await asyncio.to_thread(server.stop, how)  # right after the last ack
        await asyncio.gather(*(m.leave() for m in (organizer, hanako, taro)), return_exceptions=True)
        await asyncio.to_thread(server.start)  # same database file, same port

        again = await facilitator(api, crowd, board)
        await until(lambda: again.snapshots, "a snapshot after the restart")
        after = again.snapshots[0]
        assert after["seq"] == last["seq"]
        assert after["phase"] == "vote"
        assert {n["id"]: n["text"] for n in after["notes"]} == {n["id"]: n["text"] for n in before["notes"]}
        assert {note: tally["online"] for note, tally in after["tallies"].items()} == {
            notes[0]: 3, notes[1]: 1, notes[2]: 1}
        assert after["votes"]["voters"] == 2
        # participants come back with their tokens: their dots are still theirs, and seq continues
        hanako_again = await crowd("花子").join(server.base, {"token": participant_tokens["花子"]})
        mine = (await hanako_again.board())["votes"]
        assert mine["mine"] == {notes[0]: 2, notes[2]: 1} and mine["used"] == 3
        assert (await add_note(again, "会場で出た意見（代理入力）"))["seq"] == last["seq"] + 1
        assert (await ok(hanako_again, "vote:cast", note=notes[1]))["seq"] == last["seq"] + 2
    finally:
        await api.close()
        await asyncio.to_thread(server.stop)
        print(f"\nrestart ({how.name}) server log: {server.log_path}")


# ---------------------------------------------------------------- voting privacy

async def test_participants_see_how_many_voted_but_not_who_voted_for_what_until_reveal(api, crowd):
    board = await api.new_board()
    organizer = await facilitator(api, crowd, board)
    hanako = await participant(api, crowd, board, "花子")
    taro = await participant(api, crowd, board, "太郎")
    watcher = await participant(api, crowd, board, "見ている人")
    park = (await add_note(taro, "公園を広くしたい"))["note"]
    bus = (await add_note(watcher, "バスを増やしたい", zone="z2"))["note"]
    await ok(organizer, "phase:set", phase="vote")

    await ok(hanako, "vote:cast", note=park)
    await ok(hanako, "vote:cast", note=park)
    cast = await ok(taro, "vote:cast", note=bus)
    await asyncio.sleep(0.6)  # dots are coalesced into progress messages at most every 0.2 s
    await asyncio.gather(*(m.board() for m in (organizer, hanako, taro, watcher)))

    for member in (hanako, taro, watcher):
        progress = [e for e in member.events if e["type"] == "votes:progress"]
        assert 1 <= len(progress) <= 3, (member.label, member.events)
        for event in progress:
            assert set(event["data"]) == {"voters", "participants"}, event
        # coalesced messages cover every seq: each starts right after the previous one ends
        covered = [(e.get("from", e["seq"]), e["seq"]) for e in progress]
        assert all(b[0] == a[1] + 1 for a, b in zip(covered, covered[1:])), covered
        assert covered[-1][1] == cast["seq"]
        assert progress[-1]["data"]["voters"] == 2
        assert progress[-1]["data"]["participants"] == 3
        assert park not in json.dumps(progress) and bus not in json.dumps(progress)
        for other in (hanako, taro):
            assert other.participant_id not in member.wire()
    snapshot = await watcher.board()
    assert "tallies" not in snapshot and "results" not in snapshot
    assert snapshot["votes"]["voters"] == 2
    assert (await hanako.board())["votes"]["mine"] == {park: 2}
    # the facilitator sees the tallies live
    facilitator_progress = [e for e in organizer.events if e["type"] == "votes:progress"]
    # coalesced: the last message for each note carries its current tally
    final = {e["data"]["note"]: e["data"]["online"] for e in facilitator_progress}
    assert final == {park: 2, bus: 1}
    assert facilitator_progress[-1]["seq"] == cast["seq"]

    revealed = await ok(organizer, "votes:reveal", revealed=True)
    await until(lambda: revealed["seq"] in watcher.seqs(), "the reveal reaches participants")
    shown = await watcher.board()
    assert shown["revealed"] is True
    assert {note: tally["online"] for note, tally in shown["tallies"].items()} == {park: 2, bus: 1}
    assert [(r["id"], r["total"]) for r in shown["results"]] == [(park, 2), (bus, 1)]
    for other in (hanako, taro):
        assert other.participant_id not in watcher.wire()


async def test_anonymous_board_shows_no_names_to_other_participants(api, crowd):
    board = await api.new_board(anonymous=True)
    hanako = await participant(api, crowd, board, "匿名希望の花子")
    taro = await participant(api, crowd, board, "太郎")
    note = await add_note(hanako, "言いにくいけれど大事なこと")
    await until(lambda: note["seq"] in taro.seqs(), "the note reaches the other participant")
    snapshot = await taro.board()
    assert [n["text"] for n in snapshot["notes"]] == ["言いにくいけれど大事なこと"]
    assert "匿名希望の花子" not in taro.wire()
    assert hanako.participant_id not in taro.wire()


async def test_private_writing_sends_others_only_that_a_note_exists(api, crowd):
    board = await api.new_board(private_writing=True)
    organizer = await facilitator(api, crowd, board)
    hanako = await participant(api, crowd, board, "花子")
    taro = await participant(api, crowd, board, "太郎")
    note = await add_note(hanako, "まだ秘密の下書き", zone="z2")
    await asyncio.gather(*(m.board() for m in (organizer, hanako, taro)))

    seen_by_taro = [(e["type"], e["data"]) for e in taro.events if e["seq"] == note["seq"]]
    assert seen_by_taro == [("note:added", {"id": note["note"], "zone": "z2", "private": True})]
    assert "まだ秘密の下書き" not in taro.wire()
    assert (await taro.board())["others_writing"]["z2"] == 1
    assert [e["data"]["text"] for e in organizer.events if e["seq"] == note["seq"]] == ["まだ秘密の下書き"]
    await ok(organizer, "phase:set", phase="group")
    assert [n["text"] for n in (await taro.board())["notes"]] == ["まだ秘密の下書き"]


# ---------------------------------------------------------------- nothing sensitive

async def test_registrations_and_accommodation_needs_never_travel_on_the_board(api, crowd):
    secret, email, name = "SECRET-ALLERGY", "hanako.secret@example.jp", "秘密山 花子"
    registered = await api.http.post(
        f"/api/sessions/{api.server.workshop.session_id}/registrations",
        json={"name": name, "email": email, "mode": "in_person", "consent_sensitive": True,
              "children": [{"age_months": 36, "notes": f"{secret}: 卵と小麦"}],
              "accommodations": [{"code": "sign_language", "note": f"{secret}: 前の席を希望"}]})
    assert registered.status_code == 201, registered.text
    board = await api.new_board()
    organizer = await facilitator(api, crowd, board)
    people = [await participant(api, crowd, board, n) for n in ("花子", "太郎")]
    note = await add_note(people[0], "子育て世代の居場所")
    await add_note(organizer, "会場からの意見")
    await ok(organizer, "phase:set", phase="vote")
    await ok(people[1], "vote:cast", note=note["note"])
    await ok(organizer, "votes:reveal", revealed=True)
    late = await participant(api, crowd, board, "遅れて来た人")
    await asyncio.gather(*(m.board() for m in (organizer, *people, late)))

    for member in (organizer, *people, late):
        wire = member.wire()
        assert member.received, member.label
        assert secret not in wire and email not in wire and name not in wire, member.label
        assert "卵と小麦" not in wire and "前の席を希望" not in wire


# ---------------------------------------------------------------- bursts (TAIWA_RATE_LIMITS=off)

def out_of_order(seqs: list[int]) -> list[tuple[int, int]]:
    """Neighbouring events that arrived in the wrong order."""
    return [(a, b) for a, b in zip(seqs, seqs[1:]) if b < a]


async def test_a_burst_of_notes_from_fifty_participants_reaches_everyone(fast_server, crowd):
    api = Api(fast_server)
    try:
        board = await api.new_board()
        people = list(await asyncio.gather(*(participant(api, crowd, board, f"参加者{n:02d}") for n in range(50))))
        organizer = await facilitator(api, crowd, board)

        answers = await asyncio.gather(*(
            person.call("note:add", {"op": op(), "zone": f"z{n % 3 + 1}", "text": f"{person.label}の意見{n}"})
            for person in people for n in range(2)))

        assert all(answer["ok"] for answer in answers), [a for a in answers if not a["ok"]][:3]
        assert sorted(answer["seq"] for answer in answers) == list(range(1, 101))
        assert len({answer["note"] for answer in answers}) == 100
        everyone = [*people, organizer]
        snapshots = await asyncio.gather(*(member.board() for member in everyone))
        assert all(len(s["notes"]) == 100 and s["seq"] == 100 for s in snapshots)
        counts = [len(member.seqs("note:added")) for member in everyone]
        swapped = {member.label: out_of_order(member.seqs()) for member in everyone if out_of_order(member.seqs())}
        print(f"\nburst: 100 acks ok, seqs 1..100; note events per client min {min(counts)} max {max(counts)}; "
              f"{len(swapped)} of {len(everyone)} clients got some out of seq order")
        for member in everyone:
            assert sorted(member.seqs()) == list(range(1, 101)), member.label  # no gap, nothing twice
        assert swapped == {}  # and in seq order, so no client mistakes a late event for a gap
    finally:
        await api.close()


async def test_events_stay_in_seq_order_while_people_write_and_refresh(fast_server, crowd):
    api = Api(fast_server)
    try:
        board = await api.new_board("順番")
        people = list(await asyncio.gather(*(participant(api, crowd, board, f"参加者{n:02d}") for n in range(50))))
        done = asyncio.Event()

        async def refresh(person: Member) -> None:
            while not done.is_set():
                await person.call("board:snapshot")

        async def write(person: Member) -> None:
            for n in range(8):
                await add_note(person, f"{person.label}の意見{n}")

        refreshing = [asyncio.create_task(refresh(person)) for person in people[:25]]
        await asyncio.gather(*(write(person) for person in people))
        done.set()
        await asyncio.gather(*refreshing)
        await asyncio.gather(*(person.board() for person in people))

        swaps = {person.label: out_of_order(person.seqs()) for person in people if out_of_order(person.seqs())}
        print(f"\nwrite and refresh: 400 notes; {len(swaps)} of 50 clients saw events out of seq order")
        for person in people:
            assert sorted(person.seqs()) == list(range(1, 401)), person.label  # none lost, none twice
        assert swaps == {}
    finally:
        await api.close()


async def test_a_burst_of_dots_keeps_exact_tallies_while_people_refresh(fast_server, crowd):
    api = Api(fast_server)
    try:
        for round_ in range(1, 4):  # a few boards: the double count needs two tasks to interleave
            board = await api.new_board(f"投票{round_}", vote_budget=5, max_votes_per_note=5)
            organizer = await facilitator(api, crowd, board)
            people = list(await asyncio.gather(*(participant(api, crowd, board, f"投票者{n:02d}") for n in range(30))))
            notes = [(await add_note(organizer, f"案{n}"))["note"] for n in range(5)]
            await ok(organizer, "phase:set", phase="vote")

            async def vote_and_look(person: Member, index: int) -> list[dict[str, Any]]:
                answers = []
                for n in range(5):
                    answers.append(await person.call("vote:cast", {"op": op(), "note": notes[(index + n) % 5]}))
                    await person.call("board:snapshot")
                return answers

            answers = [a for batch in await asyncio.gather(*(vote_and_look(p, i) for i, p in enumerate(people)))
                       for a in batch]

            snapshot = await organizer.board()
            live = {note: tally["online"] for note, tally in snapshot["tallies"].items() if tally["online"]}
            logged = dots_in_the_log(fast_server.workshop.db_path, board["id"])
            refused = [a["error"]["code"] for a in answers if not a["ok"]]
            print(f"\ndots, round {round_}: {150 - len(refused)} acked, {len(refused)} refused "
                  f"{sorted(set(refused))}; live tallies {[live.get(n, 0) for n in notes]}, "
                  f"logged {[logged.get(n, 0) for n in notes]}")
            assert live == logged  # what everyone is shown is what was committed
            assert refused == []  # nobody went over their budget of 5 dots
            assert live == {note: 30 for note in notes}
            assert snapshot["votes"]["voters"] == 30
    finally:
        await api.close()


async def test_a_burst_of_dots_reaches_participants_as_one_progress_message_and_the_facilitator_per_note(
        fast_server, crowd):
    api = Api(fast_server)
    try:
        board = await api.new_board(vote_budget=5, max_votes_per_note=5)
        organizer = await facilitator(api, crowd, board)
        notes = [(await add_note(organizer, f"案{n}"))["note"] for n in range(5)]
        await ok(organizer, "phase:set", phase="vote")
        people = await asyncio.gather(*(participant(api, crowd, board, f"投票者{n}") for n in range(10)))
        acks = await asyncio.gather(*(ok(person, "vote:cast", note=note) for person in people for note in notes))
        last = max(a["seq"] for a in acks)
        await until(lambda: all(p.events and p.events[-1]["seq"] >= last for p in [*people, organizer]),
                    "the dots' progress reached everyone")
        watcher = people[0]
        progress = [e for e in watcher.events if e["type"] == "votes:progress"]
        assert progress[-1]["data"] == {"voters": 10, "participants": 10}  # how many voted, not for what
        assert len(progress) < len(notes)  # 50 dots on 5 notes: not one message per note per flush
        tallies: dict[str, int] = {}
        for event in organizer.events:
            if event["type"] == "votes:progress":
                tallies[event["data"]["note"]] = event["data"]["online"]
        assert tallies == {note: 10 for note in notes}  # the facilitator follows every note's count
    finally:
        await api.close()
