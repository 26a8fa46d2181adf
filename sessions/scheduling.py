"""What organizers do to sessions: create (or a whole series), change, publish, cancel, duplicate, move.

Each operation validates, then writes inside one BEGIN IMMEDIATE transaction.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

import msgspec

from sessions import store
from sessions.catalog import N_
from sessions.models import Session, SessionInput, SessionUpdate, VenueInput
from sessions.timestamps import now_utc
from sessions.validation import (
    _ZONES, RANGE_MESSAGE, RANGE_PARAMS, FieldError, InvalidInput, as_utc, in_year_range, normalise_session,
    session_errors, venue_errors,
)


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


async def create_drafts(db: Database, org_id: int, drafts: list[SessionInput]) -> list[int]:
    """Create several draft sessions in one transaction: all of them or none."""
    async with db.transaction() as conn:
        venue_ids = await store.venue_ids(conn, org_id)
        checked = [_checked(msgspec.structs.replace(data, status="draft", recurrence=None), venue_ids)
                   for data in drafts]
        return [await store.insert_session(conn, org_id, data) for data in checked]


async def change_session(db: Database, session: Session, data: SessionInput, *, status: str | None = None,
                         cancel_reason: str | None = None) -> None:
    """Replace the values of one session (one occurrence only, when it belongs to a series)."""
    status = status or (data.status if session.status in ("draft", "published") else session.status)
    async with db.transaction() as conn:
        data = msgspec.structs.replace(data, recurrence=None,
                                       status="published" if status == "published" else "draft")
        checked = _checked(data, await store.venue_ids(conn, session.org.id))
        await store.update_session(conn, session.id, checked, status=status, cancel_reason=cancel_reason)


async def patch_session(db: Database, session: Session, changes: SessionUpdate) -> None:
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
    await change_session(db, session, data, status=status, cancel_reason=reason)


async def publish_session(db: Database, session: Session) -> None:
    """Publish a draft (it must pass the publishing rules: venue, capacity, online link)."""
    await change_session(db, session, session.as_input(), status="published")


async def cancel_session(db: Database, session: Session, reason: str = "") -> None:
    """Cancel a session; it stays visible, marked cancelled, so residents learn of it."""
    if len(reason) > 1000:
        raise InvalidInput([FieldError("cancel_reason", N_("Keep this under {max} characters."), {"max": 1000})])
    async with db.transaction() as conn:
        await store.set_status(conn, session.id, "cancelled", reason=reason.strip())


async def duplicate_session(db: Database, session: Session) -> int:
    """A draft copy of a session, to adjust and publish."""
    async with db.transaction() as conn:
        return await store.duplicate_session(conn, session)


async def move_occurrence(db: Database, session: Session, starts_at: datetime, ends_at: datetime) -> None:
    """Move one session (or one occurrence of a series) to a new time; its deadlines move with it."""
    if not in_year_range(starts_at):
        raise InvalidInput([FieldError("date", RANGE_MESSAGE, RANGE_PARAMS)])
    moved = session.as_input().moved_to(as_utc(starts_at, session.timezone))
    moved = msgspec.structs.replace(moved, ends_at=as_utc(ends_at, session.timezone))
    await change_session(db, session, moved, status=session.status)


async def create_venue(db: Database, org_id: int, data: VenueInput) -> int:
    errors = venue_errors(data)
    if errors:
        raise InvalidInput(errors)
    async with db.transaction() as conn:
        return await store.create_venue(conn, org_id, data)


async def change_venue(db: Database, venue_id: int, data: VenueInput) -> None:
    errors = venue_errors(data)
    if errors:
        raise InvalidInput(errors)
    async with db.transaction() as conn:
        await store.update_venue(conn, venue_id, data)
