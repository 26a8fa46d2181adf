"""PostgreSQL access with the interface of server/core/database.py, over the same inline SQL.

The stores write SQLite's dialect (`?` parameters, `strftime(... 'now')`, `like`, `instr`); `translate`
turns a statement into PostgreSQL's once (cached), mechanically: parameters become `$n` (strings and
quoted names are left alone), SQLite's clock becomes PostgreSQL's in the same ISO-8601 UTC text,
`like` becomes `ilike` (SQLite's `like` ignores ASCII case), `instr` becomes `strpos`, `order by
rowid` becomes `order by ctid` (rows that are only ever inserted), an `insert` into
a table with an `id` column gets `returning id` (the cursor's `lastrowid`), `pragma` does nothing.

Writes keep SQLite's model, so every guarantee of the SQLite engine holds across processes and
machines: a process runs its writes in groups on one connection (one transaction, one savepoint per
write, one commit, and only then is a writer told), and each group first takes one transaction-level
advisory lock, the database's write lock. Writes of all processes are therefore serialised exactly as
on one SQLite file (capacity decided and written in one transaction, waitlist order, board `seq`,
op ids, idempotency keys), while reads run in parallel on a pool. A write that waits longer than
`write_wait` for the lock fails with DatabaseBusy, and a database that cannot be reached (stopped,
restarted, network gone) fails the write with DatabaseUnavailable: the web answers 503, never 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import sqlite3
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

from server.core.database import (
    GROUP_MAX, GROUP_SECONDS, WRITE_WAIT_SECONDS, YIELDS, DatabaseBusy, GroupAbandoned, GroupCommit, Write,
    migration_files, redact,
)

log = logging.getLogger("taiwa.database")
READERS = 4
WRITE_LOCK = 0x7461697761  # "taiwa": the advisory lock every write transaction holds
MIGRATION_LOCK = WRITE_LOCK + 1
BACKGROUND_LOCK = WRITE_LOCK + 2  # held by the one process that runs mail, reminders and purges
CONNECT_TIMEOUT = 5.0
# A group's commit costs two round trips here (the write lock, the commit) besides the flush: while
# writes keep coming, a group stays open a little longer than on SQLite
GROUP_SECONDS_HERE = GROUP_SECONDS * 3

NOW_SECONDS = "to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
NOW_MILLIS = "to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
_CLOCK = [
    (re.compile(r"strftime\(\s*'%Y-%m-%dT%H:%M:%SZ'\s*,\s*'now'\s*\)", re.I), NOW_SECONDS),
    (re.compile(r"strftime\(\s*'%Y-%m-%dT%H:%M:%fZ'\s*,\s*'now'\s*\)", re.I), NOW_MILLIS),
    (re.compile(r"datetime\(\s*'now'\s*\)", re.I), "to_char(clock_timestamp() at time zone 'UTC', "
                                                  "'YYYY-MM-DD HH24:MI:SS')"),
]
_WORDS = [
    (re.compile(r"\bnot\s+like\b", re.I), "not ilike"),
    (re.compile(r"(?<!not )\blike\b", re.I), "ilike"),
    (re.compile(r"\binstr\(", re.I), "strpos("),
    (re.compile(r"\bbegin immediate\b", re.I), "begin"),
    # SQLite's insertion order of rows written once (delete and insert again, never updated):
    # session_accommodations in the order the organizer gave them
    (re.compile(r"\border by rowid\b", re.I), "order by ctid"),
]
# The search index (session_search, an FTS5 trigram table on SQLite): `match` takes a quoted phrase;
# here the same phrase is a `like` on the row's whole text, which the pg_trgm index serves.
_MATCH = re.compile(r"\bsession_search\s+match\s+\?", re.I)
_INSERT = re.compile(r"^\s*insert\s+into\s+(\w+)", re.I)


class DatabaseUnavailable(DatabaseBusy):
    """PostgreSQL could not be reached or went away during the statement: nothing of the write was kept."""


class Translated:
    __slots__ = ("sql", "matches", "returning", "kind")

    def __init__(self, sql: str, matches: tuple[int, ...], returning: bool, kind: str) -> None:
        self.sql = sql
        self.matches = matches  # indexes of parameters that are FTS phrases, to be turned into like patterns
        self.returning = returning
        self.kind = kind  # "rows" (fetch), "status" (execute) or "skip" (a pragma)


def _segments(sql: str) -> list[tuple[bool, str]]:
    """(is_code, text) pieces: quoted strings and names are not code."""
    out: list[tuple[bool, str]] = []
    i, start, n = 0, 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            if i > start:
                out.append((True, sql[start:i]))
            j = i + 1
            while j < n:
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:
                        j += 2
                        continue
                    break
                j += 1
            out.append((False, sql[i:j + 1]))
            i = start = j + 1
            continue
        i += 1
    if start < n:
        out.append((True, sql[start:]))
    return out


@functools.lru_cache(maxsize=4096)
def translate(sql: str, id_tables: frozenset[str] = frozenset()) -> Translated:
    """SQLite's dialect of one statement, in PostgreSQL's (see the module's docstring)."""
    stripped = sql.lstrip().lower()
    if stripped.startswith("pragma"):
        return Translated("", (), False, "skip")
    for pattern, replacement in _CLOCK:
        sql = pattern.sub(lambda _m, r=replacement: r, sql)
    sql = _MATCH.sub("doc like ?~ escape '\\\\'", sql)  # doc: the row's whole text, with the pg_trgm index
    counter = 0
    matches: list[int] = []
    pieces = []
    for is_code, text in _segments(sql):
        if not is_code:
            pieces.append(text)
            continue
        for pattern, replacement in _WORDS:
            text = pattern.sub(replacement, text)

        def number(match: re.Match[str]) -> str:
            nonlocal counter
            if match.group(1):
                return "$" + match.group(1)
            counter += 1
            if match.group(2):
                matches.append(counter - 1)
            return f"${counter}"

        pieces.append(re.sub(r"\?(\d+)|\?(~)?", number, text))
    out = "".join(pieces)
    # the escape of the match above was written for this code path; keep a single backslash
    out = out.replace("escape '\\\\'", "escape '\\'")
    insert = _INSERT.match(out)
    returning = bool(insert and insert.group(1).lower() in id_tables and " returning " not in out.lower())
    if returning:
        out = out.rstrip().rstrip(";") + " returning id"
    rows = returning or stripped.startswith(("select", "with", "values")) or " returning " in out.lower()
    return Translated(out, tuple(matches), returning, "rows" if rows else "status")


def _phrase_to_like(phrase: Any) -> Any:
    """An FTS5 phrase ("term", quotes doubled) as a like pattern with the same meaning."""
    if not isinstance(phrase, str):
        return phrase
    term = phrase[1:-1].replace('""', '"') if len(phrase) >= 2 and phrase[0] == phrase[-1] == '"' else phrase
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _params(translated: Translated, params: Sequence[Any] | dict[str, Any]) -> list[Any]:
    if isinstance(params, dict):
        raise TypeError("named parameters are not used with PostgreSQL")
    values = list(params)
    for index in translated.matches:
        values[index] = _phrase_to_like(values[index])
    return values


_UNAVAILABLE = (OSError, asyncio.TimeoutError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                asyncpg.CannotConnectNowError, asyncpg.AdminShutdownError, asyncpg.CrashShutdownError)


def _mapped(error: BaseException) -> BaseException:
    """The SQLite engine's exception for a PostgreSQL error, so callers handle both alike."""
    if isinstance(error, asyncpg.IntegrityConstraintViolationError):
        return sqlite3.IntegrityError(str(error))
    if isinstance(error, asyncpg.LockNotAvailableError | asyncpg.QueryCanceledError):
        return DatabaseBusy("another process held the database's write lock too long")
    if isinstance(error, _UNAVAILABLE) or isinstance(error, asyncpg.PostgresError) and \
            str(getattr(error, "sqlstate", "")).startswith(("08", "57P")):
        return DatabaseUnavailable(f"the database could not be reached ({type(error).__name__})")
    if isinstance(error, asyncpg.PostgresError):
        return sqlite3.OperationalError(str(error))
    return error


class Cursor:
    """What `execute` gives back: rows, `rowcount` and `lastrowid`, like sqlite3's cursor."""

    __slots__ = ("rows", "rowcount", "lastrowid", "_at")

    def __init__(self, rows: list[Any], rowcount: int, lastrowid: int | None) -> None:
        self.rows, self.rowcount, self.lastrowid, self._at = rows, rowcount, lastrowid, 0

    async def fetchall(self) -> list[Any]:
        rest, self._at = self.rows[self._at:], len(self.rows)
        return rest

    async def fetchone(self) -> Any:
        if self._at >= len(self.rows):
            return None
        self._at += 1
        return self.rows[self._at - 1]

    async def close(self) -> None:
        return None

    def __aiter__(self) -> Cursor:
        return self

    async def __anext__(self) -> Any:
        row = await self.fetchone()
        if row is None:
            raise StopAsyncIteration
        return row


class _Pending:
    """An execution that can be awaited (for its cursor) or used as `async with`."""

    __slots__ = ("_work", "_cursor")

    def __init__(self, work: Any) -> None:
        self._work = work
        self._cursor: Cursor | None = None

    def __await__(self) -> Any:
        return self._work.__await__()

    async def __aenter__(self) -> Cursor:
        self._cursor = await self._work
        return self._cursor

    async def __aexit__(self, *exc: Any) -> None:
        return None


async def _run(conn: asyncpg.Connection, sql: str, params: Sequence[Any] | dict[str, Any],
               id_tables: frozenset[str]) -> Cursor:
    translated = translate(sql, id_tables)
    if translated.kind == "skip":
        return Cursor([], 0, None)
    values = _params(translated, params)
    try:
        if translated.kind == "rows":
            rows = await conn.fetch(translated.sql, *values)
            lastrowid = rows[-1][0] if translated.returning and rows else None
            return Cursor(rows, len(rows), lastrowid)
        status = await conn.execute(translated.sql, *values)
    except BaseException as error:
        mapped = _mapped(error)
        if mapped is error:
            raise
        raise mapped from error
    tail = status.rsplit(" ", 1)[-1]
    return Cursor([], int(tail) if tail.isdigit() else -1, None)


async def _acquire(pool: asyncpg.Pool, timeout: float) -> asyncpg.Connection:
    """A connection from the pool: an idle one at once (taken before anything else can run), else within
    `timeout`, which asyncpg waits out in a task of its own: a cost every read would pay."""
    if pool.get_idle_size():
        return await pool.acquire()
    return await pool.acquire(timeout=timeout)


def _out_of_range(params: Sequence[Any] | dict[str, Any]) -> bool:
    values = params.values() if isinstance(params, dict) else params
    return any(isinstance(v, int) and not isinstance(v, bool) and not -(2**63) <= v < 2**63 for v in values)


async def _keep_as_is(conn: asyncpg.Connection) -> None:
    """What the pools do to a connection given back, once asyncpg has rolled back any open transaction:
    nothing. asyncpg's default (unlock every advisory lock, close cursors, unlisten, reset settings) is one
    more round trip after every read, and nothing here leaves such state behind: the write lock is taken
    per transaction, and the session-level locks (session_lock, the migrations) are let go by their holder,
    which drops the connection when it cannot."""


class _LoopState:
    __slots__ = ("pool", "write_pool", "queue", "committer", "group_conn", "lock_conn")

    def __init__(self) -> None:
        self.pool: asyncpg.Pool | None = None
        self.write_pool: asyncpg.Pool | None = None  # the group committer's own connection, as SQLite's writer
        self.queue: deque[Write] = deque()
        self.committer: asyncio.Task[None] | None = None
        self.group_conn: asyncpg.Connection | None = None
        self.lock_conn: asyncpg.Connection | None = None


class PgWriteConnection:
    """The group's connection as one write sees it (execute, executemany, fetch_all, fetch_one)."""

    __slots__ = ("_db",)
    dialect = "postgres"

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    @property
    def _conn(self) -> asyncpg.Connection:
        conn = self._db._group_conn
        if conn is None:
            raise DatabaseUnavailable("the write's connection is gone")
        return conn

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> _Pending:
        return _Pending(_run(self._conn, sql, params, self._db.id_tables))

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> _Pending:
        translated = translate(sql)  # no lastrowid after executemany: no `returning id`
        if translated.kind == "status" and not translated.matches:
            async def many() -> Cursor:
                values = [list(p) for p in params]
                try:
                    await self._conn.executemany(translated.sql, values)
                except BaseException as error:
                    mapped = _mapped(error)
                    if mapped is error:
                        raise
                    raise mapped from error
                return Cursor([], len(values), None)
            return _Pending(many())

        async def work() -> Cursor:
            count = 0
            for values in params:
                count += max(0, (await _run(self._conn, sql, values, self._db.id_tables)).rowcount)
            return Cursor([], count, None)
        return _Pending(work())

    async def fetch_all(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        if _out_of_range(params):
            return []
        return (await _run(self._conn, sql, params, self._db.id_tables)).rows

    async def fetch_one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None


class PostgresDatabase(GroupCommit):
    """A PostgreSQL database opened for an async app, with the SQLite engine's interface."""

    dialect = "postgres"

    def __init__(self, url: str, *, write_wait: float | None = None) -> None:
        self.url = url
        self.path = None
        self.write_wait = WRITE_WAIT_SECONDS if write_wait is None else write_wait
        # asyncpg's connections belong to the event loop that made them: each loop gets its own pool
        # and its own group committer (the write lock serialises them like any other process)
        self._loops: dict[asyncio.AbstractEventLoop, _LoopState] = {}
        self._opened = False
        self.id_tables: frozenset[str] = frozenset()
        self.groups = 0

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._loops.get(loop)
        if state is None:
            state = self._loops[loop] = _LoopState()
        return state

    _pool = property(lambda self: self._state().pool, lambda self, v: setattr(self._state(), "pool", v))
    _write_pool = property(lambda self: self._state().write_pool,
                           lambda self, v: setattr(self._state(), "write_pool", v))
    _queue = property(lambda self: self._state().queue, lambda self, v: setattr(self._state(), "queue", v))
    _committer = property(lambda self: self._state().committer,
                          lambda self, v: setattr(self._state(), "committer", v))
    _group_conn = property(lambda self: self._state().group_conn,
                           lambda self, v: setattr(self._state(), "group_conn", v))
    _lock_conn = property(lambda self: self._state().lock_conn,
                          lambda self, v: setattr(self._state(), "lock_conn", v))

    async def _ready(self) -> None:
        """Pools on the running loop (the first on another loop than open()'s are made here)."""
        if self._pool is None or self._write_pool is None:
            assert self._opened, "Database.open() was not awaited"
            try:
                self._pool = self._pool or await self._create_pool()
                self._write_pool = self._write_pool or await self._create_pool(1)
            except _UNAVAILABLE as error:
                raise DatabaseUnavailable(f"the database could not be reached ({type(error).__name__})") from error

    async def _create_pool(self, size: int = READERS + 1) -> asyncpg.Pool:
        """Readers (and session_lock) use a pool of READERS + 1; the group committer one of its own, so a
        write never queues behind a crowd of reads for a connection."""
        return await asyncpg.create_pool(self.url, min_size=0, max_size=size, timeout=CONNECT_TIMEOUT,
                                         command_timeout=60, statement_cache_size=1024, reset=_keep_as_is,
                                         # like SQLite's synchronous = full: a commit is on disk before a writer is told
                                         server_settings={"timezone": "UTC", "synchronous_commit": "on"})

    def __repr__(self) -> str:
        return f"PostgresDatabase({redact(self.url)})"

    async def open(self) -> None:
        """Connect (a pool of readers plus the writer), create what is missing and apply pending migrations."""
        try:
            self._pool = await self._create_pool()
            try:
                conn = await self._pool.acquire(timeout=CONNECT_TIMEOUT)
            except asyncpg.InvalidCatalogNameError:
                await create_database(self.url)
                conn = await self._pool.acquire(timeout=CONNECT_TIMEOUT)
            try:
                await apply_migrations(conn)
                self.id_tables = await tables_with_id(conn)
            finally:
                await self._pool.release(conn)
            self._write_pool = await self._create_pool(1)
            self._opened = True
        except BaseException as error:
            mapped = _mapped(error)
            if self._pool is not None:
                self._pool.terminate()
                self._pool = None
            if self._write_pool is not None:
                self._write_pool.terminate()
                self._write_pool = None
            if mapped is error:
                raise
            raise mapped from error

    async def close(self) -> None:
        committer = self._committer
        if committer is not None and not committer.done() and committer.get_loop() is asyncio.get_running_loop():
            await asyncio.wait([committer])
        for pool in (self._pool, self._write_pool):
            if pool is not None:
                try:
                    await asyncio.wait_for(pool.close(), 10)
                except (asyncio.TimeoutError, *_UNAVAILABLE):
                    pool.terminate()
        self._pool = self._write_pool = None
        for loop, state in list(self._loops.items()):  # pools of other loops (closed or not running now)
            for pool in (state.pool, state.write_pool):
                if pool is not None:
                    pool.terminate()
            del self._loops[loop]
        self._opened = False

    async def fetch_all(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        if _out_of_range(params):
            return []
        await self._ready()
        try:
            conn = await _acquire(self._pool, CONNECT_TIMEOUT)
        except _UNAVAILABLE as error:
            raise DatabaseUnavailable(f"the database could not be reached ({type(error).__name__})") from error
        try:
            return (await _run(conn, sql, params, self.id_tables)).rows
        except _UNAVAILABLE as error:
            raise DatabaseUnavailable(f"the database could not be reached ({type(error).__name__})") from error
        finally:
            await self._pool.release(conn)

    async def fetch_one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def checkpoint(self) -> None:
        """After a purge: vacuum the tables that held the purged details, so their old row versions are
        marked free at once rather than at autovacuum's next pass (PostgreSQL has no secure_delete:
        the bytes stay on disk until the space is reused)."""
        await self._ready()
        try:
            async with self._pool.acquire(timeout=CONNECT_TIMEOUT) as conn:
                await conn.execute("vacuum registrations, registration_children, accommodation_requests")
        except (*_UNAVAILABLE, asyncpg.PostgresError) as error:
            log.warning("vacuum after the purge failed (%s)", type(error).__name__)

    async def begin(self, *, savepoint: bool = True) -> Write:
        await self._ready()
        return await self._turn(Write(PgWriteConnection(self), savepoint,
                                      asyncio.get_running_loop().time() + self.write_wait))

    async def _commit_groups(self) -> None:
        assert self._write_pool is not None
        loop = asyncio.get_running_loop()
        while self._queue:
            group: list[Write] = []
            conn: asyncpg.Connection | None = None
            try:
                conn = await self._acquire_locked()
                if conn is None:
                    continue
                self._group_conn = conn
                closes = loop.time() + GROUP_SECONDS_HERE
                # a kept write's savepoint is released with the next write's `savepoint` (or by the commit):
                # one round trip less per write while the group holds the write lock
                release = ""
                while len(group) < GROUP_MAX and (not group or loop.time() < closes):
                    for _ in range(YIELDS):
                        if self._queue:
                            break
                        await asyncio.sleep(0)
                    if not self._queue:
                        break
                    write = self._queue.popleft()
                    if write.turn.done():  # given up (cancelled) while it waited
                        continue
                    group.append(write)
                    if write.savepoint:
                        await conn.execute(release + "savepoint write")
                        release = ""
                    write.turn.set_result(None)
                    keep = await write.done
                    if not write.savepoint:
                        if not keep:
                            raise GroupAbandoned("a write without a savepoint was given up")
                        continue
                    if keep:
                        release = "release savepoint write; "
                    else:
                        await conn.execute("rollback to savepoint write; release savepoint write")
                await conn.execute("commit")
            except BaseException as error:
                self._group_conn = None
                if conn is not None:
                    try:
                        await asyncio.shield(self._discard(conn, error))
                    except Exception:  # noqa: BLE001 - a broken connection is gone either way
                        log.warning("dropping a broken database connection failed")
                    conn = None
                mapped = _mapped(error)
                for write in group:
                    write.fail(mapped)
                if isinstance(error, asyncio.CancelledError):
                    for write in self._queue:
                        write.fail(error)
                    raise
                if isinstance(mapped, DatabaseUnavailable):
                    # fail what waits too: the database is gone, the next write will try again
                    for write in list(self._queue):
                        if not write.turn.done():
                            write.fail(mapped)
                    self._queue = deque(w for w in self._queue if not w.turn.done())
                continue
            finally:
                self._group_conn = None
                if conn is not None:
                    try:
                        await self._write_pool.release(conn)
                    except Exception:  # noqa: BLE001 - the pool replaces a connection it cannot take back
                        conn.terminate()
            self.groups += 1
            for write in group:
                if not write.committed.done():
                    write.committed.set_result(None)

    async def _discard(self, conn: asyncpg.Connection, error: BaseException) -> None:
        """After a failed group: roll back on a connection that still works, drop one that does not."""
        try:
            if not conn.is_closed() and not isinstance(_mapped(error), DatabaseUnavailable):
                await asyncio.wait_for(conn.execute("rollback"), 5)
                await self._write_pool.release(conn)  # type: ignore[union-attr]
                return
        except Exception:  # noqa: BLE001 - the connection is dropped below
            pass
        conn.terminate()
        try:
            await self._write_pool.release(conn)  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001 - already gone from the pool
            pass

    async def _acquire_locked(self) -> asyncpg.Connection | None:
        """A connection in a transaction that holds the write lock; None when every waiting write was given up.

        As on SQLite, a write is given up (DatabaseBusy) only when another process held the lock past
        its deadline, never for having queued behind this process's own writes: the first attempt
        waits up to write_wait, a retry until the oldest waiting write's deadline."""
        assert self._write_pool is not None
        loop = asyncio.get_running_loop()
        waited = False
        while True:
            if waited:
                self._give_up_waiting(loop.time())
            while self._queue and self._queue[0].turn.done():  # given up while queued (the loop skips the rest)
                self._queue.popleft()
            if not self._queue:
                return None
            left = min(w.deadline for w in self._queue) - loop.time() if waited else self.write_wait
            try:
                conn = await _acquire(self._write_pool, max(0.1, min(CONNECT_TIMEOUT, left)))
            except _UNAVAILABLE as error:
                failure = DatabaseUnavailable(f"the database could not be reached ({type(error).__name__})")
                for write in self._queue:
                    if not write.turn.done():
                        write.fail(failure)
                self._queue.clear()
                return None
            try:
                # one round trip: begin, wait for the write lock at most until the oldest write's deadline
                await conn.execute(f"begin; set local lock_timeout = {max(1, int(left * 1000))}; "
                                   f"select pg_advisory_xact_lock({WRITE_LOCK}); set local lock_timeout = 0")
                return conn
            except asyncpg.LockNotAvailableError:
                await conn.execute("rollback")
                await self._write_pool.release(conn)
                waited = True
                continue
            except BaseException:
                conn.terminate()
                with contextlib.suppress(Exception):
                    await self._write_pool.release(conn)
                raise

    @asynccontextmanager
    async def session_lock(self, key: int) -> AsyncIterator[bool]:
        """Try to take a session-level advisory lock (True if this process now holds it), for as long as the block runs."""
        await self._ready()
        try:
            conn = await self._pool.acquire(timeout=CONNECT_TIMEOUT)
        except _UNAVAILABLE as error:
            raise DatabaseUnavailable("the database could not be reached") from error
        try:
            held = bool(await conn.fetchval("select pg_try_advisory_lock($1)", key))
            self._lock_conn = conn if held else None
            try:
                yield held
            finally:
                self._lock_conn = None
                if held and not conn.is_closed():
                    try:
                        await conn.execute("select pg_advisory_unlock($1)", key)
                    except BaseException:
                        conn.terminate()  # never back in the pool still holding the lock
                        raise
        finally:
            await self._pool.release(conn)

    def lock_alive(self) -> bool:
        """Whether the connection holding the session lock is still open (else another process may take it)."""
        return self._lock_conn is not None and not self._lock_conn.is_closed()


async def create_database(url: str) -> None:
    """Create the database a URL names (through the server's `postgres` database), as SQLite creates its file."""
    parts = urlsplit(url)
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ValueError("TAIWA_DB: the postgresql:// URL names no database")
    conn = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")), timeout=CONNECT_TIMEOUT)
    try:
        quoted = '"' + name.replace('"', '""') + '"'
        try:
            await conn.execute(f"create database {quoted}")
        except asyncpg.DuplicateDatabaseError:
            pass  # another process made it meanwhile
        log.info("created the database %s", name)
    finally:
        await conn.close()


# ---------------------------------------------------------------- migrations

_TYPES = [
    (re.compile(r"\binteger\s+primary\s+key\b", re.I), "bigint generated by default as identity primary key"),
    (re.compile(r"\binteger\b", re.I), "bigint"),
    (re.compile(r"\breal\b", re.I), "double precision"),
    (re.compile(r"\)\s*without\s+rowid", re.I), ")"),
    (re.compile(r"\bblob\b", re.I), "bytea"),
]
_SQLITE_ONLY = re.compile(r"^\s*--\s*sqlite only\b", re.I | re.M)
_PG_LINE = re.compile(r"^--pg ?", re.M)


def migration_statements(sql: str) -> list[str]:
    """A migration file's statements for PostgreSQL.

    The file is written for SQLite in portable DDL. Lines starting with `--pg ` are PostgreSQL's own
    (SQLite reads them as comments); a statement after a line `-- sqlite only` is left out here.
    Types are translated (integer primary key → identity, integer → bigint, real → double precision),
    and SQLite's clock (strftime/datetime 'now') becomes PostgreSQL's.
    """
    text = _PG_LINE.sub("", sql)
    statements: list[str] = []
    buffer: list[str] = []
    skip = False
    dollar = False
    for line in text.splitlines():
        stripped = line.strip()
        if not buffer and _SQLITE_ONLY.match(line):
            skip = True
            continue
        if not buffer and (not stripped or stripped.startswith("--")):
            continue
        buffer.append(line)
        if line.count("$$") % 2:
            dollar = not dollar
        if dollar or not stripped.endswith(";"):
            continue
        joined = "\n".join(buffer)
        if "$$" in joined or sqlite3.complete_statement(joined):  # a SQLite trigger keeps its inner semicolons
            if not skip:
                statements.append("\n".join(buffer).strip().rstrip(";"))
            buffer, skip = [], False
    if buffer and not skip and "".join(buffer).strip():
        statements.append("\n".join(buffer).strip().rstrip(";"))
    return [_ddl(statement) for statement in statements]


def _ddl(statement: str) -> str:
    if "$$" in statement:  # PostgreSQL's own function bodies are kept as written
        return statement
    for pattern, replacement in _CLOCK:
        statement = pattern.sub(lambda _m, r=replacement: r, statement)
    for pattern, replacement in _TYPES:
        statement = pattern.sub(replacement, statement)
    return statement


PREAMBLE = [
    "create extension if not exists pg_trgm",
    # SQLite's `collate nocase` (an account's email): the same comparison, case-insensitive
    "do $$ begin if not exists (select 1 from pg_collation where collname = 'nocase') then "
    "create collation nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false); end if; end $$",
]


async def apply_migrations(conn: asyncpg.Connection) -> list[str]:
    """Apply every migration not yet recorded, each in its own transaction, one process at a time."""
    await conn.execute(f"select pg_advisory_lock({MIGRATION_LOCK})")
    try:
        for statement in PREAMBLE:
            await conn.execute(statement)
        await conn.execute(
            "create table if not exists schema_migrations (version bigint primary key, name text not null, "
            f"applied_at text not null default ({NOW_SECONDS}))")
        done = {row[0] for row in await conn.fetch("select version from schema_migrations")}
        applied = []
        for version, name, sql in migration_files():
            if version in done:
                continue
            async with conn.transaction():
                for statement in migration_statements(sql):
                    try:
                        await conn.execute(statement)
                    except asyncpg.PostgresError as error:
                        raise RuntimeError(f"migration {name} failed on PostgreSQL: {error}\n{statement}") from error
                await conn.execute("insert into schema_migrations (version, name) values ($1, $2)", version, name)
            applied.append(name)
        return applied
    finally:
        try:
            await conn.execute(f"select pg_advisory_unlock({MIGRATION_LOCK})")
        except BaseException:
            conn.terminate()  # never back in the pool still holding the lock
            raise


async def tables_with_id(conn: asyncpg.Connection) -> frozenset[str]:
    """Tables whose `id` is an identity column: an insert into them returns its id (lastrowid)."""
    rows = await conn.fetch(
        "select table_name from information_schema.columns where table_schema = current_schema() "
        "and column_name = 'id' and is_identity = 'YES'")
    return frozenset(row[0] for row in rows)
