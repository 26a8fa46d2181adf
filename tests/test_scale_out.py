"""Scale-out: two Taiwa worker processes on one SQLite file, sharing board rooms through a real
redis-server (python-socketio's AsyncRedisManager). Participants on different workers see each
other's notes and dots in seq order; a worker killed mid-workshop loses nothing acknowledged and its
clients resume on the other; `taiwa serve --workers 2` runs its background work once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sessions import registration
from sessions.registration_models import RegistrationInput
from tests.harness import (
    ROOT,
    ServerProcess,
    TaiwaServer,
    everything,
    free_port,
    in_own_loop,
    make_account,
    make_session,
    make_venue,
    open_database,
    prepare_workshop,
    read_db,
    running_redis,
)
from tests.socket_clients import Api, Member, add_note, ok, op, until


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free port, with nothing written to disk."""
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


def deployment_worker(workshop: Any, log_path: Path, redis_url: str) -> TaiwaServer:
    """One `taiwa serve` process of a deployment: same database file, same Redis, its own port."""
    return TaiwaServer(workshop, log_path, rate_limits=False, env={"TAIWA_REDIS_URL": redis_url})


@pytest.fixture
def workers(tmp_path: Path, redis_url: str, db_target: Path | str) -> Iterator[tuple[TaiwaServer, TaiwaServer]]:
    """Two app processes sharing one database (a SQLite file, or PostgreSQL with TAIWA_TEST_ENGINES=postgres)."""
    workshop = prepare_workshop(db_target)
    pair = (deployment_worker(workshop, tmp_path / "a.log", redis_url),
            deployment_worker(workshop, tmp_path / "b.log", redis_url))
    for worker in pair:
        worker.start()
    try:
        yield pair
    finally:
        for worker in pair:
            worker.stop()
        for worker in pair:
            assert "Traceback" not in worker.log(), worker.log()


async def join(api: Api, board: dict[str, Any], worker: TaiwaServer, name: str, **auth: Any) -> Member:
    joined = await api.new_participant(board, name)
    member = Member(name)
    member.participant_id, member.token = joined["participant"], joined["token"]
    return await member.join(worker.base, {"token": joined["token"], **auth})


async def facilitate(api: Api, board: dict[str, Any], worker: TaiwaServer) -> Member:
    return await Member("facilitator").join(worker.base, {"token": api.server.workshop.api_token, "board": board["id"]})


def chained(label: str, last: int, messages: list[dict[str, Any]]) -> list[int]:
    """The seqs of messages received after seq `last`, checked to chain without gap, repeat or reversal
    (a progress message, or one read back from the database, covers from..seq); returns them."""
    seen = []
    for message in messages:
        first = message.get("from", message["seq"])
        assert first <= last + 1 < message["seq"] + 1, (label, last, message)
        last = message["seq"]
        seen.append(last)
    return seen


def in_order(member: Member, since: int = 0) -> list[int]:
    """The seqs a board client received, chained (see `chained`)."""
    return chained(member.label, member.snapshots[-1]["seq"] if member.snapshots else since, member.events)


def log_seqs(db_path: Path, board_id: int) -> list[int]:
    return [row[0] for row in read_db(db_path, "select seq from board_events where board_id = ? order by seq",
                                      (board_id,))]


