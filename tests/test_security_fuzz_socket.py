"""The live board under attack: hypothesis-driven random event streams against /board on a real
`taiwa serve` (uvicorn) with real python-socketio clients over websocket.

Each example creates a board, connects two participants and the facilitator (who send the stream)
and two silent followers (a facilitator and a participant), then sends known and unknown events
with junk payloads: wrong types, huge and empty strings, nested junk, lone surrogates, integers
beyond 2**63, NaN, missing, reused and malformed op ids. What must hold, as a user would notice:
every emit gets an ack ({ok: true} or {ok: false, error: {code, message}}), the sender stays
connected, the server never logs an unhandled error, the state each follower built from the
`event` stream equals a fresh client's snapshot, events cover every seq without a gap, and the
board's event log in SQLite is contiguous.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from random import Random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp  # noqa: F401 - python-socketio's AsyncClient needs it for its websocket transport
import httpx
import pytest
import socketio
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from realtime.board import ALLOWED_PHASES, COLORS, FACILITATOR_ONLY, PHASES, POLL_COMMANDS
from tests.harness import fresh_database, TaiwaServer, prepare_workshop, read_db

pytestmark = pytest.mark.database  # its servers run on the run's engine (fresh_database)

NS = "/board"
EXAMPLES = int(os.environ.get("TAIWA_FUZZ_EXAMPLES", "50"))
DERANDOMIZE = not os.environ.get("TAIWA_FUZZ_RANDOM")  # the same streams every `make test`; =1 explores
KNOWN_EVENTS = sorted(FACILITATOR_ONLY | set(ALLOWED_PHASES) | POLL_COMMANDS | {"board:snapshot"})
# Names the socket.io server itself raises; clients sending them get an error ack (tested below too).
RESERVED = {"connect", "disconnect"}
STATS: dict[str, int] = {"examples": 0, "emits": 0, "ok": 0, "refused": 0}
ANSWERS: Counter[str] = Counter()  # event: ok or error code, for the summary


# ---------------------------------------------------------------- what is sent

class New:
    """A fresh op id, made when the event is sent (so every example has its own)."""


MISSING = object()  # the key is left out

surrogates = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3)
huge_ints = st.sampled_from([2**63, 2**64 + 1, -(2**63) - 1, 10**30])
junk_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), huge_ints, st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), surrogates.map(lambda s: f"a{s}b"), st.just(""), st.just("   "),
)
junk = st.recursive(junk_leaf, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                    max_leaves=10)
huge_text = st.sampled_from(["x" * 501, "あ" * 1200, "x" * 30_000, "長" * 101])
words = st.sampled_from(["公園のベンチ", "バス停に屋根", "ｶﾞｯｺｳ", "ＡＢＣ", "子ども食堂", "  夜道が暗い  ", "a\u0000b",
                         "🙂", "<script>alert(1)</script>", "=HYPERLINK(\"x\")"])
text = st.one_of(words, st.text(max_size=40), huge_text, surrogates.map(lambda s: f"メモ{s}"))


def ids(prefix: str, top: int = 20) -> st.SearchStrategy[str]:
    return st.integers(1, top).map(lambda n: f"{prefix}{n}")


options = st.sampled_from(["o1", "o2", "o3", "o4", "o9"])


def field(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a value the server could accept, sometimes junk of any type."""
    return st.one_of(plausible, plausible, plausible, junk)


FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "zone": field(st.sampled_from(["z1", "z2", "z3", "z9"])),
    "text": field(text),
    "color": field(st.sampled_from([*COLORS, "black"])),
    "note": field(ids("n")),
    "group": field(st.one_of(ids("g"), st.none())),
    "into": field(ids("g")),
    "title": field(text),
    "phase": field(st.sampled_from(PHASES)),
    "seconds": field(st.integers(-10, 20_000)),
    "locked": field(st.booleans()),
    "revealed": field(st.booleans()),
    "hidden": field(st.booleans()),
    "count": field(st.integers(-3, 100_002)),
    "on_behalf": field(st.booleans()),
    "type": field(st.sampled_from(["single_choice", "multiple_choice", "scale", "ranking", "text", "likert",
                                   "fist_to_five", "essay"])),
    "question": field(st.one_of(ids("q"), text)),
    "options": field(st.lists(st.one_of(words, st.text(max_size=8)), max_size=14)),
    "max_choices": field(st.integers(-1, 14)),
    "live_results": field(st.booleans()),
    "anonymous": field(st.booleans()),
    "poll": field(st.integers(1, 20).map(lambda n: f"b1p{n}")),
    "choice": field(options),
    "value": field(st.integers(-1, 6)),
    "choices": field(st.lists(options, max_size=5)),
    "ranking": field(st.lists(options, max_size=5)),
    "counts": field(st.dictionaries(options, st.integers(-2, 100_001), max_size=4)),
    "action": field(st.sampled_from(["approve", "hide", "answered", "unanswered", "pin", "unpin", "delete"])),
    "moderation": field(st.sampled_from(["pre", "post", "none"])),
}
op_ids = st.one_of(st.just(New), st.just(New), st.just(New), st.just(New), st.sampled_from(["same-1", "same-2"]),
                   st.just(MISSING), st.sampled_from(["", "x" * 101, 7, None, ["op"], {"op": 1}, True, 2**64]))
payloads = st.one_of(
    st.tuples(op_ids, st.fixed_dictionaries({}, optional=FIELDS)).map(lambda pair: _with_op(*pair)),
    st.tuples(op_ids, st.fixed_dictionaries({}, optional=FIELDS), st.dictionaries(st.text(max_size=8), junk,
                                                                                  max_size=3))
    .map(lambda triple: _with_op(triple[0], {**triple[2], **triple[1]})),
    junk.filter(lambda value: not isinstance(value, dict)),  # not an object at all
)
names = st.one_of(st.sampled_from(KNOWN_EVENTS), st.text(max_size=24),
                  st.sampled_from(["note:explode", "message", "snapshot", "event", "__proto__", "poll:delete",
                                   "board:snapshot ", "NOTE:ADD"]))
boards = st.fixed_dictionaries({"anonymous": st.booleans(), "private_writing": st.booleans(),
                                "vote_budget": st.integers(3, 6), "max_votes_per_note": st.integers(1, 3)})


def _with_op(op: Any, data: dict[str, Any]) -> dict[str, Any]:
    return data if op is MISSING else {**data, "op": op}


# ---------------------------------------------------------------- the server and its clients

@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaiwaServer]:
    folder = tmp_path_factory.mktemp("socket-fuzz")
    running = TaiwaServer(prepare_workshop(fresh_database(folder)), folder / "server.log", rate_limits=False)
    running.start()
    started = time.monotonic()
    try:
        yield running
    finally:
        running.stop()
        print(f"\n[socket fuzz] {STATS['examples']} streams, {STATS['emits']} emits ({STATS['ok']} ok, "
              f"{STATS['refused']} refused) in {time.monotonic() - started:.1f} s; server log {running.log_path}")
        if os.environ.get("TAIWA_FUZZ_VERBOSE"):
            print(dict(sorted(ANSWERS.items())))


def unhandled_errors(server: TaiwaServer) -> list[str]:
    return [line for line in server.log().splitlines()
            if "Traceback" in line or " ERROR" in line or "exception" in line.lower()]


