"""Running boards: commands validated by the state machine, committed to the log, then announced.

Nothing is acknowledged or broadcast before its events are committed. Each board has a lock, so
its events get consecutive `seq` numbers; commands of one board (and of others) that arrive
together share one commit (the database's group commit): each is applied under the lock, folded
into the live state, and leaves the lock before the commit, so the next can join the same group.
Commands that wait for the lock while it is held are taken into the next write together (one read
of their op ids and the log's end, one insert: a round trip or two for a burst of dots, whatever
its size, which is what keeps a burst fast when the database is another machine).
Announcements are prepared under the lock (so each message shows the state as of its own seq) and
sent after the commit, in seq order. The live state is rebuilt from the log when first used (after
a restart), when another process has appended to it, or when a commit failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
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
BATCH_MAX = 128  # commands of one board written together at most


def _answer(kind: str, last_seq: int, events: list[dict[str, Any]]) -> dict[str, Any]:
    """A command's answer: the log's seq after it, and the id of what it created."""
    result: dict[str, Any] = {"ok": True, "seq": last_seq + len(events)}
    created = [e["data"]["id"] for e in events if e["type"] in CREATES]
    if created:
        result["id"] = created[-1] if kind != "group:set" else created[0]
        if kind == "note:add":
            result["note"] = created[0]
        if kind == "group:set":
            result["group"] = created[0]
    return result


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


def _fail(future: asyncio.Future[Outcome], error: BaseException) -> None:
    """Answer a command with its write's failure (marked as seen: its caller may have gone)."""
    if not future.done():
        future.set_exception(error)
        future.exception()


