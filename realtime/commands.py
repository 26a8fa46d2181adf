"""What each board command does: check its input against the state and return the events it makes.

`realtime.board.apply` checks who may send a command and in which phase, then calls the function
that `COMMANDS` names for it. Each function reads the state and never changes it; the events it
returns are logged and folded by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from realtime.state import PHASES, Actor, BoardState, Group, Note

NOTE_MAX = 500
TITLE_MAX = 100
CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

Event = dict[str, Any]


class CommandError(Exception):
    """A command the rules refuse: a stable code and a message id (translated by the caller)."""

    def __init__(self, code: str, message: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.params = params


def N_(message: str) -> str:
    return message


def without_controls(text: str) -> str:
    """Text without invisible control characters (NUL, escape, …); tabs and line breaks stay."""
    return CONTROLS.sub("", text)


def _text(value: Any, limit: int, field_name: str) -> str:
    if not isinstance(value, str):
        raise CommandError("invalid", N_("{field} must be text."), field=field_name)
    text = without_controls(value).strip()
    if not text:
        raise CommandError("invalid", N_("{field} cannot be empty."), field=field_name)
    if len(text) > limit:
        raise CommandError("too_long", N_("Keep {field} under {max} characters."), field=field_name, max=limit)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from escaped JSON cannot be stored
        raise CommandError("invalid", N_("{field} contains characters that cannot be saved."),
                           field=field_name) from None
    return text


def _flag(value: Any, default: bool = True) -> bool:
    """A yes/no field from JSON or a form: true/false, 1/0, "true"/"false", "on"."""
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "on", "yes")
    return bool(value)


def _note(state: BoardState, data: dict[str, Any], actor: Actor, *, own: bool) -> Note:
    note = state.notes.get(data.get("note")) if isinstance(data.get("note"), str) else None
    if note is None:
        raise CommandError("not_found", N_("There is no such note."))
    if own and not actor.facilitator and note.author != actor.id:
        raise CommandError("not_yours", N_("You can only change your own notes."))
    return note


def _group(state: BoardState, group_id: Any) -> Group:
    group = state.groups.get(group_id) if isinstance(group_id, str) else None
    if group is None:
        raise CommandError("not_found", N_("There is no such cluster."))
    return group


def _zone(state: BoardState, data: dict[str, Any]) -> str:
    zone = data.get("zone")
    if zone not in state.zone_ids():
        raise CommandError("invalid", N_("Choose one of the board's zones."))
    return zone


def _event(type_: str, **payload: Any) -> Event:
    return {"type": type_, "data": payload}


def _add_note(state: BoardState, data: dict[str, Any], actor: Actor, now_ms: int) -> list[Event]:
    """A new note, its id taken from the seq of the event that creates it."""
    zone = _zone(state, data)
    color = data.get("color") or state.colors[0]
    if color not in state.colors:
        raise CommandError("invalid", N_("Choose one of the board's colours."))
    by_facilitator = bool(actor.facilitator and data.get("on_behalf", True))
    return [_event("note:added", id=f"n{state.seq + 1}", zone=zone, text=_text(data.get("text"), NOTE_MAX, N_("note")),
                   color=color, author=actor.id, author_name=actor.name, by_facilitator=by_facilitator)]


def _edit_note(state: BoardState, data: dict[str, Any], actor: Actor, now_ms: int) -> list[Event]:
    note = _note(state, data, actor, own=True)
    return [_event("note:edited", id=note.id, text=_text(data.get("text"), NOTE_MAX, N_("note")))]


def _move_note(state: BoardState, data: dict[str, Any], actor: Actor, now_ms: int) -> list[Event]:
    """Only one's own note while writing; any note from the group phase on."""
    note = _note(state, data, actor, own=state.phase == "write")
    zone = _zone(state, data)
    return [_event("note:moved", id=note.id, zone=zone)] if zone != note.zone else []


def _delete_note(state: BoardState, data: dict[str, Any], actor: Actor, now_ms: int) -> list[Event]:
    note = _note(state, data, actor, own=True)
    return [_event("note:deleted", id=note.id)]


def _set_group(state: BoardState, data: dict[str, Any], actor: Actor, now_ms: int) -> list[Event]:
    """Put a note in a cluster, in a new one (a title and no cluster, or "new": titled by the note), or in none."""
    note = _note(state, data, actor, own=False)
    target = data.get("group")
    if target == "new" or (target is None and data.get("title")):
        title = _text(data.get("title") or note.text.split("\n")[0][:40], TITLE_MAX, N_("title"))
        group_id = f"g{state.seq + 1}"
        return [_event("group:created", id=group_id, zone=note.zone, title=title),
                _event("note:grouped", id=note.id, group=group_id)]
    if target is None:
        return [_event("note:ungrouped", id=note.id)] if note.group else []
    group = _group(state, target)
    if group.zone != note.zone:
        raise CommandError("invalid", N_("A note can only join a cluster in its own zone."))
    return [_event("note:grouped", id=note.id, group=group.id)] if note.group != group.id else []


def _rename_group(state: BoardState, data: dict[str, Any], actor: Actor, now_ms: int) -> list[Event]:
    group = _group(state, data.get("group"))
    return [_event("group:renamed", id=group.id, title=_text(data.get("title"), TITLE_MAX, N_("title")))]


def _merge_groups(state: BoardState, data: dict[str, Any], actor: Actor, now_ms: int) -> list[Event]:
    group, into = _group(state, data.get("group")), _group(state, data.get("into"))
    if group.id == into.id or group.zone != into.zone:
        raise CommandError("invalid", N_("Choose another cluster in the same zone."))
    return [_event("group:merged", id=group.id, into=into.id)]


