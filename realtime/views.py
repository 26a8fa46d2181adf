"""What each viewer may see of a board: snapshots and the events broadcast to a room.

Participants never see hidden notes, others' notes during private writing, names on an anonymous
board, or who voted for what; until the facilitator reveals results they see only "N of M have
voted". Every broadcast event keeps its `seq`, so a client can always tell whether it missed one.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from realtime.board import Actor, BoardState, Note, results
from realtime.polls import Poll, Question, poll_results


def _private_phase(state: BoardState) -> bool:
    return state.private_writing and state.phase == "write"


def note_view(state: BoardState, note: Note, viewer: Actor | None) -> dict[str, Any]:
    view = {"id": note.id, "zone": note.zone, "text": note.text, "color": note.color, "group": note.group,
            "by_facilitator": note.by_facilitator}
    if not state.anonymous:
        view["author"] = note.author_name
    if viewer is not None:
        view["mine"] = note.author == viewer.id
    if viewer is not None and viewer.facilitator:
        view["hidden"] = note.hidden
    return view


def visible_notes(state: BoardState, viewer: Actor) -> list[Note]:
    notes = list(state.notes.values())
    if viewer.facilitator:
        return notes
    notes = [n for n in notes if not n.hidden]
    if _private_phase(state):
        notes = [n for n in notes if n.author == viewer.id]
    return notes


def results_visible(poll: Poll, facilitator: bool) -> bool:
    return facilitator or poll.revealed or poll.live_results


def poll_view(poll: Poll, viewer: Actor | None) -> dict[str, Any]:
    """A poll as a viewer sees it: results only when live, revealed, or to the facilitator."""
    facilitator = bool(viewer and viewer.facilitator)
    view: dict[str, Any] = {"id": poll.id, "type": poll.type, "question": poll.question, "options": poll.options,
                            "max_choices": poll.max_choices, "status": poll.status, "live_results": poll.live_results,
                            "anonymous": poll.anonymous, "revealed": poll.revealed, "respondents": len(poll.answers)}
    if viewer is not None and not facilitator:
        view["my_answer"] = poll.answers.get(viewer.id)
    if results_visible(poll, facilitator):
        view["results"] = poll_results(poll)
    if facilitator and not poll.anonymous:
        labels = {option["id"]: option["label"] for option in poll.options}
        describe = lambda answer: ", ".join(labels.get(a, a) for a in answer) if isinstance(answer, list) \
            else labels.get(answer, answer)  # noqa: E731
        view["named_answers"] = [{"name": poll.names.get(pid, ""), "answer": describe(answer)}
                                 for pid, answer in poll.answers.items()]
    return view


def question_view(state: BoardState, question: Question, viewer: Actor | None) -> dict[str, Any]:
    view: dict[str, Any] = {"id": question.id, "text": question.text, "votes": len(question.upvotes),
                            "answered": question.answered, "pinned": state.pinned == question.id,
                            "status": question.status}
    if question.author_name and not state.anonymous:
        view["author"] = question.author_name
    if viewer is not None:
        view["upvoted"] = viewer.id in question.upvotes
        view["mine"] = question.author == viewer.id
    return view


def visible_questions(state: BoardState, viewer: Actor) -> list[Question]:
    shown = [q for q in state.questions.values()
             if viewer.facilitator or q.status == "visible" or (q.status == "pending" and q.author == viewer.id)]
    return sorted(shown, key=lambda q: (state.pinned != q.id, q.answered, -len(q.upvotes), q.id))


def snapshot(state: BoardState, viewer: Actor, *, title: str, participants: int, server_now: int,
             presence: dict[str, int] | None = None) -> dict[str, Any]:
    """The full state for one viewer, as sent on join and on request."""
    shown = visible_notes(state, viewer)
    hidden_count = {} if viewer.facilitator or not _private_phase(state) else {
        zone["id"]: sum(1 for n in state.notes.values() if n.zone == zone["id"] and n.author != viewer.id
                        and not n.hidden) for zone in state.zones}
    votes: dict[str, Any] = {"budget": state.vote_budget, "max_per_note": state.max_votes_per_note,
                             "used": state.dots_of(viewer.id), "mine": dict(state.votes.get(viewer.id, {})),
                             "voters": state.voters(), "participants": participants}
    snap: dict[str, Any] = {
        "seq": state.seq, "board": {"id": state.board_id, "title": title, "anonymous": state.anonymous,
                                    "private_writing": state.private_writing, "colors": state.colors},
        "zones": state.zones, "phase": state.phase, "locked": state.locked, "timer": state.timer,
        "revealed": state.revealed, "notes": [note_view(state, n, viewer) for n in shown],
        "groups": [asdict(g) for g in state.groups.values()], "votes": votes,
        "polls": [poll_view(p, viewer) for p in state.polls.values() if viewer.facilitator or p.status != "draft"],
        "questions": [question_view(state, q, viewer) for q in visible_questions(state, viewer)],
        "pinned": state.pinned, "qa_moderation": state.qa_moderation,
        "others_writing": hidden_count, "server_now": server_now,
        "me": {"name": viewer.name, "facilitator": viewer.facilitator},
    }
    if state.revealed or viewer.facilitator:
        snap["tallies"] = {target: {"online": state.tally(target), "proxy": state.proxy.get(target, 0)}
                           for target in [*state.notes, *state.groups]}
    if state.revealed:
        snap["results"] = results(state)
    if viewer.facilitator:
        snap["joining_open"] = state.joining_open
        if presence is not None:
            snap["presence"] = presence
    return snap


# What a room is sent for one event: a type and its data. Each function below gets
# (state, kind, data, facilitators, participants), where `facilitators` says whether the room is theirs.
RoomView = tuple[str, dict[str, Any]]


def _as_logged(state: BoardState, kind: str, data: dict[str, Any], facilitators: bool, participants: int) -> RoomView:
    """The event's own data without who wrote or voted (and without names on an anonymous board)."""
    out: dict[str, Any] = dict(data)
    out.pop("author", None)
    out.pop("participant", None)
    if state.anonymous:
        out.pop("author_name", None)
        out.pop("name", None)
    return kind, out