async def test_participants_on_two_workers_see_each_others_notes_and_dots_in_order(workers):
    a, b = workers
    api = Api(a)
    board = await api.new_board("二つのワーカーで一つのボード")
    on_a = [await join(api, board, a, f"Aの参加者{n}") for n in range(6)]
    on_b = [await join(api, board, b, f"Bの参加者{n}") for n in range(6)]
    organizer = await facilitate(api, board, b)
    everyone = [*on_a, *on_b, organizer]
    try:
        acks = await asyncio.gather(*(add_note(member, f"{member.label}の意見{k}", zone=f"z{k % 3 + 1}")
                                      for k in range(5) for member in [*on_a, *on_b]))
        assert len({ack["note"] for ack in acks}) == 60
        last = max(ack["seq"] for ack in acks)
        await until(lambda: all(m.events and m.events[-1]["seq"] >= last for m in everyone),
                    "every client on both workers received every note")
        for member in everyone:
            seqs = in_order(member)
            assert seqs == list(range(1, last + 1)), member.label  # every note, once, in order
        assert log_seqs(a.workshop.db_path, board["id"]) == list(range(1, last + 1))  # one log, no gap

        await ok(organizer, "phase:set", phase="vote")
        notes = [ack["note"] for ack in acks]
        votes = await asyncio.gather(*(member.call("vote:cast", {"op": op(), "note": notes[i % 4]})
                                       for i, member in enumerate([*on_a, *on_b]) for _ in range(3)))
        assert all(v["ok"] for v in votes), votes
        final = max(v["seq"] for v in votes)
        await until(lambda: all(m.events and m.events[-1]["seq"] >= final for m in everyone),
                    "the dots' progress reached every client")
        for member in everyone:
            in_order(member)
        # "N of M have voted", as the last progress message on either worker says it: derived from the
        # shared log and the participants in the database, not from the process that sent it
        progress = {member.label: (member.events[-1]["data"]["voters"], member.events[-1]["data"]["participants"])
                    for member in [*on_a, *on_b]}
        assert set(progress.values()) == {(12, 12)}, progress
        fresh = await facilitate(api, board, a)  # a second facilitator, on the other worker
        try:
            tallies = fresh.snapshots[-1]["tallies"]
            assert sum(t["online"] for t in tallies.values()) == 36  # 12 people x 3 dots, all counted
            assert {notes[i]: 9 for i in range(4)} == {k: t["online"] for k, t in tallies.items() if t["online"]}
            assert (await organizer.board())["tallies"] == tallies  # both workers agree
        finally:
            await fresh.leave()
    finally:
        await asyncio.gather(*(m.leave() for m in everyone), return_exceptions=True)
        await api.close()


async def test_a_worker_killed_mid_workshop_loses_nothing_acknowledged_and_its_clients_resume(workers):
    a, b = workers
    api = Api(a)
    board = await api.new_board("ワーカー停止の試験")
    writers_b = [await join(api, board, b, f"B{n}") for n in range(4)]
    writers_a = [await join(api, board, a, f"A{n}") for n in range(4)]
    acked: list[str] = []
    stop = asyncio.Event()

    async def keep_writing(member: Member) -> None:
        n = 0
        while not stop.is_set() and member.connected:
            try:
                answer = await member.call("note:add", {"op": op(), "zone": "z1", "text": f"{member.label}-{n}"})
            except Exception:  # noqa: BLE001 - the worker went away mid-call: not acknowledged
                return
            if answer.get("ok"):
                acked.append(answer["note"])
            n += 1

    try:
        tasks = [asyncio.create_task(keep_writing(m)) for m in [*writers_a, *writers_b]]
        await until(lambda: len(acked) >= 80, "notes are being written on both workers")
        b.stop(signal.SIGKILL)  # worker B dies mid-workshop
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.gather(*tasks)
        # B's clients come back on A, asking only for what they missed
        resumed = []
        for member in writers_b:
            since = member.events[-1]["seq"] if member.events else member.snapshots[-1]["seq"]
            again = Member(member.label + "'")
            await again.join(a.base, {"token": member.token, "since": since})
            resumed.append((again, since))
        seen = await writers_a[0].board()
        on_board = {note["id"] for note in seen["notes"]}
        assert set(acked) <= on_board  # every acknowledged note survived the kill
        assert len(acked) == len(set(acked))
        assert log_seqs(a.workshop.db_path, board["id"]) == list(range(1, seen["seq"] + 1))
        for again, since in resumed:
            await until(lambda again=again: (again.events[-1]["seq"] if again.events else since) >= seen["seq"],
                        "a resumed client caught up")
            assert in_order(again, since=since)[-1] == seen["seq"]
            assert not again.snapshots  # it replayed what it missed, not the whole board
        answer = await add_note(resumed[0][0], "再接続後の意見")  # and carries on on worker A
        await until(lambda: any(e["seq"] == answer["seq"] for e in writers_a[1].events), "the new note reached A")
        for again, _since in resumed:
            await again.leave()
    finally:
        stop.set()
        await asyncio.gather(*(m.leave() for m in [*writers_a, *writers_b]), return_exceptions=True)
        await api.close()


