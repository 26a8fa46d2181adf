"""The live board over the wire: replay after a dropped connection, and recovery after a server restart
(terminated or killed) on the same database file."""

from __future__ import annotations

import asyncio
import signal

import pytest

from tests.harness import TaiwaServer, prepare_workshop
from tests.socket_clients import Api, add_note, facilitator, ok, participant, until
from tests.socket_clients import api, crowd, fast_server, server  # noqa: F401 - fixtures, used by name

pytestmark = pytest.mark.database  # its servers run on the run's engine (fresh_database)


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
