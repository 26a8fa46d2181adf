"""State shared by the processes of a deployment (two `taiwa serve` processes, as if on two machines,
sharing one database and a real redis-server): the cluster channel that tells every process something,
a board's cached outcome dropped everywhere, a captioner link revoked everywhere, presence counted over
every process (and a killed process's connections no longer counted), and per-participant limits
counted once, not once per process. Without Redis, or with Redis not answering, each falls back to
what one process knows."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
import redis.asyncio
import socketio

from realtime.cluster import METHOD
from realtime.presence import ALIVE, HEARTBEAT, Presence
from realtime.socket import create_socket_server
from server.app import create_app
from server.auth.limits import SlidingWindow
from server.auth.participant_limits import ParticipantLimits
from server.settings import Settings
from tests.caption_clients import CaptionClient, organizer, switch_on
from tests.harness import TaiwaServer, csrf_from, free_port, login, prepare_workshop, running_redis
from tests.socket_clients import Api, Member, op, until
from tests.test_attack_redis import RedisServer


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


def start_pair(folder: Path, db_target: Path | str, redis_url: str, **env: str) -> tuple[TaiwaServer, TaiwaServer]:
    """Two app processes on one database and one Redis, rate limits on (as deployed)."""
    workshop = prepare_workshop(db_target)
    pair = (TaiwaServer(workshop, folder / "a.log", env={"TAIWA_REDIS_URL": redis_url, **env}),
            TaiwaServer(workshop, folder / "b.log", env={"TAIWA_REDIS_URL": redis_url, **env}))
    for process in pair:
        process.start()
    return pair


def stop_pair(pair: tuple[TaiwaServer, TaiwaServer]) -> None:
    for process in pair:
        process.stop()
    for process in pair:
        assert "Traceback" not in process.log(), process.log()


@pytest.fixture
def pair(tmp_path: Path, redis_url: str, db_target: Path | str) -> Iterator[tuple[TaiwaServer, TaiwaServer]]:
    processes = start_pair(tmp_path, db_target, redis_url)
    try:
        yield processes
    finally:
        stop_pair(processes)


async def participant_on(api: Api, board: dict[str, Any], process: TaiwaServer, name: str, place: str = "online",
                         token: str | None = None) -> Member:
    """A participant's socket on one process (a new participant, or another socket of `token`'s)."""
    if token is None:
        answer = await api.http.post(f"/api/boards/{board['id']}/participants",
                                     json={"display_name": name, "code": board["join_code"], "place": place})
        assert answer.status_code == 201, answer.text
        token = answer.json()["token"]
    member = Member(name)
    member.token = token
    return await member.join(process.base, {"token": token})


async def facilitator_on(api: Api, board: dict[str, Any], process: TaiwaServer, label: str) -> Member:
    return await Member(label).join(process.base, {"token": api.server.workshop.api_token, "board": board["id"]})


def presence_messages(member: Member) -> int:
    return sum(1 for name, _data in member.received if name == "presence")


def last_presence(member: Member) -> dict[str, int] | None:
    """The counts in the last presence message a facilitator got."""
    counts = [data[0] for name, data in member.received if name == "presence"]
    return counts[-1] if counts else None


# ---------------------------------------------------------------- the channel itself

async def test_a_cluster_message_reaches_every_process_once_including_the_teller(redis_url):
    """Two socket servers on one Redis (as two processes have): whoever tells, every process's handler
    runs once; garbage on the channel from an outsider breaks nothing."""
    servers = [create_socket_server(redis_url=redis_url, allowed_origins=[]) for _ in range(2)]
    heard: list[list[dict[str, Any]]] = [[], []]
    for index, server in enumerate(servers):
        async def handle(data: dict[str, Any], index: int = index) -> None:
            heard[index].append(data)
        server.cluster.on("test:hello", handle)
        server.listen()
    outsider = redis.asyncio.Redis.from_url(redis_url)
    try:
        await until(lambda: all(s.manager.thread is not None for s in servers), "both listen")
        await asyncio.sleep(0.3)  # their subscriptions are in place
        for garbage in [b"\xff not json", b"[1, 2]", json.dumps({"method": METHOD, "name": "test:hello"}),
                        json.dumps({"method": METHOD, "name": ["x"], "data": {}}), b"{}"]:
            await outsider.publish("socketio", garbage)
        await servers[0].cluster.tell("test:hello", {"board": 7, "text": "改行\nと🙂"})
        assert heard[0] == [{"board": 7, "text": "改行\nと🙂"}]  # the teller at once
        await until(lambda: heard[1], "the other process heard it")
        await servers[1].cluster.tell("test:hello", {"n": 2})
        await until(lambda: len(heard[0]) == 2, "the first process heard the second")
        await asyncio.sleep(0.3)  # an echo, if there were one, would have arrived by now
        assert heard == [[{"board": 7, "text": "改行\nと🙂"}, {"n": 2}], [{"board": 7, "text": "改行\nと🙂"}, {"n": 2}]]
    finally:
        await outsider.aclose()
        for server in servers:
            server.manager.thread.cancel()


async def test_without_redis_the_one_process_hears_itself():
    server = create_socket_server(redis_url=None, allowed_origins=[])
    heard: list[dict[str, Any]] = []

    async def handle(data: dict[str, Any]) -> None:
        heard.append(data)

    server.cluster.on("board:forget", handle)
    await server.cluster.tell("board:forget", {"board": 3})
    assert heard == [{"board": 3}]


# ---------------------------------------------------------------- a board's cached settings and outcome

async def test_an_outcome_published_through_one_process_drops_the_cached_board_in_every_process(
        tmp_path: Path, redis_url: str, db_target: Path | str):
    """Two apps on one database and one Redis (two processes' worth, in one test process, so that their
    caches can be looked at): the facilitator publishes the outcome through A's console; B, which had
    the board cached as unpublished, reads it again (and the public page on B shows it, as it always
    read its flags from the database)."""
    workshop = prepare_workshop(db_target)
    apps = [create_app(Settings(db_path=db_target, secret="cluster-test-secret-" + "x" * 20,
                                base_url="http://testserver.local", background=False, redis_url=redis_url))
            for _ in range(2)]
    async with AsyncTestClient(app=apps[0], base_url="http://testserver.local") as on_a, \
            AsyncTestClient(app=apps[1], base_url="http://testserver.local") as on_b:
        made = await on_a.post(f"/api/sessions/{workshop.session_id}/boards", json={"title": "公開の試験", "prompts": ["良いところ"]},
                               headers={"Authorization": f"Bearer {workshop.api_token}"})
        assert made.status_code == 201, made.text
        board_id = made.json()["id"]
        service_b = apps[1].litestar.state.board_service
        assert not (await service_b.board(board_id)).outcome_published  # cached on B
        await login(on_a, "facilitator@kanazawa.example")
        csrf = csrf_from(await on_a.get(f"/boards/{board_id}/facilitate"))
        published = await on_a.post(f"/boards/{board_id}/outcome", data={"_csrf_token": csrf, "publish": "1"},
                                   follow_redirects=False)
        assert published.status_code == 303, published.text
        await until(lambda: board_id not in service_b._boards, "B dropped its cached board", timeout=2)
        assert (await service_b.board(board_id)).outcome_published
        assert (await on_b.get(f"/boards/{board_id}/outcome")).status_code == 200
        for app in apps:
            app.litestar.state.sio.manager.thread.cancel()


# ---------------------------------------------------------------- captioner links

async def test_revoking_a_captioner_on_one_process_disconnects_its_sockets_on_every_process(pair):
    a, b = pair
    async with httpx.AsyncClient(timeout=30) as http:
        link = await switch_on(http, a, "二台目の入力者")
        on_b = await CaptionClient("captioner on B").join(b.base, {"code": link["code"], "token": link["captioner_token"]})
        on_a = await CaptionClient("captioner on A").join(a.base, {"code": link["code"], "token": link["captioner_token"]})
        viewer = await CaptionClient("viewer on A").join(a.base, {"code": link["code"]})
        try:
            assert (await on_b.call("caption:line", {"op": op(), "text": "取り消し前の字幕"}))["ok"]
            gone = await http.delete(f"{a.base}/api/sessions/{a.workshop.session_id}/captions/captioners/"
                                     f"{link['captioner']}", headers=organizer(a))
            assert gone.status_code == 204
            await until(lambda: not on_b.connected and not on_a.connected,
                        "the captioner's sockets on both processes are closed", timeout=5)
            with pytest.raises(socketio.exceptions.ConnectionError):  # and it cannot come back on either
                await CaptionClient("again on B").join(b.base, {"code": link["code"], "token": link["captioner_token"]})
            assert viewer.connected and [line[2] for line in viewer.transcript()] == ["取り消し前の字幕"]
        finally:
            for client in (on_a, on_b, viewer):
                await client.leave()


# ---------------------------------------------------------------- presence

async def test_facilitators_on_either_process_see_everyone_and_a_killed_process_stops_counting(pair):
    a, b = pair
    api = Api(a)
    board = await api.new_board("在室の数")
    people: list[Member] = []
    try:
        facilitator_a = await facilitator_on(api, board, a, "facilitator on A")
        people.append(facilitator_a)
        people += [await participant_on(api, board, a, f"A{n}") for n in range(2)]
        people += [await participant_on(api, board, b, f"B{n}", place="room") for n in range(3)]
        facilitator_b = await facilitator_on(api, board, b, "facilitator on B")
        people.append(facilitator_b)
        everyone = {"online": 2, "room": 5, "connected": 7}  # facilitators count as in the room
        await until(lambda: last_presence(facilitator_a) == everyone, f"A's facilitator sees all: {everyone}")
        assert last_presence(facilitator_b) == everyone
        assert facilitator_b.snapshots[-1]["presence"] == {"online": 2, "room": 5}  # B's snapshot counts A's too
        # counts sent by two processes may cross on the way: every heartbeat sends the latest again
        heard = presence_messages(facilitator_b)
        await until(lambda: presence_messages(facilitator_b) > heard, "a heartbeat's counts", timeout=HEARTBEAT + 3)
        assert last_presence(facilitator_b) == everyone

        await people[1].leave()  # someone on A leaves: B's facilitator hears it
        await until(lambda: last_presence(facilitator_b) == {"online": 1, "room": 5, "connected": 6},
                    "B's facilitator sees the one who left A")

        b.stop(signal.SIGKILL)  # B dies without telling anyone: its 3 + 1 connections must stop counting
        await until(lambda: last_presence(facilitator_a) == {"online": 1, "room": 1, "connected": 2},
                    "A's facilitator sees B's connections gone", timeout=ALIVE + 2 * HEARTBEAT + 5)
        late = await facilitator_on(api, board, a, "late facilitator")
        people.append(late)
        assert late.snapshots[-1]["presence"] == {"online": 1, "room": 2}
    finally:
        await asyncio.gather(*(member.leave() for member in people), return_exceptions=True)
        await api.close()


async def test_presence_survives_redis_restarting_empty(tmp_path: Path, db_target: Path | str):
    """Redis killed mid-workshop: joins go on (each process counts its own); Redis started again with
    nothing in it: every process writes its connections back and the facilitator sees everyone again."""
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    processes = start_pair(tmp_path, db_target, redis_server.url)
    a, b = processes
    api = Api(a)
    people: list[Member] = []
    try:
        board = await api.new_board("Redis再起動と在室")
        facilitator_a = await facilitator_on(api, board, a, "facilitator on A")
        people += [facilitator_a, await participant_on(api, board, a, "A0"),
                   await participant_on(api, board, b, "B0", place="room")]
        await until(lambda: last_presence(facilitator_a) == {"online": 1, "room": 2, "connected": 3}, "all counted")
        redis_server.kill()
        late = await participant_on(api, board, a, "A1")  # joining never waits on Redis
        people.append(late)
        assert late.snapshots
        redis_server.start()  # empty: every presence entry and alive key is gone
        await until(lambda: last_presence(facilitator_a) == {"online": 2, "room": 2, "connected": 4},
                    "every process wrote its connections back", timeout=4 * HEARTBEAT + 5)
        fresh = await facilitator_on(api, board, b, "facilitator on B")
        people.append(fresh)
        assert fresh.snapshots[-1]["presence"] == {"online": 2, "room": 3}
    finally:
        await asyncio.gather(*(member.leave() for member in people), return_exceptions=True)
        await api.close()
        stop_pair(processes)
        redis_server.stop()


async def test_presence_falls_back_to_this_process_when_redis_does_not_answer(caplog):
    dead = redis.asyncio.Redis(port=free_port(), socket_timeout=0.5, socket_connect_timeout=0.5)
    presence = Presence(dead, "p1")
    try:
        with caplog.at_level(logging.WARNING, logger="taiwa.presence"):
            assert await presence.arrive(5, "sid-1", "room") == {"online": 0, "room": 1, "connected": 1}
            assert await presence.arrive(5, "sid-2", "online") == {"online": 1, "room": 1, "connected": 2}
            assert await presence.leave("sid-1") == (5, {"online": 1, "room": 0, "connected": 1})
        warnings = [r.getMessage() for r in caplog.records if r.name == "taiwa.presence"]
        assert len(warnings) == 1 and "only this process" in warnings[0]  # said once, not per join
    finally:
        await presence.close()
        await dead.aclose()


# ---------------------------------------------------------------- per-participant limits

@pytest.fixture
def limited_pair(tmp_path: Path, redis_url: str, db_target: Path | str) -> Iterator[tuple[TaiwaServer, TaiwaServer]]:
    processes = start_pair(tmp_path, db_target, redis_url, TAIWA_LIMITS="note=3/60,question=2/60,readings=3/60")
    try:
        yield processes
    finally:
        stop_pair(processes)


async def test_a_participant_with_sockets_on_both_processes_is_held_to_one_limit(limited_pair):
    a, b = limited_pair
    api = Api(a)
    board = await api.new_board("上限は一つ")
    sockets: list[Member] = []
    try:
        on_a = await participant_on(api, board, a, "花子")
        on_b = await participant_on(api, board, b, "花子 (2台目)", token=on_a.token)
        sockets += [on_a, on_b]
        answers = [await (on_a if n % 2 == 0 else on_b).call("note:add", {"op": op(), "zone": "z1", "text": f"意見{n}"})
                   for n in range(6)]
        assert [answer["ok"] for answer in answers] == [True, True, True, False, False, False]
        assert {answer["error"]["code"] for answer in answers[3:]} == {"rate_limited"}
        assert "付箋" in answers[3]["error"]["message"]
        assert len((await on_b.board())["notes"]) == 3
        # questions have their own limit, held across both processes too
        asked = [await (on_b if n % 2 == 0 else on_a).call("question:ask", {"op": op(), "text": f"質問{n}?"})
                 for n in range(4)]
        assert [answer["ok"] for answer in asked] == [True, True, False, False]
        # someone else on the same processes is not held back
        other = await participant_on(api, board, b, "太郎")
        sockets.append(other)
        assert (await other.call("note:add", {"op": op(), "zone": "z2", "text": "別の人の意見"}))["ok"]
    finally:
        await asyncio.gather(*(member.leave() for member in sockets), return_exceptions=True)
        await api.close()


async def test_one_address_asking_both_processes_for_readings_is_held_to_one_limit(limited_pair):
    """The limits on what a client address may ask (here readings, 3 a minute) count over every process."""
    a, b = limited_pair
    async with httpx.AsyncClient(timeout=30) as http:
        answers = [await http.post(f"{(a if n % 2 == 0 else b).base}/api/readings", json={"text": f"市民{n}"})
                   for n in range(5)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429, 429]
    assert 1 <= int(answers[3].headers["retry-after"]) <= 60
    assert answers[4].json()["error"]["code"] and answers[4].json()["error"]["message"]


async def test_address_limits_fall_back_to_this_process_when_redis_does_not_answer(caplog):
    dead = redis.asyncio.Redis(port=free_port(), socket_timeout=0.5, socket_connect_timeout=0.5)
    limits = ParticipantLimits({"readings": SlidingWindow(2, 60)}, redis=dead, process="p1")
    try:
        with caplog.at_level(logging.WARNING, logger="taiwa.limits"):
            waits = [await limits.take("readings", "203.0.113.7") for _ in range(3)]
        assert waits[:2] == [0, 0] and 1 <= waits[2] <= 60
        assert await limits.take("readings", "203.0.113.8") == 0  # per address
    finally:
        await dead.aclose()


async def test_participant_limits_fall_back_to_this_process_when_redis_does_not_answer(caplog):
    dead = redis.asyncio.Redis(port=free_port(), socket_timeout=0.5, socket_connect_timeout=0.5)
    throttles = {name: SlidingWindow(count, 60) for name, count in
                 {"board": 40, "note": 2, "question": 5, "snapshot": 10}.items()}
    limits = ParticipantLimits(throttles, redis=dead, process="p1")
    try:
        with caplog.at_level(logging.WARNING, logger="taiwa.limits"):
            assert [await limits.allow("9:alice", "note:add") for _ in range(3)] == [True, True, False]
            assert await limits.allow("9:bob", "note:add")  # per participant
        warnings = [r.getMessage() for r in caplog.records if r.name == "taiwa.limits"]
        assert len(warnings) == 1 and "this process only" in warnings[0]  # then Redis is left alone a while
    finally:
        await dead.aclose()
