"""SQL of the messages organizers send to a session's registrants (the log kept on the session)."""

from __future__ import annotations

import sqlite3
from typing import Any

from sessions.store import Reader


async def sent_with_key(db: Reader, session_id: int, form_key: str) -> bool:
    """Whether this sending form was already sent (a double tap, or the browser sending it again)."""
    row = await db.fetch_one("select 1 from session_messages where session_id = ? and form_key = ?",
                             (session_id, form_key))
    return row is not None


async def add_message(conn: Any, session_id: int, *, sender_id: int, sender: str, subject: str, body: str,
                      recipients: int, form_key: str) -> None:
    await conn.execute(
        "insert into session_messages (session_id, sender_id, sender, subject, body, recipients, form_key) "
        "values (?, ?, ?, ?, ?, ?, ?)", (session_id, sender_id, sender, subject, body, recipients, form_key))


async def session_messages(db: Reader, session_id: int) -> list[sqlite3.Row]:
    """The messages sent for a session, newest first."""
    return await db.fetch_all("select * from session_messages where session_id = ? order by id desc",
                              (session_id,))
