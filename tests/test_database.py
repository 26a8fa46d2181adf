"""The SQLite foundation: migrations recorded once, WAL and FULL sync, writes all-or-nothing."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from server.core.database import Database, migration_files
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


async def test_writes_arriving_together_share_one_commit_and_fail_alone(tmp_path):
    """Group commit: 60 concurrent writes, every third one failing, commit in far fewer groups;
    each failed write leaves nothing, each kept write is visible the moment its block returns."""
    db = Database(tmp_path / "t.sqlite3")
    await db.open()
    seen_after_return: list[bool] = []

    async def write(index: int) -> None:
        async with db.transaction() as conn:
            await store.create_org(conn, slug=f"org-{index}", name=f"団体{index}")
            if index % 3 == 0:
                raise ValueError("this write changes its mind")
        seen_after_return.append(await store.get_org_by_slug(db, f"org-{index}") is not None)

    results = await asyncio.gather(*(write(i) for i in range(60)), return_exceptions=True)
    assert sum(isinstance(r, ValueError) for r in results) == 20
    assert seen_after_return == [True] * 40
    slugs = {row["slug"] for row in await db.fetch_all("select slug from organizations")}
    assert slugs == {f"org-{i}" for i in range(60) if i % 3}
    assert db.groups < 40  # several writes went out in one commit
    await db.close()


async def test_a_failed_commit_fails_every_write_of_its_group(tmp_path):
    """When the commit itself fails, no writer of that group is told its write is done."""
    db = Database(tmp_path / "t.sqlite3")
    await db.open()
    async with db.transaction() as conn:  # a deferred constraint only fails at COMMIT
        await conn.execute("create table parent (id integer primary key)")
        await conn.execute("create table child (parent integer references parent(id) deferrable initially deferred)")

    async def orphan() -> None:
        async with db.transaction() as conn:
            await conn.execute("insert into child values (42)")

    async def fine() -> None:
        async with db.transaction() as conn:
            await conn.execute("insert into parent values (1)")

    results = await asyncio.gather(orphan(), fine(), return_exceptions=True)
    assert all(isinstance(r, sqlite3.IntegrityError) for r in results)
    assert await db.fetch_all("select * from parent") == []
    async with db.transaction() as conn:  # the writer carries on with the next group
        await conn.execute("insert into parent values (2)")
    assert [row[0] for row in await db.fetch_all("select id from parent")] == [2]
    await db.close()


async def test_a_cancelled_writer_does_not_stall_the_others(tmp_path):
    db = Database(tmp_path / "t.sqlite3")
    await db.open()
    started = asyncio.Event()

    async def slow() -> None:
        async with db.transaction() as conn:
            await store.create_org(conn, slug="slow", name="遅い")
            started.set()
            await asyncio.sleep(10)

    task = asyncio.create_task(slow())
    await started.wait()
    waiting = [asyncio.create_task(_create(db, f"after-{i}")) for i in range(3)]
    await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.wait_for(asyncio.gather(*waiting), timeout=5)
    slugs = {row["slug"] for row in await db.fetch_all("select slug from organizations")}
    assert slugs == {"after-0", "after-1", "after-2"}
    await db.close()


async def _create(db: Database, slug: str) -> None:
    async with db.transaction() as conn:
        await store.create_org(conn, slug=slug, name=slug)


async def test_a_write_without_a_savepoint_that_gives_up_rolls_back_its_whole_group(tmp_path):
    """Writes that skip their savepoint (board commands) cannot be undone alone: if one is given up,
    no writer of its group is told its write is done, and nothing of the group is kept."""
    db = Database(tmp_path / "t.sqlite3")
    await db.open()

    async def fine(slug: str) -> None:
        async with db.transaction() as conn:
            await store.create_org(conn, slug=slug, name=slug)

    async def gives_up() -> None:
        write = await db.begin(savepoint=False)
        await store.create_org(write.conn, slug="half", name="途中で失敗")
        write.finish(keep=False)
        await write.committed

    results = await asyncio.gather(fine("before"), gives_up(), fine("after"), return_exceptions=True)
    assert [type(r).__name__ for r in results[:2]] == ["GroupAbandoned", "GroupAbandoned"]
    assert results[2] is None  # it had not run yet: it goes out in the next group
    assert [row[0] for row in await db.fetch_all("select slug from organizations")] == ["after"]
    await db.close()
