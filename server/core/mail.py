"""Mail to registrants and to a theme's followers (論点整理): written to the outbox in the same
transaction as the change it reports, then delivered by a background task over SMTP, retried with
backoff a bounded number of times.

The outbox keeps each message with `/r/{token}` in place of the registrant's link (and a follower's
`/follow/{token}` and `/unsubscribe/{token}`): the link is derived from the server secret when the
message is sent, so a copy of the database holds no working link. A message that cannot be built or sent fails alone, visibly on the admins' page,
and never holds up the others. With no TAIWA_SMTP_URL the outbox simply keeps the messages, and
admins read them at /organize/admin/outbox.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import aiosmtplib
from icalendar.parser import Contentline, Contentlines
from jinja2 import Environment, FileSystemLoader

from server.core import i18n
from server.settings import ROOT, Settings
from server.core import outbox_store
from server.core.templating import configure, localized
from ledger import store as ledger_store
from ledger.following import follower_token
from ledger.models import STATUSES as RESPONSE_STATUSES
from sessions import registration_store as rstore
from sessions import store
from sessions import calendar
from sessions.catalog import N_
from sessions.models import Session
from sessions.registration import EMAIL, Notify
from sessions.registration_models import Registration
from sessions.text import without_controls
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
    "existing_link": N_("You are already registered: {title}"),
    "session_changed": N_("Changed date, time or place: {title}"),
    "session_cancelled": N_("Cancelled: {title}"),
    "evaluation": N_("How was it? Evaluation of {title}"),
    "evaluation_reminder": N_("Reminder: evaluation of {title}"),
}
# mails that carry the registrant's calendar event, and the iTIP method (RFC 5546) of each: REQUEST adds
# or updates the event (same UID, higher SEQUENCE), CANCEL marks it cancelled
CALENDAR_METHODS = {"confirmed": "REQUEST", "promoted": "REQUEST", "session_changed": "REQUEST",
                    "session_cancelled": "CANCEL", "cancelled": "CANCEL"}
METHOD_LINE = re.compile(r"^METHOD:([A-Z-]+)\r?$", re.MULTILINE)
MAX_BACKOFF = timedelta(hours=1)
# 30 s, 1 min, 2 min, ... then hourly: about a day of tries before a message is given up
MAX_ATTEMPTS = 30
TOKEN = "{token}"  # stands for the registrant's token in stored mail, until the mail is sent
LINK_IN_CLEAR = re.compile(r"/r/[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")

_environment = Environment(loader=FileSystemLoader(ROOT / "templates" / "emails"), autoescape=False,
                           keep_trailing_newline=True)
configure(_environment)


def registrant_token(secret: str, salt: str) -> str:
    """The registrant's /r/ token: HMAC of a stored salt with the server secret (≥128 bits)."""
    digest = hmac.new(secret.encode(), f"registration:{salt}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def header_text(text: str) -> str:
    """Text for a mail header, on one line: every kind of line break (CR, LF, U+2028, U+0085, ...)
    becomes a space, other control characters go."""
    return without_controls(" ".join(text.split()))


def notifier(settings: Settings, secret: str) -> Notify:
    """The notify callback the registration and scheduling domains call inside their transactions."""
    domain = calendar.uid_domain(secret)

    async def notify(conn: Any, kind: str, registration_id: int, *,
                     known: tuple[Registration, Session] | None = None) -> None:
        await queue(conn, kind, registration_id, settings=settings, domain=domain, known=known)

    return notify


async def queue(conn: Any, kind: str, registration_id: int, *, settings: Settings, domain: str,
                known: tuple[Registration, Session] | None = None) -> None:
    """Render a message in the registrant's language and add it to the outbox (same transaction);
    `known`: the registration and its session as just read in this transaction."""
    registration = known[0] if known else await rstore.get_registration(conn, registration_id)
    if registration is None or not registration.email:
        return  # reached by phone; the organizer's roster shows the status
    session = known[1] if known else await store.get_session(conn, registration.session_id)
    assert session is not None
    page_url = f"{settings.base_url}/r/{TOKEN}"
    locale_token = i18n.current_locale.set(registration.locale if registration.locale in i18n.LOCALES else "ja")
    try:
        title = localized(session, "title")
        subject = header_text(i18n.translate(SUBJECTS[kind], {"title": title}))
        body = _environment.get_template("registration.txt").render(
            kind=kind, registration=registration, session=session, base_url=settings.base_url, page_url=page_url)
        ics = None
        if kind in CALENDAR_METHODS:
            from server.public.calendars import registrant_calendar  # the registrant's feed makes the same event

            method = CALENDAR_METHODS[kind]
            organizer = (localized(session.org, "name"), sender_address(settings).rsplit("<", 1)[-1].rstrip(">"))
            content, _version = await registrant_calendar(conn, registration, session, base_url=settings.base_url,
                                                          domain=domain, page_url=page_url, method=method,
                                                          organizer=organizer, attendee=registration.email)
            ics = content.decode()
    finally:
        i18n.current_locale.reset(locale_token)
    await outbox_store.add_message(conn, kind=kind, registration_id=registration_id, to_address=registration.email,
                                   subject=subject, body=body, ics=ics)


# an organizer's message to a session's registrants (sessions/messages.py): their subject, framed
MESSAGE_SUBJECT = N_("[{title}] {subject}")


async def queue_message(conn: Any, registration_id: int, subject: str, body: str, *, settings: Settings) -> None:
    """An organizer's message to one registrant, with a short frame in the registrant's language
    (who sends it, the session, their own page), added to the outbox in the caller's transaction."""
    registration = await rstore.get_registration(conn, registration_id)
    if registration is None or not registration.email:
        return
    session = await store.get_session(conn, registration.session_id)
    assert session is not None
    page_url = f"{settings.base_url}/r/{TOKEN}"  # the link is made when the mail is sent, never stored
    locale_token = i18n.current_locale.set(registration.locale if registration.locale in i18n.LOCALES else "ja")
    try:
        framed = i18n.translate(MESSAGE_SUBJECT, {"title": localized(session, "title"), "subject": subject})
        text = _environment.get_template("message.txt").render(
            registration=registration, session=session, message=body, page_url=page_url)
    finally:
        i18n.current_locale.reset(locale_token)
    await outbox_store.add_message(conn, kind="message", registration_id=registration_id,
                                   to_address=registration.email, subject=framed, body=text, ics=None)


async def queue_evaluation(conn: Any, kind: str, registration_id: int, evaluation: Any, *,
                           settings: Settings) -> None:
    """The evaluation mail after the session (kind "evaluation") or its one reminder ("evaluation_reminder"),
    in the registrant's language, with their own link (made when the mail is sent, never stored)."""
    registration = await rstore.get_registration(conn, registration_id)
    if registration is None or not registration.email:
        return
    session = await store.get_session(conn, registration.session_id)
    assert session is not None
    locale = registration.locale if registration.locale in i18n.LOCALES else "ja"
    locale_token = i18n.current_locale.set(locale)
    try:
        subject = header_text(i18n.translate(SUBJECTS[kind], {"title": localized(session, "title")}))
        closes_at = i18n.format_moment(evaluation.closes_at, session.timezone) if evaluation.closes_at else ""
        body = _environment.get_template("evaluation.txt").render(
            kind=kind, registration=registration, session=session, closes_at=closes_at,
            evaluation_url=f"{settings.base_url}/r/{TOKEN}/evaluation?lang={locale}")  # the form in their language
    finally:
        i18n.current_locale.reset(locale_token)
    await outbox_store.add_message(conn, kind=kind, registration_id=registration_id, to_address=registration.email,
                                   subject=subject, body=body, ics=None)


# mail to a theme's followers (ledger/following.py): the confirmation link, and each published response
FOLLOW_SUBJECT = N_("Confirm that you want to follow “{title}”")
RESPONSE_SUBJECT = N_("[{title}] New response: {issue}")
FOLLOWER_LINKS = ("/follow/", "/unsubscribe/")  # followed by the token marker in stored mail


def _in_locale(locale: str) -> Any:
    return i18n.current_locale.set(locale if locale in i18n.LOCALES else "ja")


def follow_confirmation(settings: Settings) -> Callable[..., Any]:
    """The `ask` callback of ledger.following: queue the confirmation mail (double opt-in)."""

    async def ask(conn: Any, follower: Any, theme: Any) -> None:
        page_url = f"{settings.base_url}/themes/{theme.slug}"
        locale_token = _in_locale(follower["locale"])
        try:
            subject = header_text(i18n.translate(FOLLOW_SUBJECT, {"title": theme.title}))
            body = _environment.get_template("theme_follow.txt").render(
                theme=theme, page_url=page_url, confirm_url=f"{page_url}/follow/{TOKEN}")
        finally:
            i18n.current_locale.reset(locale_token)
        await outbox_store.add_message(conn, kind="follow_confirm", registration_id=None,
                                       to_address=follower["email"], subject=subject, body=body, ics=None,
                                       follower_id=follower["id"])

    return ask


def response_notice(settings: Settings) -> Callable[..., Any]:
    """The `tell` callback of ledger.themes: queue a published response to one follower, with a
    one-click unsubscribe link (RFC 8058)."""

    async def tell(conn: Any, follower: Any, response: Any) -> None:
        page_url = f"{settings.base_url}/themes/{response['slug']}"
        unsubscribe_url = f"{page_url}/unsubscribe/{TOKEN}"
        label = RESPONSE_STATUSES[response["status"]]
        locale_token = _in_locale(follower["locale"])
        try:
            subject = header_text(i18n.translate(RESPONSE_SUBJECT, {"title": response["theme_title"],
                                                                    "issue": response["issue_title"]}))
            body = _environment.get_template("theme_response.txt").render(
                response=response, status=i18n.gettext(label),
                page_url=f"{page_url}#issue-{response['issue_id']}", unsubscribe_url=unsubscribe_url)
        finally:
            i18n.current_locale.reset(locale_token)
        await outbox_store.add_message(conn, kind="theme_response", registration_id=None,
                                       to_address=follower["email"], subject=subject, body=body, ics=None,
                                       follower_id=follower["id"], unsubscribe_url=unsubscribe_url)

    return tell


def _follower_message(row: Any, sender: str, token: str) -> EmailMessage:
    """A follower's mail with their token in its links, and List-Unsubscribe headers for one click."""
    if not EMAIL.match(row["to_address"]):
        raise ValueError("the recipient is not one mail address")
    link = lambda text: _follower_links(text, token)  # noqa: E731
    message = EmailMessage()
    message["From"] = header_text(sender)
    message["To"] = row["to_address"]
    message["Subject"] = header_text(row["subject"])
    if row["unsubscribe_url"]:
        message["List-Unsubscribe"] = f"<{link(row['unsubscribe_url'])}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(link(row["body"]))
    return message


def _follower_links(text: str, token: str) -> str:
    """The follower's links with their token in place of the marker."""
    for prefix in FOLLOWER_LINKS:
        text = text.replace(f"{prefix}{TOKEN}", f"{prefix}{token}")
    return text


def _message(row: Any, sender: str, token: str) -> EmailMessage:
    """The mail of an outbox row, with the registrant's token in its links and every header on one line."""
    if not EMAIL.match(row["to_address"]):
        raise ValueError("the recipient is not one mail address")
    message = EmailMessage()
    message["From"] = header_text(sender)
    message["To"] = row["to_address"]
    message["Subject"] = header_text(row["subject"])
    link = lambda text: text.replace(f"/r/{TOKEN}", f"/r/{token}")
    message.set_content(link(row["body"]))
    if row["ics"]:
        method = METHOD_LINE.search(row["ics"])
        message.add_attachment(_in_lines(row["ics"], link).encode(), maintype="text", subtype="calendar",
                               filename="session.ics",
                               params={"method": method.group(1) if method else "PUBLISH", "charset": "utf-8"})
    return message


def _in_lines(ics: str, change: Callable[[str], str]) -> str:
    """A calendar file changed line by line, unfolded first and folded again (a link may be folded across lines)."""
    return Contentlines(Contentline(change(line)) for line in Contentlines.from_ical(ics)).to_ical().decode()


async def _sendable(db: Any, row: Any, sender: str, secret: str) -> EmailMessage:
    if row["follower_id"] is not None:
        follower_salt = await ledger_store.follower_salt(db, row["follower_id"])
        if not follower_salt:
            raise LookupError("the follower no longer follows")
        return _follower_message(row, sender, follower_token(secret, follower_salt))
    salt = await rstore.token_salt(db, row["registration_id"]) if row["registration_id"] is not None else ""
    if not salt:
        raise LookupError("the registration no longer exists")
    return _message(row, sender, registrant_token(secret, salt))


async def deliver_due(db: Any, smtp_url: str, sender: str, *, secret: str, batch: int = 50) -> int:
    """Send what is due, each message on its own: one that fails is retried later with exponential
    backoff, up to MAX_ATTEMPTS times. `secret` derives the registrants' links. Returns how many went."""
    parts = urlsplit(smtp_url)
    rows = await outbox_store.due_messages(db, now_utc(), batch, MAX_ATTEMPTS)
    sent = 0
    for row in rows:
        try:
            await aiosmtplib.send(await _sendable(db, row, sender, secret), hostname=parts.hostname or "localhost",
                                  port=parts.port or 25, username=parts.username, password=parts.password,
                                  start_tls=parts.scheme == "smtp+starttls", use_tls=parts.scheme == "smtps",
                                  timeout=15)
        except Exception as error:  # noqa: BLE001 - whatever this message trips over, the next ones still go
            await _failed(db, row, error)
            continue
        async with db.transaction() as conn:
            await outbox_store.mark_sent(conn, row["id"], now_utc())
        sent += 1
    return sent


async def _failed(db: Any, row: Any, error: Exception) -> None:
    """Record a failed attempt and when to try again; the admins' page shows it."""
    attempts = row["attempts"] + 1
    delay = min(timedelta(seconds=30 * 2 ** row["attempts"]), MAX_BACKOFF)
    async with db.transaction() as conn:
        await outbox_store.mark_failed(conn, row["id"], next_attempt_at=now_utc() + delay,
                                       error=type(error).__name__ + ": " + str(error)[:200])
    # logged without the address or the text: they are personal data
    log.warning("mail %s not delivered (attempt %s of %s): %s", row["id"], attempts, MAX_ATTEMPTS,
                type(error).__name__)


async def forget_links_in_clear(db: Any) -> int:
    """Put `/r/{token}` back in place of registrant links that mail queued by earlier versions keeps in
    clear; returns how many messages changed. Run once at start-up."""
    changed = 0
    hide = lambda text: LINK_IN_CLEAR.sub(f"/r/{TOKEN}", text)
    for row in await outbox_store.messages_with_links(db, f"/r/{TOKEN}"):
        body, ics = hide(row["body"]), _in_lines(row["ics"], hide) if row["ics"] else row["ics"]
        if (body, ics) != (row["body"], row["ics"]):
            async with db.transaction() as conn:
                await outbox_store.replace_text(conn, row["id"], body=body, ics=ics)
            changed += 1
    if changed:
        await db.checkpoint()  # the old text must not linger in the write-ahead log
    return changed


async def outbox(db: Any, limit: int = 200) -> list[Any]:
    """The newest messages, for the admins' outbox page (`given_up`: no more tries)."""
    return await outbox_store.newest_messages(db, limit, MAX_ATTEMPTS)


def sender_address(settings: Settings) -> str:
    host = urlsplit(settings.base_url).hostname or "localhost"
    return f"Taiwa <no-reply@{host if '.' in host else host + '.localdomain'}>"

