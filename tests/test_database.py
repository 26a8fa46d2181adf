"""The SQLite foundation: migrations recorded once, WAL and FULL sync, writes all-or-nothing."""

from __future__ import annotations

import sqlite3

import pytest

from server.database import Database, migration_files
from sessions import store


async def test_migrations_are_applied_once_and_recorded(tmp_path):
    path = tmp_path / "t.sqlite3"
    db = Database(path)
    await db.open()
    recorded = [row["name"] for row in await db.fetch_all("select name from schema_migrations order by version")]
    assert recorded == [name for _v, name, _sql in migration_files()]
    await db.close()
    again = Database(path)
    await again.open()  # reopening applies nothing twice
    assert len(await again.fetch_all("select * from schema_migrations")) == len(recorded)
    await again.close()


async def test_database_uses_wal_full_sync_and_foreign_keys(tmp_path):
    db = Database(tmp_path / "t.sqlite3")
    await db.open()
    async with db.transaction() as conn:
        assert (await (await conn.execute("pragma journal_mode")).fetchone())[0] == "wal"
        assert (await (await conn.execute("pragma synchronous")).fetchone())[0] == 2  # FULL
        assert (await (await conn.execute("pragma foreign_keys")).fetchone())[0] == 1
        assert (await (await conn.execute("pragma busy_timeout")).fetchone())[0] >= 5000
    await db.close()


async def test_a_failed_write_leaves_nothing_behind(tmp_path):
    db = Database(tmp_path / "t.sqlite3")
    await db.open()
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as conn:
            await store.create_org(conn, slug="half", name="途中で失敗")
            await store.create_org(conn, slug="half", name="重複")  # violates the unique slug
    assert await store.get_org_by_slug(db, "half") is None
    await db.close()


async def test_readers_cannot_write(tmp_path):
    db = Database(tmp_path / "t.sqlite3")
    await db.open()
    with pytest.raises(sqlite3.OperationalError):
        await db.fetch_all("insert into organizations (slug, name) values ('x', 'x')")
    await db.close()
