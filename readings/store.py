"""SQL of readings: organizations' dictionaries of local names, sessions' easy-Japanese summaries."""

from __future__ import annotations

import re
import unicodedata
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from collections.abc import Sequence
from typing import Any, Protocol

from readings.kana import has_kanji, to_hiragana

MAX_SURFACE = 40
MAX_READING = 80
MAX_SUMMARY = 4_000
def N_(message: str) -> str:
    """Marks a message id for translation where it is shown (server/organize/readings.py)."""
    return message


_READING = re.compile("[\u3041-\u3096ー]+")


class Reader(Protocol):
    async def fetch_all(self, sql: str, params: Sequence[Any] = ...) -> list[sqlite3.Row]: ...
    async def fetch_one(self, sql: str, params: Sequence[Any] = ...) -> sqlite3.Row | None: ...


@dataclass(frozen=True)
class NameEntry:
    id: int
    org_id: int
    surface: str
    reading: str


class InvalidName(ValueError):
    """A dictionary entry that cannot be used; `field` and the message id say why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def clean_entry(surface: str, reading: str) -> tuple[str, str]:
    """The entry as stored (trimmed, reading in hiragana), or InvalidName."""
    surface = "".join(surface.split())
    reading = to_hiragana("".join(reading.split()))
    if (not surface or len(surface) > MAX_SURFACE or not has_kanji(surface)
            or any(char in "<>&\"'" or unicodedata.category(char).startswith("C") for char in surface)):
        raise InvalidName("surface", N_("Write the name as it is written, with its kanji (up to 40 characters)."))
    if not reading or len(reading) > MAX_READING or not _READING.fullmatch(reading):
        raise InvalidName("reading", N_("Write the reading in hiragana or katakana (up to 80 characters)."))
    return surface, reading


async def names(db: Reader, org_id: int | None = None) -> list[NameEntry]:
    """The entries of one organization (by name), or of all (oldest first)."""
    if org_id is None:
        rows = await db.fetch_all("select id, org_id, surface, reading from reading_names order by id")
    else:
        rows = await db.fetch_all("select id, org_id, surface, reading from reading_names where org_id = ? "
                                  "order by surface", (org_id,))
    return [NameEntry(row["id"], row["org_id"], row["surface"], row["reading"]) for row in rows]


async def names_by_org(db: Reader) -> dict[str, list[tuple[str, str]]]:
    """Every organization's entries, by the organization's slug (its address name, /orgs/{slug})."""
    rows = await db.fetch_all("select o.slug as slug, n.surface as surface, n.reading as reading from reading_names n "
                              "join organizations o on o.id = n.org_id order by n.id")
    out: dict[str, list[tuple[str, str]]] = {}
    for row in rows:
        out.setdefault(row["slug"], []).append((row["surface"], row["reading"]))
    return out


async def names_version(db: Reader) -> tuple[int, int, str]:
    """Changes whenever an entry is added, changed or removed (how a process knows to reload)."""
    row = await db.fetch_one("select count(*) as n, coalesce(max(id), 0) as last, "
                             "coalesce(max(changed_at), '') as changed from reading_names")
    return (row["n"], row["last"], row["changed"]) if row else (0, 0, "")


async def save_name(conn: Any, org_id: int, surface: str, reading: str) -> None:
    """Add an entry, or change the reading of the organization's entry for the same name."""
    cursor = await conn.execute("update reading_names set reading = ?, changed_at = ? where org_id = ? and surface = ?",
                                (reading, _now(), org_id, surface))
    if not cursor.rowcount:
        await conn.execute("insert into reading_names (org_id, surface, reading, changed_at) values (?, ?, ?, ?)",
                           (org_id, surface, reading, _now()))


async def delete_name(conn: Any, org_id: int, entry_id: int) -> bool:
    cursor = await conn.execute("delete from reading_names where id = ? and org_id = ?", (entry_id, org_id))
    return bool(cursor.rowcount)


async def easy_summary(db: Reader, session_id: int) -> str:
    row = await db.fetch_one("select body from session_easy_summaries where session_id = ?", (session_id,))
    return row["body"] if row else ""


async def save_easy_summary(conn: Any, session_id: int, body: str) -> None:
    """Keep the summary (an empty one removes it)."""
    await conn.execute("delete from session_easy_summaries where session_id = ?", (session_id,))
    if body:
        await conn.execute("insert into session_easy_summaries (session_id, body, updated_at) values (?, ?, ?)",
                           (session_id, body, _now()))
