"""Mail to registrants: written to the outbox in the same transaction as the change it reports,
then delivered by a background task over SMTP, retried with backoff until it goes through.

With no TAIWA_SMTP_URL the outbox simply keeps the messages, and admins read them at
/organize/admin/outbox.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from datetime import timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import aiosmtplib
from jinja2 import Environment, FileSystemLoader

from server.core import i18n
from server.settings import ROOT, Settings
from server.core import outbox_store
from server.core.templating import configure, localized
from sessions import registration_store as rstore
from sessions import store
from sessions import calendar
from sessions.catalog import N_
from sessions.registration import Notify
from sessions.timestamps import now_utc

log = logging.getLogger("taiwa.mail")
SUBJECTS = {
    "confirmed": N_("Your registration is confirmed: {title}"),
    "waitlisted": N_("You are on the waitlist: {title}"),
    "promoted": N_("A place became free – your registration is now confirmed: {title}"),
    "childcare_promoted": N_("Childcare is now confirmed: {title}"),
    "cancelled": N_("Your registration has been cancelled: {title}"),
    "accommodation_changed": N_("Update on your support request: {title}"),
    "reminder": N_("Reminder: {title} is tomorrow"),
}
MAX_BACKOFF = timedelta(hours=1)

_environment = Environment(loader=FileSystemLoader(ROOT / "templates" / "emails"), autoescape=False,
                           keep_trailing_newline=True)
configure(_environment)


def registrant_token(secret: str, salt: str) -> str:
    """The registrant's /r/ token: HMAC of a stored salt with the server secret (≥128 bits)."""
    digest = hmac.new(secret.encode(), f"registration:{salt}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def notifier(settings: Settings, secret: str) -> Notify:
    """The notify callback the registration domain calls inside its transactions."""

    async def notify(conn: Any, kind: str, registration_id: int) -> None:
        await queue(conn, kind, registration_id, settings=settings, secret=secret)

    return notify


async def queue(conn: Any, kind: str, registration_id: int, *, settings: Settings, secret: str) -> None:
    """Render a message in the registrant's language and add it to the outbox (same transaction)."""
    registration = await rstore.get_registration(conn, registration_id)
    if registration is None or not registration.email:
        return  # reached by phone; the organizer's roster shows the status
    session = await store.get_session(conn, registration.session_id)
    assert session is not None
    token = registrant_token(secret, await rstore.token_salt(conn, registration_id))
    locale_token = i18n.current_locale.set(registration.locale if registration.locale in i18n.LOCALES else "ja")
    try:
        title = localized(session, "title")
        subject = i18n.translate(SUBJECTS[kind], {"title": title})
        body = _environment.get_template("registration.txt").render(
            kind=kind, registration=registration, session=session, base_url=settings.base_url,
            page_url=f"{settings.base_url}/r/{token}")
        ics = None
        if kind in ("confirmed", "promoted"):
            from server.public.calendars import feed_text

            online = session.online_url if registration.mode == "online" else ""
            ics = calendar.single(session, text=feed_text(), base_url=settings.base_url, name=title,
                                  private_note=f"{settings.base_url}/r/{token}", online_url=online).decode()
    finally:
        i18n.current_locale.reset(locale_token)
    await outbox_store.add_message(conn, kind=kind, registration_id=registration_id, to_address=registration.email,
                                   subject=subject, body=body, ics=ics)


# an organizer's message to a session's registrants (sessions/messages.py): their subject, framed
MESSAGE_SUBJECT = N_("[{title}] {subject}")


async def queue_message(conn: Any, registration_id: int, subject: str, body: str, *, settings: Settings,
                        secret: str) -> None:
    """An organizer's message to one registrant, with a short frame in the registrant's language
    (who sends it, the session, their own page), added to the outbox in the caller's transaction."""
    registration = await rstore.get_registration(conn, registration_id)
    if registration is None or not registration.email:
        return
    session = await store.get_session(conn, registration.session_id)
    assert session is not None
    page_url = f"{settings.base_url}/r/{registrant_token(secret, await rstore.token_salt(conn, registration_id))}"
    locale_token = i18n.current_locale.set(registration.locale if registration.locale in i18n.LOCALES else "ja")
    try:
        framed = i18n.translate(MESSAGE_SUBJECT, {"title": localized(session, "title"), "subject": subject})
        text = _environment.get_template("message.txt").render(
            registration=registration, session=session, message=body, page_url=page_url)
    finally:
        i18n.current_locale.reset(locale_token)
    await outbox_store.add_message(conn, kind="message", registration_id=registration_id,
                                   to_address=registration.email, subject=framed, body=text, ics=None)


def _message(row: Any, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row["to_address"]
    message["Subject"] = row["subject"]
    message.set_content(row["body"])
    if row["ics"]:
        message.add_attachment(row["ics"].encode(), maintype="text", subtype="calendar",
                               filename="session.ics", params={"method": "PUBLISH", "charset": "utf-8"})
    return message


async def deliver_due(db: Any, smtp_url: str, sender: str, *, batch: int = 50) -> int:
    """Send what is due; failures are retried later with exponential backoff. Returns how many went."""
    parts = urlsplit(smtp_url)
    now = now_utc()
    rows = await outbox_store.due_messages(db, now, batch)
    sent = 0
    for row in rows:
        try:
            await aiosmtplib.send(_message(row, sender), hostname=parts.hostname or "localhost",
                                  port=parts.port or 25, username=parts.username, password=parts.password,
                                  start_tls=parts.scheme == "smtp+starttls", use_tls=parts.scheme == "smtps",
                                  timeout=15)
        except (aiosmtplib.SMTPException, OSError) as error:
            delay = min(timedelta(seconds=30 * 2 ** row["attempts"]), MAX_BACKOFF)
            async with db.transaction() as conn:
                await outbox_store.mark_failed(conn, row["id"], next_attempt_at=now + delay,
                                               error=type(error).__name__ + ": " + str(error)[:200])
            log.warning("mail %s not delivered (attempt %s): %s", row["id"], row["attempts"] + 1, type(error).__name__)
            continue
        async with db.transaction() as conn:
            await outbox_store.mark_sent(conn, row["id"], now_utc())
        sent += 1
    return sent


async def outbox(db: Any, limit: int = 200) -> list[Any]:
    """The newest messages, for the admins' outbox page."""
    return await outbox_store.newest_messages(db, limit)


def sender_address(settings: Settings) -> str:
    host = urlsplit(settings.base_url).hostname or "localhost"
    return f"Taiwa <no-reply@{host if '.' in host else host + '.localdomain'}>"

