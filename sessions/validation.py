"""Rules a session must satisfy before it is stored; each broken rule names its field."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from datetime import date, datetime, time, timedelta, timezone
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, available_timezones

from sessions.catalog import (
    DEFAULT_REQUEST_DAYS_BEFORE, LANGUAGES, MAX_CHILD_AGE_MONTHS, MAX_OCCURRENCES, N_,
)
from sessions.models import ChildcareOffer, Recurrence, SessionInput, VenueInput
from sessions.text import without_controls, without_controls_in  # noqa: F401 - the board API imports it from here

TITLE_MAX = 200
TEXT_MAX = 20_000
SHORT_MAX = 200
CAPACITY_MAX = 100_000
# Times outside these years are slips or attacks: they overflow the conversion to UTC or are stored
# without a four-digit year, after which every read of the session fails.
FIRST_YEAR, LAST_YEAR = 2000, 2199


@dataclass(frozen=True)
class FieldError:
    """A broken rule: the field it concerns, a message id to translate, and its parameters."""

    field: str
    message: str
    params: dict[str, object] = field(default_factory=dict)


class InvalidInput(Exception):
    """Raised with every FieldError found, so a form can show them all at once."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(", ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


_ZONES = available_timezones()


def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name (validated before use)."""
    return ZoneInfo(name)


def as_utc(value: datetime, tz_name: str) -> datetime:
    """An aware UTC datetime; a naive value is read as wall time in the session's zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone(tz_name))
    return value.astimezone(timezone.utc).replace(microsecond=0)


