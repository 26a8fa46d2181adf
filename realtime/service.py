"""Running boards: commands validated by the state machine, committed to the log, then folded.

Nothing is acknowledged or broadcast before its events are committed. Each board has a lock, so
its events get consecutive `seq` numbers; the live state is rebuilt from the log when first used
(after a restart) or when another process has appended to it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from realtime import store
from realtime.board import N_, Actor, BoardState, CommandError, apply, fold, replay
from realtime.store import Board

OP_MAX = 100
AfterCommit = Callable[["Outcome"], Awaitable[None]]


def _fold_next(state: BoardState, seq: int, kind: str, data: dict[str, Any]) -> None:
    """Fold an event unless the state already has it: catching up from the log (outside the
    board's lock) and committing (inside it) may meet the same event, which must count once."""
    if seq == state.seq + 1:
        fold(state, seq, kind, data)


@dataclass
class Outcome:
    """What a command did: its answer (the ack), and the committed events to broadcast."""

    result: dict[str, Any]
    events: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    duplicate: bool = False
    op: str = ""


class BoardService:
    def __init__(self, db: Any) -> None:
        self.db = db
        self._states: dict[int, BoardState] = {}
        self._boards: dict[int, Board] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._loading: dict[int, asyncio.Lock] = {}

    def lock(self, board_id: int) -> asyncio.Lock:
        return self._locks.setdefault(board_id, asyncio.Lock())

    async def board(self, board_id: int) -> Board | None:
        if board_id not in self._boards:
            found = await store.get_board(self.db, board_id)
            if found is None:
                return None
            self._boards[board_id] = found
        return self._boards[board_id]

    def forget(self, board_id: int) -> None:
        """Drop cached configuration (after the board's settings were edited)."""
        self._boards.pop(board_id, None)
        self._states.pop(board_id, None)

    async def state(self, board_id: int, *, catch_up: bool = True) -> BoardState:
        """The live state, folded from the log on first use and caught up if the log moved on
        (another process may have written; `handle` catches up inside its transaction instead)."""
        board = await self.board(board_id)
        assert board is not None
        state = self._states.get(board_id)
        if state is None:
            async with self._loading.setdefault(board_id, asyncio.Lock()):  # one replay per board
                state = self._states.get(board_id)
                if state is None:
                    state = replay(board.initial_state(), await store.events_since(self.db, board_id, 0))
                    self._states[board_id] = state
        if catch_up:
            for seq, kind, data in await store.events_since(self.db, board_id, state.seq):
                _fold_next(state, seq, kind, data)
        return state

    async def handle(self, board_id: int, kind: str, data: Any, actor: Actor, op: Any,
                     after_commit: AfterCommit | None = None) -> Outcome:
        """Apply one client command exactly once (per op id) and commit its events.

        `after_commit(outcome)` runs once the events are committed and folded, still holding the
        board's lock, so broadcasts leave in `seq` order.
        """
        if not isinstance(op, str) or not 1 <= len(op) <= OP_MAX:
            return Outcome({"ok": False, "error": {"code": "invalid", "message": N_("Every change needs an op id."),
                                                   "params": {}}})
        async with self.lock(board_id):
            state = await self.state(board_id, catch_up=False)
            async with self.db.transaction() as conn:
                prior = await store.find_op(conn, board_id, actor.id, op)
                if prior is not None:
                    return Outcome(prior, duplicate=True)
                logged = await store.last_seq(conn, board_id)
                if logged != state.seq:  # another process wrote: catch up inside the transaction
                    cursor = await conn.execute(
                        "select seq, type, data from board_events where board_id = ? and seq > ? order by seq",
                        (board_id, state.seq))
                    for seq, event_type, payload in await cursor.fetchall():
                        _fold_next(state, seq, event_type, json.loads(payload))
                try:
                    events = apply(state, kind, data, actor, now_ms=int(time.time() * 1000))
                except CommandError as error:
                    return Outcome({"ok": False, "error": {"code": error.code, "message": error.message,
                                                           "params": error.params}})
                first = state.seq + 1
                await store.append_events(conn, board_id, first, events, actor.id)
                result: dict[str, Any] = {"ok": True, "seq": state.seq + len(events)}
                created = [e["data"]["id"] for e in events
                           if e["type"] in ("note:added", "group:created", "poll:created", "question:asked")]
                if created:
                    result["id"] = created[-1] if kind != "group:set" else created[0]
                    if kind == "note:add":
                        result["note"] = created[0]
                    if kind == "group:set":
                        result["group"] = created[0]
                await store.record_op(conn, board_id, actor.id, op, result)
            committed = []
            for offset, event in enumerate(events):
                _fold_next(state, first + offset, event["type"], event["data"])
                committed.append((first + offset, event["type"], event["data"]))
            outcome = Outcome(result, committed, op=op)
            if after_commit is not None and committed:
                await after_commit(outcome)
            return outcome
