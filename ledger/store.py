"""SQL of the accountability ledger: themes, opinions, issues, responses and the theme's mail followers.

Read functions take a `Reader` (the database, or the connection of a write in progress); write
functions take the connection of the caller's transaction. Times are written by Python (to_db).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from ledger.models import Issue, Opinion, OpinionInput, Response, ResponseInput, Theme
from sessions.store import Reader
from sessions.timestamps import from_db, to_db

# sessions the public may see on a theme's page: published at some time, and not taken back to draft
PUBLIC_SESSION = "s.status != 'draft' and s.published_at is not null"


# ---------------------------------------------------------------- themes

def _theme(row: sqlite3.Row) -> Theme:
    return Theme(id=row["id"], org_id=row["org_id"], slug=row["slug"], title=row["title"],
                 description=row["description"], published=bool(row["published"]),
                 created_at=from_db(row["created_at"]))  # type: ignore[arg-type]


async def slug_taken(db: Reader, slug: str) -> bool:
    return await db.fetch_one("select 1 from themes where slug = ?", (slug,)) is not None


async def create_theme(conn: Any, org_id: int, *, slug: str, title: str, description: str, published: bool,
                       now: datetime) -> int:
    cursor = await conn.execute(
        "insert into themes (org_id, slug, title, description, published, created_at) values (?, ?, ?, ?, ?, ?)",
        (org_id, slug, title, description, int(published), to_db(now)))
    return int(cursor.lastrowid)


async def update_theme(conn: Any, theme_id: int, *, title: str, description: str, published: bool) -> None:
    await conn.execute("update themes set title = ?, description = ?, published = ? where id = ?",
                       (title, description, int(published), theme_id))


async def get_theme(db: Reader, theme_id: int) -> Theme | None:
    row = await db.fetch_one("select * from themes where id = ?", (theme_id,))
    return _theme(row) if row else None


async def published_theme(db: Reader, slug: str) -> Theme | None:
    """A theme the public may see, by its slug (an unpublished one is None, like an unknown one)."""
    row = await db.fetch_one("select * from themes where slug = ? and published = 1", (slug,))
    return _theme(row) if row else None


async def org_themes(db: Reader, org_id: int) -> list[Theme]:
    rows = await db.fetch_all("select * from themes where org_id = ? order by id desc", (org_id,))
    return [_theme(row) for row in rows]


async def public_theme_of_session(db: Reader, session_id: int) -> Theme | None:
    """The published theme a session belongs to, for the links from its pages."""
    row = await db.fetch_one("select t.* from themes t join sessions s on s.theme_id = t.id "
                             "where s.id = ? and t.published = 1", (session_id,))
    return _theme(row) if row else None


# ---------------------------------------------------------------- sessions of a theme

async def theme_sessions(db: Reader, theme_id: int, *, public: bool) -> list[sqlite3.Row]:
    """The theme's sessions by start (id, title, title_en, starts_at, ends_at, timezone, status); `public`:
    only those the public may see."""
    where = f" and {PUBLIC_SESSION}" if public else ""
    return await db.fetch_all(
        "select s.id, s.title, s.title_en, s.starts_at, s.ends_at, s.timezone, s.status from sessions s "
        "where s.theme_id = ?" + where + " order by s.starts_at, s.id", (theme_id,))


async def org_sessions(db: Reader, org_id: int) -> list[sqlite3.Row]:
    """An organization's sessions (id, title, starts_at, theme_id), newest first, to attach to a theme."""
    return await db.fetch_all("select id, title, starts_at, timezone, theme_id from sessions where org_id = ? "
                              "order by starts_at desc, id desc", (org_id,))


async def set_session_theme(conn: Any, session_id: int, theme_id: int | None) -> None:
    await conn.execute("update sessions set theme_id = ? where id = ?", (theme_id, session_id))


# ---------------------------------------------------------------- opinions

def _opinion(row: sqlite3.Row) -> Opinion:
    return Opinion(id=row["id"], theme_id=row["theme_id"], text=row["text"], source=row["source"],
                   session_id=row["session_id"], received_on=date.fromisoformat(row["received_on"]),
                   created_at=from_db(row["created_at"]))  # type: ignore[arg-type]


