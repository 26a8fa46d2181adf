"""`taiwa copy-db --from SRC --to DST`: every row of one database into another, SQLite ⇄ PostgreSQL.

Both are opened with the app's engines (so both are migrated to the same schema first). The target
must be empty (no row in any table of the app) unless `replace` is given: then its rows are deleted
first, in the same transaction as the copy, so a failed copy leaves the target as it was. Tables are copied parents first (foreign keys, as
declared in the SQLite database's schema), in one transaction on the target, ids kept; the search
index is copied as it is. Then every table's row count is compared, and on PostgreSQL the identity
counters are moved past the copied ids, so new rows get new ids.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from server.core.database import is_postgres, open_database

BATCH = 500
SKIPPED = {"schema_migrations"}
SEARCH = "session_search"


class CopyRefused(Exception):
    """The copy was not made (a non-empty target, the same database twice, an unknown schema)."""


def _sqlite_side(source: Path | str, target: Path | str) -> Path:
    for side in (source, target):
        if not is_postgres(side):
            return Path(side)
    raise CopyRefused("copy-db copies between a SQLite file and PostgreSQL; for PostgreSQL to PostgreSQL use "
                      "pg_dump and pg_restore")


def table_order(sqlite_path: Path) -> list[str]:
    """The app's tables, each after the tables its foreign keys point to (from the SQLite schema)."""
    conn = sqlite3.connect(sqlite_path)
    try:
        names = [row[0] for row in conn.execute(
            "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' "
            "and name not like 'session_search_%' order by rowid")]
        parents = {name: {row[2] for row in conn.execute(f"pragma foreign_key_list('{name}')")} - {name}
                   for name in names}
    finally:
        conn.close()
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [name for name in names if name not in ordered and parents[name] <= set(ordered)]
        if not ready:
            raise CopyRefused("the tables' foreign keys form a cycle")
        ordered.extend(ready)
    return [name for name in ordered if name not in SKIPPED]


async def _count(db: Any, table: str) -> int:
    row = await db.fetch_one(f"select count(*) from {table}")
    return int(row[0])


async def copy_database(source: Path | str, target: Path | str, *, replace: bool = False,
                        progress: Any = None) -> dict[str, int]:
    """Copy every row; return the row count of each table. Raises CopyRefused when nothing was copied.
    With `replace`, a target that holds rows has them deleted first (in the copy's transaction)."""
    if str(source) == str(target):
        raise CopyRefused("the source and the target are the same database")
    if not is_postgres(source) and not Path(source).exists():
        raise CopyRefused(f"{source} does not exist")
    src = open_database(source)
    dst = open_database(target)
    await src.open()
    try:
        await dst.open()
        try:
            tables = table_order(_sqlite_side(source, target))
            filled = [table for table in tables if await _count(dst, table)]
            if filled and not replace:
                raise CopyRefused(f"the target is not empty (table {filled[0]} has rows): copy into a new "
                                  "database, or give --replace to delete the target's rows first")
            counts: dict[str, int] = {}
            async with dst.transaction() as conn:
                if dst.dialect == "postgres":
                    await conn.execute("alter table sessions disable trigger user")
                for table in reversed(tables):  # children before the rows their foreign keys point to
                    if table in filled:
                        await conn.execute(f"delete from {table}")
                for table in tables:
                    rows = await src.fetch_all(f"select {'rowid, title, description, themes, place' if table == SEARCH else '*'} "
                                               f"from {table}")
                    counts[table] = len(rows)
                    if not rows:
                        continue
                    columns = list(rows[0].keys())
                    sql = (f"insert into {table} ({', '.join(columns)}) "
                           f"values ({', '.join('?' * len(columns))})")
                    await conn.executemany(sql, [tuple(row) for row in rows])
                    if progress:
                        progress(table, len(rows))
                if dst.dialect == "postgres":
                    await conn.execute("alter table sessions enable trigger user")
                    for table in sorted(dst.id_tables & set(tables)):
                        await conn.execute(
                            f"select setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"coalesce((select max(id) from {table}), 0) + 1, false)")
                else:
                    # SQLite's insert trigger stamps published_at with the time of the copy: put back the source's
                    for row in await src.fetch_all("select id, published_at, withdrawn_at, withdrawn_sequence "
                                                   "from sessions"):
                        await conn.execute("update sessions set published_at = ?, withdrawn_at = ?, "
                                           "withdrawn_sequence = ? where id = ?",
                                           (row[1], row[2], row[3], row[0]))
            for table in tables:
                copied = await _count(dst, table)
                if copied != counts[table]:
                    raise CopyRefused(f"table {table}: {counts[table]} rows in the source, {copied} in the target")
            return counts
        finally:
            await dst.close()
    finally:
        await src.close()
