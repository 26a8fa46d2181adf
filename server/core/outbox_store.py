"""SQL of the outbox: mail to registrants, written in the transaction of the change it reports."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from sessions.store import Reader
from sessions.timestamps import to_db


async def add_message(conn: Any, *, kind: str, registration_id: int | None, to_address: str, subject: str, body: str,
                      ics: str | None, follower_id: int | None = None, unsubscribe_url: str | None = None) -> None:
    """A message to a registrant (registration_id) or to a theme's follower (follower_id, with the
    unsubscribe link for its List-Unsubscribe header)."""
    await conn.execute(
        "insert into outbox (kind, registration_id, to_address, subject, body, ics, follower_id, unsubscribe_url) "
        "values (?, ?, ?, ?, ?, ?, ?, ?)",
        (kind, registration_id, to_address, subject, body, ics, follower_id, unsubscribe_url))


async def due_messages(db: Reader, now: datetime, limit: int, max_attempts: int) -> list[sqlite3.Row]:
    """Unsent messages whose next attempt is due and not given up, oldest first."""
    return await db.fetch_all("select * from outbox where sent_at is null and next_attempt_at <= ? and attempts < ? "
                              "order by id limit ?", (to_db(now), max_attempts, limit))


async def mark_failed(conn: Any, message_id: int, *, next_attempt_at: datetime, error: str) -> None:
    await conn.execute("update outbox set attempts = attempts + 1, next_attempt_at = ?, last_error = ? where id = ?",
                       (to_db(next_attempt_at), error, message_id))


async def mark_sent(conn: Any, message_id: int, at: datetime) -> None:
    await conn.execute("update outbox set sent_at = ?, attempts = attempts + 1, last_error = '' where id = ?",
                       (to_db(at), message_id))


async def newest_messages(db: Reader, limit: int, max_attempts: int) -> list[sqlite3.Row]:
    """The newest messages, each with `given_up` when it failed max_attempts times."""
    return await db.fetch_all("select *, sent_at is null and attempts >= ? as given_up from outbox order by id desc "
                              "limit ?", (max_attempts, limit))


async def messages_with_links(db: Reader, token_marker: str) -> list[sqlite3.Row]:
    """Messages whose body has a registrant link but not the token marker: queued by earlier versions."""
    return await db.fetch_all("select id, body, ics from outbox where body like '%/r/%' and instr(body, ?) = 0",
                              (token_marker,))


async def replace_text(conn: Any, message_id: int, *, body: str, ics: str | None) -> None:
    """Rewrite a message's text, overwriting the old text in the file."""
    await conn.execute("pragma secure_delete = on")
    await conn.execute("update outbox set body = ?, ics = ? where id = ?", (body, ics, message_id))
