"""Crash recovery: a real `taiwa serve` is killed with SIGKILL at random points while socket clients add notes,
cast dots and answer polls and residents register over HTTP; it is restarted on the same SQLite file each
time. Every acknowledged operation must be there exactly once, nothing may be half-written, a resent op id
must get its original answer and add nothing, and clients that come back with `since` must end up with the
same board as a fresh snapshot. The kill points come from a seeded random generator (TAIWA_CRASH_SEED)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp  # noqa: F401 - python-socketio's AsyncClient needs it for its websocket transport
import httpx
import socketio

from sessions.registration import token_hash
from tests.harness import ServerProcess, Workshop, make_account, make_session, make_venue, prepare_workshop
from tests.harness import read_db as read

NS = "/board"
SEED = int(os.environ.get("TAIWA_CRASH_SEED", "20261123"))
ROUNDS = 5
SEATS, CHILDCARE_PLACES = 25, 4
WRITERS, VOTERS, ANSWERERS, REGISTRARS = 5, 6, 5, 4
VOTE_BUDGET = 12
POLLS = 3


# ---------------------------------------------------------------- the server and its file

def seed(db_path: Path) -> Workshop:
    """A workshop with SEATS seats and CHILDCARE_PLACES childcare places, and the facilitator's API token."""
    return prepare_workshop(db_path, title="停電に強いワークショップ", weeks=5, childcare_places=CHILDCARE_PLACES,
                            token_label="crash tests", capacity_in_person=SEATS)


class Server(ServerProcess):
    """`python -m server.cli serve` on one file and one port; killed with SIGKILL and started again."""

    def __init__(self, db_path: Path, log_path: Path) -> None:
        super().__init__(db_path, log_path, secret="crash-test-secret-0123456789abcdef",
                         env={"TAIWA_RATE_LIMITS": "off"}, ready="/api/orgs")


# ---------------------------------------------------------------- socket clients that remember what was acked

@dataclass
class Op:
    op: str
    event: str
    data: dict[str, Any]
    answer: dict[str, Any] | None = None


class Client:
    """One socket client: its ops (acked or not), the last seq it saw, and a model of the board folded from
    the snapshot and events it received (notes, online dots per note, respondents per poll)."""

    def __init__(self, label: str, token: str, actor: str, auth: dict[str, Any] | None = None) -> None:
        self.label, self.token, self.actor, self.auth = label, token, actor, auth or {}
        self.sio: socketio.AsyncClient | None = None
        self.ops: list[Op] = []
        self.pending: Op | None = None
        self.last_seq = 0
        self.notes: dict[str, str] = {}
        self.tallies: dict[str, int] = {}
        self.respondents: dict[str, int] = {}
        self.replayed: list[int] = []
        self.snapshots = 0
        self.counter = 0
        self.state: dict[str, Any] = {}  # what the workload needs to stay valid (dots per note, poll answers)

    def _snapshot(self, snap: dict[str, Any]) -> None:
        self.snapshots += 1
        self.last_seq = snap["seq"]
        self.notes = {n["id"]: n["text"] for n in snap["notes"]}
        self.tallies = {note: t["online"] for note, t in snap.get("tallies", {}).items()}
        self.respondents = {p["id"]: p["respondents"] for p in snap["polls"]}

    def _event(self, message: dict[str, Any]) -> None:
        self.replayed.append(message["seq"])
        self.last_seq = max(self.last_seq, message["seq"])
        kind, data = message["type"], message["data"]
        if kind == "note:added":
            self.notes[data["id"]] = data["text"]
        elif kind == "note:deleted":
            self.notes.pop(data["id"], None)
        elif kind == "votes:progress" and "note" in data:
            self.tallies[data["note"]] = data["online"]
        elif kind == "poll:progress":
            self.respondents[data["poll"]] = data["respondents"]

    async def connect(self, base: str, since: int | None) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("snapshot", self._snapshot, namespace=NS)
        self.sio.on("event", self._event, namespace=NS)
        self.replayed, self.snapshots = [], 0
        auth = {"token": self.token, **self.auth}
        if since is not None:
            auth["since"] = since
        await self.sio.connect(base, namespaces=[NS], auth=auth, transports=["websocket"], wait_timeout=20)

    async def drop(self) -> None:
        if self.sio is not None:
            try:
                await self.sio.disconnect()
            except Exception:  # noqa: BLE001 - the server is gone; the client only needs to forget it
                pass
            self.sio = None

    async def snapshot(self) -> dict[str, Any]:
        assert self.sio is not None
        answer = await self.sio.call("board:snapshot", None, namespace=NS, timeout=30)
        assert answer["ok"], answer
        return answer["snapshot"]

    def next_op(self, event: str, data: dict[str, Any]) -> Op:
        self.counter += 1
        return Op(f"{self.label}-{self.counter}", event, data)

    async def send(self, op: Op, timeout: float = 30) -> dict[str, Any]:
        """Send an op; it stays pending until its ack arrives (a kill leaves it pending)."""
        assert self.sio is not None
        self.pending = op
        answer = await self.sio.call(op.event, {"op": op.op, **op.data}, namespace=NS, timeout=timeout)
        assert answer.get("ok"), (self.label, op, answer)
        if op.answer is None:
            op.answer = answer
            self.ops.append(op)
        self.pending = None
        return answer


