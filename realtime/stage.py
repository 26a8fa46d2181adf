"""What the projector shows now: one stage, chosen from the board's state alone.

The facilitator drives the stage through the board (phase, reveal, opening a poll, pinning a
question); the projector and the console's preview ask `projector_stage` and so always agree.
"""

from __future__ import annotations

from realtime.polls import Poll
from realtime.state import PHASES, BoardState

STAGES = ("join", "writing", "grouping", "voting", "reveal", "poll", "qa", "closing")


def current_poll(state: BoardState) -> Poll | None:
    """The poll on the screen: the one opened last (polls are kept in the order they were created)."""
    open_polls = [poll for poll in state.polls.values() if poll.status == "open"]
    return open_polls[-1] if open_polls else None


def projector_stage(state: BoardState) -> str:
    """One of STAGES: the end of the board first, then an open poll, a pinned question, the phase."""
    if state.phase == "closed":
        return "closing"
    if current_poll(state) is not None:
        return "poll"
    if state.pinned is not None and state.pinned in state.questions:
        return "qa"
    if state.revealed and state.phase in ("vote", "discuss"):
        return "reveal"
    if state.phase == "write":
        return "writing" if any(not note.hidden for note in state.notes.values()) else "join"
    return {"group": "grouping", "vote": "voting", "discuss": "grouping"}[state.phase]


def next_phase(phase: str) -> str:
    """The phase after this one (the last stays the last): the projector's "next" key."""
    index = PHASES.index(phase)
    return PHASES[min(index + 1, len(PHASES) - 1)]
