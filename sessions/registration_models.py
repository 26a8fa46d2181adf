"""Data shapes of registration: what a resident sends, and what is stored."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec
from msgspec import Struct

from sessions.models import AccommodationCode


class ChildInput(Struct, kw_only=True):
    """A child for childcare: age on the event day in months, and allergies or notes."""

    age_months: int
    notes: str = ""


class AccommodationRequestInput(Struct, kw_only=True):
    code: AccommodationCode
    note: str = ""


class RegistrationInput(Struct, kw_only=True):
    """A registration as a resident (or staff for them) submits it."""

    name: str
    name_kana: str = ""
    email: str = ""
    phone: str = ""
    mode: Literal["in_person", "online"] | None = None
    children: list[ChildInput] = msgspec.field(default_factory=list)
    accommodations: list[AccommodationRequestInput] = msgspec.field(default_factory=list)
    note: str = ""
    consent_sensitive: bool = False
    locale: Literal["ja", "en"] | None = None  # mail language; the API uses Accept-Language when absent


class Child(Struct, kw_only=True):
    id: int
    age_months: int
    notes: str
    status: str
    late: bool = False


class AccommodationRequest(Struct, kw_only=True):
    id: int
    code: str
    note: str
    status: str
    message: str
    late: bool = False
    updated_at: datetime | None = None


class Registration(Struct, kw_only=True):
    id: int
    session_id: int
    name: str
    name_kana: str
    email: str
    phone: str
    mode: str
    status: str
    consent_sensitive: bool
    staff_entered: bool
    locale: str
    note: str
    created_at: datetime
    checked_in_at: datetime | None
    cancelled_at: datetime | None
    purged_at: datetime | None
    children: list[Child]
    requests: list[AccommodationRequest]
    position: int | None = None
    updated_at: datetime | None = None  # its last change of status (LAST-MODIFIED of the registrant's event)

    @property
    def childcare_status(self) -> str | None:
        """confirmed, waitlisted or cancelled for the children as a whole (None without children)."""
        statuses = {child.status for child in self.children}
        if not statuses:
            return None
        for status in ("waitlisted", "confirmed", "cancelled"):
            if status in statuses:
                return status
        return None


class RegistrationResult(Struct, kw_only=True):
    """What the resident is told at once: the token (shown once), the status and the waitlist position."""

    token: str
    registration: Registration
