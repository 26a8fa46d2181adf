"""What a live board holds: its notes, clusters, dots, polls and settings, folded from its log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from realtime.polls import Poll, Question

PHASES = ("write", "group", "vote", "discuss", "closed")
COLORS = ("yellow", "pink", "blue", "green", "orange", "purple")


@dataclass(frozen=True)
class Actor:
    """Who sends a command: a participant (id and display name) or a facilitator."""

    id: str
    name: str = ""
    facilitator: bool = False
    place: str = "online"  # "room" or "online": where a participant joined from


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
    joining_open: bool = True  # closed by the facilitator: nobody new may join
    timer: dict[str, Any] | None = None
    revealed: bool = False
    notes: dict[str, Note] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    votes: dict[str, dict[str, int]] = field(default_factory=dict)  # participant -> note -> dots
    proxy: dict[str, int] = field(default_factory=dict)  # note -> dots entered by the facilitator
    participants: dict[str, str] = field(default_factory=dict)  # id -> display name (authors, voters)
    places: dict[str, str] = field(default_factory=dict)  # voter id -> "room" (absent: online)
    polls: dict[str, Poll] = field(default_factory=dict)
    questions: dict[str, Question] = field(default_factory=dict)
    pinned: str | None = None
    qa_moderation: str = "post"  # "pre": questions wait for the facilitator's approval

    def zone_ids(self) -> list[str]:
        return [zone["id"] for zone in self.zones]

    def dots_of(self, participant: str) -> int:
        return sum(self.votes.get(participant, {}).values())

    def tally(self, note_id: str) -> int:
        """Dots cast on a note or a cluster from devices (proxy dots are counted apart)."""
        return sum(votes.get(note_id, 0) for votes in self.votes.values())

    def tally_in_room(self, note_id: str) -> int:
        """The part of `tally` cast by participants who joined in the room."""
        return sum(votes.get(note_id, 0) for voter, votes in self.votes.items() if self.places.get(voter) == "room")

    def voters(self) -> int:
        return sum(1 for votes in self.votes.values() if any(votes.values()))
