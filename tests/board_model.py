"""The board rules driven without sockets, as the rule tests of boards and polls use them.

`Workshop` drives the rules exactly as realtime/service.py does: apply a command, then fold its events with
consecutive seq numbers starting at state.seq + 1, and log them. The actors' ids and names are distinctive
enough that finding them in a JSON dump means they leaked."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from realtime.board import ALLOWED_PHASES, FACILITATOR_ONLY, POLL_COMMANDS, Actor, BoardState, CommandError, apply, fold
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
BOARD_FACILITATOR_ONLY = FACILITATOR_ONLY - POLL_COMMANDS  # polls and Q&A are tested in test_poll_*.py
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


def voting_board(notes: int = 3, **config: Any) -> tuple[Workshop, list[str]]:
    """A board in the vote phase with some notes by Aiko; the notes' ids."""
    board = Workshop(**config)
    ids = [board.add(AIKO, f"意見{i}") for i in range(notes)]
    board.phase("vote")
    return board, ids


def script(board: Workshop) -> None:
    """A few commands of every kind, the same each time."""
    first, second = board.add(AIKO, "バス", zone="z2"), board.add(BEN, "電車", zone="z2")
    board.phase("group")
    group = board.cluster(CHIE, first, "交通")
    board.do(CHIE, "group:set", {"note": second, "group": group})
    board.phase("vote")
    board.do(AIKO, "vote:cast", {"note": second})
    board.do(FAC, "timer:start", {"seconds": 60})


def snapshot_note_ids(snap: dict[str, Any]) -> set[str]:
    return {note["id"] for note in snap["notes"]}
