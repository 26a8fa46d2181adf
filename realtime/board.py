"""The live board as a pure state machine: `apply(state, command) -> events`, `fold(state, event)`.

No I/O here. The socket and HTTP layers validate input, call `apply`, append the events to the
board's log in one transaction, then `fold` them into the live state and broadcast. Rebuilding a
board is folding its log from the start, so live state and log-folded state are always equal.

Ids of new notes and groups come from the sequence number of the event that creates them, so
applying the same commands to the same state always yields the same events.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from realtime.polls import Poll, PollError, Question, apply_poll, fold_poll

PHASES = ("write", "group", "vote", "discuss", "closed")
COLORS = ("yellow", "pink", "blue", "green", "orange", "purple")
NOTE_MAX = 500
TITLE_MAX = 100
FACILITATOR_ONLY = {"phase:set", "timer:start", "timer:stop", "board:lock", "votes:reveal", "note:hide",
                    "proxy:vote", "poll:create", "poll:open", "poll:close", "poll:reveal", "poll:room",
                    "question:moderate", "qa:moderation"}
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


class CommandError(Exception):
    """A command the rules refuse: a stable code and a message id (translated by the caller)."""

    def __init__(self, code: str, message: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.params = params


def N_(message: str) -> str:
    return message


@dataclass(frozen=True)
class Actor:
    """Who sends a command: a participant (id and display name) or a facilitator."""

    id: str
    name: str = ""
    facilitator: bool = False


@dataclass
class Note:
    id: str
    zone: str
    text: str
    color: str
    author: str
    author_name: str
    by_facilitator: bool = False
    hidden: bool = False
    group: str | None = None


@dataclass
class Group:
    id: str
    zone: str
    title: str


@dataclass
class BoardState:
    """Everything the board shows, folded from its event log."""

    board_id: int
    zones: list[dict[str, str]]
    colors: list[str] = field(default_factory=lambda: list(COLORS))
    vote_budget: int = 5
    max_votes_per_note: int = 3
    anonymous: bool = False
    private_writing: bool = False
    seq: int = 0
    phase: str = "write"
    locked: bool = False
    timer: dict[str, Any] | None = None
    revealed: bool = False
    notes: dict[str, Note] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    votes: dict[str, dict[str, int]] = field(default_factory=dict)  # participant -> note -> dots
    proxy: dict[str, int] = field(default_factory=dict)  # note -> dots entered by the facilitator
    participants: dict[str, str] = field(default_factory=dict)  # id -> display name (authors, voters)
    polls: dict[str, Poll] = field(default_factory=dict)
    questions: dict[str, Question] = field(default_factory=dict)
    pinned: str | None = None
    qa_moderation: str = "post"  # "pre": questions wait for the facilitator's approval

    def zone_ids(self) -> list[str]:
        return [zone["id"] for zone in self.zones]

    def dots_of(self, participant: str) -> int:
        return sum(self.votes.get(participant, {}).values())

    def tally(self, note_id: str) -> int:
        """Online dots on a note (proxy dots are counted apart)."""
        return sum(votes.get(note_id, 0) for votes in self.votes.values())

    def voters(self) -> int:
        return sum(1 for votes in self.votes.values() if any(votes.values()))


CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


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


def apply(state: BoardState, kind: str, data: dict[str, Any], actor: Actor, *, now_ms: int) -> list[dict[str, Any]]:
    """The events a command produces, or CommandError. `now_ms` is the server clock (for the timer)."""
    if not isinstance(data, dict):
        raise CommandError("invalid", N_("The event data must be an object."))
    if kind in FACILITATOR_ONLY and not actor.facilitator:
        raise CommandError("forbidden", N_("Only the facilitator can do this."))
    if kind not in FACILITATOR_ONLY and kind not in ALLOWED_PHASES and kind not in POLL_COMMANDS:
        raise CommandError("unknown_event", N_("Unknown event: {type}."), type=kind)
    if state.phase == "closed" and kind not in ("phase:set", "votes:reveal", "note:hide", "timer:stop"):
        raise CommandError("closed", N_("This board is closed."))
    if kind in ALLOWED_PHASES and not actor.facilitator:
        if state.locked:
            raise CommandError("locked", N_("The facilitator has paused the board."))
        if state.phase not in ALLOWED_PHASES[kind]:
            raise CommandError("wrong_phase", N_("This is not possible in the current phase."))
    next_id = state.seq + 1
    event = lambda type_, **payload: {"type": type_, "data": payload}  # noqa: E731
    if kind in POLL_COMMANDS:
        if state.locked and not actor.facilitator:
            raise CommandError("locked", N_("The facilitator has paused the board."))
        if kind == "poll:answer" and actor.facilitator:
            raise CommandError("forbidden", N_("Facilitators enter the room's answers as counts."))
        try:
            return apply_poll(state.polls, state.questions, kind, data, actor, next_id=next_id,
                              moderation=state.qa_moderation, board_id=state.board_id)
        except PollError as error:
            raise CommandError(error.code, error.message, **error.params) from None

    if kind == "note:add":
        zone = data.get("zone")
        if zone not in state.zone_ids():
            raise CommandError("invalid", N_("Choose one of the board's zones."))
        color = data.get("color") or state.colors[0]
        if color not in state.colors:
            raise CommandError("invalid", N_("Choose one of the board's colours."))
        by_facilitator = bool(actor.facilitator and data.get("on_behalf", True))
        return [event("note:added", id=f"n{next_id}", zone=zone, text=_text(data.get("text"), NOTE_MAX, N_("note")),
                      color=color, author=actor.id, author_name=actor.name, by_facilitator=by_facilitator)]
    if kind == "note:edit":
        note = _note(state, data, actor, own=True)
        return [event("note:edited", id=note.id, text=_text(data.get("text"), NOTE_MAX, N_("note")))]
    if kind == "note:move":
        note = _note(state, data, actor, own=state.phase == "write")
        zone = data.get("zone")
        if zone not in state.zone_ids():
            raise CommandError("invalid", N_("Choose one of the board's zones."))
        return [event("note:moved", id=note.id, zone=zone)] if zone != note.zone else []
    if kind == "note:delete":
        note = _note(state, data, actor, own=True)
        return [event("note:deleted", id=note.id)]
    if kind == "group:set":
        note = _note(state, data, actor, own=False)
        target = data.get("group")
        if target is None and data.get("title"):
            title = _text(data.get("title"), TITLE_MAX, N_("title"))
            group_id = f"g{next_id}"
            return [event("group:created", id=group_id, zone=note.zone, title=title),
                    event("note:grouped", id=note.id, group=group_id)]
        if target is None:
            return [event("note:ungrouped", id=note.id)] if note.group else []
        group = _group(state, target)
        if group.zone != note.zone:
            raise CommandError("invalid", N_("A note can only join a cluster in its own zone."))
        return [event("note:grouped", id=note.id, group=group.id)] if note.group != group.id else []
    if kind == "group:rename":
        group = _group(state, data.get("group"))
        return [event("group:renamed", id=group.id, title=_text(data.get("title"), TITLE_MAX, N_("title")))]
    if kind == "group:merge":
        group, into = _group(state, data.get("group")), _group(state, data.get("into"))
        if group.id == into.id or group.zone != into.zone:
            raise CommandError("invalid", N_("Choose another cluster in the same zone."))
        return [event("group:merged", id=group.id, into=into.id)]
    if kind == "group:split":
        group = _group(state, data.get("group"))
        return [event("group:split", id=group.id)]
    if kind == "vote:cast":
        if actor.facilitator:
            raise CommandError("forbidden", N_("Facilitators enter the room's dots as counts, not as their own dots."))
        note = _note(state, data, actor, own=False)
        if note.hidden:
            raise CommandError("not_found", N_("There is no such note."))
        if state.dots_of(actor.id) >= state.vote_budget:
            raise CommandError("over_budget", N_("You have used all {budget} of your dots."), budget=state.vote_budget)
        if state.votes.get(actor.id, {}).get(note.id, 0) >= state.max_votes_per_note:
            raise CommandError("over_limit", N_("At most {max} dots on one note."), max=state.max_votes_per_note)
        return [event("vote:cast", note=note.id, participant=actor.id, name=actor.name)]
    if kind == "vote:retract":
        note = _note(state, data, actor, own=False)
        if state.votes.get(actor.id, {}).get(note.id, 0) <= 0:
            raise CommandError("invalid", N_("You have no dot on this note."))
        return [event("vote:retracted", note=note.id, participant=actor.id)]
    if kind == "proxy:vote":
        note = _note(state, data, actor, own=False)
        count = data.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 100_000:
            raise CommandError("invalid", N_("Enter a number of dots from 0."))
        return [event("proxy:set", note=note.id, count=count)]
    if kind == "phase:set":
        phase = data.get("phase")
        if phase not in PHASES:
            raise CommandError("invalid", N_("Unknown phase."))
        return [event("phase:changed", phase=phase)] if phase != state.phase else []
    if kind == "timer:start":
        seconds = data.get("seconds")
        if not isinstance(seconds, int) or isinstance(seconds, bool) or not 10 <= seconds <= 4 * 3600:
            raise CommandError("invalid", N_("Set the timer between 10 seconds and 4 hours."))
        return [event("timer:started", ends_at=now_ms + seconds * 1000, seconds=seconds)]
    if kind == "timer:stop":
        return [event("timer:stopped", at=now_ms)] if state.timer else []
    if kind == "board:lock":
        locked = _flag(data.get("locked"))
        return [event("board:locked", locked=locked)] if locked != state.locked else []
    if kind == "votes:reveal":
        revealed = _flag(data.get("revealed"))
        return [event("votes:revealed", revealed=revealed)] if revealed != state.revealed else []
    if kind == "note:hide":
        note = _note(state, data, actor, own=False)
        hidden = _flag(data.get("hidden"))
        return [event("note:hidden", id=note.id, hidden=hidden)] if hidden != note.hidden else []
    raise CommandError("unknown_event", N_("Unknown event: {type}."), type=kind)


def fold(state: BoardState, seq: int, kind: str, data: dict[str, Any]) -> BoardState:
    """Apply one logged event to the state in place (and return it)."""
    state.seq = seq
    if kind in POLL_EVENTS:
        fold_poll(state, kind, data)
        return state
    notes, groups = state.notes, state.groups
    if kind == "note:added":
        notes[data["id"]] = Note(id=data["id"], zone=data["zone"], text=data["text"], color=data["color"],
                                 author=data["author"], author_name=data["author_name"],
                                 by_facilitator=data.get("by_facilitator", False))
        state.participants.setdefault(data["author"], data["author_name"])
    elif kind == "note:edited":
        notes[data["id"]].text = data["text"]
    elif kind == "note:moved":
        note = notes[data["id"]]
        note.zone, note.group = data["zone"], None
    elif kind == "note:deleted":
        notes.pop(data["id"], None)
        for votes in state.votes.values():
            votes.pop(data["id"], None)
        state.proxy.pop(data["id"], None)
    elif kind == "group:created":
        groups[data["id"]] = Group(id=data["id"], zone=data["zone"], title=data["title"])
    elif kind == "note:grouped":
        notes[data["id"]].group = data["group"]
    elif kind == "note:ungrouped":
        notes[data["id"]].group = None
    elif kind == "group:renamed":
        groups[data["id"]].title = data["title"]
    elif kind == "group:merged":
        for note in notes.values():
            if note.group == data["id"]:
                note.group = data["into"]
        groups.pop(data["id"], None)
    elif kind == "group:split":
        for note in notes.values():
            if note.group == data["id"]:
                note.group = None
        groups.pop(data["id"], None)
    elif kind == "vote:cast":
        votes = state.votes.setdefault(data["participant"], {})
        votes[data["note"]] = votes.get(data["note"], 0) + 1
        state.participants.setdefault(data["participant"], data.get("name", ""))
    elif kind == "vote:retracted":
        votes = state.votes.setdefault(data["participant"], {})
        votes[data["note"]] = votes.get(data["note"], 0) - 1
        if votes[data["note"]] <= 0:
            del votes[data["note"]]
    elif kind == "proxy:set":
        state.proxy[data["note"]] = data["count"]
    elif kind == "phase:changed":
        state.phase = data["phase"]
    elif kind == "timer:started":
        state.timer = {"ends_at": data["ends_at"], "seconds": data["seconds"]}
    elif kind == "timer:stopped":
        state.timer = None
    elif kind == "board:locked":
        state.locked = data["locked"]
    elif kind == "votes:revealed":
        state.revealed = data["revealed"]
    elif kind == "note:hidden":
        notes[data["id"]].hidden = data["hidden"]
    return state


def replay(initial: BoardState, events: list[tuple[int, str, dict[str, Any]]]) -> BoardState:
    """A board rebuilt from its log (a fresh copy; `initial` is not changed)."""
    state = copy.deepcopy(initial)
    for seq, kind, data in events:
        fold(state, seq, kind, data)
    return state


def results(state: BoardState) -> list[dict[str, Any]]:
    """Notes and clusters ranked by dots (online + proxy), for reveal, projector and export."""
    ranked = []
    for group in state.groups.values():
        members = [n for n in state.notes.values() if n.group == group.id and not n.hidden]
        online = sum(state.tally(n.id) for n in members)
        proxy = sum(state.proxy.get(n.id, 0) for n in members)
        ranked.append({"kind": "group", "id": group.id, "zone": group.zone, "title": group.title,
                       "online": online, "proxy": proxy, "total": online + proxy})
    for note in state.notes.values():
        if note.group is None and not note.hidden:
            online, proxy = state.tally(note.id), state.proxy.get(note.id, 0)
            ranked.append({"kind": "note", "id": note.id, "zone": note.zone, "title": note.text,
                           "online": online, "proxy": proxy, "total": online + proxy})
    ranked.sort(key=lambda item: (-item["total"], item["id"]))
    return ranked
