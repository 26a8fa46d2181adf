"""Board rules: the pure state machine (apply/fold/replay/results) and what each viewer may see.

No sockets here. `Workshop` drives the rules exactly as realtime/service.py does: apply a command,
then fold its events with consecutive seq numbers starting at state.seq + 1, and log them.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime.board import (
    ALLOWED_PHASES,
    COLORS,
    FACILITATOR_ONLY,
    POLL_COMMANDS,
    NOTE_MAX,
    PHASES,
    Actor,
    BoardState,
    CommandError,
    apply,
    fold,
    replay,
    results,
)
from realtime.views import room_event, snapshot

ZONES = [{"id": "z1", "title": "地域の良いところ"}, {"id": "z2", "title": "困っていること"},
         {"id": "z3", "title": "やってみたいこと"}]
NOW = 1_700_000_000_000
PARTICIPANTS = 3

# Ids and names distinctive enough that finding them in a JSON dump means they leaked.
AIKO = Actor(id="p-aiko-7f3a", name="Aiko Tanaka")
BEN = Actor(id="p-ben-51c2", name="Ben Suzuki")
CHIE = Actor(id="p-chie-0d9e", name="Chie Kato")
FAC = Actor(id="f-fac-33b1", name="Fumi Facilitator", facilitator=True)
ACTORS = (AIKO, BEN, CHIE, FAC)
ACTOR_IDS = {actor.id for actor in ACTORS}
BOARD_FACILITATOR_ONLY = FACILITATOR_ONLY - POLL_COMMANDS  # polls and Q&A are tested in test_polls.py
ALL_KINDS = sorted(BOARD_FACILITATOR_ONLY | set(ALLOWED_PHASES))
NO_DATA: Any = object()  # a command sent without data (None is a payload of its own)


class Workshop:
    """A board driven like BoardService.handle: apply, then fold each event with the next seq, and log it."""

    def __init__(self, zones: int = len(ZONES), **config: Any) -> None:
        self.initial = BoardState(board_id=1, zones=copy.deepcopy(ZONES[:zones]), **config)
        self.state = copy.deepcopy(self.initial)
        self.log: list[tuple[int, str, dict[str, Any]]] = []

    def do(self, actor: Actor, kind: str, data: Any = NO_DATA, *, now_ms: int = NOW) -> list[tuple]:
        events = apply(self.state, kind, {} if data is NO_DATA else data, actor, now_ms=now_ms)
        first = self.state.seq + 1
        committed = []
        for offset, event in enumerate(events):
            fold(self.state, first + offset, event["type"], event["data"])
            committed.append((first + offset, event["type"], event["data"]))
        self.log.extend(committed)
        return committed

    def refuse(self, actor: Actor, kind: str, data: Any = NO_DATA) -> str:
        """The error code of a refused command; a refusal must leave the board exactly as it was."""
        before = copy.deepcopy(self.state)
        with pytest.raises(CommandError) as refused:
            self.do(actor, kind, data)
        assert self.state == before
        return refused.value.code

    def add(self, actor: Actor, text: str, zone: str = "z1", **extra: Any) -> str:
        (_seq, _type, data), = self.do(actor, "note:add", {"zone": zone, "text": text, **extra})
        return data["id"]

    def cluster(self, actor: Actor, note: str, title: str) -> str:
        created, _grouped = self.do(actor, "group:set", {"note": note, "title": title})
        return created[2]["id"]

    def phase(self, phase: str) -> None:
        self.do(FAC, "phase:set", {"phase": phase})

    def snap(self, viewer: Actor) -> dict[str, Any]:
        return snapshot(self.state, viewer, title="まちづくり", participants=PARTICIPANTS, server_now=NOW)

    def room(self, committed: list[tuple], *, facilitators: bool) -> list[dict[str, Any]]:
        """The committed events as a room receives them (state already folded, as in broadcast)."""
        return [room_event(self.state, seq, kind, data, facilitators=facilitators, participants=PARTICIPANTS)
                for seq, kind, data in committed]


def dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# --- notes ----------------------------------------------------------------------------------------

def test_participant_adds_note_in_write_phase():
    board = Workshop()
    committed = board.do(AIKO, "note:add", {"zone": "z2", "text": "  バスが少ない  ", "color": "pink"})
    assert [(seq, kind) for seq, kind, _ in committed] == [(1, "note:added")]
    note = board.state.notes["n1"]
    assert (note.zone, note.text, note.color, note.author, note.author_name) == \
        ("z2", "バスが少ない", "pink", AIKO.id, "Aiko Tanaka")
    assert note.by_facilitator is False and note.group is None and board.state.seq == 1


def test_note_without_colour_gets_the_boards_first_colour():
    board = Workshop()
    assert board.state.notes[board.add(AIKO, "公園")].color == COLORS[0]


def test_note_in_unknown_zone_or_colour_is_refused():
    board = Workshop()
    assert board.refuse(AIKO, "note:add", {"zone": "z9", "text": "x"}) == "invalid"
    assert board.refuse(AIKO, "note:add", {"zone": "z1", "text": "x", "color": "plaid"}) == "invalid"


def test_participant_cannot_add_note_in_vote_phase():
    board = Workshop()
    board.phase("vote")
    assert board.refuse(AIKO, "note:add", {"zone": "z1", "text": "遅れた意見"}) == "wrong_phase"


def test_facilitator_adds_note_on_behalf_of_the_room_in_vote_phase():
    board = Workshop()
    board.phase("vote")
    note = board.state.notes[board.add(FAC, "紙に書かれた意見")]
    assert note.by_facilitator is True and note.author == FAC.id


def test_facilitators_own_note_is_not_marked_as_entered_on_behalf():
    board = Workshop()
    assert board.state.notes[board.add(FAC, "私の意見", on_behalf=False)].by_facilitator is False


def test_author_edits_own_note():
    board = Workshop()
    note = board.add(AIKO, "公園が少ない")
    board.do(AIKO, "note:edit", {"note": note, "text": "公園が少ない、特に北側"})
    assert board.state.notes[note].text == "公園が少ない、特に北側"


def test_editing_someone_elses_note_is_refused():
    board = Workshop()
    note = board.add(AIKO, "公園が少ない")
    assert board.refuse(BEN, "note:edit", {"note": note, "text": "書き換え"}) == "not_yours"


def test_deleting_someone_elses_note_is_refused():
    board = Workshop()
    note = board.add(AIKO, "公園が少ない")
    assert board.refuse(BEN, "note:delete", {"note": note}) == "not_yours"


def test_facilitator_may_edit_and_delete_anyones_note():
    board = Workshop()
    note = board.add(AIKO, "公園が少ない")
    board.do(FAC, "note:edit", {"note": note, "text": "公園が少ない（誤字修正）"})
    assert board.state.notes[note].text == "公園が少ない（誤字修正）"
    board.do(FAC, "note:delete", {"note": note})
    assert note not in board.state.notes


def test_deleting_a_note_returns_its_dots_and_drops_proxy_votes():
    board = Workshop(vote_budget=2)
    note = board.add(AIKO, "公園")
    board.phase("vote")
    board.do(BEN, "vote:cast", {"note": note})
    board.do(FAC, "proxy:vote", {"note": note, "count": 4})
    board.do(FAC, "note:delete", {"note": note})
    assert board.state.dots_of(BEN.id) == 0 and board.state.proxy == {}


def test_unknown_note_is_not_found():
    board = Workshop()
    assert board.refuse(AIKO, "note:edit", {"note": "n42", "text": "x"}) == "not_found"


def test_moving_note_between_zones():
    board = Workshop()
    note = board.add(AIKO, "空き家を活用したい", zone="z2")
    board.do(AIKO, "note:move", {"note": note, "zone": "z3"})
    assert board.state.notes[note].zone == "z3"


def test_moving_a_grouped_note_takes_it_out_of_its_cluster():
    board = Workshop()
    note = board.add(AIKO, "空き家", zone="z2")
    board.phase("group")
    board.cluster(BEN, note, "住まい")
    board.do(BEN, "note:move", {"note": note, "zone": "z3"})
    assert board.state.notes[note].group is None and board.state.notes[note].zone == "z3"


def test_moving_to_an_unknown_zone_is_refused():
    board = Workshop()
    note = board.add(AIKO, "空き家")
    assert board.refuse(AIKO, "note:move", {"note": note, "zone": "z9"}) == "invalid"


def test_moving_someone_elses_note_while_writing_is_refused():
    board = Workshop()
    note = board.add(AIKO, "空き家")
    assert board.refuse(BEN, "note:move", {"note": note, "zone": "z2"}) == "not_yours"


def test_note_over_500_characters_is_too_long():
    board = Workshop()
    assert board.refuse(AIKO, "note:add", {"zone": "z1", "text": "あ" * (NOTE_MAX + 1)}) == "too_long"
    assert len(board.state.notes[board.add(AIKO, "あ" * NOTE_MAX)].text) == NOTE_MAX


@pytest.mark.parametrize("text", ["", "   \n\t", None, 42, ["公園"]])
def test_empty_or_non_text_note_is_invalid(text: Any):
    board = Workshop()
    assert board.refuse(AIKO, "note:add", {"zone": "z1", "text": text}) == "invalid"


def test_text_with_a_lone_surrogate_is_refused_as_invalid():
    board = Workshop()
    assert board.refuse(AIKO, "note:add", {"zone": "z1", "text": "公園\ud800"}) == "invalid"


# --- clusters ---------------------------------------------------------------------------------------

def test_group_set_with_a_title_creates_a_cluster_and_puts_the_note_in_it():
    board = Workshop()
    note = board.add(AIKO, "バスが少ない", zone="z2")
    board.phase("group")
    committed = board.do(BEN, "group:set", {"note": note, "title": "交通"})
    assert [(seq, kind) for seq, kind, _ in committed] == [(3, "group:created"), (4, "note:grouped")]
    group = board.state.groups["g3"]
    assert (group.zone, group.title) == ("z2", "交通")
    assert board.state.notes[note].group == "g3"


def test_note_joins_an_existing_cluster_of_its_zone():
    board = Workshop()
    first, second = board.add(AIKO, "バス", zone="z2"), board.add(BEN, "電車", zone="z2")
    board.phase("group")
    group = board.cluster(AIKO, first, "交通")
    board.do(CHIE, "group:set", {"note": second, "group": group})
    assert board.state.notes[second].group == group


def test_grouping_into_a_cluster_of_another_zone_is_refused():
    board = Workshop()
    bus, park = board.add(AIKO, "バス", zone="z2"), board.add(BEN, "公園", zone="z1")
    board.phase("group")
    group = board.cluster(AIKO, bus, "交通")
    assert board.refuse(BEN, "group:set", {"note": park, "group": group}) == "invalid"


def test_grouping_is_refused_while_writing():
    board = Workshop()
    note = board.add(AIKO, "バス")
    assert board.refuse(AIKO, "group:set", {"note": note, "title": "交通"}) == "wrong_phase"


def test_group_set_without_cluster_or_title_ungroups_the_note():
    board = Workshop()
    note = board.add(AIKO, "バス")
    board.phase("group")
    group = board.cluster(AIKO, note, "交通")
    board.do(BEN, "group:set", {"note": note, "group": None})
    assert board.state.notes[note].group is None and group in board.state.groups


def test_renaming_a_cluster():
    board = Workshop()
    note = board.add(AIKO, "バス")
    board.phase("group")
    group = board.cluster(AIKO, note, "交通")
    board.do(BEN, "group:rename", {"group": group, "title": "移動手段"})
    assert board.state.groups[group].title == "移動手段"


def test_merge_moves_all_notes_and_removes_the_merged_cluster():
    board = Workshop()
    bus, train, taxi = (board.add(AIKO, text, zone="z2") for text in ("バス", "電車", "タクシー"))
    board.phase("group")
    transport = board.cluster(AIKO, bus, "交通")
    rail = board.cluster(BEN, train, "鉄道")
    board.do(CHIE, "group:set", {"note": taxi, "group": rail})
    board.do(CHIE, "group:merge", {"group": rail, "into": transport})
    assert rail not in board.state.groups and transport in board.state.groups
    assert {board.state.notes[n].group for n in (bus, train, taxi)} == {transport}


def test_merging_a_cluster_into_itself_or_across_zones_is_refused():
    board = Workshop()
    bus, park = board.add(AIKO, "バス", zone="z2"), board.add(AIKO, "公園", zone="z1")
    board.phase("group")
    transport, nature = board.cluster(AIKO, bus, "交通"), board.cluster(AIKO, park, "自然")
    assert board.refuse(BEN, "group:merge", {"group": transport, "into": transport}) == "invalid"
    assert board.refuse(BEN, "group:merge", {"group": transport, "into": nature}) == "invalid"


def test_split_ungroups_every_note_and_removes_the_cluster():
    board = Workshop()
    bus, train = board.add(AIKO, "バス", zone="z2"), board.add(BEN, "電車", zone="z2")
    board.phase("group")
    group = board.cluster(AIKO, bus, "交通")
    board.do(BEN, "group:set", {"note": train, "group": group})
    board.do(CHIE, "group:split", {"group": group})
    assert group not in board.state.groups
    assert board.state.notes[bus].group is None and board.state.notes[train].group is None


# --- dots ---------------------------------------------------------------------------------------------

def voting_board(notes: int = 3, **config: Any) -> tuple[Workshop, list[str]]:
    board = Workshop(**config)
    ids = [board.add(AIKO, f"意見{i}") for i in range(notes)]
    board.phase("vote")
    return board, ids


def test_dot_beyond_the_budget_is_refused_over_budget():
    board, notes = voting_board(vote_budget=3, max_votes_per_note=3)
    for note in notes:
        board.do(BEN, "vote:cast", {"note": note})
    assert board.refuse(BEN, "vote:cast", {"note": notes[0]}) == "over_budget"
    assert board.state.dots_of(BEN.id) == 3
    board.do(CHIE, "vote:cast", {"note": notes[0]})  # the budget is per participant


def test_more_dots_than_allowed_on_one_note_is_refused_over_limit():
    board, notes = voting_board(vote_budget=5, max_votes_per_note=2)
    board.do(BEN, "vote:cast", {"note": notes[0]})
    board.do(BEN, "vote:cast", {"note": notes[0]})
    assert board.refuse(BEN, "vote:cast", {"note": notes[0]}) == "over_limit"
    board.do(BEN, "vote:cast", {"note": notes[1]})
    assert board.state.votes[BEN.id] == {notes[0]: 2, notes[1]: 1}


def test_retracting_a_dot_you_do_not_have_is_refused():
    board, notes = voting_board()
    board.do(AIKO, "vote:cast", {"note": notes[0]})
    assert board.refuse(BEN, "vote:retract", {"note": notes[0]}) == "invalid"
    assert board.refuse(AIKO, "vote:retract", {"note": notes[1]}) == "invalid"


def test_retracting_a_dot_gives_it_back_to_the_budget():
    board, notes = voting_board(vote_budget=1)
    board.do(BEN, "vote:cast", {"note": notes[0]})
    board.do(BEN, "vote:retract", {"note": notes[0]})
    assert board.state.dots_of(BEN.id) == 0 and board.state.voters() == 0
    board.do(BEN, "vote:cast", {"note": notes[1]})


def test_voting_is_refused_outside_the_vote_phase():
    board = Workshop()
    note = board.add(AIKO, "公園")
    assert board.refuse(BEN, "vote:cast", {"note": note}) == "wrong_phase"


def test_a_hidden_note_cannot_get_dots():
    board, notes = voting_board()
    board.do(FAC, "note:hide", {"note": notes[0]})
    assert board.refuse(BEN, "vote:cast", {"note": notes[0]}) == "not_found"


def test_proxy_votes_are_counted_apart_from_online_dots():
    board, notes = voting_board()
    board.do(BEN, "vote:cast", {"note": notes[0]})
    board.do(CHIE, "vote:cast", {"note": notes[0]})
    board.do(FAC, "proxy:vote", {"note": notes[0], "count": 9})
    board.do(FAC, "proxy:vote", {"note": notes[0], "count": 5})  # a recount replaces, it does not add
    top = results(board.state)[0]
    assert (top["id"], top["online"], top["proxy"], top["total"]) == (notes[0], 2, 5, 7)
    assert board.state.tally(notes[0]) == 2


@pytest.mark.parametrize("count", [-1, 1.5, "3", True, None, 100_001])
def test_proxy_vote_must_be_a_whole_number_of_dots(count: Any):
    board, notes = voting_board()
    assert board.refuse(FAC, "proxy:vote", {"note": notes[0], "count": count}) == "invalid"


def test_results_rank_clusters_by_their_notes_dots_leaving_hidden_notes_out():
    board = Workshop()
    bus, train, rude = (board.add(AIKO, text, zone="z2") for text in ("バス", "電車", "失礼な意見"))
    park = board.add(BEN, "公園", zone="z1")
    board.phase("group")
    group = board.cluster(AIKO, bus, "交通")
    board.do(AIKO, "group:set", {"note": train, "group": group})
    board.do(AIKO, "group:set", {"note": rude, "group": group})
    board.phase("vote")
    for voter, note in ((BEN, bus), (CHIE, train), (CHIE, rude), (AIKO, park)):
        board.do(voter, "vote:cast", {"note": note})
    board.do(FAC, "proxy:vote", {"note": train, "count": 3})
    board.do(FAC, "proxy:vote", {"note": rude, "count": 10})
    board.do(FAC, "note:hide", {"note": rude})
    ranked = results(board.state)
    assert [(r["kind"], r["id"], r["online"], r["proxy"], r["total"]) for r in ranked] == \
        [("group", group, 2, 3, 5), ("note", park, 1, 0, 1)]


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


def script(board: Workshop) -> None:
    first, second = board.add(AIKO, "バス", zone="z2"), board.add(BEN, "電車", zone="z2")
    board.phase("group")
    group = board.cluster(CHIE, first, "交通")
    board.do(CHIE, "group:set", {"note": second, "group": group})
    board.phase("vote")
    board.do(AIKO, "vote:cast", {"note": second})
    board.do(FAC, "timer:start", {"seconds": 60})


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


# --- what each viewer sees --------------------------------------------------------------------------

def snapshot_note_ids(snap: dict[str, Any]) -> set[str]:
    return {note["id"] for note in snap["notes"]}


def test_private_writing_participant_sees_only_own_notes_and_counts_of_others():
    board = Workshop(private_writing=True)
    mine = board.add(AIKO, "私の意見", zone="z1")
    board.add(BEN, "ベンの意見", zone="z1")
    board.add(CHIE, "チエの意見", zone="z2")
    snap = board.snap(AIKO)
    assert snapshot_note_ids(snap) == {mine} and snap["notes"][0]["mine"] is True
    assert snap["others_writing"] == {"z1": 1, "z2": 1, "z3": 0}
    assert "ベンの意見" not in dump(snap) and "チエの意見" not in dump(snap)


def test_private_writing_facilitator_sees_every_note():
    board = Workshop(private_writing=True)
    notes = {board.add(AIKO, "a"), board.add(BEN, "b")}
    assert snapshot_note_ids(board.snap(FAC)) == notes


def test_private_writing_ends_when_grouping_starts():
    board = Workshop(private_writing=True)
    notes = {board.add(AIKO, "a"), board.add(BEN, "b")}
    board.phase("group")
    snap = board.snap(AIKO)
    assert snapshot_note_ids(snap) == notes and snap["others_writing"] == {}


def test_private_writing_note_added_reaches_participants_without_text():
    board = Workshop(private_writing=True)
    committed = board.do(BEN, "note:add", {"zone": "z2", "text": "秘密の下書き"})
    participant_event, = board.room(committed, facilitators=False)
    assert participant_event["type"] == "note:added"
    assert participant_event["data"] == {"id": "n1", "zone": "z2", "private": True}
    facilitator_event, = board.room(committed, facilitators=True)
    assert facilitator_event["data"]["text"] == "秘密の下書き"


def test_private_writing_edit_reaches_participants_without_text():
    board = Workshop(private_writing=True)
    note = board.add(BEN, "下書き")
    committed = board.do(BEN, "note:edit", {"note": note, "text": "秘密の清書"})
    assert "秘密の清書" not in dump(board.room(committed, facilitators=False))


def test_unhiding_a_note_during_private_writing_does_not_show_its_text_to_participants():
    board = Workshop(private_writing=True)
    note = board.add(BEN, "秘密の下書き")
    board.do(FAC, "note:hide", {"note": note})
    committed = board.do(FAC, "note:hide", {"note": note, "hidden": False})
    assert "秘密の下書き" not in dump(board.room(committed, facilitators=False))


def test_named_board_shows_author_names():
    board = Workshop()
    committed = board.do(AIKO, "note:add", {"zone": "z1", "text": "公園"})
    assert board.snap(BEN)["notes"][0]["author"] == "Aiko Tanaka"
    assert board.room(committed, facilitators=False)[0]["data"]["author"] == "Aiko Tanaka"


def test_anonymous_board_has_no_author_names_in_snapshots_or_room_events():
    board = Workshop(anonymous=True)
    committed = board.do(AIKO, "note:add", {"zone": "z1", "text": "公園"})
    board.phase("group")
    committed += board.do(AIKO, "group:set", {"note": "n1", "title": "自然"})
    board.phase("vote")
    committed += board.do(AIKO, "vote:cast", {"note": "n1"})
    board.do(FAC, "votes:reveal", {})
    committed += board.do(AIKO, "vote:retract", {"note": "n1"})
    for viewer in (BEN, FAC):
        assert "Aiko" not in dump(board.snap(viewer))
    for facilitators in (False, True):
        assert "Aiko" not in dump(board.room(committed, facilitators=facilitators))


def test_votes_are_hidden_from_participants_until_revealed():
    board, notes = voting_board()
    board.do(BEN, "vote:cast", {"note": notes[0]})
    snap = board.snap(BEN)
    assert "tallies" not in snap and "results" not in snap
    assert snap["votes"]["mine"] == {notes[0]: 1} and snap["votes"]["used"] == 1
    assert (snap["votes"]["voters"], snap["votes"]["participants"]) == (1, PARTICIPANTS)
    assert "tallies" not in board.snap(AIKO)


def test_facilitator_sees_tallies_before_reveal():
    board, notes = voting_board()
    board.do(BEN, "vote:cast", {"note": notes[0]})
    assert board.snap(FAC)["tallies"][notes[0]] == {"online": 1, "proxy": 0}


def test_dot_reaches_participants_only_as_a_voting_progress_count():
    board, notes = voting_board()
    cast, = board.room(board.do(BEN, "vote:cast", {"note": notes[0]}), facilitators=False)
    assert cast == {"seq": 5, "type": "votes:progress", "data": {"voters": 1, "participants": 3}}
    retracted, = board.room(board.do(BEN, "vote:retract", {"note": notes[0]}), facilitators=False)
    assert retracted["type"] == "votes:progress" and retracted["data"] == {"voters": 0, "participants": 3}


def test_proxy_vote_before_reveal_reaches_participants_as_nothing():
    board, notes = voting_board()
    committed = board.do(FAC, "proxy:vote", {"note": notes[0], "count": 4})
    participant_event, = board.room(committed, facilitators=False)
    assert participant_event["type"] == "noop" and participant_event["data"] == {}
    facilitator_event, = board.room(committed, facilitators=True)
    assert facilitator_event["data"]["proxy"] == 4


def test_after_reveal_tallies_and_results_appear_for_participants():
    board, notes = voting_board()
    board.do(BEN, "vote:cast", {"note": notes[1]})
    board.do(FAC, "proxy:vote", {"note": notes[1], "count": 2})
    board.do(FAC, "votes:reveal", {})
    snap = board.snap(BEN)
    assert snap["tallies"][notes[1]] == {"online": 1, "proxy": 2}
    assert snap["results"][0]["id"] == notes[1] and snap["results"][0]["total"] == 3
    committed = board.do(CHIE, "vote:cast", {"note": notes[1]})
    assert board.room(committed, facilitators=False)[0]["data"] == \
        {"voters": 2, "participants": 3, "note": notes[1], "online": 2, "proxy": 2}


def test_hidden_note_is_not_in_participant_snapshots():
    board = Workshop()
    rude, kind = board.add(AIKO, "失礼な意見"), board.add(BEN, "良い意見")
    board.do(FAC, "note:hide", {"note": rude})
    for viewer in (AIKO, BEN):
        snap = board.snap(viewer)
        assert snapshot_note_ids(snap) == {kind} and "失礼な意見" not in dump(snap)


def test_facilitator_sees_hidden_notes_flagged():
    board = Workshop()
    rude, kind = board.add(AIKO, "失礼な意見"), board.add(BEN, "良い意見")
    board.do(FAC, "note:hide", {"note": rude})
    flags = {note["id"]: note["hidden"] for note in board.snap(FAC)["notes"]}
    assert flags == {rude: True, kind: False}


def test_hiding_a_note_removes_it_for_participants_and_unhiding_brings_it_back():
    board = Workshop()
    note = board.add(AIKO, "微妙な意見")
    hidden = board.room(board.do(FAC, "note:hide", {"note": note}), facilitators=False)
    assert hidden == [{"seq": 2, "type": "note:deleted", "data": {"id": note}}]
    shown, = board.room(board.do(FAC, "note:hide", {"note": note, "hidden": False}), facilitators=False)
    assert shown["type"] == "note:added" and shown["data"]["text"] == "微妙な意見"


def test_editing_a_hidden_note_does_not_show_its_text_to_participants():
    board = Workshop()
    note = board.add(AIKO, "失礼な意見")
    board.do(FAC, "note:hide", {"note": note})
    committed = board.do(AIKO, "note:edit", {"note": note, "text": "もっと失礼な意見"})
    assert "もっと失礼な意見" not in dump(board.room(committed, facilitators=False))


def test_room_events_never_carry_participant_ids():
    board = Workshop()
    script(board)
    board.do(AIKO, "vote:retract", {"note": "n2"})
    board.do(FAC, "proxy:vote", {"note": "n1", "count": 1})
    board.do(FAC, "votes:reveal", {})
    board.do(CHIE, "vote:cast", {"note": "n1"})
    for facilitators in (False, True):
        text = dump(board.room(board.log, facilitators=facilitators))
        assert not any(actor_id in text for actor_id in ACTOR_IDS)
        assert '"participant"' not in text


def test_replayed_note_added_of_a_since_deleted_note_carries_no_author_id():
    board = Workshop()
    note = board.add(AIKO, "消す意見")
    board.do(AIKO, "note:delete", {"note": note})
    for facilitators in (False, True):  # a reconnecting client gets old events rendered with today's state
        assert not any(actor_id in dump(board.room(board.log, facilitators=facilitators)) for actor_id in ACTOR_IDS)


def test_replay_after_reconnect_does_not_show_a_hidden_notes_text_to_participants():
    board = Workshop()
    note = board.add(AIKO, "失礼な意見")
    board.do(FAC, "note:hide", {"note": note})
    assert "失礼な意見" not in dump(board.room(board.log, facilitators=False))


# --- properties over any sequence of commands ------------------------------------------------------

GARBAGE_KINDS = ["note:explode", "", "NOTE:ADD", "vote:cast ", "board:snapshot", "__class__"]
KEYS = ("note", "zone", "text", "color", "group", "into", "title", "count", "phase", "seconds", "locked",
        "revealed", "hidden", "on_behalf")
NEEDS = {"note:add": ("zone", "text", "color"), "note:edit": ("note", "text"), "note:move": ("note", "zone"),
         "note:delete": ("note",), "group:set": ("note", "group", "title"), "group:rename": ("group", "title"),
         "group:merge": ("group", "into"), "group:split": ("group",), "vote:cast": ("note",),
         "vote:retract": ("note",), "proxy:vote": ("note", "count"), "phase:set": ("phase",),
         "timer:start": ("seconds",), "timer:stop": (), "board:lock": ("locked",), "votes:reveal": ("revealed",),
         "note:hide": ("note", "hidden")}
# what a real workshop mostly does, commonest first (hypothesis favours the start of a list)
BUSY_KINDS = ["note:add"] * 8 + ["vote:cast"] * 10 + ["group:set"] * 6 + ["group:merge"] * 5 \
    + ["vote:retract"] * 3 + 3 * sorted(ALLOWED_PHASES) + sorted(BOARD_FACILITATOR_ONLY)
ODD = st.sampled_from([None, 0, 1.5, True, "", [], {}, ["n1"], {"id": "n1"}])
WORDS = st.one_of(st.text(min_size=1, max_size=12), st.sampled_from(["バス", "公園", "  空き家  "]))
TEXT = st.one_of(st.text(max_size=12), st.sampled_from(["", "   ", "あ" * NOTE_MAX, "あ" * (NOTE_MAX + 1)]))


def plausible(key: str, state: BoardState) -> st.SearchStrategy[Any]:
    """Values a real client would send: ids that exist now, the board's zones and colours, sane numbers."""
    notes, groups = sorted(state.notes), sorted(state.groups)
    pools: dict[str, st.SearchStrategy[Any]] = {
        "note": st.sampled_from(notes) if notes else st.just("n999"),
        "group": st.sampled_from(groups + [None]) if groups else st.none(),
        "zone": st.sampled_from(state.zone_ids()),
        "text": WORDS, "title": WORDS,
        "color": st.sampled_from(list(COLORS) + [None]),
        "count": st.integers(0, 12),
        "phase": st.sampled_from(PHASES),
        "seconds": st.integers(10, 600),
    }
    pools["into"] = pools["group"]
    return pools.get(key, st.booleans())


