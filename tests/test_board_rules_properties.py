"""Board rules under any sequence of commands (hypothesis): the log rebuilds the live state, budgets,
clusters and totals hold, and participants never see ids, hidden notes or early tallies.

No sockets here: `Workshop` (tests/board_model.py) drives the rules exactly as realtime/service.py does.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

from realtime.board import (
    ALLOWED_PHASES, COLORS, NOTE_MAX, PHASES, Actor, BoardState, CommandError, apply, replay, results,
)
from tests.board_model import (
    ACTORS, ACTOR_IDS, AIKO, ALL_KINDS, BEN, BOARD_FACILITATOR_ONLY, FAC, NOW, ZONES, Workshop, dump,
    snapshot_note_ids,
)


# --- properties over any sequence of commands ------------------------------------------------------

GARBAGE_KINDS = ["note:explode", "", "NOTE:ADD", "vote:cast ", "board:snapshot", "__class__"]
KEYS = ("note", "zone", "text", "color", "group", "into", "title", "count", "phase", "seconds", "locked",
        "revealed", "hidden", "on_behalf")
NEEDS = {"board:joining": ("open",), "note:add": ("zone", "text", "color"), "note:edit": ("note", "text"), "note:move": ("note", "zone"),
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