async def origin_known(db: Reader, theme_id: int, origin: str) -> bool:
    return await db.fetch_one("select 1 from opinions where theme_id = ? and origin = ?",
                              (theme_id, origin)) is not None


async def add_opinion(conn: Any, theme_id: int, data: OpinionInput, *, origin: str | None, now: datetime) -> int:
    cursor = await conn.execute(
        "insert into opinions (theme_id, text, source, session_id, received_on, origin, created_at) "
        "values (?, ?, ?, ?, ?, ?, ?)",
        (theme_id, data.text, data.source, data.session_id, data.received_on.isoformat(),  # type: ignore[union-attr]
         origin, to_db(now)))
    return int(cursor.lastrowid)


async def theme_opinions(db: Reader, theme_id: int) -> list[Opinion]:
    rows = await db.fetch_all("select * from opinions where theme_id = ? order by received_on, id", (theme_id,))
    return [_opinion(row) for row in rows]


# ---------------------------------------------------------------- issues and responses

def _response(row: sqlite3.Row) -> Response:
    return Response(id=row["id"], issue_id=row["issue_id"], body=row["body"], status=row["status"],
                    department=row["department"], session_id=row["session_id"],
                    created_at=from_db(row["created_at"]),  # type: ignore[arg-type]
                    published_at=from_db(row["published_at"]))


async def create_issue(conn: Any, theme_id: int, title: str, *, now: datetime) -> int:
    cursor = await conn.execute("insert into issues (theme_id, title, created_at) values (?, ?, ?)",
                                (theme_id, title, to_db(now)))
    return int(cursor.lastrowid)


async def link_opinions(conn: Any, issue_id: int, opinion_ids: Iterable[int]) -> None:
    """Put opinions under an issue (those already there stay once)."""
    present = {row[0] for row in await conn.fetch_all("select opinion_id from issue_opinions where issue_id = ?",
                                                      (issue_id,))}
    await conn.executemany("insert into issue_opinions (issue_id, opinion_id) values (?, ?)",
                           [(issue_id, i) for i in opinion_ids if i not in present])


async def issue_row(db: Reader, issue_id: int) -> sqlite3.Row | None:
    """An issue with its theme's id, organization and slug."""
    return await db.fetch_one("select i.*, t.org_id, t.slug, t.published as theme_published from issues i "
                              "join themes t on t.id = i.theme_id where i.id = ?", (issue_id,))


async def theme_issues(db: Reader, theme_id: int, *, drafts: bool) -> list[Issue]:
    """The theme's issues in the order they were raised, each with its opinions and its responses
    oldest first; `drafts`: with unpublished responses too (staff only)."""
    issues = {row["id"]: Issue(id=row["id"], theme_id=row["theme_id"], title=row["title"],
                               created_at=from_db(row["created_at"]))  # type: ignore[arg-type]
              for row in await db.fetch_all("select * from issues where theme_id = ? order by id", (theme_id,))}
    for row in await db.fetch_all(
            "select io.issue_id, o.* from issue_opinions io join opinions o on o.id = io.opinion_id "
            "join issues i on i.id = io.issue_id where i.theme_id = ? order by o.received_on, o.id", (theme_id,)):
        issues[row["issue_id"]].opinions.append(_opinion(row))
    published = "" if drafts else " and r.published_at is not null"
    for row in await db.fetch_all(
            "select r.* from responses r join issues i on i.id = r.issue_id where i.theme_id = ?" + published +
            " order by coalesce(r.published_at, r.created_at), r.id", (theme_id,)):
        issues[row["issue_id"]].responses.append(_response(row))
    return list(issues.values())


async def add_response(conn: Any, issue_id: int, data: ResponseInput, *, author_id: int | None, now: datetime) -> int:
    cursor = await conn.execute(
        "insert into responses (issue_id, body, status, department, session_id, author_id, created_at, published_at) "
        "values (?, ?, ?, ?, ?, ?, ?, ?)",
        (issue_id, data.body, data.status, data.department, data.session_id, author_id, to_db(now),
         to_db(now) if data.publish else None))
    return int(cursor.lastrowid)


