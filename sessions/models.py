"""Data shapes of the scheduling domain (msgspec structs, no framework)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import msgspec
from msgspec import UNSET, Struct, UnsetType

Kind = Literal["dialogue", "round_table", "workshop", "forum", "briefing", "lecture"]
Format = Literal["in_person", "online", "hybrid"]
Status = Literal["draft", "published", "cancelled", "completed"]
AccommodationCode = Literal[
    "sign_language", "captioning", "wheelchair_space", "hearing_loop",
    "braille_materials", "easy_japanese", "interpretation", "other",
]
AccommodationMode = Literal["always", "on_request"]
VenueFeature = Literal["step_free", "elevator", "accessible_toilet", "hearing_loop", "nursing_room", "parking"]


class Organization(Struct, kw_only=True):
    id: int
    slug: str
    name: str
    name_en: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    website: str = ""


class ChildcareOffer(Struct, kw_only=True):
    """Childcare (託児) offered at a session: places, ages and the request deadline."""

    places: int
    min_age_months: int = 0
    max_age_months: int = 72
    deadline: datetime | None = None
    note: str = ""
    # after the deadline: refuse requests ("closed") or accept them without a promise ("best_effort")
    after_deadline: Literal["closed", "best_effort"] = "closed"

    @property
    def oldest_months(self) -> int:
        """The oldest age taken, in months: "up to 6" (72 months) takes every 6-year-old, to 6 years
        11 months, as parents and Japanese notices read 〜6歳; an age with months is taken as written."""
        return self.max_age_months + 11 if self.max_age_months % 12 == 0 else self.max_age_months

    def takes_age(self, age_months: int) -> bool:
        return self.min_age_months <= age_months <= self.oldest_months


class AccommodationOffer(Struct, kw_only=True):
    """One accommodation from the catalog, always provided or on request by a deadline."""

    code: AccommodationCode
    mode: AccommodationMode = "always"
    deadline: datetime | None = None
    capacity: int | None = None
    language: str = ""
    note: str = ""
    after_deadline: Literal["closed", "best_effort"] = "closed"


class Recurrence(Struct, kw_only=True):
    """How a series repeats; it must end (until a date or after a count)."""

    freq: Literal["weekly", "monthly"]
    interval: int = 1
    until: date | None = None
    count: int | None = None
    # monthly: "weekday" repeats on the same nth weekday (第2土曜日), "monthday" on the same date
    monthly_by: Literal["weekday", "monthday"] = "weekday"


class SessionInput(Struct, kw_only=True):
    """What an organizer sets on a session (form or JSON API); times may be naive local times."""

    title: str
    title_en: str = ""
    description: str = ""
    description_en: str = ""
    kind: Kind = "dialogue"
    format: Format = "in_person"
    starts_at: datetime
    ends_at: datetime
    timezone: str = "Asia/Tokyo"
    venue_id: int | None = None
    online_url: str = ""
    capacity_in_person: int = 0
    capacity_online: int = 0
    registration_opens_at: datetime | None = None
    registration_closes_at: datetime | None = None
    status: Literal["draft", "published"] = "draft"
    languages: list[str] = msgspec.field(default_factory=lambda: ["ja"])
    themes: list[str] = msgspec.field(default_factory=list)
    themes_en: list[str] = msgspec.field(default_factory=list)
    facilitators: list[str] = msgspec.field(default_factory=list)
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    childcare: ChildcareOffer | None = None
    accommodations: list[AccommodationOffer] = msgspec.field(default_factory=list)
    recurrence: Recurrence | None = None

    def moved_to(self, start: datetime) -> SessionInput:
        """The same session starting at `start` (aware), its end, deadlines and window moved alike."""
        delta = start - self.starts_at
        move = lambda value: value + delta if value is not None else None  # noqa: E731
        care = self.childcare
        if care is not None:
            care = msgspec.structs.replace(care, deadline=move(care.deadline))
        offers = [msgspec.structs.replace(offer, deadline=move(offer.deadline)) for offer in self.accommodations]
        return msgspec.structs.replace(
            self, starts_at=start, ends_at=self.ends_at + delta, childcare=care, accommodations=offers,
            registration_opens_at=move(self.registration_opens_at),
            registration_closes_at=move(self.registration_closes_at), recurrence=None,
        )


class SessionUpdate(Struct, kw_only=True):
    """A partial change (PATCH): only the fields given are changed."""

    title: str | UnsetType = UNSET
    title_en: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    description_en: str | UnsetType = UNSET
    kind: Kind | UnsetType = UNSET
    format: Format | UnsetType = UNSET
    starts_at: datetime | UnsetType = UNSET
    ends_at: datetime | UnsetType = UNSET
    timezone: str | UnsetType = UNSET
    venue_id: int | None | UnsetType = UNSET
    online_url: str | UnsetType = UNSET
    capacity_in_person: int | UnsetType = UNSET
    capacity_online: int | UnsetType = UNSET
    registration_opens_at: datetime | None | UnsetType = UNSET
    registration_closes_at: datetime | None | UnsetType = UNSET
    status: Status | UnsetType = UNSET
    languages: list[str] | UnsetType = UNSET
    themes: list[str] | UnsetType = UNSET
    themes_en: list[str] | UnsetType = UNSET
    facilitators: list[str] | UnsetType = UNSET
    contact_name: str | UnsetType = UNSET
    contact_email: str | UnsetType = UNSET
    contact_phone: str | UnsetType = UNSET
    childcare: ChildcareOffer | None | UnsetType = UNSET
    accommodations: list[AccommodationOffer] | UnsetType = UNSET
    cancel_reason: str | UnsetType = UNSET
    theme_id: int | None | UnsetType = UNSET  # set by the ledger (ledger/themes.py), not by scheduling


class VenueInput(Struct, kw_only=True):
    name: str
    name_en: str = ""
    address: str = ""
    address_en: str = ""
    capacity: int | None = None
    features: list[VenueFeature] = msgspec.field(default_factory=list)
    access_notes: str = ""
    access_notes_en: str = ""


class Venue(Struct, kw_only=True):
    id: int
    org_id: int
    name: str
    name_en: str = ""
    address: str = ""
    address_en: str = ""
    capacity: int | None = None
    features: list[str] = msgspec.field(default_factory=list)
    access_notes: str = ""
    access_notes_en: str = ""


class Session(Struct, kw_only=True):
    """A scheduled session as stored (times are aware UTC datetimes)."""

    id: int
    org: Organization
    series_id: int | None
    recurrence_at: datetime | None
    title: str
    title_en: str
    description: str
    description_en: str
    kind: str
    format: str
    venue: Venue | None
    online_url: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    capacity_in_person: int
    capacity_online: int
    registration_opens_at: datetime | None
    registration_closes_at: datetime | None
    status: str
    languages: list[str]
    themes: list[str]
    facilitators: list[str]
    contact_name: str
    contact_email: str
    contact_phone: str
    childcare: ChildcareOffer | None
    accommodations: list[AccommodationOffer]
    cancel_reason: str
    sequence: int
    created_at: datetime
    updated_at: datetime
    confirmed_in_person: int = 0
    confirmed_online: int = 0
    confirmed_children: int = 0  # childcare places taken
    revision: int = 0  # bumped on every change (calendar caches key on it)
    published_at: datetime | None = None  # first published; None for a draft that never was
    withdrawn_at: datetime | None = None  # last taken back from public to draft
    withdrawn_sequence: int | None = None  # its SEQUENCE at that moment
    themes_en: list[str] = msgspec.field(default_factory=list)
    theme_id: int | None = None  # the ledger theme (論点整理) it belongs to

    @property
    def ever_public(self) -> bool:
        """Shown to residents now or before: not a draft, and published once (not cancelled unseen)."""
        return self.status != "draft" and self.published_at is not None

    @property
    def public_trace(self) -> tuple[int, datetime] | None:
        """(SEQUENCE, last change) as the public last saw them: now, or when it was taken back to
        draft (later edits of the draft stay private); None if the public never saw it."""
        if self.ever_public:
            return self.sequence, self.updated_at
        if self.status == "draft" and self.published_at is not None and self.withdrawn_at is not None:
            return self.withdrawn_sequence or 0, self.withdrawn_at
        return None

    @property
    def places_left_in_person(self) -> int:
        return max(0, self.capacity_in_person - self.confirmed_in_person)

    @property
    def places_left_online(self) -> int:
        return max(0, self.capacity_online - self.confirmed_online)

    @property
    def childcare_places_left(self) -> int:
        return max(0, self.childcare.places - self.confirmed_children) if self.childcare else 0

    def request_deadline(self, now: datetime) -> datetime | None:
        """The first deadline still ahead to ask for childcare or support on request (for lists)."""
        deadlines = [offer.deadline for offer in self.accommodations if offer.mode == "on_request" and offer.deadline]
        if self.childcare and self.childcare.deadline:
            deadlines.append(self.childcare.deadline)
        return min((deadline for deadline in deadlines if deadline > now), default=None)

    @property
    def offers_in_person(self) -> bool:
        return self.format in ("in_person", "hybrid")

    @property
    def offers_online(self) -> bool:
        return self.format in ("online", "hybrid")

    def accommodation(self, code: str) -> AccommodationOffer | None:
        """The offer for one catalog code, if this session makes it."""
        return next((offer for offer in self.accommodations if offer.code == code), None)

    def as_input(self) -> SessionInput:
        """The editable values of this session, to change and validate again."""
        return SessionInput(
            title=self.title, title_en=self.title_en, description=self.description,
            description_en=self.description_en, kind=self.kind, format=self.format,  # type: ignore[arg-type]
            starts_at=self.starts_at, ends_at=self.ends_at, timezone=self.timezone,
            venue_id=self.venue.id if self.venue else None, online_url=self.online_url,
            capacity_in_person=self.capacity_in_person, capacity_online=self.capacity_online,
            registration_opens_at=self.registration_opens_at,
            registration_closes_at=self.registration_closes_at,
            status="published" if self.status == "published" else "draft",
            languages=list(self.languages), themes=list(self.themes), themes_en=list(self.themes_en),
            facilitators=list(self.facilitators),
            contact_name=self.contact_name, contact_email=self.contact_email, contact_phone=self.contact_phone,
            childcare=self.childcare, accommodations=list(self.accommodations),
        )


class SessionFilters(Struct, kw_only=True):
    """The filters of /sessions, /calendar.ics and GET /api/sessions."""

    q: str = ""
    date_from: date | None = None
    date_to: date | None = None
    kind: str = ""
    format: str = ""
    childcare: bool = False
    accommodation: str = ""
    org: str = ""

    @property
    def active(self) -> bool:
        return any([self.q, self.date_from, self.date_to, self.kind, self.format,
                    self.childcare, self.accommodation, self.org])