class Client:
    """One connection and everything it received."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.snapshots: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.sio.on("snapshot", self.snapshots.append, namespace=NS)
        self.sio.on("event", self.events.append, namespace=NS)

    async def join(self, base: str, auth: dict[str, Any]) -> Client:
        await self.sio.connect(base, namespaces=[NS], auth=auth, transports=["websocket"], wait_timeout=15)
        return self

    @property
    def connected(self) -> bool:
        return self.sio.connected and NS in self.sio.namespaces

    async def call(self, event: str, data: Any) -> Any:
        return await self.sio.call(event, data, namespace=NS, timeout=15)

    async def board(self) -> dict[str, Any]:
        answer = await self.call("board:snapshot", None)
        assert answer["ok"], answer
        return answer["snapshot"]


class Crowd:
    """The clients of one board: senders a, b (participants) and f (facilitator), and two followers."""

    def __init__(self, server: TaiwaServer) -> None:
        self.server = server
        self.http = httpx.AsyncClient(base_url=server.base, timeout=30)
        self.organizer = {"Authorization": f"Bearer {server.workshop.api_token}"}
        self.clients: list[Client] = []

    async def board(self, settings: dict[str, Any]) -> dict[str, Any]:
        answer = await self.http.post(f"/api/sessions/{self.server.workshop.session_id}/boards", headers=self.organizer,
                                      json={"title": "ファズ", "prompts": ["良いところ", "困りごと", "やりたいこと"],
                                            **settings})
        assert answer.status_code == 201, answer.text
        return answer.json()

    async def participant(self, board: dict[str, Any], name: str) -> Client:
        joined = await self.http.post(f"/api/boards/{board['id']}/participants",
                                      json={"display_name": name, "code": board["join_code"]})
        assert joined.status_code == 201, joined.text
        return await self.connect({"token": joined.json()["token"]})

    async def facilitator(self, board: dict[str, Any]) -> Client:
        return await self.connect({"token": self.server.workshop.api_token, "board": board["id"]})

    async def connect(self, auth: dict[str, Any]) -> Client:
        client = await Client().join(self.server.base, auth)
        self.clients.append(client)
        return client

    async def close(self) -> None:
        await asyncio.gather(*(c.sio.disconnect() for c in self.clients if c.sio.connected), return_exceptions=True)
        await self.http.aclose()


# ---------------------------------------------------------------- the state a follower builds from events

def follow(snapshot: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """What a client shows after its join snapshot and every `event` since (as board.js keeps it)."""
    board: dict[str, Any] = {
        "seq": snapshot["seq"], "phase": snapshot["phase"], "locked": snapshot["locked"],
        "revealed": snapshot["revealed"], "timer": snapshot["timer"], "pinned": snapshot["pinned"],
        "qa_moderation": snapshot["qa_moderation"],
        "notes": {n["id"]: dict(n) for n in snapshot["notes"]}, "groups": {g["id"]: dict(g) for g in snapshot["groups"]},
        "polls": {p["id"]: dict(p) for p in snapshot["polls"]}, "questions": {q["id"]: dict(q) for q in snapshot["questions"]},
        "tallies": {note: dict(t) for note, t in snapshot.get("tallies", {}).items()},
    }
    notes, groups, polls, questions = board["notes"], board["groups"], board["polls"], board["questions"]
    for message in events:
        kind, data = message["type"], message["data"]
        board["seq"] = max(board["seq"], message["seq"])
        if kind == "note:added":
            notes[data["id"]] = {**notes.get(data["id"], {}), **data}
        elif kind == "note:edited" and data["id"] in notes:
            notes[data["id"]].update(data)
        elif kind == "note:moved" and data["id"] in notes:
            notes[data["id"]].update(zone=data["zone"], group=None)
        elif kind == "note:deleted":
            notes.pop(data["id"], None)
            board["tallies"].pop(data["id"], None)
        elif kind == "note:hidden" and data["id"] in notes:
            notes[data["id"]]["hidden"] = data["hidden"]
        elif kind == "note:grouped" and data["id"] in notes:
            notes[data["id"]]["group"] = data["group"]
        elif kind == "note:ungrouped" and data["id"] in notes:
            notes[data["id"]]["group"] = None
        elif kind == "group:created":
            groups[data["id"]] = {"id": data["id"], "zone": data["zone"], "title": data["title"]}
        elif kind == "group:renamed":
            groups[data["id"]]["title"] = data["title"]
        elif kind in ("group:merged", "group:split"):
            for note in notes.values():
                if note.get("group") == data["id"]:
                    note["group"] = data.get("into")
            groups.pop(data["id"], None)
        elif kind == "votes:progress" and "note" in data:
            board["tallies"][data["note"]] = {"online": data["online"], "proxy": data["proxy"]}
        elif kind == "phase:changed":
            board["phase"] = data["phase"]
        elif kind == "board:locked":
            board["locked"] = data["locked"]
        elif kind == "votes:revealed":
            board["revealed"] = data["revealed"]
        elif kind == "timer:started":
            board["timer"] = {"ends_at": data["ends_at"], "seconds": data["seconds"]}
        elif kind == "timer:stopped":
            board["timer"] = None
        elif kind in ("poll:created", "poll:status"):
            polls[data["id"]] = {**polls.get(data["id"], {}), **data}
        elif kind in ("poll:progress", "poll:revealed", "poll:room_counts") and data["poll"] in polls:
            polls[data["poll"]].update({key: value for key, value in data.items() if key != "poll"})
        elif kind.startswith("question:"):
            if data.get("status") == "hidden" and "text" not in data:
                questions.pop(data["id"], None)
            else:
                questions[data["id"]] = {**questions.get(data["id"], {}), **data}
            if data.get("pinned"):
                board["pinned"] = data["id"]
            elif board["pinned"] == data["id"]:
                board["pinned"] = None
        elif kind == "qa:moderation_set":
            board["qa_moderation"] = data["moderation"]
    return board


def comparable(board: dict[str, Any], *, facilitator: bool) -> dict[str, Any]:
    """The parts of a board a person sees, from a follower's state or a snapshot (as `follow` keeps it)."""
    poll_fields = ("status", "respondents", "revealed", "question", "type")
    shown = {
        "phase": board["phase"], "locked": board["locked"], "revealed": board["revealed"], "timer": board["timer"],
        "pinned": board["pinned"], "qa_moderation": board["qa_moderation"],
        "notes": {i: (n["zone"], n.get("text"), n.get("group"), n.get("hidden", False))
                  for i, n in board["notes"].items()},
        "groups": {i: (g["zone"], g["title"]) for i, g in board["groups"].items()},
        "polls": {i: tuple(p.get(k) for k in poll_fields) for i, p in board["polls"].items()},
        "questions": {i: (q["text"], q["votes"], q["answered"], q["status"]) for i, q in board["questions"].items()},
    }
    if facilitator:
        shown["tallies"] = {note: t for note, t in board["tallies"].items() if t["online"] or t["proxy"]}
    return shown


