"""SQL of the abuse limits kept in the database (server/auth/shared_limits.py): one row per event."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sessions.store import Reader


async def latest_expiries(db: Reader, name: str, key_hash: str, now: float, count: int) -> list[float]:
    """When the `count` most recent events of a key that still count stop counting, latest first."""
    rows = await db.fetch_all(
        "select expires_at from limit_hits where name = ? and key_hash = ? and expires_at > ? "
        "order by expires_at desc limit ?",
        (name, key_hash, now, count),
    )
    return [row["expires_at"] for row in rows]


async def insert_hits(conn: Any, hits: Iterable[tuple[str, str, float]]) -> list[int]:
    """Record events as (name, key_hash, expires_at); return their ids."""
    ids = []
    for name, key_hash, expires_at in hits:
        cursor = await conn.execute("insert into limit_hits (name, key_hash, expires_at) values (?, ?, ?)",
                                    (name, key_hash, expires_at))
        ids.append(int(cursor.lastrowid))
    return ids


async def renew_hits(conn: Any, expiries: Iterable[tuple[float, int]]) -> None:
    """Move events' ends, given as (expires_at, id)."""
    await conn.executemany("update limit_hits set expires_at = ? where id = ?", list(expiries))


async def delete_expired(conn: Any, now: float) -> None:
    """Forget the events that no longer count (by `now`), of every limit and key."""
    await conn.execute("delete from limit_hits where expires_at <= ?", (now,))


async def delete_hits(conn: Any, ids: Sequence[int]) -> None:
    """Forget these events (given back: they should not count after all)."""
    await conn.executemany("delete from limit_hits where id = ?", [(hit,) for hit in ids])


async def delete_key(conn: Any, name: str, key_hash: str) -> None:
    """Forget every event of one key of a limit."""
    await conn.execute("delete from limit_hits where name = ? and key_hash = ?", (name, key_hash))