def test_serve_with_workers_needs_redis(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k != "TAIWA_REDIS_URL"}
    done = subprocess.run([sys.executable, "-m", "server.cli", "serve", "--db", str(tmp_path / "t.sqlite3"),
                           "--workers", "2", "--port", str(free_port())], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "TAIWA_REDIS_URL" in done.stderr


async def test_serve_with_two_workers_shares_boards_and_runs_background_work_once(tmp_path: Path, redis_url: str):
    """`taiwa serve --workers 2`: clients spread over both processes still share one board; a reminder
    due tomorrow is queued once, not once per worker."""
    workshop = prepare_workshop(tmp_path / "taiwa.sqlite3")
    await _registration_due_for_a_reminder(workshop.db_path)
    log_path = tmp_path / "serve.log"
    serving = ServerProcess(workshop.db_path, log_path, secret="scale-out-test-secret-0123456789",
                            env={"TAIWA_REDIS_URL": redis_url, "TAIWA_RATE_LIMITS": "off"}, args=["--workers", "2"],
                            inherit=everything, process_group=True)
    await asyncio.to_thread(serving.start)
    base = serving.base
    try:
        server = TaiwaServer(workshop, tmp_path / "unused.log")
        server.base = base
        api = Api(server)
        board = await api.new_board()
        members = [await join(api, board, server, f"参加者{n}") for n in range(12)]
        try:
            acks = await asyncio.gather(*(add_note(m, f"{m.label}の意見") for m in members))
            last = max(a["seq"] for a in acks)
            await until(lambda: all(m.events and m.events[-1]["seq"] >= last for m in members),
                        "every client, whichever worker it reached, received every note")
            for member in members:
                assert in_order(member) == list(range(1, last + 1))
        finally:
            await asyncio.gather(*(m.leave() for m in members), return_exceptions=True)
            await api.close()
        await until(lambda: _reminders(workshop.db_path) >= 1, "the reminder was queued", timeout=30)
        await asyncio.sleep(6)  # a second worker running the same loop would have queued its own by now
        assert _reminders(workshop.db_path) == 1
    finally:
        await asyncio.to_thread(serving.stop)
    assert "Traceback" not in log_path.read_text()


async def _seed_reminder(db_path: Path) -> None:
    async with open_database(db_path) as db:
        account = await make_account(db, "reminders@saku.example", org="saku")
        tomorrow = datetime.now(UTC) + timedelta(hours=20)
        session_id = await make_session(db, account.org_id, await make_venue(db, account.org_id),
                                        title="明日の対話の場", starts_at=tomorrow)

        async def no_mail(*_args: Any, **_kwargs: Any) -> None:
            return None

        await registration.register(db, session_id, RegistrationInput(name="佐久 花子", email="hanako@example.jp"),
                                    notify=no_mail, derive_token=lambda salt: "t-" + salt)


async def _registration_due_for_a_reminder(db_path: Path) -> None:
    """A confirmed registration for a session starting tomorrow (seeded away from the test's loop)."""
    in_own_loop(_seed_reminder(db_path))


def _reminders(db_path: Path) -> int:
    return read_db(db_path, "select count(*) from outbox where kind = 'reminder'")[0][0]