def as_followed(snapshot: dict[str, Any]) -> dict[str, Any]:
    return follow(snapshot, [])


def covered_seqs(events: list[dict[str, Any]]) -> list[int]:
    """Every seq the events speak for (a coalesced progress message covers `from`..`seq`)."""
    return sorted(seq for e in events for seq in range(e.get("from", e["seq"]), e["seq"] + 1))


def logged_seqs(db_path: Path, board_id: int) -> list[int]:
    return [row[0] for row in read_db(db_path, "select seq from board_events where board_id = ? order by seq",
                                      (board_id,))]


# ---------------------------------------------------------------- the attack

def check_ack(answer: Any, what: str) -> bool:
    """An ack as the contract has it; True when it is ok."""
    assert isinstance(answer, dict), f"{what}: the ack is not an object: {answer!r}"
    if answer.get("ok") is True:
        return True
    assert answer.get("ok") is False, f"{what}: {answer!r}"
    error = answer.get("error")
    assert isinstance(error, dict) and isinstance(error.get("code"), str) and error["code"], f"{what}: {answer!r}"
    assert isinstance(error.get("message"), str) and error["message"].strip(), f"{what}: {answer!r}"
    return False


class Live:
    """Ids the board has now (from acks), so that many commands reach real notes, clusters, polls, questions."""

    def __init__(self, board_id: int) -> None:
        self.board_id = board_id
        self.notes: list[str] = []
        self.groups: list[str] = []
        self.polls: list[str] = []
        self.questions: list[str] = []

    def learn(self, event: str, answer: dict[str, Any]) -> None:
        made = answer.get("note") or answer.get("group") or answer.get("id")
        kept = {"note:add": self.notes, "group:set": self.groups, "poll:create": self.polls,
                "question:ask": self.questions}.get(event)
        if answer.get("ok") and isinstance(made, str) and kept is not None:
            kept.append(made)

    def pick(self, r: Random, known: list[str], prefix: str) -> str:
        return r.choice(known) if known and r.random() < 0.85 else f"{prefix}{r.randint(1, 30)}"


