"""Board rules: what each viewer sees in snapshots and room events: private writing, anonymous boards,
hidden votes until the reveal, hidden notes, and no participant ids.

No sockets here: `Workshop` (tests/board_model.py) drives the rules exactly as realtime/service.py does.
"""

from __future__ import annotations

from tests.board_model import (
    ACTOR_IDS, AIKO, BEN, CHIE, FAC, PARTICIPANTS, Workshop, dump, script, snapshot_note_ids, voting_board,
)


# --- what each viewer sees --------------------------------------------------------------------------

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
