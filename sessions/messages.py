"""An organizer's message to everyone registered for a session (the room changed, a typhoon is coming).

The message goes by mail to every confirmed and waitlisted registrant with an email address, each in
their own language (the web shell frames the organizer's text), and is logged on the session. The
mails and the log entry are written in one transaction: all of them or none.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from sessions import message_store
from sessions import registration_store as rstore
from sessions.catalog import N_
from sessions.scheduling import Database
from sessions.text import without_controls
from sessions.validation import FieldError, InvalidInput

# deliver(conn, registration_id, subject, body) queues one registrant's mail inside the transaction
Deliver = Callable[[Any, int, str, str], Awaitable[None]]
SUBJECT_MAX = 100
BODY_MAX = 2000


class MessageInput(msgspec.Struct, kw_only=True):
    """What the organizer wrote, and the sending form's one-time key (a request without one is never
    taken for a repeat)."""

    subject: str
    body: str
    form_key: str = msgspec.field(default_factory=lambda: secrets.token_urlsafe(16))


def message_problems(data: MessageInput) -> list[FieldError]:
    """Every problem with a message: both parts required and short; the subject on one line (it
    becomes a mail header, where a line break would start another header)."""
    errors: list[FieldError] = []
    subject, body = data.subject.strip(), data.body.strip()
    if not subject:
        errors.append(FieldError("subject", N_("Enter a subject.")))
    elif len(subject.splitlines()) > 1:
        errors.append(FieldError("subject", N_("Write the subject on one line.")))
    elif len(subject) > SUBJECT_MAX:
        errors.append(FieldError("subject", N_("Keep this under {max} characters."), {"max": SUBJECT_MAX}))
    if not body:
        errors.append(FieldError("body", N_("Enter the message.")))
    elif len(body) > BODY_MAX:
        errors.append(FieldError("body", N_("Keep this under {max} characters."), {"max": BODY_MAX}))
    return errors


async def send_to_registrants(db: Database, session_id: int, data: MessageInput, *, sender_id: int, sender: str,
                              deliver: Deliver) -> int | None:
    """Queue the message for every confirmed and waitlisted registrant with an email and log it.

    Returns how many it went to, or None when this form was sent before (nothing is sent twice).
    """
    problems = message_problems(data)
    if problems:
        raise InvalidInput(problems)
    subject, body = without_controls(data.subject.strip()), without_controls(data.body.strip())
    async with db.transaction() as conn:
        if await message_store.sent_with_key(conn, session_id, data.form_key):
            return None
        recipients, _unreachable = await rstore.registrants_to_message(conn, session_id)
        for registration_id in recipients:
            await deliver(conn, registration_id, subject, body)
        await message_store.add_message(conn, session_id, sender_id=sender_id, sender=sender, subject=subject,
                                        body=body, recipients=len(recipients), form_key=data.form_key)
    return len(recipients)