def plausible(r: Random, live: Live, event: str) -> dict[str, Any]:
    """A payload the rules could accept for this event (ids of things that exist, sensible values)."""
    note, group = live.pick(r, live.notes, "n"), live.pick(r, live.groups, "g")
    poll, question = live.pick(r, live.polls, f"b{live.board_id}p"), live.pick(r, live.questions, "q")
    text = r.choice(["公園のベンチ", "バス停に屋根", "夜道が暗い", "子ども食堂", "ｶﾞｯｺｳ", "Park"])
    answer = r.choice([{"choice": r.choice(["o1", "o2", "o3"])}, {"choices": r.sample(["o1", "o2", "o3"], 2)},
                       {"ranking": r.sample(["o1", "o2", "o3"], 3)}, {"text": text}, {"value": r.randint(0, 5)}])
    return {
        "note:add": {"zone": r.choice(["z1", "z2", "z3"]), "text": text, "color": r.choice(COLORS)},
        "note:edit": {"note": note, "text": text + "!"}, "note:move": {"note": note, "zone": r.choice(["z1", "z2"])},
        "note:delete": {"note": note}, "note:hide": {"note": note, "hidden": r.random() < 0.6},
        "group:set": r.choice([{"note": note, "title": text}, {"note": note, "group": group},
                               {"note": note, "group": None}]),
        "group:rename": {"group": group, "title": text}, "group:split": {"group": group},
        "group:merge": {"group": group, "into": live.pick(r, live.groups, "g")},
        "vote:cast": {"note": note}, "vote:retract": {"note": note}, "proxy:vote": {"note": note, "count": r.randint(0, 9)},
        "phase:set": {"phase": r.choice(PHASES[:4])}, "timer:start": {"seconds": r.randint(10, 600)},
        "board:lock": {"locked": r.random() < 0.3}, "votes:reveal": {"revealed": r.random() < 0.6},
        "poll:create": {"type": r.choice(["single_choice", "multiple_choice", "scale", "ranking", "text", "likert",
                                          "fist_to_five"]), "question": text + "？", "options": ["はい", "いいえ", "未定"],
                        "live_results": r.random() < 0.5, "anonymous": r.random() < 0.7},
        "poll:open": {"poll": poll}, "poll:close": {"poll": poll}, "poll:reveal": {"poll": poll,
                                                                                   "revealed": r.random() < 0.7},
        "poll:room": {"poll": poll, "counts": {"o1": r.randint(0, 9), "o2": r.randint(0, 9)}},
        "poll:answer": {"poll": poll, **answer},
        "question:ask": {"text": text + "？", "anonymous": r.random() < 0.3},
        "question:upvote": {"question": question}, "question:unvote": {"question": question},
        "question:moderate": {"question": question, "action": r.choice(["approve", "hide", "answered", "pin",
                                                                        "unpin", "unanswered"])},
        "qa:moderation": {"moderation": r.choice(["pre", "post"])},
    }.get(event, {})