def _note_added(state: BoardState, kind: str, data: dict[str, Any], facilitators: bool, participants: int) -> RoomView:
    note = state.notes.get(data["id"])
    if note is None or (note.hidden and not facilitators):
        # deleted or hidden since (a replay to a reconnecting client): its text is not sent
        return "noop", {}
    out = note_view(state, note, None)
    if facilitators:
        out["hidden"] = note.hidden
    elif _private_phase(state):
        out = {"id": data["id"], "zone": data["zone"], "private": True}
    return kind, out


def _note_edited(state: BoardState, kind: str, data: dict[str, Any], facilitators: bool, participants: int) -> RoomView:
    if facilitators:
        return _as_logged(state, kind, data, facilitators, participants)
    note = state.notes.get(data["id"])
    if note is None or note.hidden:
        return "noop", {}
    if _private_phase(state):
        return kind, {"id": data["id"], "private": True}
    return _as_logged(state, kind, data, facilitators, participants)


def _poll_changed(state: BoardState, kind: str, data: dict[str, Any], facilitators: bool,
                  participants: int) -> RoomView:
    poll = state.polls[data.get("poll", data.get("id"))]
    if kind == "poll:created" and not facilitators:
        return "noop", {}  # drafts appear when opened
    out = {"poll": poll.id, "status": poll.status, "respondents": len(poll.answers)}
    if kind == "poll:revealed":  # which way: results shown, or hidden again
        out["revealed"] = poll.revealed
    if kind == "poll:created" or kind == "poll:status":
        out = poll_view(poll, None)
    if results_visible(poll, facilitators):
        out["results"] = poll_results(poll)
    return "poll:progress" if kind == "poll:answered" else kind, out


def _question_changed(state: BoardState, kind: str, data: dict[str, Any], facilitators: bool,
                      participants: int) -> RoomView:
    question = state.questions.get(data["id"])
    if question is not None and not facilitators and kind == "question:moderated" and data["action"] == "hide":
        # participants who saw it must learn it is gone (its text is not sent again)
        return kind, {"id": question.id, "status": "hidden"}
    if question is None or (question.status != "visible" and not facilitators):
        return "noop", {}
    return kind, question_view(state, question, None)


def _votes_changed(state: BoardState, kind: str, data: dict[str, Any], facilitators: bool,
                   participants: int) -> RoomView:
    note_id = data["note"]
    out = {"voters": state.voters(), "participants": participants}
    if facilitators or state.revealed:
        out.update(note=note_id, online=state.tally(note_id), proxy=state.proxy.get(note_id, 0))
    if kind == "proxy:set" and not (facilitators or state.revealed):
        return "noop", {}
    return "votes:progress", out


def _note_hidden(state: BoardState, kind: str, data: dict[str, Any], facilitators: bool, participants: int) -> RoomView:
    if facilitators:
        return _as_logged(state, kind, data, facilitators, participants)
    note = state.notes.get(data["id"])
    if note is None or data["hidden"] or note.hidden:
        return "note:deleted", {"id": data["id"]}
    if _private_phase(state):
        return "note:added", {"id": note.id, "zone": note.zone, "private": True}
    return "note:added", note_view(state, note, None)


def _facilitators_only(state: BoardState, kind: str, data: dict[str, Any], facilitators: bool,
                       participants: int) -> RoomView:
    """A setting only the facilitator's console shows (participants get a `noop`, keeping their seq)."""
    return _as_logged(state, kind, data, facilitators, participants) if facilitators else ("noop", {})


_ROOM_VIEWS = {
    "note:added": _note_added,
    "note:edited": _note_edited,
    **dict.fromkeys(("poll:answered", "poll:room_counts", "poll:created", "poll:status", "poll:revealed"),
                    _poll_changed),
    **dict.fromkeys(("question:asked", "question:upvoted", "question:unvoted", "question:moderated"),
                    _question_changed),
    **dict.fromkeys(("vote:cast", "vote:retracted", "proxy:set"), _votes_changed),
    "note:hidden": _note_hidden,
    "board:joining_set": _facilitators_only,
}


def room_event(state: BoardState, seq: int, kind: str, data: dict[str, Any], *, facilitators: bool,
               participants: int) -> dict[str, Any]:
    """One logged event as a room sees it (state is already folded up to this event)."""
    view = _ROOM_VIEWS.get(kind, _as_logged)
    type_, out = view(state, kind, data, facilitators, participants)
    return {"seq": seq, "type": type_, "data": out}
