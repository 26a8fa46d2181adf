"""What organizers do to sessions: create (or a whole series), change, publish, cancel, duplicate, move.

Each operation validates, then writes inside one BEGIN IMMEDIATE transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

import msgspec

from sessions import registration_store as rstore
from sessions import store
from sessions.catalog import N_
from sessions.models import Session, SessionInput, SessionUpdate, VenueInput
from sessions.text import without_controls_in
from sessions.timestamps import now_utc
from sessions.validation import (
    _ZONES,
    RANGE_MESSAGE,
    RANGE_PARAMS,
    FieldError,
    InvalidInput,
    as_utc,
    in_year_range,
    normalise_session,
    session_errors,
    venue_errors,
)

Notify = Callable[[Any, str, int], Awaitable[None]]  # as sessions.registration.Notify: (conn, kind, registration id)


class Database(store.Reader, Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Any]: ...


def _checked(data: SessionInput, venue_ids: set[int]) -> SessionInput:
    data = normalise_session(data)
    errors = session_errors(data, venue_ids=venue_ids)
    if errors:
        raise InvalidInput(errors)
    return data


async def session_problems(db: Database, org_id: int, data: SessionInput,
                           known: list[FieldError] | None = None) -> list[FieldError]:
    """Every broken rule, after `known` problems (fields already reported are not reported twice)."""
    known = list(known or [])
    reported = {error.field for error in known}
    found = session_errors(normalise_session(data), venue_ids=await store.venue_ids(db, org_id))
    return known + [error for error in found if error.field not in reported]


async def create_sessions(db: Database, org_id: int, data: SessionInput) -> list[int]:
    """Create a session, or every occurrence of a series; returns the ids."""
    async with db.transaction() as conn:
        data = _checked(data, await store.venue_ids(conn, org_id))
        return await store.create_session(conn, org_id, data)


async def import_drafts(db: Database, org_id: int, drafts: list[tuple[str, SessionInput]]) -> tuple[int, int]:
    """Imported events (UID, values) as drafts in one transaction: a UID imported before updates its
    session while that is still a draft (a published one is left as it is), others are created.
    Returns (created, updated)."""
    created = updated = 0
    async with db.transaction() as conn:
        venue_ids = await store.venue_ids(conn, org_id)
        for uid, data in drafts:
            checked = _checked(msgspec.structs.replace(data, status="draft", recurrence=None), venue_ids)
            earlier = (await store.imported_sessions(conn, org_id, [uid])).get(uid) if uid else None
            if earlier is None:
                session_id = await store.insert_session(conn, org_id, checked)
                if uid:
                    await store.set_import_uid(conn, session_id, uid)
                created += 1
            elif earlier[1] == "draft":
                await store.update_session(conn, earlier[0], checked, status="draft")
                updated += 1
    return created, updated


async def change_session(db: Database, session: Session, data: SessionInput, *, status: str | None = None,
                         cancel_reason: str | None = None, notify: Notify | None = None) -> None:
    """Replace the values of one session (one occurrence only, when it belongs to a series).

    With `notify`, its registrants are told (in the same transaction) when it moved or was cancelled.
    """
    status = status or (data.status if session.status in ("draft", "published") else session.status)
    async with db.transaction() as conn:
        before = await store.get_session(conn, session.id)
        data = msgspec.structs.replace(data, recurrence=None,
                                       status="published" if status == "published" else "draft")
        checked = _checked(data, await store.venue_ids(conn, session.org.id))
        await store.update_session(conn, session.id, checked, status=status, cancel_reason=cancel_reason)
        await _tell_registrants(conn, before, notify)


async def _tell_registrants(conn: Any, before: Session | None, notify: Notify | None) -> None:
    """Mail every registrant still coming (confirmed or waitlisted) of a session that was cancelled, or
    moved to another time or place: their mail carries the updated calendar event."""
    if notify is None or before is None:
        return
    after = await store.get_session(conn, before.id)
    if after is None:
        return
    if after.status == "cancelled" and before.status != "cancelled":
        kind = "session_cancelled"
    elif after.status == "published" and before.status == "published" and _where_and_when(after) != _where_and_when(before):
        kind = "session_changed"
    else:
        return
    mailable, _by_phone = await rstore.registrants_to_message(conn, before.id)
    for registration_id in mailable:
        await notify(conn, kind, registration_id)


def _where_and_when(session: Session) -> tuple[Any, ...]:
    return (session.starts_at, session.ends_at, session.timezone, session.venue.id if session.venue else None,
            session.format)


async def patch_session(db: Database, session: Session, changes: SessionUpdate, *,
                        notify: Notify | None = None) -> None:
    """Apply a partial change (JSON PATCH semantics: fields not sent stay as they are)."""
    values: dict[str, Any] = {}
    status, reason = session.status, None
    for name in changes.__struct_fields__:
        value = getattr(changes, name)
        if value is msgspec.UNSET or name == "theme_id":  # the theme is the ledger's (ledger/themes.py)
            continue
        if name == "status":
            status = value
        elif name == "cancel_reason":
            reason = value
        else:
            values[name] = value
    if status == "completed" and session.status != "completed" and session.ends_at > now_utc():
        raise InvalidInput([FieldError("status", N_("A session can be marked completed only after it ends."))])
    current = session.as_input()
    new_zone = values.get("timezone", session.timezone)
    if "starts_at" in values and new_zone in _ZONES:
        # deadlines and the registration window move with the session unless they are sent too
        current = current.moved_to(as_utc(values["starts_at"], new_zone))
    data = msgspec.structs.replace(current, **values)
    await change_session(db, session, data, status=status, cancel_reason=reason, notify=notify)


async def publish_session(db: Database, session: Session) -> None:
    """Publish a draft (it must pass the publishing rules: venue, capacity, online link)."""
    await change_session(db, session, session.as_input(), status="published")


async def cancel_session(db: Database, session: Session, reason: str = "", *, notify: Notify | None = None) -> None:
    """Cancel a session; it stays visible, marked cancelled, so residents learn of it (and, with
    `notify`, its registrants get a mail that cancels it in their calendars)."""
    if len(reason) > 1000:
        raise InvalidInput([FieldError("cancel_reason", N_("Keep this under {max} characters."), {"max": 1000})])
    async with db.transaction() as conn:
        before = await store.get_session(conn, session.id)
        await store.set_status(conn, session.id, "cancelled", reason=reason.strip())
        await _tell_registrants(conn, before, notify)


async def duplicate_session(db: Database, session: Session) -> int:
    """A draft copy of a session, to adjust and publish."""
    async with db.transaction() as conn:
        return await store.duplicate_session(conn, session)


async def move_occurrence(db: Database, session: Session, starts_at: datetime, ends_at: datetime, *,
                          notify: Notify | None = None) -> None:
    """Move one session (or one occurrence of a series) to a new time; its deadlines move with it."""
    if not in_year_range(starts_at):
        raise InvalidInput([FieldError("date", RANGE_MESSAGE, RANGE_PARAMS)])
    moved = session.as_input().moved_to(as_utc(starts_at, session.timezone))
    moved = msgspec.structs.replace(moved, ends_at=as_utc(ends_at, session.timezone))
    await change_session(db, session, moved, status=session.status, notify=notify)


async def create_venue(db: Database, org_id: int, data: VenueInput) -> int:
    data = without_controls_in(data)  # NUL and other invisible controls: PostgreSQL's text cannot hold NUL
    errors = venue_errors(data)
    if errors:
        raise InvalidInput(errors)
    async with db.transaction() as conn:
        return await store.create_venue(conn, org_id, data)


async def change_venue(db: Database, venue_id: int, data: VenueInput) -> None:
    data = without_controls_in(data)
    errors = venue_errors(data)
    if errors:
        raise InvalidInput(errors)
    async with db.transaction() as conn:
        await store.update_venue(conn, venue_id, data)