@dataclass(eq=False)
class _Command:
    """A command waiting for its board's lock, or taken into the write of the command that holds it."""

    kind: str
    data: Any
    actor: Actor
    op: str
    announce: Announce | None
    answered: asyncio.Future[Outcome]  # set once committed and announced
    taken: bool = False
    abandoned: bool = False  # its caller went away before it was taken


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
        self._waiting: dict[int, deque[_Command]] = {}  # per board: commands not yet taken into a write
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
        Commands that wait for the board's lock while one is being written are taken into the next
        write together: one check of their op ids and one insert for all of them.
        """
        # printable: a NUL (which PostgreSQL's text refuses) would fail the write of every command taken with it
        if not isinstance(op, str) or not 1 <= len(op) <= OP_MAX or not op.isprintable() or not _encodable(op):
            return Outcome({"ok": False, "error": {"code": "invalid", "message": N_("Every change needs an op id."),
                                                   "params": {}}})
        command = _Command(kind, data, actor, op, announce, asyncio.get_running_loop().create_future())
        self._waiting.setdefault(board_id, deque()).append(command)
        try:
            async with self.lock(board_id):
                # None: a command that held the lock before took this one into its write
                written = None if command.taken else await self._write(board_id, command)
        except BaseException:
            command.abandoned = True  # not taken from now on (if it was, it is written all the same)
            raise
        if written is not None:
            # Shielded: a caller that goes away after this point does not hold up or lose the announcement.
            await asyncio.shield(self._after_commit(board_id, *written))
        return await asyncio.shield(command.answered)

    async def _write(self, board_id: int, command: _Command) -> tuple[Any, list[_Command], list[Outcome],
                                                                      list[Send | None], Any, Any]:
        """Under the board's lock: take the waiting commands (this one first), apply and log them in one
        write, prepare their announcements and take the next place in the announcement order."""
        state = await self.state(board_id, catch_up=False)
        write = await self.db.begin(savepoint=False)  # a few small inserts: nothing to undo on its own
        batch = self._take(board_id, command)
        try:
            outcomes, sends = await self._apply_batch(write.conn, board_id, state, batch)
        except BaseException as error:
            write.finish(keep=False)
            self._states.pop(board_id, None)  # it may hold part of what was rolled back
            self.failures[board_id] = self.failures.get(board_id, 0) + 1  # announcements prepared for it are void
            others = [taken for taken in batch if taken is not command]
            if isinstance(error, asyncio.CancelledError):
                self._put_back(board_id, others)  # only this one's caller went away: the others try again
            else:
                for other in others:  # the database failed the write: nothing of it was kept
                    _fail(other.answered, error)
            raise
        write.finish(keep=True)
        previous, mine = self.chain(board_id)
        return write, batch, outcomes, sends, previous, mine

    def _take(self, board_id: int, command: _Command) -> list[_Command]:
        """This command and those waiting behind it (in arrival order, BATCH_MAX at most), marked as taken."""
        waiting = self._waiting.get(board_id, deque())
        with contextlib.suppress(ValueError):
            waiting.remove(command)  # the first untaken one: it got the lock before those behind it
        batch = [command]
        while waiting and len(batch) < BATCH_MAX:
            other = waiting.popleft()
            if not other.abandoned:
                batch.append(other)
        if not waiting:
            self._waiting.pop(board_id, None)
        for taken in batch:
            taken.taken = True
        return batch

    def _put_back(self, board_id: int, commands: list[_Command]) -> None:
        """Commands of a write given up by its leader: each caller, next to hold the lock, tries its own again."""
        waiting = self._waiting.setdefault(board_id, deque())
        for command in reversed(commands):
            if not command.abandoned:
                command.taken = False
                waiting.appendleft(command)

    async def _apply_batch(self, conn: Any, board_id: int, state: BoardState,
                           batch: list[_Command]) -> tuple[list[Outcome], list[Send | None]]:
        """Inside the write: the outcome of each command and what announces it. One command alone takes
        the single-step path; a batch reads the answers to its op ids and the log's end once, applies
        each command to the state it leaves to the next (announced as of its own seq), then logs all."""
        if len(batch) == 1:
            only = batch[0]
            outcome = await self._apply(conn, board_id, state, only.kind, only.data, only.actor, only.op)
            return [outcome], [await only.announce(outcome) if only.announce and outcome.events else None]
        answered, logged = await store.ops_and_last_seq(conn, board_id, [(c.actor.id, c.op) for c in batch])
        if logged != state.seq:
            state = await self._reload(conn, board_id, state, logged)
        outcomes: list[Outcome] = []
        sends: list[Send | None] = []
        events: list[tuple[int, str, dict[str, Any], str]] = []
        answers: list[tuple[str, str, dict[str, Any]]] = []
        for command in batch:
            key = (command.actor.id, command.op)
            if key in answered:
                outcomes.append(Outcome(answered[key], duplicate=True))
                sends.append(None)
                continue
            try:
                made = apply(state, command.kind, command.data, command.actor, now_ms=int(time.time() * 1000))
            except CommandError as error:
                outcomes.append(Outcome({"ok": False, "error": {"code": error.code, "message": error.message,
                                                                "params": error.params}}))
                sends.append(None)
                continue
            result = _answer(command.kind, state.seq, made)
            committed = []
            for event in made:
                seq = state.seq + 1
                _fold_next(state, seq, event["type"], event["data"])
                committed.append((seq, event["type"], event["data"]))
                events.append((seq, event["type"], event["data"], command.actor.id))
            answered[key] = result
            answers.append((command.actor.id, command.op, result))
            outcome = Outcome(result, committed, op=command.op)
            outcomes.append(outcome)
            sends.append(await command.announce(outcome) if command.announce and committed else None)
        await store.log_commands(conn, board_id, events, answers)
        return outcomes, sends

    async def _after_commit(self, board_id: int, write: Any, batch: list[_Command], outcomes: list[Outcome],
                            sends: list[Send | None], previous: asyncio.Future[None] | None,
                            mine: asyncio.Future[None]) -> None:
        """Once the write is committed: announce in seq order, then answer each command of the batch."""
        try:
            try:
                await write.committed
            except BaseException as error:
                self._states.pop(board_id, None)  # folded ahead of a commit that failed: rebuild from the log
                self.failures[board_id] = self.failures.get(board_id, 0) + 1
                for command in batch:
                    _fail(command.answered, error)
                raise
            try:
                if previous is not None:
                    await asyncio.shield(previous)
                for send in sends:
                    if send is not None:
                        await send()
            except BaseException as error:
                for command in batch:
                    _fail(command.answered, error)
                raise
            for command, outcome in zip(batch, outcomes):
                if not command.answered.done():
                    command.answered.set_result(outcome)
        finally:
            _settle(mine)

    async def _apply(self, conn: Any, board_id: int, state: BoardState, kind: str, data: Any, actor: Actor,
                     op: str) -> Outcome:
        """Inside the write: apply to the live state and log the events with the op's answer, which the
        store does only if the log still ends where the state does and the op is new (one step on
        PostgreSQL); else answer a repeated op as before, or catch up with the log and apply again."""
        for _attempt in range(2):  # once caught up under the write lock, the log cannot move on
            try:
                events = apply(state, kind, data, actor, now_ms=int(time.time() * 1000))
            except CommandError as error:
                prior, logged = await store.op_and_last_seq(conn, board_id, actor.id, op)
                if prior is not None:
                    return Outcome(prior, duplicate=True)
                if logged != state.seq:
                    state = await self._reload(conn, board_id, state, logged)
                    continue
                return Outcome({"ok": False, "error": {"code": error.code, "message": error.message,
                                                       "params": error.params}})
            result = _answer(kind, state.seq, events)
            found = await store.log_command(conn, board_id, state.seq, events, actor.id, op, result)
            if found is None:
                break
            prior, logged = found
            if prior is not None:
                return Outcome(prior, duplicate=True)
            state = await self._reload(conn, board_id, state, logged)
        else:
            raise RuntimeError(f"board {board_id}: the log moved on under the write lock")
        first = state.seq + 1
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
