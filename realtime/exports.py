"""A board written out for the record: rows (CSV, JSON, the outcome page), Markdown, poll rows.

Labels in the Markdown are translated by the caller's `gettext`, so this module stays free of
the web layer. What participants wrote is escaped there: it reads as written in any Markdown
viewer, and never becomes HTML, a link or a heading.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from realtime.board import BoardState, results
from realtime.polls import poll_results
from realtime.store import Board

# every line break Markdown (or a viewer) may honour: one written text stays on its one line
_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x85\u2028\u2029]+")
# inline markup anywhere: emphasis, code, links and images, raw HTML and entities, headings, strikethrough
_INLINE = re.compile(r"([\\`*_\[\]<>&~#])")
# block markup at the start of the text: a list item ("-", "+", "1.", "1)") or a quote
_BLOCK_START = re.compile(r"^(\d{1,9}(?=[.)])|(?=[-+>]))")


def markdown_text(text: str) -> str:
    """Text written by someone, as Markdown that shows exactly that text (specials escaped)."""
    line = _INLINE.sub(r"\\\1", _LINE_BREAKS.sub(" ", str(text)).strip())
    return _BLOCK_START.sub(r"\1\\", line, count=1)


ROW_COLUMNS = ["zone", "cluster", "note", "author", "entered_by_facilitator", "dots_online", "dots_proxy"]
# the CSV adds `kind`: "note" for a note, "cluster" for the dots placed on a cluster itself
CSV_COLUMNS = [*ROW_COLUMNS, "kind"]


def export_rows(board: Board, state: BoardState, *, names: bool) -> list[dict[str, Any]]:
    """One row per visible note, by prompt, then cluster, then most dots first."""
    zones = {z["id"]: z["title"] for z in state.zones}
    rows = []
    for note in state.notes.values():
        if note.hidden:
            continue
        group = state.groups.get(note.group) if note.group else None
        rows.append({"zone": zones.get(note.zone, note.zone), "cluster": group.title if group else "",
                     "note": note.text, "author": note.author_name if names and not board.anonymous else "",
                     "entered_by_facilitator": note.by_facilitator, "dots_online": state.tally(note.id),
                     "dots_proxy": state.proxy.get(note.id, 0)})
    rows.sort(key=lambda r: (list(zones.values()).index(r["zone"]) if r["zone"] in zones.values() else 99,
                             r["cluster"], -(r["dots_online"] + r["dots_proxy"])))
    return rows


def csv_rows(board: Board, state: BoardState, *, names: bool) -> list[dict[str, Any]]:
    """The CSV: the note rows, and before each cluster's notes a row (kind "cluster") with the dots
    placed on the cluster itself, so the CSV counts every dot the results and the JSON count."""
    order = [z["id"] for z in state.zones]
    zones = {z["id"]: z["title"] for z in state.zones}
    notes = [{**row, "kind": "note"} for row in export_rows(board, state, names=names)]
    clusters = []
    for group in sorted(state.groups.values(), key=lambda g: (order.index(g.zone) if g.zone in order else 99, g.title)):
        clusters.append({"zone": zones.get(group.zone, group.zone), "cluster": group.title, "note": "", "author": "",
                         "entered_by_facilitator": False, "dots_online": state.tally(group.id),
                         "dots_proxy": state.proxy.get(group.id, 0), "kind": "cluster"})
    rows: list[dict[str, Any]] = []
    placed: set[int] = set()
    for cluster in clusters:  # each cluster's own row, then its notes (two clusters may share a title)
        rows.append(cluster)
        for index, note in enumerate(notes):
            if index not in placed and (note["zone"], note["cluster"]) == (cluster["zone"], cluster["cluster"]):
                rows.append(note)
                placed.add(index)
    return rows + [note for index, note in enumerate(notes) if index not in placed]


def export_markdown(board: Board, state: BoardState, *, names: bool, session_title: str,
                    gettext: Callable[[str], str]) -> str:
    """The board as a Markdown document: vote results, then each prompt with its clusters and notes."""
    lines = [f"# {markdown_text(board.title)}", "", markdown_text(session_title), ""]
    ranked = results(state)
    if ranked:
        heading, online_word, room_word = gettext("Vote results"), gettext("Online"), gettext("In the room")
        lines += [f"## {heading}", ""]
        for place, item in enumerate(ranked[:10], start=1):
            lines.append(f"{place}. {markdown_text(item['title'])} — {item['total']} ({online_word} {item['online']}, "
                         f"{room_word} {item['proxy']})")
        lines.append("")
    for zone in state.zones:
        lines += [f"## {markdown_text(zone['title'])}", ""]
        zone_notes = [n for n in state.notes.values() if n.zone == zone["id"] and not n.hidden]
        for group in [g for g in state.groups.values() if g.zone == zone["id"]]:
            lines.append(f"### {markdown_text(group.title)}")
            for note in [n for n in zone_notes if n.group == group.id]:
                lines.append(_markdown_note(board, state, note, names))
            lines.append("")
        for note in [n for n in zone_notes if n.group is None]:
            lines.append(_markdown_note(board, state, note, names))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _markdown_note(board: Board, state: BoardState, note: Any, names: bool) -> str:
    dots = state.tally(note.id) + state.proxy.get(note.id, 0)
    author = f" — {markdown_text(note.author_name)}" if names and not board.anonymous and note.author_name else ""
    return f"- {markdown_text(note.text)}{author}" + (f" ({dots})" if dots else "")


def export_json(board: Board, state: BoardState, *, names: bool) -> dict[str, Any]:
    """The board as JSON: zones, clusters, note rows, results and the phase."""
    return {"board": {"id": board.id, "title": board.title, "session_id": board.session_id},
            "zones": state.zones, "groups": [{"id": g.id, "zone": g.zone, "title": g.title,
                                              "dots_online": state.tally(g.id), "dots_proxy": state.proxy.get(g.id, 0)}
                                             for g in state.groups.values()],
            "notes": export_rows(board, state, names=names), "results": results(state), "phase": state.phase}


def poll_rows(state: BoardState) -> list[list[Any]]:
    """One row per poll option (or word), with online, room and total counts and the share."""
    rows: list[list[Any]] = []
    for poll in state.polls.values():
        result = poll_results(poll)
        if poll.type == "text":
            for word in result["words"]:
                rows.append([poll.question, poll.type, word["text"], word["count"], 0, word["count"], ""])
            continue
        total = sum(result["counts"].values()) or 0
        for option in poll.options:
            count = result["counts"].get(option["id"], 0)
            rows.append([poll.question, poll.type, option["label"], result["online"].get(option["id"], 0),
                         result["room"].get(option["id"], 0), count,
                         f"{count / total * 100:.1f}" if total else "0.0"])
    return rows


def outcome_sections(state: BoardState, *, names: bool) -> list[dict[str, Any]]:
    """The outcome by prompt: clusters and single notes ranked by dots (most first), each cluster's
    notes ranked too; dots split into in the room and online as `results` does."""
    ranked = results(state)
    sections = []
    for zone in state.zones:
        items = []
        for item in (r for r in ranked if r["zone"] == zone["id"]):
            members = sorted((n for n in state.notes.values() if item["kind"] == "group" and n.group == item["id"]
                              and not n.hidden), key=lambda n: (-(state.tally(n.id) + state.proxy.get(n.id, 0)), n.id))
            note = state.notes.get(item["id"]) if item["kind"] == "note" else None
            items.append({**item, "author": note.author_name if note and names else "",
                          "notes": [{"text": n.text, "author": n.author_name if names else "",
                                     "dots": state.tally(n.id) + state.proxy.get(n.id, 0)} for n in members]})
        sections.append({"id": zone["id"], "title": zone["title"], "items": items})
    return sections
