"""The live board over the wire (a real `taiwa serve` and real python-socketio clients on /board):
joining, fan-out to everyone exactly once, idempotent ops, and error acks for bad events."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp  # noqa: F401 - python-socketio's AsyncClient needs it for its websocket transport
import pytest
import socketio

from tests.socket_clients import (
    JAPANESE, PROMPTS, add_note, facilitator, ok, op, participant, translated_in_japanese, until,
)
from tests.socket_clients import api, crowd, server  # noqa: F401 - fixtures, used by name

pytestmark = pytest.mark.database  # its servers run on the run's engine (fresh_database)


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