async def response_row(db: Reader, response_id: int) -> sqlite3.Row | None:
    """A response with its issue's title and theme (id, organization, slug, title, published)."""
    return await db.fetch_one(
        "select r.*, i.title as issue_title, i.theme_id, t.org_id, t.slug, t.title as theme_title, "
        "t.published as theme_published from responses r join issues i on i.id = r.issue_id "
        "join themes t on t.id = i.theme_id where r.id = ?", (response_id,))


async def publish_response(conn: Any, response_id: int, *, now: datetime) -> bool:
    """Publish a draft; False when it was already published (published once, never changed)."""
    cursor = await conn.execute("update responses set published_at = ? where id = ? and published_at is null",
                                (to_db(now), response_id))
    return cursor.rowcount == 1


async def published_responses(db: Reader, theme_id: int, limit: int = 200) -> list[sqlite3.Row]:
    """The theme's published responses, newest first, with their issue's title (for the feed)."""
    return await db.fetch_all(
        "select r.*, i.title as issue_title from responses r join issues i on i.id = r.issue_id "
        "where i.theme_id = ? and r.published_at is not null order by r.published_at desc, r.id desc limit ?",
        (theme_id, limit))


# ---------------------------------------------------------------- followers

async def follower_by_email(db: Reader, theme_id: int, email: str) -> sqlite3.Row | None:
    return await db.fetch_one("select * from theme_followers where theme_id = ? and email = ?", (theme_id, email))


async def follower_by_token_hash(db: Reader, token_hash: str) -> sqlite3.Row | None:
    return await db.fetch_one("select f.*, t.slug from theme_followers f join themes t on t.id = f.theme_id "
                              "where f.token_hash = ?", (token_hash,))


async def add_follower(conn: Any, theme_id: int, *, email: str, locale: str, salt: str, token_hash: str,
                       now: datetime) -> int:
    cursor = await conn.execute(
        "insert into theme_followers (theme_id, email, locale, token_salt, token_hash, requested_at) "
        "values (?, ?, ?, ?, ?, ?)", (theme_id, email, locale, salt, token_hash, to_db(now)))
    return int(cursor.lastrowid)


async def renew_request(conn: Any, follower_id: int, *, locale: str, now: datetime) -> None:
    await conn.execute("update theme_followers set locale = ?, requested_at = ? where id = ?",
                       (locale, to_db(now), follower_id))


async def confirm_follower(conn: Any, follower_id: int, *, now: datetime) -> None:
    await conn.execute("update theme_followers set confirmed_at = ? where id = ? and confirmed_at is null",
                       (to_db(now), follower_id))


async def remove_follower(conn: Any, follower_id: int) -> None:
    """Forget a follower (the address goes with the row); mail not yet sent to them is not sent."""
    await conn.execute("delete from outbox where follower_id = ? and sent_at is null", (follower_id,))
    await conn.execute("update outbox set follower_id = null where follower_id = ?", (follower_id,))
    await conn.execute("delete from theme_followers where id = ?", (follower_id,))


async def unconfirmed_before(db: Reader, before: datetime) -> list[int]:
    """Followers who never confirmed, asked before `before` (their address is kept no longer)."""
    rows = await db.fetch_all("select id from theme_followers where confirmed_at is null and requested_at < ?",
                              (to_db(before),))
    return [row[0] for row in rows]


async def confirmed_followers(db: Reader, theme_id: int) -> list[sqlite3.Row]:
    return await db.fetch_all("select * from theme_followers where theme_id = ? and confirmed_at is not null "
                              "order by id", (theme_id,))


async def follower_salt(db: Reader, follower_id: int) -> str:
    row = await db.fetch_one("select token_salt from theme_followers where id = ?", (follower_id,))
    return row[0] if row else ""


async def follower_count(db: Reader, theme_id: int) -> int:
    row = await db.fetch_one("select count(*) from theme_followers where theme_id = ? and confirmed_at is not null",
                             (theme_id,))
    return int(row[0]) if row else 0