def wrong(key: str, state: BoardState) -> st.SearchStrategy[Any]:
    """Values a buggy or hostile client might send: unknown ids, bad types, out-of-range numbers."""
    pools: dict[str, st.SearchStrategy[Any]] = {
        "note": st.sampled_from(["n999", "g1"]), "group": st.sampled_from(["g999", "n1"]),
        "zone": st.just("z9"), "text": TEXT, "title": TEXT, "color": st.just("plaid"),
        "count": st.sampled_from([-1, 100_001, 2.0, "3"]), "phase": st.just("lunch"),
        "seconds": st.sampled_from([0, 9, 20_000, 60.0, "60"]),
    }
    pools["into"] = pools["group"]
    return st.one_of(pools.get(key, ODD), plausible(key, state), ODD)


@st.composite
def command(draw: st.DrawFn, state: BoardState) -> tuple[Actor, str, Any]:
    """One command: usually what a real client sends, sometimes nonsense, from any of four people."""
    roll = draw(st.integers(0, 19))
    if roll < 12:
        fitting = [k for k in BUSY_KINDS if k in BOARD_FACILITATOR_ONLY or state.phase in ALLOWED_PHASES[k]]
        kind = draw(st.sampled_from(fitting))
        actor = FAC if kind in BOARD_FACILITATOR_ONLY else draw(st.sampled_from(ACTORS))
        pairs = [(a, b) for a in state.groups.values() for b in state.groups.values() if a != b and a.zone == b.zone]
        if kind == "group:merge" and pairs:
            group, into = draw(st.sampled_from(pairs))
            return actor, kind, {"group": group.id, "into": into.id}
        dotted = sorted(state.votes.get(actor.id, {}))
        if kind == "vote:retract" and dotted:
            return actor, kind, {"note": draw(st.sampled_from(dotted))}
        keys = NEEDS[kind]
        if kind == "group:set":
            keys = draw(st.sampled_from([("note", "title"), ("note", "group"), ("note",)]))
        return actor, kind, {key: draw(plausible(key, state)) for key in keys}
    if roll == 19:  # usually the next phase, sometimes a jump back or ahead
        following = PHASES[(PHASES.index(state.phase) + 1) % len(PHASES)]  # closed -> write: a reopened board
        return FAC, "phase:set", {"phase": draw(st.sampled_from([following, following] + list(PHASES)))}
    actor = draw(st.sampled_from(ACTORS))
    kind = draw(st.sampled_from(ALL_KINDS + GARBAGE_KINDS))
    if roll == 18:
        return actor, kind, draw(st.sampled_from([None, [], "note", 7]))
    keys = NEEDS.get(kind, ()) if draw(st.booleans()) else draw(st.sets(st.sampled_from(KEYS), max_size=4))
    return actor, kind, {key: draw(wrong(key, state)) for key in keys}