def _split_group(state: BoardState, data: dict[str, Any], actor: Actor, now_ms: int) -> list[Event]:
    group = _group(state, data.get("group"))
    return [_event("group:split", id=group.id)]


def _dot_target(state: BoardState, data: dict[str, Any], actor: Actor) -> str:
    """What a dot goes on: a note (`note`) or a whole cluster (`group`); the event names either as `note`."""
    if data.get("note") is None and data.get("group") is not None:
        return _group(state, data.get("group")).id
    note = _note(state, data, actor, own=False)
    if note.hidden:
        raise CommandError("not_found", N_("There is no such note."))
    return note.id


def _cast_vote(state: BoardState, data: dict[str, Any], actor: Actor, now_ms: int) -> list[Event]:
    if actor.facilitator:
        raise CommandError("forbidden", N_("Facilitators enter the room's dots as counts, not as their own dots."))
    target = _dot_target(state, data, actor)
    if state.dots_of(actor.id) >= state.vote_budget:
        raise CommandError("over_budget", N_("You have used all {budget} of your dots."), budget=state.vote_budget)
    if state.votes.get(actor.id, {}).get(target, 0) >= state.max_votes_per_note:
        raise CommandError("over_limit", N_("At most {max} dots on one note."), max=state.max_votes_per_note)
    return [_event("vote:cast", note=target, participant=actor.id, name=actor.name, place=actor.place)]


def _retract_vote(state: BoardState, data: dict[str, Any], actor: Actor, now_ms: int) -> list[Event]:
    if data.get("note") is None and data.get("group") is not None:
        target = _group(state, data.get("group")).id
    else:
        target = _note(state, data, actor, own=False).id
    if state.votes.get(actor.id, {}).get(target, 0) <= 0:
        raise CommandError("invalid", N_("You have no dot on this note."))
    return [_event("vote:retracted", note=target, participant=actor.id)]


def _set_proxy_votes(state: BoardState, data: dict[str, Any], actor: Actor, now_ms: int) -> list[Event]:
    """Dots the room gave a note (or a cluster) offline, entered by the facilitator as one count."""
    target = _dot_target(state, data, actor)
    count = data.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 100_000:
        raise CommandError("invalid", N_("Enter a number of dots from 0."))
    return [_event("proxy:set", note=target, count=count)]


def _set_phase(state: BoardState, data: dict[str, Any], actor: Actor, now_ms: int) -> list[Event]:
    phase = data.get("phase")
    if phase not in PHASES:
        raise CommandError("invalid", N_("Unknown phase."))
    return [_event("phase:changed", phase=phase)] if phase != state.phase else []


def _start_timer(state: BoardState, data: dict[str, Any], actor: Actor, now_ms: int) -> list[Event]:
    """The end time comes from the server's clock, so every client counts down to the same moment."""
    seconds = data.get("seconds")
    if not isinstance(seconds, int) or isinstance(seconds, bool) or not 10 <= seconds <= 4 * 3600:
        raise CommandError("invalid", N_("Set the timer between 10 seconds and 4 hours."))
    return [_event("timer:started", ends_at=now_ms + seconds * 1000, seconds=seconds)]


def _stop_timer(state: BoardState, data: dict[str, Any], actor: Actor, now_ms: int) -> list[Event]:
    return [_event("timer:stopped", at=now_ms)] if state.timer else []


def _lock_board(state: BoardState, data: dict[str, Any], actor: Actor, now_ms: int) -> list[Event]:
    locked = _flag(data.get("locked"))
    return [_event("board:locked", locked=locked)] if locked != state.locked else []


def _set_joining(state: BoardState, data: dict[str, Any], actor: Actor, now_ms: int) -> list[Event]:
    """The facilitator closes joining (a new participant is refused; those in keep taking part) or reopens it."""
    joining_open = _flag(data.get("open"))
    return [_event("board:joining_set", open=joining_open)] if joining_open != state.joining_open else []


def _reveal_votes(state: BoardState, data: dict[str, Any], actor: Actor, now_ms: int) -> list[Event]:
    revealed = _flag(data.get("revealed"))
    return [_event("votes:revealed", revealed=revealed)] if revealed != state.revealed else []


def _hide_note(state: BoardState, data: dict[str, Any], actor: Actor, now_ms: int) -> list[Event]:
    note = _note(state, data, actor, own=False)
    hidden = _flag(data.get("hidden"))
    return [_event("note:hidden", id=note.id, hidden=hidden)] if hidden != note.hidden else []


# Every function takes (state, data, actor, now_ms), so `apply` can call any of them alike.
COMMANDS: dict[str, Callable[[BoardState, dict[str, Any], Actor, int], list[Event]]] = {
    "note:add": _add_note,
    "note:edit": _edit_note,
    "note:move": _move_note,
    "note:delete": _delete_note,
    "group:set": _set_group,
    "group:rename": _rename_group,
    "group:merge": _merge_groups,
    "group:split": _split_group,
    "vote:cast": _cast_vote,
    "vote:retract": _retract_vote,
    "proxy:vote": _set_proxy_votes,
    "phase:set": _set_phase,
    "timer:start": _start_timer,
    "timer:stop": _stop_timer,
    "board:lock": _lock_board,
    "board:joining": _set_joining,
    "votes:reveal": _reveal_votes,
    "note:hide": _hide_note,
}
