"""Board rules (the pure state machine): notes (adding, editing, moving, deleting, limits) and clusters
(grouping, renaming, merging, splitting).

No sockets here: `Workshop` (tests/board_model.py) drives the rules exactly as realtime/service.py does.
"""

from __future__ import annotations

from typing import Any

import pytest

from realtime.board import COLORS, NOTE_MAX
from tests.board_model import AIKO, BEN, CHIE, FAC, Workshop


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


def test_a_new_cluster_in_one_step_is_titled_by_its_first_note():
    board = Workshop()
    long_note = board.add(AIKO, "バス停まで歩いて二十分かかるので、雨の日や夏の暑い日はとても大変です。\n二行目")
    board.phase("group")
    created, _grouped = board.do(BEN, "group:set", {"note": long_note, "group": "new"})
    assert created[1] == "group:created" and created[2]["title"] == "バス停まで歩いて二十分かかるので、雨の日や夏の暑い日はとても大変です。"[:40]
    assert board.state.notes[long_note].group == created[2]["id"]
    named = board.add(FAC, "公園", zone="z1")
    (_seq, _kind, data), _ = board.do(BEN, "group:set", {"note": named, "group": "new", "title": "  みどり  "})
    assert data["title"] == "みどり"
    assert board.refuse(BEN, "group:set", {"note": named, "group": "new-ish"}) == "not_found"
