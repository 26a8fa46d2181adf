"""Work that runs beside the web app: mail delivery, reminders the day before, and the retention purge."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from server import mail
from server.settings import Settings
from sessions import registration_store as rstore
from sessions import store

log = logging.getLogger("taiwa.background")
MAIL_EVERY = 5.0
HOUSEKEEPING_EVERY = 600.0


async def queue_reminders(db: Any, notify: Any) -> int:
    """Queue the day-before reminder for confirmed registrants of sessions starting 6 to 30 hours from now."""
    now = store.now_utc()
    due = await rstore.due_reminders(db, now + timedelta(hours=6), now + timedelta(hours=30))
    for registration_id in due:
        async with db.transaction() as conn:
            await notify(conn, "reminder", registration_id)
            await rstore.mark_reminded(conn, registration_id)
    return len(due)


async def purge_sensitive(db: Any, retention_days: int) -> tuple[int, int]:
    """Delete children's details and support requests of sessions that ended retention_days ago.

    Returns (sessions, details removed); anonymous totals are kept per session.
    """
    sessions = await rstore.sessions_to_purge(db, store.now_utc() - timedelta(days=retention_days))
    removed = 0
    for session_id in sessions:
        async with db.transaction() as conn:
            removed += await rstore.purge_session(conn, session_id)
    return len(sessions), removed


async def run(db: Any, settings: Settings, notify: Any) -> None:
    """The loop started by the app's lifespan; an error in one round never stops the next."""
    last_housekeeping = 0.0
    loop = asyncio.get_running_loop()
    while True:
        try:
            if settings.smtp_url:
                await mail.deliver_due(db, settings.smtp_url, mail.sender_address(settings))
            if loop.time() - last_housekeeping >= HOUSEKEEPING_EVERY:
                last_housekeeping = loop.time()
                await queue_reminders(db, notify)
                await purge_sensitive(db, settings.retention_days)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - logged without personal data, retried next round
            log.exception("background round failed")
        await asyncio.sleep(MAIL_EVERY)
