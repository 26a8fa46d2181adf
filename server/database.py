"""SQLite access: concurrent readers, one serialised writer, numbered migrations.

All writes go through `Database.transaction()`, which holds an asyncio lock and opens the
transaction with BEGIN IMMEDIATE, so a read that decides a write sees the state it writes over,
even when several processes share the file.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

BUSY_TIMEOUT_MS = 10_000
READERS = 3


async def _connect(path: Path) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    await conn.execute(f"pragma busy_timeout = {BUSY_TIMEOUT_MS}")
    await conn.execute("pragma foreign_keys = on")
    await conn.execute("pragma synchronous = full")
    return conn


class Database:
    """A SQLite file opened for an async app."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._writer: aiosqlite.Connection | None = None
        self._readers: list[aiosqlite.Connection] = []
        self._reader_cycle: Iterable[aiosqlite.Connection] = iter(())
        self._write_lock = asyncio.Lock()

    async def open(self) -> None:
        """Create the file if needed, switch to WAL and apply pending migrations."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await _connect(self.path)
        await self._writer.execute("pragma journal_mode = wal")
        await apply_migrations(self._writer)
        self._readers = [await _connect(self.path) for _ in range(READERS)]
        for reader in self._readers:
            await reader.execute("pragma query_only = on")
        self._reader_cycle = itertools.cycle(self._readers)

    async def close(self) -> None:
        """Close every connection (checkpointing the WAL on the last one)."""
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

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Serialise a write: BEGIN IMMEDIATE, commit on success, roll back on any error."""
        assert self._writer is not None, "Database.open() was not awaited"
        async with self._write_lock:
            await self._writer.execute("begin immediate")
            try:
                yield self._writer
            except BaseException:
                await self._writer.execute("rollback")
                raise
            else:
                await self._writer.execute("commit")


def _out_of_range(params: Sequence[Any] | dict[str, Any]) -> bool:
    values = params.values() if isinstance(params, dict) else params
    return any(isinstance(v, int) and not -(2**63) <= v < 2**63 for v in values)


MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migration_files() -> list[tuple[int, str, str]]:
    """The numbered .sql files shipped in server/migrations, in order."""
    found = []
    for entry in resources.files("server.migrations").iterdir():
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
