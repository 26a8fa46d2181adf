"""SQLite access: concurrent readers, one serialised writer, numbered migrations.

All writes go through `Database.transaction()` (or `begin()`), one at a time on the single writer
connection; a write reads through it too (`WriteConnection`), so it sees what it has changed so far.
Writes that arrive together are committed together (group commit): one BEGIN IMMEDIATE, each write
in its own SAVEPOINT (an error rolls back only that write), one COMMIT, and only then is any writer
told its write is done. A read that decides a write sees the state it writes over, even
when several processes share the file. While another process holds the write lock, a write waits
at most `write_wait` seconds for it, then fails with DatabaseBusy (the web answers 503), so no
request hangs until a proxy gives up on it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import sqlite3
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite
from aiosqlite.context import Result

log = logging.getLogger("taiwa.database")
BUSY_TIMEOUT_MS = 10_000
READERS = 3
# A group takes writes that arrive while it is open, for at most this long and this many.
GROUP_SECONDS = 0.004
GROUP_MAX = 128
YIELDS = 3  # turns of the event loop a group waits for its next write before it commits
# How long a write waits for another process's write lock before it is given up (well under the
# 60 s after which nginx answers 504 on its own).
WRITE_WAIT_SECONDS = 15.0


def make_private(path: Path) -> None:
    """Create the database file if needed, and let only its owner read it and its WAL, shared memory and journal.

    SQLite gives the files it makes beside a database the database's own mode, so a file made 0600
    here keeps them private under any umask; files of an earlier run are set to 0600 too.
    """
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT, 0o600))
    for companion in (path, *(path.with_name(path.name + end) for end in ("-wal", "-shm", "-journal"))):
        try:
            if os.stat(companion).st_mode & 0o077:
                os.chmod(companion, 0o600)
        except FileNotFoundError:
            continue
        except PermissionError:  # another user's file: say so, the app can still work with it
            log.warning("%s is readable by other users and not ours to change", companion)


class DatabaseBusy(sqlite3.OperationalError):
    """Another process held the write lock for longer than a write may wait: nothing was written."""


async def _connect(path: Path, busy_ms: int = BUSY_TIMEOUT_MS) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    await conn.execute(f"pragma busy_timeout = {busy_ms}")
    await conn.execute("pragma foreign_keys = on")
    await conn.execute("pragma synchronous = full")
    return conn


def redact(url: str) -> str:
    """A database URL without its password, for logs and messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def is_postgres(target: object) -> bool:
    """Whether TAIWA_DB names a PostgreSQL database (a postgresql:// URL) rather than a SQLite file."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def open_database(target: Path | str, *, write_wait: float | None = None) -> Any:
    """The engine for TAIWA_DB: a PostgreSQL URL, or else a SQLite file path (not yet opened)."""
    if is_postgres(target):
        from server.core.db_postgres import PostgresDatabase

        return PostgresDatabase(str(target), write_wait=write_wait)
    return Database(target, write_wait=write_wait)


class GroupCommit(ABC):
    """What both engines' group commit share: the transaction block, and a write's wait for its turn in
    the queue that `_commit_groups` (each engine's own: how it takes the write lock) works through."""

    _queue: deque[Write]
    _committer: asyncio.Task[None] | None

    @abstractmethod
    async def begin(self, *, savepoint: bool = True) -> Write:
        """Wait for a write's turn on the engine's write connection (see Database.begin)."""

    @abstractmethod
    async def _commit_groups(self) -> None:
        """Run the queued writes in groups: one transaction, one commit, the write lock held."""

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        """A write on the yielded connection: kept if the block ends normally, rolled back if it raises.

        The block leaves only after the write is committed (and raises if the commit failed).
        """
        write = await self.begin()
        try:
            yield write.conn
        except BaseException:
            write.finish(keep=False)
            raise
        write.finish(keep=True)
        await write.committed

    def _give_up_waiting(self, now: float) -> None:
        """Fail the writes that have waited longer than write_wait (or were cancelled meanwhile)."""
        waiting = []
        for write in self._queue:
            if write.turn.done():
                continue
            if write.deadline <= now:
                write.fail(DatabaseBusy("another process held the database's write lock too long"))
            else:
                waiting.append(write)
        self._queue = deque(waiting)

    async def _turn(self, write: Write) -> Write:
        """Queue the write (starting the committer if it is idle) and wait until it may run."""
        self._queue.append(write)
        if self._committer is None or self._committer.done():
            self._committer = asyncio.get_running_loop().create_task(self._commit_groups())
        try:
            await write.turn
        except asyncio.CancelledError:
            if write.turn.done() and not write.turn.cancelled():
                write.finish(keep=False)  # the turn came as the caller was cancelled: pass it on
            raise
        return write


class Database(GroupCommit):
    """A SQLite file opened for an async app."""

    dialect = "sqlite"

    def __init__(self, path: Path | str, *, write_wait: float | None = None) -> None:
        self.path = Path(path)
        self.write_wait = WRITE_WAIT_SECONDS if write_wait is None else write_wait
        self._writer: aiosqlite.Connection | None = None
        self._readers: list[aiosqlite.Connection] = []
        self._reader_cycle: Iterable[aiosqlite.Connection] = iter(())
        self._queue: deque[Write] = deque()
        self._committer: asyncio.Task[None] | None = None
        self.groups = 0  # committed groups, for the benchmarks

    async def open(self) -> None:
        """Create the file if needed (readable by its owner only), switch to WAL and apply pending migrations."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        make_private(self.path)
        self._writer = await _connect(self.path)
        await self._writer.execute("pragma journal_mode = wal")
        await apply_migrations(self._writer)
        await self._writer.execute(f"pragma busy_timeout = {self._standing_busy_ms()}")
        self._readers = [await _connect(self.path) for _ in range(READERS)]
        for reader in self._readers:
            await reader.execute("pragma query_only = on")
        self._reader_cycle = itertools.cycle(self._readers)

    async def close(self) -> None:
        """Close every connection (checkpointing the WAL on the last one), after pending writes."""
        committer = self._committer
        if committer is not None and not committer.done() and committer.get_loop() is asyncio.get_running_loop():
            await asyncio.wait([committer])
        for conn in [*self._readers, self._writer]:
            if conn is not None:
                await conn.close()
        self._readers, self._writer = [], None

    async def fetch_all(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """Run a read-only query and return every row.

        execute and fetch happen in one call on the reader's thread, so a read never sees the
        snapshot of another coroutine's unfinished statement on the same connection.
        """
        if _out_of_range(params):
            return []  # an id no SQLite integer can hold matches nothing
        return list(await next(iter(self._reader_cycle)).execute_fetchall(sql, params))

    async def fetch_one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        """Run a read-only query and return its first row, or None."""
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def checkpoint(self) -> None:
        """Fold the write-ahead log into the database file and empty it (after deleting what must not linger)."""
        await self.fetch_all("pragma wal_checkpoint(truncate)")

    async def begin(self, *, savepoint: bool = True) -> Write:
        """Wait for this write's turn on the writer connection (inside a group's transaction).

        The caller runs its statements on `write.conn`, then calls `write.finish(keep=...)` and
        awaits `write.committed` before telling anyone. Between the two, other writes proceed:
        this is how a caller that serialises its own writes (a board) lets them share one commit.
        Without a savepoint (two round trips fewer, for small writes that do not fail), a write that
        is given up rolls back its whole group: the other writers are told theirs failed too.
        """
        assert self._writer is not None, "Database.open() was not awaited"
        return await self._turn(Write(WriteConnection(self._writer), savepoint,
                                      asyncio.get_running_loop().time() + self.write_wait))

    async def _commit_groups(self) -> None:
        """Run queued writes in groups: one transaction and one commit per group."""
        conn = self._writer
        assert conn is not None
        loop = asyncio.get_running_loop()
        while self._queue:
            group: list[Write] = []
            try:
                if not await self._begin_immediate(conn):
                    continue  # every waiting write was given up (the loop ends unless one just came)
                closes = loop.time() + GROUP_SECONDS
                while len(group) < GROUP_MAX and (not group or loop.time() < closes):
                    for _ in range(YIELDS):
                        if self._queue:
                            break
                        await asyncio.sleep(0)  # let writers just woken (a board's next command) join
                    if not self._queue:
                        break
                    write = self._queue.popleft()
                    if write.turn.cancelled():
                        continue
                    group.append(write)
                    if write.savepoint:
                        await conn.execute("savepoint write")
                    write.turn.set_result(None)
                    keep = await write.done
                    if not write.savepoint:
                        if not keep:
                            raise GroupAbandoned("a write without a savepoint was given up")
                        continue
                    await conn.execute("release write" if keep else "rollback to write")
                    if not keep:
                        await conn.execute("release write")
                await conn.execute("commit")
            except BaseException as error:
                if conn.in_transaction:
                    await asyncio.shield(conn.execute("rollback"))
                for write in group:
                    write.fail(error)
                if isinstance(error, asyncio.CancelledError):
                    for write in self._queue:
                        write.fail(error)
                    raise
                continue
            self.groups += 1
            for write in group:
                if not write.committed.done():
                    write.committed.set_result(None)

    async def _begin_immediate(self, conn: aiosqlite.Connection) -> bool:
        """BEGIN IMMEDIATE, retried while another process holds the write lock.

        Each attempt waits (SQLite's busy timeout) until the oldest waiting write's deadline at the
        latest; writes past their deadline fail with DatabaseBusy. False when none is left waiting.
        """
        waited = False
        try:
            while True:
                try:
                    await conn.execute("begin immediate")
                    return True
                except sqlite3.OperationalError as error:
                    if "locked" not in str(error) and "busy" not in str(error):
                        raise
                waited = True
                self._give_up_waiting(asyncio.get_running_loop().time())
                if not self._queue:
                    return False
                await conn.execute(f"pragma busy_timeout = {self._busy_ms()}")
        finally:
            if waited:
                await asyncio.shield(conn.execute(f"pragma busy_timeout = {self._standing_busy_ms()}"))

    def _standing_busy_ms(self) -> int:
        return max(1, min(BUSY_TIMEOUT_MS, int(self.write_wait * 1000)))

    def _busy_ms(self) -> int:
        """How long the next BEGIN IMMEDIATE may wait: until the oldest waiting write's deadline."""
        deadlines = [write.deadline for write in self._queue if not write.turn.done()]
        if not deadlines:
            return self._standing_busy_ms()
        left = min(deadlines) - asyncio.get_running_loop().time()
        return max(1, min(BUSY_TIMEOUT_MS, int(left * 1000)))


class GroupAbandoned(sqlite3.OperationalError):
    """A group rolled back because one of its writes could not be undone on its own."""


class WriteConnection:
    """The writer connection as one write sees it, inside the group's transaction.

    `execute` and `executemany` are aiosqlite's. `fetch_all` and `fetch_one` read as the Database's
    do, but see the state this write is changing: so the store's read functions, which take anything
    with those two, serve a write as well as a page.
    """

    __slots__ = ("_conn",)
    dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Result[aiosqlite.Cursor]:
        """Run a statement; await the result for its cursor (or use it as `async with`)."""
        return self._conn.execute(sql, params)

    def executemany(self, sql: str, params: Iterable[Sequence[Any] | dict[str, Any]]) -> Result[aiosqlite.Cursor]:
        """Run a statement once for each set of parameters."""
        return self._conn.executemany(sql, params)

    async def fetch_all(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """Run a query inside the write and return every row."""
        if _out_of_range(params):
            return []
        return list(await self._conn.execute_fetchall(sql, params))

    async def fetch_one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        """Run a query inside the write and return its first row, or None."""
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None


class Write:
    """One writer's turn inside a group's transaction."""

    __slots__ = ("conn", "savepoint", "deadline", "turn", "done", "committed")

    def __init__(self, conn: Any, savepoint: bool = True, deadline: float = float("inf")) -> None:
        """`conn`: the engine's write connection (WriteConnection, or PostgreSQL's)."""
        loop = asyncio.get_running_loop()
        self.conn = conn
        self.savepoint = savepoint
        self.deadline = deadline  # loop time after which waiting for the write lock is given up
        self.turn: asyncio.Future[None] = loop.create_future()  # the writer may run its statements
        self.done: asyncio.Future[bool] = loop.create_future()  # the writer is done: keep or roll back
        self.committed: asyncio.Future[None] = loop.create_future()  # the group committed (or failed)

    def finish(self, *, keep: bool) -> None:
        if not self.done.done():
            self.done.set_result(keep)

    def fail(self, error: BaseException) -> None:
        """The group failed: a writer still waiting for its turn, or for the commit, gets the error."""
        future = self.turn if not self.turn.done() else self.committed
        if future.done():
            return
        if isinstance(error, asyncio.CancelledError):
            future.cancel()
            return
        future.set_exception(error)
        if self.done.done() and not self.done.result():
            future.exception()  # the writer already gave up on this write: nobody awaits the outcome


def _out_of_range(params: Sequence[Any] | dict[str, Any]) -> bool:
    values = params.values() if isinstance(params, dict) else params
    return any(isinstance(v, int) and not -(2**63) <= v < 2**63 for v in values)


MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migration_files() -> list[tuple[int, str, str]]:
    """The numbered .sql files shipped in server/core/migrations, in order."""
    found = []
    for entry in resources.files("server.core.migrations").iterdir():
        match = MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


async def apply_migrations(conn: aiosqlite.Connection) -> list[str]:
    """Apply every migration not yet recorded in schema_migrations; return their names."""
    await conn.execute(
        "create table if not exists schema_migrations (version integer primary key, name text not null, "
        "applied_at text not null default (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')))"
    )
    async with conn.execute("select version from schema_migrations") as cursor:
        done = {row[0] for row in await cursor.fetchall()}
    applied = []
    for version, name, sql in migration_files():
        if version in done:
            continue
        # executescript would commit on its own; run the statements inside one transaction instead.
        await conn.execute("begin immediate")
        try:
            for statement in split_statements(sql):
                await conn.execute(statement)
            await conn.execute("insert into schema_migrations (version, name) values (?, ?)", (version, name))
        except BaseException:
            await conn.execute("rollback")
            raise
        await conn.execute("commit")
        applied.append(name)
    return applied


def split_statements(sql: str) -> list[str]:
    """Split a migration into complete statements (triggers keep their inner semicolons)."""
    statements, buffer = [], ""
    for line in sql.splitlines(keepends=True):
        if not buffer and line.strip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
