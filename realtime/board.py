"""The live board as a pure state machine: `apply(state, command) -> events`, `fold(state, event)`.

No I/O here. The socket and HTTP layers validate input, call `apply`, append the events to the
board's log in one transaction, then `fold` them into the live state and broadcast. Rebuilding a
board is folding its log from the start, so live state and log-folded state are always equal.

Ids of new notes and groups come from the sequence number of the event that creates them, so
applying the same commands to the same state always yields the same events.

This module decides who may send which command in which phase; what each command does is in
`realtime.commands`, what each event changes in `realtime.folds`, and the state in
`realtime.state`. Other modules import all of these names from here.
"""

from __future__ import annotations

import copy
from typing import Any

from realtime.commands import COMMANDS, NOTE_MAX, TITLE_MAX, CommandError, N_, without_controls
from realtime.folds import FOLDS
from realtime.polls import PollError, apply_poll, fold_poll
from realtime.state import COLORS, PHASES, Actor, BoardState, Group, Note

__all__ = [
    "ALLOWED_PHASES", "COLORS", "FACILITATOR_ONLY", "NOTE_MAX", "PHASES", "POLL_COMMANDS", "POLL_EVENTS",
    "TITLE_MAX", "Actor", "BoardState", "CommandError", "Group", "N_", "Note", "apply", "fold", "replay",
    "results", "without_controls",
]

FACILITATOR_ONLY = {"phase:set", "timer:start", "timer:stop", "board:lock", "board:joining", "votes:reveal",
                    "note:hide", "proxy:vote", "poll:create", "poll:open", "poll:close", "poll:reveal", "poll:room",
                    "question:moderate", "qa:moderation"}
# what a facilitator may still do on a finished board
AFTER_CLOSING = ("phase:set", "votes:reveal", "note:hide", "timer:stop", "board:joining")
# polls and questions work in every phase but "closed" (a forum may poll at any time)
POLL_COMMANDS = {"poll:create", "poll:open", "poll:close", "poll:reveal", "poll:room", "poll:answer",
                 "question:ask", "question:upvote", "question:unvote", "question:moderate", "qa:moderation"}
POLL_EVENTS = {"poll:created", "poll:status", "poll:revealed", "poll:room_counts", "poll:answered",
               "question:asked", "question:upvoted", "question:unvoted", "question:moderated", "qa:moderation_set"}
# phases in which each participant command is allowed (facilitators may also act outside them)
ALLOWED_PHASES = {
    "note:add": ("write",),
    "note:edit": ("write", "group"),
    "note:move": ("write", "group"),
    "note:delete": ("write", "group"),
    "group:set": ("group",),
    "group:rename": ("group",),
    "group:merge": ("group",),
    "group:split": ("group",),
    "vote:cast": ("vote",),
    "vote:retract": ("vote",),
}


def apply(state: BoardState, kind: str, data: dict[str, Any], actor: Actor, *, now_ms: int) -> list[dict[str, Any]]:
    """The events a command produces, or CommandError. `now_ms` is the server clock (for the timer)."""
    if not isinstance(data, dict):
        raise CommandError("invalid", N_("The event data must be an object."))
    if kind in FACILITATOR_ONLY and not actor.facilitator:
        raise CommandError("forbidden", N_("Only the facilitator can do this."))
    if kind not in FACILITATOR_ONLY and kind not in ALLOWED_PHASES and kind not in POLL_COMMANDS:
        raise CommandError("unknown_event", N_("Unknown event: {type}."), type=kind)
    if state.phase == "closed" and kind not in AFTER_CLOSING:
        raise CommandError("closed", N_("This board is closed."))
    if kind in ALLOWED_PHASES and not actor.facilitator:
        if state.locked:
            raise CommandError("locked", N_("The facilitator has paused the board."))
        if state.phase not in ALLOWED_PHASES[kind]:
            raise CommandError("wrong_phase", N_("This is not possible in the current phase."))
    if kind in POLL_COMMANDS:
        return _apply_poll_command(state, kind, data, actor)
    command = COMMANDS.get(kind)
    if command is None:
        raise CommandError("unknown_event", N_("Unknown event: {type}."), type=kind)
    return command(state, data, actor, now_ms)


def _apply_poll_command(state: BoardState, kind: str, data: dict[str, Any], actor: Actor) -> list[dict[str, Any]]:
    """A poll or Q&A command, passed to the poll rules with the board's settings."""
    if state.locked and not actor.facilitator:
        raise CommandError("locked", N_("The facilitator has paused the board."))
    if kind == "poll:answer" and actor.facilitator:
        raise CommandError("forbidden", N_("Facilitators enter the room's answers as counts."))
    try:
        return apply_poll(state.polls, state.questions, kind, data, actor, next_id=state.seq + 1,
                          moderation=state.qa_moderation, board_id=state.board_id,
                          board_anonymous=state.anonymous)
    except PollError as error:
        raise CommandError(error.code, error.message, **error.params) from None


def fold(state: BoardState, seq: int, kind: str, data: dict[str, Any]) -> BoardState:
    """Apply one logged event to the state in place (and return it)."""
    state.seq = seq
    if kind in POLL_EVENTS:
        fold_poll(state, kind, data)
        return state
    change = FOLDS.get(kind)
    if change is not None:
        change(state, data)
    return state


def replay(initial: BoardState, events: list[tuple[int, str, dict[str, Any]]]) -> BoardState:
    """A board rebuilt from its log (a fresh copy; `initial` is not changed)."""
    state = copy.deepcopy(initial)
    for seq, kind, data in events:
        fold(state, seq, kind, data)
    return state


def results(state: BoardState) -> list[dict[str, Any]]:
    """Notes and clusters ranked by dots (online + proxy), for reveal, projector and export.

    Each item: `online` (dots from devices), `proxy` (the room's counts entered by the facilitator),
    `total`, and the same dots split by where people are: `in_room` (devices of participants who
    joined in the room, plus proxy) and `remote` (devices of those who joined online)."""
    ranked = []
    for group in state.groups.values():
        members = [n for n in state.notes.values() if n.group == group.id and not n.hidden]
        targets = [group.id, *(n.id for n in members)]  # dots on the cluster itself and on its notes
        ranked.append(_ranked_item(state, "group", group.id, group.zone, group.title, targets))
    for note in state.notes.values():
        if note.group is None and not note.hidden:
            ranked.append(_ranked_item(state, "note", note.id, note.zone, note.text, [note.id]))
    ranked.sort(key=lambda item: (-item["total"], item["id"]))
    return ranked


def _ranked_item(state: BoardState, kind: str, id_: str, zone: str, title: str, targets: list[str]) -> dict[str, Any]:
    online = sum(state.tally(t) for t in targets)
    proxy = sum(state.proxy.get(t, 0) for t in targets)
    room_devices = sum(state.tally_in_room(t) for t in targets)
    return {"kind": kind, "id": id_, "zone": zone, "title": title, "online": online, "proxy": proxy,
            "total": online + proxy, "in_room": room_devices + proxy, "remote": online - room_devices}
