"""Running boards: commands validated by the state machine, committed to the log, then announced.

Nothing is acknowledged or broadcast before its events are committed. Each board has a lock, so
its events get consecutive `seq` numbers; commands of one board (and of others) that arrive
together share one commit (the database's group commit): each is applied under the lock, folded
into the live state, and leaves the lock before the commit, so the next can join the same group.
Announcements are prepared under the lock (so each message shows the state as of its own seq) and
sent after the commit, in seq order. The live state is rebuilt from the log when first used (after
a restart), when another process has appended to it, or when a commit failed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from realtime import store
from realtime.board import N_, Actor, BoardState, CommandError, apply, fold, replay
from realtime.cluster import REJOINED, Cluster
from realtime.store import Board

OP_MAX = 100
BOARD_FRESH = 30.0  # seconds a board's cached settings serve at most (a lost "board:forget" heals by then)
Send = Callable[[], Awaitable[None]]
# Called under the board's lock with the applied outcome; returns what sends it once committed.
Announce = Callable[["Outcome"], Awaitable[Send | None]]
CREATES = ("note:added", "group:created", "poll:created", "question:asked")


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


def _encodable(text: str) -> bool:
    """False for text SQLite cannot store (a lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class BoardService:
    def __init__(self, db: Any, cluster: Cluster | None = None) -> None:
        self.db = db
        self.cluster = cluster or Cluster()
        self.cluster.on("board:forget", self._forget_here)
        self.cluster.on(REJOINED, self._forget_all)  # Redis was away: a "board:forget" may have been lost
        self._states: dict[int, BoardState] = {}
        self._boards: dict[int, tuple[float, Board]] = {}  # board id -> (when read, the board)
        self._locks: dict[int, asyncio.Lock] = {}
        self._loading: dict[int, asyncio.Lock] = {}
        self._sent: dict[int, asyncio.Future[None]] = {}  # per board: the last announcement's turn
        self.failures: dict[int, int] = {}  # per board: commits that failed (state rebuilt since)

    def lock(self, board_id: int) -> asyncio.Lock:
        return self._locks.setdefault(board_id, asyncio.Lock())

    async def board(self, board_id: int) -> Board | None:
        """The board's settings and outcome flags, cached until a process changes them (`forget`), and
        read again after BOARD_FRESH seconds at the latest, should that news have been lost."""
        cached = self._boards.get(board_id)
        if cached is None or time.monotonic() - cached[0] > BOARD_FRESH:
            found = await store.get_board(self.db, board_id)
            if found is None:
                return None
            cached = self._boards[board_id] = (time.monotonic(), found)
        return cached[1]

    async def forget(self, board_id: int) -> None:
        """Drop the board's cached configuration in every process (after its settings or outcome were
        changed): this one at once, the others as soon as they hear it."""
        await self.cluster.tell("board:forget", {"board": board_id})

    async def _forget_here(self, data: dict[str, Any]) -> None:
        board_id = data.get("board")
        if isinstance(board_id, int):
            self._boards.pop(board_id, None)
            self._states.pop(board_id, None)

    async def _forget_all(self, _data: dict[str, Any]) -> None:
        # the boards' flags and settings are read again; live states keep catching up from the log
        self._boards.clear()

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

    def chain(self, board_id: int) -> tuple[asyncio.Future[None] | None, asyncio.Future[None]]:
        """Take the next place in the board's announcement order (call under the board's lock):
        returns the previous place, to wait for, and this one, to settle once sent."""
        previous = self._sent.get(board_id)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sent[board_id] = mine
        return previous, mine

    @asynccontextmanager
    async def settled(self, board_id: int) -> AsyncIterator[BoardState]:
        """Hold the board's lock once every command applied so far is committed and announced, so the
        live state is exactly what the log holds (for snapshots and replays to joining clients)."""
        async with self.lock(board_id):
            previous, mine = self.chain(board_id)
            try:
                if previous is not None:
                    await asyncio.shield(previous)
                yield await self.state(board_id)
            finally:
                _settle(mine)

    async def handle(self, board_id: int, kind: str, data: Any, actor: Actor, op: Any,
                     announce: Announce | None = None) -> Outcome:
        """Apply one client command exactly once (per op id); return once its events are committed.

        `announce(outcome)` runs under the board's lock right after the command is applied and
        returns a function that sends the announcement; that runs after the commit, in seq order.
        """
        if not isinstance(op, str) or not 1 <= len(op) <= OP_MAX or not _encodable(op):
            return Outcome({"ok": False, "error": {"code": "invalid", "message": N_("Every change needs an op id."),
                                                   "params": {}}})
        async with self.lock(board_id):
            state = await self.state(board_id, catch_up=False)
            write = await self.db.begin(savepoint=False)  # a few small inserts: nothing to undo on its own
            try:
                outcome = await self._apply(write.conn, board_id, state, kind, data, actor, op)
            except BaseException:
                write.finish(keep=False)
                self._states.pop(board_id, None)  # it may hold part of what was rolled back
                raise
            write.finish(keep=True)
            previous, mine = self.chain(board_id)
            try:
                send = await announce(outcome) if announce is not None and outcome.events else None
            except BaseException:
                _settle(mine)
                raise
        # Shielded: a caller that goes away after this point does not hold up or lose the announcement.
        await asyncio.shield(self._after_commit(board_id, write, previous, mine, send))
        return outcome

    async def _after_commit(self, board_id: int, write: Any, previous: asyncio.Future[None] | None,
                            mine: asyncio.Future[None], send: Send | None) -> None:
        try:
            try:
                await write.committed
            except BaseException:
                self._states.pop(board_id, None)  # folded ahead of a commit that failed: rebuild from the log
                self.failures[board_id] = self.failures.get(board_id, 0) + 1
                raise
            if previous is not None:
                await asyncio.shield(previous)
            if send is not None:
                await send()
        finally:
            _settle(mine)

    async def _apply(self, conn: Any, board_id: int, state: BoardState, kind: str, data: Any, actor: Actor,
                     op: str) -> Outcome:
        """Inside the write: dedupe the op, catch up with the log, apply, log and fold the events."""
        prior, logged = await store.op_and_last_seq(conn, board_id, actor.id, op)
        if prior is not None:
            return Outcome(prior, duplicate=True)
        if logged != state.seq:
            state = await self._reload(conn, board_id, state, logged)
        try:
            events = apply(state, kind, data, actor, now_ms=int(time.time() * 1000))
        except CommandError as error:
            return Outcome({"ok": False, "error": {"code": error.code, "message": error.message,
                                                   "params": error.params}})
        first = state.seq + 1
        if events:
            await store.append_events(conn, board_id, first, events, actor.id)
        result: dict[str, Any] = {"ok": True, "seq": state.seq + len(events)}
        created = [e["data"]["id"] for e in events if e["type"] in CREATES]
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
        return Outcome(result, committed, op=op)

    async def _reload(self, conn: Any, board_id: int, state: BoardState, logged: int) -> BoardState:
        """The log moved on (another process wrote) or fell behind the state (a commit failed)."""
        if logged < state.seq:
            board = await self.board(board_id)
            assert board is not None
            state = board.initial_state()
            self._states[board_id] = state
        for seq, kind, data in await store.events_since(conn, board_id, state.seq, limit=None):
            _fold_next(state, seq, kind, data)
        return state