# ---------------------------------------------------------------- the workload

@dataclass
class Ledger:
    """Everything the test was told happened (acknowledged), and what was in flight at a kill."""

    registrations: dict[str, dict[str, Any]] = field(default_factory=dict)  # token -> {name, children, status}
    unacked_registrations: list[dict[str, Any]] = field(default_factory=list)
    kills: int = 0
    verified_ops: int = 0
    resent_acked: int = 0
    resent_unacked: int = 0
    resent_registrations: int = 0


async def write_notes(client: Client, round_no: int) -> None:
    zones = ["z1", "z2", "z3"]
    while True:
        op = client.pending or client.next_op("note:add", {"zone": zones[client.counter % 3],
                                                           "text": f"{client.label} 第{round_no}回 #{client.counter + 1}"})
        await client.send(op)


def vote_op(client: Client, notes: list[str], rng: random.Random) -> Op:
    """A dot cast while the budget lasts, then one taken back, so no op is ever refused."""
    dots: Counter[str] = client.state.setdefault("dots", Counter())
    used = sum(dots.values())
    if used < VOTE_BUDGET and (used == 0 or rng.random() < 0.7):
        candidates = [n for n in notes if dots[n] < VOTE_BUDGET]
        return client.next_op("vote:cast", {"note": rng.choice(candidates)})
    return client.next_op("vote:retract", {"note": rng.choice([n for n in notes if dots[n] > 0])})


def account_vote(client: Client, op: Op) -> None:
    dots: Counter[str] = client.state.setdefault("dots", Counter())
    dots[op.data["note"]] += 1 if op.event == "vote:cast" else -1


async def cast_dots(client: Client, notes: list[str], rng: random.Random) -> None:
    while True:
        op = client.pending or vote_op(client, notes, rng)
        await client.send(op)
        account_vote(client, op)


def answer_op(client: Client, polls: list[dict[str, Any]]) -> Op:
    """An answer that always differs from this client's current one (so each ack is one logged event)."""
    answers: dict[str, str] = client.state.setdefault("answers", {})
    poll = polls[client.counter % len(polls)]
    options = [o["id"] for o in poll["options"]]
    current = answers.get(poll["id"])
    choice = options[(options.index(current) + 1) % len(options)] if current else options[client.counter % len(options)]
    return client.next_op("poll:answer", {"poll": poll["id"], "choice": choice})


async def answer_polls(client: Client, polls: list[dict[str, Any]]) -> None:
    while True:
        op = client.pending or answer_op(client, polls)
        await client.send(op)
        client.state.setdefault("answers", {})[op.data["poll"]] = op.data["choice"]


