"""Board rules (the pure state machine): who may do what, and when: facilitator-only commands, unknown
events and bad data, locked and closed boards, the timer, and deterministic ids.

No sockets here: `Workshop` (tests/board_model.py) drives the rules exactly as realtime/service.py does.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from realtime.board import FACILITATOR_ONLY, Actor, CommandError, apply
from tests.board_model import AIKO, FAC, NOW, Workshop, script


# --- who may do what, and when ------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(FACILITATOR_ONLY))
def test_facilitator_only_event_from_a_participant_is_forbidden(kind: str):
    board = Workshop()
    board.add(AIKO, "公園")
    assert board.refuse(AIKO, kind, {"note": "n1", "phase": "vote", "seconds": 60, "count": 1}) == "forbidden"


@pytest.mark.parametrize("actor", [AIKO, FAC], ids=["participant", "facilitator"])
@pytest.mark.parametrize("kind", ["note:explode", "", "NOTE:ADD", "__init__", "board:snapshot"])
def test_unknown_event_is_refused(kind: str, actor: Actor):
    assert Workshop().refuse(actor, kind, {"zone": "z1", "text": "x"}) == "unknown_event"


@pytest.mark.parametrize("data", [None, [], "note", 3])
def test_data_that_is_not_an_object_is_invalid(data: Any):
    with pytest.raises(CommandError) as refused:
        apply(Workshop().state, "note:add", data, AIKO, now_ms=NOW)
    assert refused.value.code == "invalid"


def test_locked_board_refuses_participant_changes_until_unlocked():
    board = Workshop()
    note = board.add(AIKO, "公園")
    board.do(FAC, "board:lock", {"locked": True})
    assert board.refuse(AIKO, "note:add", {"zone": "z1", "text": "もう一つ"}) == "locked"
    assert board.refuse(AIKO, "note:edit", {"note": note, "text": "変更"}) == "locked"
    board.add(FAC, "ファシリテーターは書ける")
    board.do(FAC, "board:lock", {"locked": False})
    board.add(AIKO, "もう一つ")


def test_closed_board_refuses_changes_from_everyone():
    board = Workshop()
    note = board.add(AIKO, "公園")
    board.phase("closed")
    assert board.refuse(AIKO, "note:add", {"zone": "z1", "text": "遅い"}) == "closed"
    assert board.refuse(FAC, "note:edit", {"note": note, "text": "遅い"}) == "closed"
    assert board.refuse(FAC, "board:lock", {"locked": True}) == "closed"


def test_closed_board_can_still_be_reopened_revealed_and_moderated():
    board = Workshop()
    note = board.add(AIKO, "公園")
    board.phase("closed")
    board.do(FAC, "votes:reveal", {})
    board.do(FAC, "note:hide", {"note": note})
    board.phase("discuss")
    assert board.state.revealed and board.state.notes[note].hidden and board.state.phase == "discuss"


def test_unknown_phase_is_refused():
    assert Workshop().refuse(FAC, "phase:set", {"phase": "lunch"}) == "invalid"


def test_timer_start_records_end_time_from_the_server_clock():
    board = Workshop()
    (_seq, kind, data), = board.do(FAC, "timer:start", {"seconds": 300}, now_ms=NOW)
    assert kind == "timer:started" and data["ends_at"] == NOW + 300_000
    assert board.state.timer == {"ends_at": NOW + 300_000, "seconds": 300}
    board.do(FAC, "timer:stop", {}, now_ms=NOW + 1000)
    assert board.state.timer is None


@pytest.mark.parametrize("seconds", [9, 4 * 3600 + 1, 60.0, "60", True, None])
def test_timer_outside_ten_seconds_to_four_hours_is_refused(seconds: Any):
    assert Workshop().refuse(FAC, "timer:start", {"seconds": seconds}) == "invalid"


def test_commands_that_change_nothing_produce_no_events():
    board = Workshop()
    assert board.do(FAC, "phase:set", {"phase": "write"}) == []
    assert board.do(FAC, "timer:stop", {}) == []
    assert board.do(FAC, "board:lock", {"locked": False}) == []
    assert board.do(FAC, "votes:reveal", {"revealed": False}) == []
    assert board.state.seq == 0


def test_same_commands_on_the_same_board_give_identical_events_and_ids_from_seq():
    one, two = Workshop(), Workshop()
    script(one)
    script(two)
    assert one.log == two.log
    created = [(seq, data["id"]) for seq, kind, data in one.log if kind in ("note:added", "group:created")]
    assert created == [(1, "n1"), (2, "n2"), (4, "g4")]


def test_applying_a_command_leaves_the_state_untouched():
    board = Workshop()
    script(board)
    before = copy.deepcopy(board.state)
    events = apply(board.state, "note:add", {"zone": "z1", "text": "x"}, FAC, now_ms=NOW)
    assert events and board.state == before