async def attack(server: TaiwaServer, settings: dict[str, Any], data: Any, steps: int) -> None:
    crowd = Crowd(server)
    r = data.draw(st.randoms(use_true_random=False), label="choices")
    try:
        board = await crowd.board(settings)
        live = Live(board["id"])
        watching_f = await crowd.facilitator(board)
        watching_p = await crowd.participant(board, "見ている人")
        senders = {"a": await crowd.participant(board, "花子"), "b": await crowd.participant(board, "Emma"),
                   "f": await crowd.facilitator(board)}
        prelude = [("a", "note:add"), ("b", "note:add"), ("f", "poll:create"), ("f", "poll:create"),
                   ("a", "question:ask"), ("b", "question:ask"), ("f", "poll:open")]
        for index in range(-len(prelude), steps):  # a board with notes, polls and questions, then the attack
            roll = r.random()
            if index < 0:
                who, event = prelude[index]
                payload = {"op": f"op-{index}", **plausible(r, live, event)}
            elif roll < 0.6:  # a command that could work, from whoever may send it (sometimes from whoever may not)
                event = r.choice(KNOWN_EVENTS)
                who = "f" if event in FACILITATOR_ONLY and r.random() < 0.85 else r.choice("ab" if r.random() < 0.8
                                                                                           else "abf")
                payload: Any = {"op": f"op-{index}", **plausible(r, live, event)}
                if r.random() < 0.3:  # one field replaced by junk
                    payload[r.choice([*payload, "op"])] = data.draw(junk, label="junk field")
                if r.random() < 0.05:
                    payload["op"] = r.choice(["same-1", "same-2"])  # a reused op: its first answer again
            else:  # anything at all
                who = r.choice("abf")
                event = data.draw(names, label="event")
                payload = data.draw(payloads, label="payload")
                if isinstance(payload, dict) and payload.get("op") is New:
                    payload["op"] = f"op-{index}"
            what = f"#{index} {who} {event!r} {json.dumps(payload, ensure_ascii=True, default=repr)[:300]}"
            sender = senders[who]
            try:
                answer = await sender.call(event, payload)
            except socketio.exceptions.TimeoutError:
                raise AssertionError(f"{what}: no ack within 15 s") from None
            STATS["emits"] += 1
            accepted = check_ack(answer, what)
            STATS["ok" if accepted else "refused"] += 1
            ANSWERS[f"{event if event in KNOWN_EVENTS else ('(unknown ' + repr(event) + ')' if accepted else '(unknown)')} {'ok' if accepted else answer['error']['code']}"] += 1
            assert sender.connected, f"{what}: the sender was disconnected"
            if accepted:
                live.learn(event, answer)
            if event == "board:snapshot" and accepted:
                assert answer["snapshot"]["board"]["id"] == board["id"]

        await asyncio.sleep(0.45)  # dots and answers are coalesced for up to 0.2 s
        for follower, facilitator in ((watching_f, True), (watching_p, False)):
            assert follower.connected
            await follower.board()  # its ack comes after every event already sent to it
            fresh = await (crowd.facilitator(board) if facilitator else crowd.participant(board, "新しく来た人"))
            snapshot = await fresh.board()
            built = follow(follower.snapshots[0], follower.events)
            assert built["seq"] == snapshot["seq"], (facilitator, built["seq"], snapshot["seq"])
            assert covered_seqs(follower.events) == list(range(1, snapshot["seq"] + 1)), "a gap in the events"
            if facilitator or not settings["private_writing"]:
                who_follows = "facilitator" if facilitator else "participant"
                assert comparable(built, facilitator=facilitator) == comparable(as_followed(snapshot),
                                                                                facilitator=facilitator), who_follows
        logged = logged_seqs(server.workshop.db_path, board["id"])
        assert logged == list(range(1, len(logged) + 1)), "the event log has a gap"
        assert len(logged) == snapshot["seq"]
    finally:
        await crowd.close()


@settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck), derandomize=DERANDOMIZE)
@given(settings_=boards, steps=st.integers(15, 45), data=st.data())
def test_random_event_streams_get_acks_keep_connections_and_leave_a_consistent_board(server, settings_, steps, data):
    STATS["examples"] += 1
    before = len(unhandled_errors(server))
    asyncio.run(attack(server, settings_, data, steps))
    assert server.process is not None and server.process.poll() is None, "the server died"
    assert unhandled_errors(server)[before:] == [], "the server logged an unhandled error"


# ---------------------------------------------------------------- known bugs outside this suite's files

async def _one_participant(server: TaiwaServer) -> tuple[Crowd, Client, dict[str, Any]]:
    crowd = Crowd(server)
    board = await crowd.board({})
    return crowd, await crowd.participant(board, "花子"), board


def test_an_op_id_with_a_lone_surrogate_is_refused_as_invalid(server):
    async def scenario() -> None:
        crowd, hanako, _board = await _one_participant(server)
        try:
            before = len(unhandled_errors(server))
            answer = await hanako.call("note:add", {"op": "a\ud800b", "zone": "z1", "text": "メモ"})
            assert answer["ok"] is False and answer["error"]["code"] == "invalid", answer
            assert hanako.connected
            await asyncio.sleep(0.2)
            assert unhandled_errors(server)[before:] == []
        finally:
            await crowd.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("name", sorted(RESERVED))
def test_an_event_named_like_socketio_s_own_gets_an_error_ack(server, name):
    async def scenario() -> None:
        crowd, hanako, board = await _one_participant(server)
        try:
            organizer = await crowd.facilitator(board)
            presence: list[dict[str, Any]] = []
            organizer.sio.on("presence", presence.append, namespace=NS)
            await organizer.board()
            try:
                answer = await hanako.sio.call(name, {"op": "x", "token": "bp_nothing"}, namespace=NS, timeout=3)
            except socketio.exceptions.TimeoutError:
                raise AssertionError(f"no ack for {name!r}") from None
            assert check_ack(answer, name) is False
            assert hanako.connected
            await hanako.board()
            await asyncio.sleep(0.2)
            assert not presence or presence[-1]["connected"] == 2, presence  # hanako and the facilitator
        finally:
            await crowd.close()

    asyncio.run(scenario())