async def register(http: httpx.AsyncClient, session_id: int, ledger: Ledger, lane: int, round_no: int) -> None:
    n = 0
    while True:
        n += 1
        name = f"登録者 {round_no}-{lane}-{n}"
        body: dict[str, Any] = {"name": name, "email": f"r{round_no}-{lane}-{n}@example.jp", "mode": "in_person"}
        children = 1 if n % 3 == 0 else 0
        if children:
            body.update(children=[{"age_months": 30, "notes": "卵アレルギー"}], consent_sensitive=True,
                        accommodations=[{"code": "sign_language"}])
        in_flight = {"name": name, "children": children, "body": body, "key": f"reg-{round_no}-{lane}-{n}"}
        ledger.unacked_registrations.append(in_flight)  # until its 201 arrives (a kill leaves it here)
        answer = await http.post(f"/api/sessions/{session_id}/registrations", json=body,
                                 headers={"Idempotency-Key": in_flight["key"]})
        assert answer.status_code == 201, answer.text
        ledger.unacked_registrations.remove(in_flight)
        ledger.registrations[answer.json()["token"]] = {"name": name, "children": children,
                                                        "status": answer.json()["status"]}


async def resend_registrations(http: httpx.AsyncClient, session_id: int, ledger: Ledger) -> None:
    """Registrations whose answer was lost at a kill are sent again with their key, as a phone would:
    each is then there exactly once, whichever side of the kill it fell."""
    for in_flight in list(ledger.unacked_registrations):
        answer = await http.post(f"/api/sessions/{session_id}/registrations", json=in_flight["body"],
                                 headers={"Idempotency-Key": in_flight["key"]})
        assert answer.status_code == 201, answer.text
        ledger.unacked_registrations.remove(in_flight)
        ledger.resent_registrations += 1
        ledger.registrations[answer.json()["token"]] = {"name": in_flight["name"], "children": in_flight["children"],
                                                        "status": answer.json()["status"]}


# ---------------------------------------------------------------- checks on the file (server down)

def check_file(db_path: Path, clients: list[Client], ledger: Ledger) -> int:
    """Nothing half-written, every acked op and registration present exactly once; returns ops verified."""
    assert read(db_path, "pragma integrity_check")[0][0] == "ok"
    assert read(db_path, "pragma foreign_key_check") == []
    for board in read(db_path, "select distinct board_id from board_events"):
        seqs = [r[0] for r in read(db_path, "select seq from board_events where board_id = ? order by seq",
                                   (board[0],))]
        assert seqs == list(range(1, len(seqs) + 1)), f"board {board[0]}: the event log has a gap"
    events = {(r["board_id"], r["seq"]): r for r in read(db_path, "select * from board_events")}
    last = {b: max(s for bb, s in events if bb == b) for b, _ in events}
    ops = {(r["board_id"], r["actor"], r["op"]): json.loads(r["result"]) for r in read(db_path, "select * from board_ops")}
    for (board_id, _actor, op_id), result in ops.items():
        if result.get("ok") and result.get("seq"):
            assert (board_id, result["seq"]) in events, f"op {op_id}: its result seq {result['seq']} is not in the log"
            assert result["seq"] <= last[board_id]
    verified = 0
    for client in clients:
        board_id = client.auth.get("board") or client.state["board"]
        for op in client.ops:
            stored = ops.get((board_id, client.actor, op.op))
            assert stored == op.answer, f"acknowledged {op.event} {op.op} of {client.label} is missing or changed"
            event = events[(board_id, op.answer["seq"])]
            assert event["actor"] == client.actor
            data = json.loads(event["data"])
            if op.event == "note:add":
                assert (event["type"], data["text"]) == ("note:added", op.data["text"])
            elif op.event in ("vote:cast", "vote:retract"):
                assert (event["type"], data["note"]) == (op.event.replace("retract", "retracted"), op.data["note"])
            elif op.event == "poll:answer":
                assert (event["type"], data["poll"], data["answer"]) == ("poll:answered", op.data["poll"],
                                                                        op.data["choice"])
            verified += 1
        # exactly once: this actor's events are exactly its applied ops (each op of the workload logs one event)
        logged = sum(1 for (b, _s), e in events.items() if b == board_id and e["actor"] == client.actor)
        recorded = sum(1 for (b, a, _o) in ops if b == board_id and a == client.actor)
        assert logged == recorded, f"{client.label}: {logged} events for {recorded} applied ops"
    rows = read(db_path, "select r.id, r.token_hash, r.name, r.status, (select count(*) from registration_children c "
                         "where c.registration_id = r.id) as children from registrations r")
    by_hash = Counter(r["token_hash"] for r in rows)
    by_name = {r["name"]: r for r in rows}
    names = Counter(r["name"] for r in rows)
    for token, expected in ledger.registrations.items():
        assert by_hash[token_hash(token)] == 1, f"acknowledged registration {expected['name']} is not there once"
        row = by_name[expected["name"]]
        assert names[expected["name"]] == 1 and row["children"] == expected["children"]
        if expected["status"] == "confirmed":
            assert row["status"] == "confirmed"
        verified += 1
    for maybe in ledger.unacked_registrations:  # in flight at a kill: there or not, but whole
        assert names[maybe["name"]] <= 1
        if maybe["name"] in by_name:
            assert by_name[maybe["name"]]["children"] == maybe["children"], f"{maybe['name']} is half-written"
    confirmed = read(db_path, "select count(*) from registrations where status = 'confirmed' and mode = 'in_person'")
    assert confirmed[0][0] <= SEATS
    places = read(db_path, "select count(*) from registration_children where status = 'confirmed'")
    assert places[0][0] <= CHILDCARE_PLACES
    return verified


