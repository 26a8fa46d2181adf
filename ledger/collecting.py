"""Opinions collected from a workshop board without retyping: the notes, clusters and questions the
facilitator picks. Only the words are taken, never who wrote them (no names, no participant ids)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from realtime.state import BoardState


@dataclass(frozen=True)
class Pickable:
    """A note, a cluster of notes or a question the facilitator may send to the theme."""

    kind: str  # "note", "group" or "question"
    id: str
    text: str
    zone: str = ""
    answered: bool = False


def pickable(state: BoardState) -> dict[str, list[Pickable]]:
    """What may be sent: clusters (with their notes' text), visible notes, and visible questions
    (answered first)."""
    zone_titles = {zone["id"]: zone["title"] for zone in state.zones}
    groups = [Pickable("group", g.id, group_text(state, g.id), zone_titles.get(g.zone, ""))
              for g in state.groups.values() if any(n.group == g.id and not n.hidden for n in state.notes.values())]
    notes = [Pickable("note", n.id, n.text, zone_titles.get(n.zone, "")) for n in state.notes.values() if not n.hidden]
    questions = [Pickable("question", q.id, q.text, answered=q.answered)
                 for q in state.questions.values() if q.status == "visible"]
    questions.sort(key=lambda q: not q.answered)
    return {"groups": groups, "notes": notes, "questions": questions}


def group_text(state: BoardState, group_id: str) -> str:
    """A cluster as one opinion: its title, then each visible note on a line of its own."""
    group = state.groups[group_id]
    lines = [n.text for n in state.notes.values() if n.group == group_id and not n.hidden]
    return "\n".join([group.title, *("・" + line for line in lines)]) if group.title else "\n".join(lines)


def chosen(state: BoardState, board_id: int, *, notes: Iterable[str] = (), groups: Iterable[str] = (),
           questions: Iterable[str] = ()) -> list[tuple[str, str, str]]:
    """The picked items as `(origin, source, text)` for ledger.themes.add_collected; ids that are not
    (or no longer) on the board, hidden notes and hidden questions are left out."""
    offered = pickable(state)
    by_kind = {kind: {item.id: item for item in offered[kind + "s"]} for kind in ("group", "note", "question")}
    picked = []
    kinds = (("group", groups, "board"), ("note", notes, "board"), ("question", questions, "question"))
    for kind, ids, source in kinds:
        for item_id in dict.fromkeys(ids):
            item = by_kind[kind].get(item_id)
            if item is not None and item.text.strip():
                picked.append((f"board:{board_id}:{kind}:{item_id}", source, item.text))
    return picked