def end_of_day(day: date, tz_name: str) -> datetime:
    """23:59:59 local on a day, in UTC: a deadline "by 11月16日" includes that whole day."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=zone(tz_name)).astimezone(timezone.utc)


def is_web_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


RANGE_MESSAGE = N_("Enter a date between the years {first} and {last}.")
RANGE_PARAMS: dict[str, object] = {"first": FIRST_YEAR, "last": LAST_YEAR}


def in_year_range(value: date) -> bool:
    """Whether a date (or a time) falls in FIRST_YEAR..LAST_YEAR, the years a session or a search may use."""
    return FIRST_YEAR <= value.year <= LAST_YEAR


def times_out_of_range(data: Any) -> list[str]:
    """Fields of a session (input or partial update) holding a date outside FIRST_YEAR..LAST_YEAR."""
    found: list[tuple[str, Any]] = [(name, getattr(data, name, None)) for name in
                                    ("starts_at", "ends_at", "registration_opens_at", "registration_closes_at")]
    care = getattr(data, "childcare", None)
    if isinstance(care, ChildcareOffer):
        found.append(("childcare.deadline", care.deadline))
    offers = getattr(data, "accommodations", None)
    for offer in offers if isinstance(offers, list) else []:
        found.append((f"accommodations.{offer.code}.deadline", offer.deadline))
    rule = getattr(data, "recurrence", None)
    if isinstance(rule, Recurrence):
        found.append(("recurrence.until", rule.until))
    return [name for name, value in found if isinstance(value, date) and not in_year_range(value)]


def range_errors(data: Any) -> list[FieldError]:
    return [FieldError(name, RANGE_MESSAGE, RANGE_PARAMS) for name in times_out_of_range(data)]


def normalise_session(data: SessionInput) -> SessionInput:
    """Trim text, convert times to UTC and fill default request deadlines (7 days before)."""
    data = without_controls_in(data)
    tz_name = data.timezone.strip() or "Asia/Tokyo"
    if tz_name not in _ZONES or times_out_of_range(data):
        return data  # session_errors reports it
    starts = as_utc(data.starts_at, tz_name)
    default_deadline = end_of_day(starts.astimezone(zone(tz_name)).date() - timedelta(days=DEFAULT_REQUEST_DAYS_BEFORE),
                                  tz_name)
    childcare = data.childcare
    if childcare is not None:
        childcare = type(childcare)(
            places=childcare.places, min_age_months=childcare.min_age_months,
            max_age_months=childcare.max_age_months, note=childcare.note.strip(),
            deadline=as_utc(childcare.deadline, tz_name) if childcare.deadline else default_deadline,
            after_deadline=childcare.after_deadline,
        )
    offers = []
    for offer in data.accommodations:
        deadline = offer.deadline
        if offer.mode == "on_request":
            deadline = as_utc(deadline, tz_name) if deadline else default_deadline
        else:
            deadline = None
        offers.append(type(offer)(code=offer.code, mode=offer.mode, deadline=deadline, capacity=offer.capacity,
                                  language=offer.language.strip(), note=offer.note.strip(),
                                  after_deadline=offer.after_deadline))

    def clean_list(values: list[str]) -> list[str]:
        seen: list[str] = []
        for value in values:
            value = value.strip()
            if value and value not in seen:
                seen.append(value)
        return seen

    return SessionInput(
        title=data.title.strip(), title_en=data.title_en.strip(), description=data.description.strip(),
        description_en=data.description_en.strip(), kind=data.kind, format=data.format,
        starts_at=starts, ends_at=as_utc(data.ends_at, tz_name), timezone=tz_name,
        venue_id=data.venue_id, online_url=data.online_url.strip(),
        capacity_in_person=data.capacity_in_person, capacity_online=data.capacity_online,
        registration_opens_at=as_utc(data.registration_opens_at, tz_name) if data.registration_opens_at else None,
        registration_closes_at=as_utc(data.registration_closes_at, tz_name) if data.registration_closes_at else None,
        status=data.status, languages=clean_list(data.languages), themes=clean_list(data.themes),
        themes_en=clean_list(data.themes_en),
        facilitators=clean_list(data.facilitators), contact_name=data.contact_name.strip(),
        contact_email=data.contact_email.strip(), contact_phone=data.contact_phone.strip(),
        childcare=childcare, accommodations=offers, recurrence=data.recurrence,
    )


def session_errors(data: SessionInput, *, venue_ids: set[int]) -> list[FieldError]:
    """Every rule the (normalised) input breaks; venue_ids are the venues of the session's organization."""
    errors: list[FieldError] = []
    add = lambda name, message, **params: errors.append(FieldError(name, message, params))  # noqa: E731

    if not data.title:
        add("title", N_("Enter a title."))
    elif len(data.title) > TITLE_MAX or len(data.title_en) > TITLE_MAX:
        add("title", N_("Keep the title under {max} characters."), max=TITLE_MAX)
    if len(data.description) > TEXT_MAX or len(data.description_en) > TEXT_MAX:
        add("description", N_("Keep the description under {max} characters."), max=TEXT_MAX)
    if data.timezone not in _ZONES:
        add("timezone", N_("Choose a time zone from the list (for example Asia/Tokyo)."))
        return errors
    if times_out_of_range(data):
        return errors + range_errors(data)  # not normalised: comparing its times could fail
    if data.ends_at <= data.starts_at:
        add("ends_at", N_("The end must be after the start."))
    elif data.ends_at - data.starts_at > timedelta(days=14):
        add("ends_at", N_("A session cannot last more than 14 days."))
    errors += _place_errors(data, venue_ids)

    opens, closes = data.registration_opens_at, data.registration_closes_at
    if opens and closes and closes <= opens:
        add("registration_closes_at", N_("Registration must close after it opens."))
    if closes and closes > data.ends_at:
        add("registration_closes_at", N_("Registration must close before the session ends."))

    unknown = [code for code in data.languages if code not in LANGUAGES]
    if unknown:
        add("languages", N_("Unknown language: {codes}."), codes=", ".join(unknown))
    if len(data.themes) > 20 or any(len(theme) > 50 for theme in data.themes):
        add("themes", N_("Use at most 20 themes of up to 50 characters."))
    if len(data.themes_en) > 20 or any(len(theme) > 50 for theme in data.themes_en):
        add("themes_en", N_("Use at most 20 themes of up to 50 characters."))
    if len(data.facilitators) > 20 or any(len(name) > 100 for name in data.facilitators):
        add("facilitators", N_("Name at most 20 facilitators of up to 100 characters."))
    if data.contact_email and "@" not in data.contact_email:
        add("contact_email", N_("Enter an email address such as name@example.jp."))
    for name in ("contact_name", "contact_email", "contact_phone"):
        if len(getattr(data, name)) > SHORT_MAX:
            add(name, N_("Keep this under {max} characters."), max=SHORT_MAX)
    return errors + _offer_errors(data) + _recurrence_errors(data)


def _place_errors(data: SessionInput, venue_ids: set[int]) -> list[FieldError]:
    """What is wrong with where a session takes place (venue, meeting link) and how many it takes."""
    errors: list[FieldError] = []
    add = lambda name, message, **params: errors.append(FieldError(name, message, params))  # noqa: E731
    if data.format in ("in_person", "hybrid") and data.status == "published" and data.venue_id is None:
        add("venue_id", N_("Choose a venue for an in-person or hybrid session."))
    if data.venue_id is not None and data.venue_id not in venue_ids:
        add("venue_id", N_("Choose one of your organization's venues."))
    if data.online_url and not is_web_url(data.online_url):
        add("online_url", N_("Enter a web address starting with https://."))
    if data.format == "online" and data.status == "published" and not data.online_url:
        add("online_url", N_("An online session needs its meeting link before it is published."))
    for name in ("capacity_in_person", "capacity_online"):
        value = getattr(data, name)
        if value < 0:
            add(name, N_("Capacity cannot be negative."))
        elif value > CAPACITY_MAX:
            add(name, N_("Capacity cannot exceed {max}."), max=CAPACITY_MAX)
    if data.format in ("in_person", "hybrid") and data.capacity_in_person == 0 and data.status == "published":
        add("capacity_in_person", N_("Set how many people can come in person."))
    if data.format in ("online", "hybrid") and data.capacity_online == 0 and data.status == "published":
        add("capacity_online", N_("Set how many people can join online."))
    return errors