# ---------------------------------------------------------------- the test

async def test_acknowledged_writes_survive_repeated_kill_9_and_clients_resync(tmp_path):
    rng = random.Random(SEED)
    seeded = await asyncio.to_thread(seed, tmp_path / "taiwa.sqlite3")
    server = Server(seeded.db_path, tmp_path / "server.log")
    await asyncio.to_thread(server.start)
    ledger = Ledger()
    organizer = {"Authorization": f"Bearer {seeded.api_token}"}
    started = time.perf_counter()
    clients: list[Client] = []
    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
            async def new_board(title: str) -> dict[str, Any]:
                answer = await http.post(f"/api/sessions/{seeded.session_id}/boards", headers=organizer,
                                         json={"title": title, "prompts": ["良いところ", "困りごと", "やりたいこと"],
                                               "vote_budget": VOTE_BUDGET, "max_votes_per_note": VOTE_BUDGET})
                assert answer.status_code == 201, answer.text
                return answer.json()

            async def member(board: dict[str, Any], label: str) -> Client:
                joined = await http.post(f"/api/boards/{board['id']}/participants",
                                         json={"display_name": label, "code": board["join_code"]})
                assert joined.status_code == 201, joined.text
                client = Client(label, joined.json()["token"], joined.json()["participant"])
                client.state["board"] = board["id"]
                return client

            writing, voting = await new_board("書く"), await new_board("選ぶ")
            host_w = Client("host-w", seeded.api_token, "", {"board": writing["id"]})
            host_v = Client("host-v", seeded.api_token, "", {"board": voting["id"]})
            for host in (host_w, host_v):
                await host.connect(server.base, None)
            notes = [(await host_v.send(host_v.next_op("note:add", {"zone": "z1", "text": f"案{n}"})))["note"]
                     for n in range(8)]
            await host_v.send(host_v.next_op("phase:set", {"phase": "vote"}))
            polls = []
            for n in range(POLLS):
                answer = await http.post(f"/api/boards/{voting['id']}/polls", headers=organizer,
                                         json={"type": "single_choice", "question": f"質問{n}", "open": True,
                                               "options": ["はい", "いいえ", "どちらでも", "わからない"]})
                assert answer.status_code == 201, answer.text
                polls.append(answer.json())
            writers = [await member(writing, f"w{i}") for i in range(WRITERS)]
            voters = [await member(voting, f"v{i}") for i in range(VOTERS)]
            answerers = [await member(voting, f"a{i}") for i in range(ANSWERERS)]
            people = [*writers, *voters, *answerers]
            for person in people:
                await person.connect(server.base, None)
            clients = [*people, host_v]
            host_v.actor = read(seeded.db_path, "select actor from board_events where board_id = ? and seq = 1",
                                (voting["id"],))[0][0]

        for round_no in range(1, ROUNDS + 1):
            async with httpx.AsyncClient(base_url=server.base, timeout=30,
                                         limits=httpx.Limits(max_connections=REGISTRARS)) as http:
                tasks = [asyncio.create_task(write_notes(c, round_no)) for c in writers]
                tasks += [asyncio.create_task(cast_dots(c, notes, random.Random(rng.random()))) for c in voters]
                tasks += [asyncio.create_task(answer_polls(c, polls)) for c in answerers]
                tasks += [asyncio.create_task(register(http, seeded.session_id, ledger, lane, round_no))
                          for lane in range(REGISTRARS)]
                await asyncio.sleep(rng.uniform(0.4, 2.5))  # the kill lands at a random point of the burst
                for task in tasks:
                    if task.done() and not task.cancelled() and task.exception():
                        raise task.exception()  # type: ignore[misc]
                await asyncio.to_thread(server.kill)
                ledger.kills += 1
                await asyncio.sleep(0.3)  # acks already on the wire may still arrive
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            for client in [*clients, host_w]:
                await client.drop()

            ledger.verified_ops = await asyncio.to_thread(check_file, seeded.db_path, clients, ledger)
            await asyncio.to_thread(server.start)

            # everyone comes back with `since`: exactly what they missed, then the same board as a fresh snapshot
            for client in [*clients, host_w]:
                since = client.last_seq
                await client.connect(server.base, since)
                fresh = await client.snapshot()  # its ack follows whatever the join sent
                if client.snapshots == 0:
                    assert client.replayed == list(range(since + 1, fresh["seq"] + 1)), (client.label, since)
                assert client.last_seq == fresh["seq"], client.label
                assert client.notes == {n["id"]: n["text"] for n in fresh["notes"]}, client.label
                if "tallies" in fresh:
                    assert {k: v for k, v in client.tallies.items() if v} == \
                        {k: t["online"] for k, t in fresh["tallies"].items() if t["online"]}, client.label
                assert client.respondents == {p["id"]: p["respondents"] for p in fresh["polls"]}, client.label

            async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
                await resend_registrations(http, seeded.session_id, ledger)
            # an op in flight at the kill is sent again with the same id: applied once, whichever side it fell
            for client in clients:
                if client.pending is not None:
                    op = client.pending
                    await client.send(op)
                    ledger.resent_unacked += 1
                    if op.event.startswith("vote:"):
                        account_vote(client, op)
                    elif op.event == "poll:answer":
                        client.state.setdefault("answers", {})[op.data["poll"]] = op.data["choice"]
            # acknowledged ops resent after the restart: the original answer, and nothing added
            before = {board: (await host.snapshot())["seq"] for board, host in ((writing["id"], host_w),
                                                                                (voting["id"], host_v))}
            for client in clients:
                for op in rng.sample(client.ops, min(len(client.ops), 8)):
                    assert (await client.sio.call(op.event, {"op": op.op, **op.data}, namespace=NS,
                                                  timeout=30)) == op.answer, (client.label, op)
                    ledger.resent_acked += 1
            after = {board: (await host.snapshot())["seq"] for board, host in ((writing["id"], host_w),
                                                                               (voting["id"], host_v))}
            assert after == before, "resending acknowledged ops added events"
            print(f"\nround {round_no}: killed after {sum(len(c.ops) for c in clients)} acked board ops and "
                  f"{len(ledger.registrations)} registrations; {ledger.verified_ops} verified in the file")

        # the final board agrees with everything acknowledged (now that every op in flight was resent)
        final_w, final_v = await host_w.snapshot(), await host_v.snapshot()
        written = Counter(op.data["text"] for c in writers for op in c.ops)
        assert Counter(n["text"] for n in final_w["notes"]) == written
        assert set(written.values()) == {1}
        dots: Counter[str] = Counter()
        for client in voters:
            mine = (await client.snapshot())["votes"]["mine"]
            assert {k: v for k, v in mine.items() if v} == {k: v for k, v in client.state.get("dots", {}).items() if v}
            dots.update(client.state.get("dots", {}))
        assert {k: t["online"] for k, t in final_v["tallies"].items() if t["online"]} == \
            {k: v for k, v in dots.items() if v}
        for client in answerers:
            mine = {p["id"]: p["my_answer"] for p in (await client.snapshot())["polls"] if p.get("my_answer")}
            assert mine == client.state.get("answers", {}), client.label
        answered = Counter(poll for c in answerers for poll in c.state.get("answers", {}))
        assert {p["id"]: p["respondents"] for p in final_v["polls"]} == {p["id"]: answered[p["id"]] for p in polls}
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
            for token, expected in ledger.registrations.items():
                answer = await http.get(f"/api/registrations/{token}")
                assert answer.status_code == 200 and len(answer.json().get("children", [])) == expected["children"]
        for client in [*clients, host_w]:
            await client.drop()
        await asyncio.to_thread(server.kill)
        ledger.verified_ops = await asyncio.to_thread(check_file, seeded.db_path, clients, ledger)
    finally:
        for client in [*clients]:
            await client.drop()
        await asyncio.to_thread(server.kill)
    board_ops = sum(len(c.ops) for c in clients)
    by_kind = Counter(op.event for c in clients for op in c.ops)
    print(f"\ncrash recovery (seed {SEED}): {ledger.kills} kill -9 survived; {board_ops} acknowledged board ops "
          f"({dict(by_kind)}) and {len(ledger.registrations)} registrations verified exactly once "
          f"({ledger.verified_ops} checks); {ledger.resent_unacked} ops in flight resent, {ledger.resent_acked} acked "
          f"ops resent with their original answer; {ledger.resent_registrations} registrations in flight at a kill "
          f"resent with their Idempotency-Key; {time.perf_counter() - started:.1f} s")
    assert ledger.kills == ROUNDS
    assert by_kind["note:add"] and by_kind["vote:cast"] and by_kind["poll:answer"] and ledger.registrations


