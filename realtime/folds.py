"""How each board event changes the state: one function per event type, listed in `FOLDS`.

`realtime.board.fold` calls them for live changes and for rebuilding a board from its log alike,
so they only assign what the event says and never check or refuse: `apply` did that before the
event was logged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from realtime.state import BoardState, Group, Note


def _note_added(state: BoardState, data: dict[str, Any]) -> None:
    state.notes[data["id"]] = Note(id=data["id"], zone=data["zone"], text=data["text"], color=data["color"],
                                   author=data["author"], author_name=data["author_name"],
                                   by_facilitator=data.get("by_facilitator", False))
    state.participants.setdefault(data["author"], data["author_name"])


def _note_edited(state: BoardState, data: dict[str, Any]) -> None:
    state.notes[data["id"]].text = data["text"]


def _note_moved(state: BoardState, data: dict[str, Any]) -> None:
    note = state.notes[data["id"]]
    note.zone, note.group = data["zone"], None


def _note_deleted(state: BoardState, data: dict[str, Any]) -> None:
    state.notes.pop(data["id"], None)
    for votes in state.votes.values():
        votes.pop(data["id"], None)
    state.proxy.pop(data["id"], None)


def _group_created(state: BoardState, data: dict[str, Any]) -> None:
    state.groups[data["id"]] = Group(id=data["id"], zone=data["zone"], title=data["title"])


def _note_grouped(state: BoardState, data: dict[str, Any]) -> None:
    state.notes[data["id"]].group = data["group"]


def _note_ungrouped(state: BoardState, data: dict[str, Any]) -> None:
    state.notes[data["id"]].group = None


def _group_renamed(state: BoardState, data: dict[str, Any]) -> None:
    state.groups[data["id"]].title = data["title"]


def _move_dots(state: BoardState, source: str, target: str | None) -> None:
    """A cluster's dots go with it when merged into another, and back to their owners when it is split."""
    for votes in state.votes.values():
        count = votes.pop(source, 0)
        if count and target is not None:
            votes[target] = votes.get(target, 0) + count
    proxy = state.proxy.pop(source, 0)
    if proxy and target is not None:
        state.proxy[target] = state.proxy.get(target, 0) + proxy


def _group_merged(state: BoardState, data: dict[str, Any]) -> None:
    for note in state.notes.values():
        if note.group == data["id"]:
            note.group = data["into"]
    _move_dots(state, data["id"], data["into"])
    state.groups.pop(data["id"], None)


def _group_split(state: BoardState, data: dict[str, Any]) -> None:
    for note in state.notes.values():
        if note.group == data["id"]:
            note.group = None
    _move_dots(state, data["id"], None)
    state.groups.pop(data["id"], None)


def _vote_cast(state: BoardState, data: dict[str, Any]) -> None:
    votes = state.votes.setdefault(data["participant"], {})
    votes[data["note"]] = votes.get(data["note"], 0) + 1
    state.participants.setdefault(data["participant"], data.get("name", ""))
    if data.get("place") == "room":
        state.places[data["participant"]] = "room"


def _vote_retracted(state: BoardState, data: dict[str, Any]) -> None:
    votes = state.votes.setdefault(data["participant"], {})
    votes[data["note"]] = votes.get(data["note"], 0) - 1
    if votes[data["note"]] <= 0:
        del votes[data["note"]]


def _proxy_set(state: BoardState, data: dict[str, Any]) -> None:
    state.proxy[data["note"]] = data["count"]


def _phase_changed(state: BoardState, data: dict[str, Any]) -> None:
    state.phase = data["phase"]


def _timer_started(state: BoardState, data: dict[str, Any]) -> None:
    state.timer = {"ends_at": data["ends_at"], "seconds": data["seconds"]}


def _timer_stopped(state: BoardState, data: dict[str, Any]) -> None:
    state.timer = None


def _board_locked(state: BoardState, data: dict[str, Any]) -> None:
    state.locked = data["locked"]


def _joining_set(state: BoardState, data: dict[str, Any]) -> None:
    state.joining_open = data["open"]


def _votes_revealed(state: BoardState, data: dict[str, Any]) -> None:
    state.revealed = data["revealed"]


def _note_hidden(state: BoardState, data: dict[str, Any]) -> None:
    state.notes[data["id"]].hidden = data["hidden"]


FOLDS: dict[str, Callable[[BoardState, dict[str, Any]], None]] = {
    "note:added": _note_added,
    "note:edited": _note_edited,
    "note:moved": _note_moved,
    "note:deleted": _note_deleted,
    "group:created": _group_created,
    "note:grouped": _note_grouped,
    "note:ungrouped": _note_ungrouped,
    "group:renamed": _group_renamed,
    "group:merged": _group_merged,
    "group:split": _group_split,
    "vote:cast": _vote_cast,
    "vote:retracted": _vote_retracted,
    "proxy:set": _proxy_set,
    "phase:changed": _phase_changed,
    "timer:started": _timer_started,
    "timer:stopped": _timer_stopped,
    "board:locked": _board_locked,
    "board:joining_set": _joining_set,
    "votes:revealed": _votes_revealed,
    "note:hidden": _note_hidden,
}