def _offer_errors(data: SessionInput) -> list[FieldError]:
    """What is wrong with the childcare and the accommodations a session offers."""
    errors: list[FieldError] = []
    add = lambda name, message, **params: errors.append(FieldError(name, message, params))  # noqa: E731
    care = data.childcare
    if care is not None:
        if care.places < 1 or care.places > 1000:
            add("childcare.places", N_("Offer between 1 and 1000 childcare places."))
        if not 0 <= care.min_age_months <= MAX_CHILD_AGE_MONTHS or not 0 <= care.max_age_months <= MAX_CHILD_AGE_MONTHS:
            add("childcare.max_age_months", N_("Ages must be between 0 months and 18 years."))
        elif care.min_age_months > care.max_age_months:
            add("childcare.max_age_months", N_("The oldest age must not be below the youngest."))
        if care.deadline and care.deadline > data.starts_at:
            add("childcare.deadline", N_("The request deadline must be before the session starts."))

    seen_codes: set[str] = set()
    for offer in data.accommodations:
        prefix = f"accommodations.{offer.code}"
        if offer.code in seen_codes:
            add(prefix, N_("Each accommodation can be offered once."))
        seen_codes.add(offer.code)
        if offer.deadline and offer.deadline > data.starts_at:
            add(f"{prefix}.deadline", N_("The request deadline must be before the session starts."))
        if offer.capacity is not None and offer.capacity < 0:
            add(f"{prefix}.capacity", N_("Capacity cannot be negative."))
        elif offer.capacity is not None and offer.capacity > CAPACITY_MAX:
            add(f"{prefix}.capacity", N_("Capacity cannot exceed {max}."), max=CAPACITY_MAX)
        if offer.code == "interpretation" and not offer.language:
            add(f"{prefix}.language", N_("Say which language is interpreted."))
        if offer.code == "other" and not offer.note:
            add(f"{prefix}.note", N_("Describe the accommodation."))
        if len(offer.note) > 500 or len(offer.language) > 50:
            add(f"{prefix}.note", N_("Keep this under {max} characters."), max=500)
    return errors


def _recurrence_errors(data: SessionInput) -> list[FieldError]:
    rule = data.recurrence
    if rule is None:
        return []
    errors: list[FieldError] = []
    add = lambda name, message, **params: errors.append(FieldError(name, message, params))  # noqa: E731
    if not 1 <= rule.interval <= 12:
        add("recurrence.interval", N_("Repeat every 1 to 12 weeks or months."))
    if rule.until is None and rule.count is None:
        add("recurrence.until", N_("A series needs an end: a last date or a number of occurrences."))
    if rule.count is not None and not 2 <= rule.count <= MAX_OCCURRENCES:
        add("recurrence.count", N_("A series has between 2 and {max} occurrences."), max=MAX_OCCURRENCES)
    if rule.until is not None and rule.until <= data.starts_at.astimezone(zone(data.timezone)).date():
        add("recurrence.until", N_("The last date must be after the first occurrence."))
    return errors


def venue_errors(data: VenueInput) -> list[FieldError]:
    """Every rule a venue breaks."""
    errors = []
    if not data.name.strip():
        errors.append(FieldError("name", N_("Enter the venue's name.")))
    elif len(data.name) > SHORT_MAX:
        errors.append(FieldError("name", N_("Keep this under {max} characters."), {"max": SHORT_MAX}))
    if len(data.address) > 500 or len(data.address_en) > 500:
        errors.append(FieldError("address", N_("Keep this under {max} characters."), {"max": 500}))
    if data.capacity is not None and data.capacity < 0:
        errors.append(FieldError("capacity", N_("Capacity cannot be negative.")))
    elif data.capacity is not None and data.capacity > CAPACITY_MAX:
        errors.append(FieldError("capacity", N_("Capacity cannot exceed {max}."), {"max": CAPACITY_MAX}))
    if len(data.access_notes) > 2000 or len(data.access_notes_en) > 2000:
        errors.append(FieldError("access_notes", N_("Keep this under {max} characters."), {"max": 2000}))
    return errors