async def test_a_registration_resent_with_the_same_idempotency_key_is_registered_once(client, db):
    account = await make_account(db, "organizer@kanazawa.example")
    session_id = await make_session(db, account.org_id, await make_venue(db, account.org_id))
    body = {"name": "再送 花子", "email": "resend@example.jp", "mode": "in_person"}
    headers = {"Idempotency-Key": "phone-lost-the-answer-1"}

    first = await client.post(f"/api/sessions/{session_id}/registrations", json=body, headers=headers)
    again = await client.post(f"/api/sessions/{session_id}/registrations", json=body, headers=headers)

    assert first.status_code == 201
    assert again.status_code == 201 and again.json()["token"] == first.json()["token"]
    rows = await db.fetch_all("select count(*) from registrations where session_id = ?", (session_id,))
    assert rows[0][0] == 1

    other = await client.post(f"/api/sessions/{session_id}/registrations", headers=headers,
                              json={**body, "name": "別人 太郎"})  # the same key for another registration
    assert other.status_code == 409 and "Idempotency-Key" in other.json()["error"]["message"]
    bad = await client.post(f"/api/sessions/{session_id}/registrations", json=body,
                            headers={"Idempotency-Key": "x" * 101})
    assert bad.status_code == 422 and bad.json()["error"]["message"]
    without = await client.post(f"/api/sessions/{session_id}/registrations", json=body)
    assert without.status_code == 409  # without a key it is a second registration: this address already has one
    without = await client.post(f"/api/sessions/{session_id}/registrations", json={**body, "email": "other@example.jp"})
    assert without.status_code == 201  # without a key each request is its own registration
    rows = await db.fetch_all("select count(*) from registrations where session_id = ?", (session_id,))
    assert rows[0][0] == 2
