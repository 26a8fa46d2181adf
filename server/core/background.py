"""Work that runs beside the web app: mail delivery, reminders the day before, evaluation mail after a
session, the retention purge, and forgetting requests to follow a theme that were never confirmed.

With several worker processes it runs in one of them: the one holding an exclusive lock on a file
next to the database. The lock goes with its process, so if that worker dies another takes over.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from datetime import timedelta
from typing import Any

from ledger import following
from server.core import mail
from server.settings import Settings
from sessions import evaluation_actions
from sessions import registration_store as rstore
from sessions.timestamps import now_utc

log = logging.getLogger("taiwa.background")
MAIL_EVERY = 5.0
HOUSEKEEPING_EVERY = 600.0
LEADER_RETRY = 5.0


async def queue_reminders(db: Any, notify: Any) -> int:
    """Queue the day-before reminder for confirmed registrants of sessions starting 6 to 30 hours from now."""
    now = now_utc()
    due = await rstore.due_reminders(db, now + timedelta(hours=6), now + timedelta(hours=30))
    for registration_id in due:
        async with db.transaction() as conn:
            await notify(conn, "reminder", registration_id)
            await rstore.mark_reminded(conn, registration_id)
    return len(due)


async def queue_evaluation_mail(db: Any, settings: Settings) -> tuple[int, int]:
    """Mail the evaluation link to those who came to sessions that have ended, and the one reminder 48
    hours later to those who have not answered. Returns (mails, reminders) queued."""

    async def send(conn: Any, kind: str, registration_id: int, evaluation: Any) -> None:
        await mail.queue_evaluation(conn, kind, registration_id, evaluation, settings=settings)

    now = now_utc()
    return (await evaluation_actions.mail_attendees(db, send, now),
            await evaluation_actions.remind_once(db, send, now))


async def purge_sensitive(db: Any, retention_days: int) -> tuple[int, int]:
    """Delete children's details and support requests of sessions that ended retention_days ago, and
    the evaluation answers of those sessions (their aggregated results stay).

    Returns (sessions, details removed); anonymous totals are kept per session.
    """
    cutoff = now_utc() - timedelta(days=retention_days)
    if await evaluation_actions.purge(db, cutoff, now_utc()):
        await db.checkpoint()
    sessions = await rstore.sessions_to_purge(db, cutoff)
    removed = 0
    for session_id in sessions:
        async with db.transaction() as conn:
            removed += await rstore.purge_session(conn, session_id)
    if sessions:
        # the purged text may still sit in the write-ahead log: fold it into the file and empty it
        await db.checkpoint()
    return len(sessions), removed


async def lead(db: Any, settings: Settings, notify: Any, secret: str) -> None:
    """Run the loop in one process only: wait until this process holds the background lock.

    On SQLite the lock is a file beside the database (the processes share a disk); on PostgreSQL it
    is an advisory lock of the database, so one process among all machines runs the loop, and another
    takes over when its connection ends (the process stopped or died).
    """
    if getattr(db, "dialect", "sqlite") == "postgres":
        await _lead_on_postgres(db, settings, notify, secret)
        return
    path = settings.db_path.with_name(settings.db_path.name + ".background.lock")
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(LEADER_RETRY)
        log.info("background work runs in process %s", os.getpid())
        await run(db, settings, notify, secret)
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(handle, fcntl.LOCK_UN)
        os.close(handle)


async def _lead_on_postgres(db: Any, settings: Settings, notify: Any, secret: str) -> None:
    from server.core.db_postgres import BACKGROUND_LOCK

    while True:
        try:
            async with db.session_lock(BACKGROUND_LOCK) as held:
                if held:
                    log.info("background work runs in process %s", os.getpid())
                    await run(db, settings, notify, secret, while_held=db.lock_alive)
                    log.warning("lost the database connection that held the background lock")
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the database went away: try again later
            log.warning("background lock not available (database unreachable)")
        await asyncio.sleep(LEADER_RETRY)


async def run(db: Any, settings: Settings, notify: Any, secret: str, while_held: Any = None) -> None:
    """The loop started by the app's lifespan; an error in one round never stops the next.

    `secret` derives the registrants' links in the mail sent.
    """
    loop = asyncio.get_running_loop()
    last_housekeeping = loop.time() - HOUSEKEEPING_EVERY  # the first round does housekeeping at once
    links_hidden = False
    while while_held is None or while_held():
        try:
            if not links_hidden:
                await mail.forget_links_in_clear(db)
                links_hidden = True
            if settings.smtp_url:
                await mail.deliver_due(db, settings.smtp_url, mail.sender_address(settings), secret=secret)
            if loop.time() - last_housekeeping >= HOUSEKEEPING_EVERY:
                last_housekeeping = loop.time()
                await queue_reminders(db, notify)
                await queue_evaluation_mail(db, settings)
                await purge_sensitive(db, settings.retention_days)
                await following.forget_unconfirmed(db)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - logged without personal data, retried next round
            log.exception("background round failed")
        await asyncio.sleep(MAIL_EVERY)