BOARD_CONFIG = st.fixed_dictionaries({
    "zones": st.integers(1, len(ZONES)),
    "vote_budget": st.integers(1, 4), "max_votes_per_note": st.integers(1, 3),
    "anonymous": st.booleans(), "private_writing": st.booleans()})
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run_workshop(data: st.DataObject, check: Any) -> None:
    """Random commands driven like the service; `check(board, committed)` after every command."""
    board = Workshop(**data.draw(BOARD_CONFIG))
    for step in range(data.draw(st.integers(1, 80), label="steps")):
        actor, kind, payload = data.draw(command(board.state), label=f"command {step}")
        before = copy.deepcopy(board.state)
        try:
            committed = board.do(actor, kind, payload, now_ms=NOW + step * 1000)
        except CommandError as refused:
            assert board.state == before, "a refused command changed the board"
            assert isinstance(refused.code, str) and refused.code
            committed = []
        else:
            again = apply(before, kind, payload, actor, now_ms=NOW + step * 1000)
            assert [(e["type"], e["data"]) for e in again] == [(k, d) for _, k, d in committed], "not deterministic"
        check(board, committed)


@PROPERTY
@given(st.data())
def test_any_command_sequence_leaves_the_log_rebuilding_the_live_state(data: st.DataObject):
    def check(board: Workshop, committed: list[tuple]) -> None:
        assert board.state.seq == len(board.log)
        assert [seq for seq, _, _ in board.log] == list(range(1, len(board.log) + 1))
        stored = json.loads(dump(board.log).encode("utf-8"))  # the log keeps data as UTF-8 JSON text
        assert replay(board.initial, board.log) == board.state
        assert replay(board.initial, [(seq, kind, data) for seq, kind, data in stored]) == board.state

    run_workshop(data, check)


