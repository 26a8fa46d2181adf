"""Board rules (the pure state machine): dots, their budget and limit per note, proxy votes from the room,
and results ranked by cluster.

No sockets here: `Workshop` (tests/board_model.py) drives the rules exactly as realtime/service.py does.
"""

from __future__ import annotations

from typing import Any

import pytest

from realtime.board import results
from tests.board_model import AIKO, BEN, CHIE, FAC, Workshop, voting_board


# --- dots ---------------------------------------------------------------------------------------------

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


# --- dots on clusters, and where the voters are ------------------------------------------------------

def _clustered_voting_board() -> tuple[Workshop, str, list[str]]:
    board = Workshop(vote_budget=5, max_votes_per_note=2)
    first, second = board.add(AIKO, "公園が広い"), board.add(BEN, "緑が多い")
    board.phase("group")
    cluster = board.cluster(FAC, first, "自然")
    board.do(FAC, "group:set", {"note": second, "group": cluster})
    lone = board.add(FAC, "バスが少ない", zone="z2")
    board.phase("vote")
    return board, cluster, [first, second, lone]


def test_a_dot_on_a_cluster_counts_for_the_cluster_within_budget_and_limit():
    board, cluster, notes = _clustered_voting_board()
    board.do(AIKO, "vote:cast", {"group": cluster})
    board.do(AIKO, "vote:cast", {"group": cluster})
    assert board.refuse(AIKO, "vote:cast", {"group": cluster}) == "over_limit"
    board.do(AIKO, "vote:cast", {"note": notes[0]})
    ranked = {item["id"]: item for item in results(board.state)}
    assert ranked[cluster]["total"] == 3 and ranked[cluster]["kind"] == "group"
    assert board.state.dots_of(AIKO.id) == 3
    board.do(AIKO, "vote:retract", {"group": cluster})
    assert {item["id"]: item for item in results(board.state)}[cluster]["total"] == 2
    assert board.refuse(AIKO, "vote:cast", {"group": "g-nope"}) == "not_found"
    assert board.refuse(AIKO, "vote:cast", {"group": ["g1"]}) == "not_found"


def test_dots_follow_a_merged_cluster_and_return_when_it_is_split():
    board, cluster, notes = _clustered_voting_board()
    board.do(AIKO, "vote:cast", {"group": cluster})
    board.phase("group")
    other = board.cluster(FAC, notes[2], "交通")
    board.do(FAC, "group:split", {"group": cluster})
    assert board.state.dots_of(AIKO.id) == 0  # the dot went back to the budget
    assert {item["id"] for item in results(board.state)} == {notes[0], notes[1], other}


def test_results_count_dots_from_the_room_and_online_apart_and_together():
    board, cluster, notes = _clustered_voting_board()
    in_room = AIKO.__class__(id=AIKO.id, name=AIKO.name, place="room")
    board.do(in_room, "vote:cast", {"note": notes[2]})
    board.do(BEN, "vote:cast", {"note": notes[2]})
    board.do(FAC, "proxy:vote", {"note": notes[2], "count": 4})
    board.do(FAC, "proxy:vote", {"group": cluster, "count": 2})
    ranked = {item["id"]: item for item in results(board.state)}
    assert (ranked[notes[2]]["in_room"], ranked[notes[2]]["remote"], ranked[notes[2]]["total"]) == (5, 1, 6)
    assert (ranked[cluster]["in_room"], ranked[cluster]["total"]) == (2, 2)