@PROPERTY
@given(st.data())
def test_any_command_sequence_keeps_budgets_clusters_and_totals(data: st.DataObject):
    def check(board: Workshop, committed: list[tuple]) -> None:
        state = board.state
        for votes in state.votes.values():
            assert sum(votes.values()) <= state.vote_budget
            assert all(0 < dots <= state.max_votes_per_note for dots in votes.values())
            assert set(votes) <= set(state.notes)
        for note in state.notes.values():
            assert note.zone in state.zone_ids()
            if note.group is not None:
                assert note.group in state.groups and state.groups[note.group].zone == note.zone
        assert state.phase in PHASES
        for row in results(state):
            assert row["total"] == row["online"] + row["proxy"]
        shown = {n.id for n in state.notes.values() if not n.hidden}
        assert sum(r["online"] for r in results(state)) == sum(state.tally(n) for n in shown)

    run_workshop(data, check)


@PROPERTY
@given(st.data())
def test_any_command_sequence_keeps_ids_hidden_notes_and_tallies_from_participants(data: st.DataObject):
    def check(board: Workshop, committed: list[tuple]) -> None:
        state = board.state
        for facilitators in (False, True):
            for event in board.room(committed, facilitators=facilitators):
                assert not ACTOR_IDS & {str(v) for v in event["data"].values()}
                assert "participant" not in event["data"]
                if state.anonymous:
                    assert "author_name" not in event["data"] and "name" not in event["data"]
                if not facilitators and not state.revealed:
                    assert event["type"] not in ("vote:cast", "vote:retracted", "proxy:set")
                    assert "note" not in event["data"] or event["type"] not in ("votes:progress", "noop")
        for viewer in (AIKO, BEN):
            snap = board.snap(viewer)
            dump(snap)  # sent as JSON over the socket
            ids = snapshot_note_ids(snap)
            assert not ids & {n.id for n in state.notes.values() if n.hidden}
            if state.private_writing and state.phase == "write":
                assert all(note["mine"] for note in snap["notes"])
            assert ("tallies" in snap) == state.revealed
            if state.anonymous:
                assert all("author" not in note for note in snap["notes"])

    run_workshop(data, check)
