"""HTML forms <-> domain inputs: raw strings in, SessionInput/VenueInput out, every problem per field."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from sessions.catalog import ACCOMMODATIONS, AFTER_DEADLINE, FORMATS, KINDS, LANGUAGES, N_, VENUE_FEATURES
from sessions.models import AccommodationOffer, ChildcareOffer, Recurrence, Session, SessionInput, Venue, VenueInput
from sessions.registration_models import AccommodationRequestInput, ChildInput, RegistrationInput
from sessions.text import without_controls
from sessions.validation import FieldError, InvalidInput, end_of_day, zone

FormValues = dict[str, Any]
# Age choices for childcare, in months: what Japanese 託児 notices use (6か月〜就学前 …)
CHILD_AGE_CHOICES = [0, 3, 6, 9, 12, 18, *range(24, 12 * 13, 12)]
REPEAT_CHOICES = ("none", "weekly", "monthly_weekday", "monthly_monthday")
_LIST_SPLIT = re.compile(r"[,、，\n]+")
MAX_CHILD_FIELDS = 3  # child blocks on the staff entry form
MAX_CHILD_BLOCKS = 5  # the resident's form adds blocks on demand, up to the domain's limit
CHILD_FIELDS = ("years", "months", "notes")


def form_values(form: Any) -> FormValues:
    """Flatten submitted form data: one string per field, lists for the multi-valued ones."""
    multi = {"languages", "features", "colors", "choices", "ranking"}
    values: FormValues = {}
    for key in form.keys():
        items = form.getall(key) if hasattr(form, "getall") else [form[key]]
        items = [without_controls(item) for item in items if isinstance(item, str)]
        values[key] = items if key in multi else (items[-1] if items else "")
    return values



class _Reader:
    """Reads typed values out of form strings, collecting an error per unreadable field."""

    def __init__(self, values: FormValues) -> None:
        self.values = values
        self.errors: list[FieldError] = []

    def text(self, name: str) -> str:
        value = self.values.get(name, "")
        return value.strip() if isinstance(value, str) else ""

    def integer(self, name: str, default: int | None = 0) -> int | None:
        raw = self.text(name).translate(str.maketrans("０１２３４５６７８９－", "0123456789-"))
        if not raw:
            return default
        try:
            return int(raw)
        except ValueError:
            self.errors.append(FieldError(name, N_("Enter a whole number.")))
            return default

    def _parsed(self, name: str, parse: Any, message: str) -> Any:
        """The field read by `parse` (None when empty); an unreadable value is an error with `message`."""
        raw = self.text(name)
        if not raw:
            return None
        try:
            return parse(raw)
        except ValueError:
            self.errors.append(FieldError(name, message))
            return None

    def day(self, name: str) -> date | None:
        return self._parsed(name, date.fromisoformat, N_("Enter a date such as 2026-11-23."))

    def clock(self, name: str) -> time | None:
        return self._parsed(name, time.fromisoformat, N_("Enter a time such as 14:00."))

    def moment(self, name: str) -> datetime | None:
        return self._parsed(name, datetime.fromisoformat, N_("Enter a date and time such as 2026-11-23 14:00."))

    def choice(self, name: str, choices: Any, default: str) -> str:
        value = self.text(name) or default
        if value not in choices:
            self.errors.append(FieldError(name, N_("Choose one of the options.")))
            return default
        return value

    def listed(self, name: str) -> list[str]:
        value = self.values.get(name, [])
        return [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str) and v]


def session_input_from_form(values: FormValues, *, with_recurrence: bool) -> tuple[SessionInput, list[FieldError]]:
    """A SessionInput from the organizer's form, and the fields that could not be read.

    Unreadable dates and times are replaced by harmless stand-ins so that the domain rules can
    still check everything else, and the form shows every problem at once.
    """
    read = _Reader(values)
    tz_name = read.text("timezone") or "Asia/Tokyo"
    day = read.day("date")
    start = read.clock("start_time")
    end = read.clock("end_time")
    if "end_time" in {e.field for e in read.errors}:
        read.errors = [FieldError("ends_at", e.message) if e.field == "end_time" else e for e in read.errors]
    end_day = read.day("end_date") or day
    for name, value, message in (("date", day, N_("Enter the date.")), ("start_time", start, N_("Enter the start time.")),
                                 ("ends_at", end, N_("Enter the end time."))):
        if value is None and name not in {e.field for e in read.errors}:
            read.errors.append(FieldError(name, message))

    childcare = _childcare_from_form(read, tz_name)
    offers = _offers_from_form(read, tz_name)
    recurrence = _recurrence_from_form(read) if with_recurrence else None
    fmt = read.choice("format", FORMATS, "in_person")
    venue_id = read.integer("venue_id", None)
    day = day or date.today()
    starts_at = datetime.combine(day, start or time(10))
    ends_at = datetime.combine(end_day or day, end or time(23, 59)) if end else starts_at + timedelta(hours=2)
    data = SessionInput(
        title=read.text("title"), title_en=read.text("title_en"), description=read.text("description"),
        description_en=read.text("description_en"), kind=read.choice("kind", KINDS, "dialogue"),  # type: ignore[arg-type]
        format=fmt, starts_at=starts_at, ends_at=ends_at, timezone=tz_name,  # type: ignore[arg-type]
        venue_id=venue_id if fmt != "online" else None,
        online_url=read.text("online_url") if fmt != "in_person" else "",
        capacity_in_person=(read.integer("capacity_in_person") or 0) if fmt != "online" else 0,
        capacity_online=(read.integer("capacity_online") or 0) if fmt != "in_person" else 0,
        registration_opens_at=read.moment("registration_opens_at"),
        registration_closes_at=read.moment("registration_closes_at"),
        status="published" if values.get("action") == "publish" else "draft",
        languages=[code for code in read.listed("languages") if code in LANGUAGES] or ["ja"],
        themes=_LIST_SPLIT.split(read.text("themes")),
        themes_en=_LIST_SPLIT.split(read.text("themes_en")), facilitators=_LIST_SPLIT.split(read.text("facilitators")),
        contact_name=read.text("contact_name"), contact_email=read.text("contact_email"),
        contact_phone=read.text("contact_phone"), childcare=childcare, accommodations=offers,
        recurrence=recurrence,
    )
    return data, read.errors


def _childcare_from_form(read: _Reader, tz_name: str) -> ChildcareOffer | None:
    if not read.text("childcare_offered"):
        return None
    deadline_day = read.day("childcare_deadline")
    return ChildcareOffer(
        places=read.integer("childcare_places") or 0,
        min_age_months=read.integer("childcare_min_age_months") or 0,
        max_age_months=read.integer("childcare_max_age_months", 72) or 0,
        deadline=end_of_day(deadline_day, tz_name) if deadline_day and _known_zone(tz_name) else None,
        note=read.text("childcare_note"),
        after_deadline=read.choice("childcare_after_deadline", AFTER_DEADLINE, "closed"),  # type: ignore[arg-type]
    )


def _offers_from_form(read: _Reader, tz_name: str) -> list[AccommodationOffer]:
    offers = []
    for code in ACCOMMODATIONS:
        mode = read.text(f"acc_{code}")
        if not mode:
            continue
        if mode not in ("always", "on_request"):
            read.errors.append(FieldError(f"accommodations.{code}", N_("Choose one of the options.")))
            continue
        deadline_day = read.day(f"acc_{code}_deadline")
        offers.append(AccommodationOffer(
            code=code, mode=mode,  # type: ignore[arg-type]
            deadline=end_of_day(deadline_day, tz_name) if deadline_day and _known_zone(tz_name) else None,
            capacity=read.integer(f"acc_{code}_capacity", None), language=read.text(f"acc_{code}_language"),
            note=read.text(f"acc_{code}_note"),
            after_deadline=read.choice(f"acc_{code}_after_deadline", AFTER_DEADLINE, "closed"),  # type: ignore[arg-type]
        ))
    return offers


def _recurrence_from_form(read: _Reader) -> Recurrence | None:
    repeat = read.choice("repeat", REPEAT_CHOICES, "none")
    if repeat == "none":
        return None
    return Recurrence(
        freq="weekly" if repeat == "weekly" else "monthly",
        interval=read.integer("repeat_interval", 1) or 1,
        until=read.day("repeat_until"), count=read.integer("repeat_count", None),
        monthly_by="monthday" if repeat == "monthly_monthday" else "weekday",
    )


def _known_zone(name: str) -> bool:
    try:
        zone(name)
    except Exception:
        return False
    return True


def session_form_values(session: Session | None, *, defaults: FormValues | None = None) -> FormValues:
    """The form's fields filled from a stored session (or empty defaults for a new one)."""
    if session is None:
        return {"kind": "dialogue", "format": "in_person", "timezone": "Asia/Tokyo", "languages": ["ja"],
                "repeat": "none", "repeat_interval": "1", "childcare_min_age_months": "6",
                "childcare_max_age_months": "72", **(defaults or {})}
    tz = zone(session.timezone)
    start, end = session.starts_at.astimezone(tz), session.ends_at.astimezone(tz)
    local = lambda value: value.astimezone(tz).strftime("%Y-%m-%dT%H:%M") if value else ""  # noqa: E731
    local_day = lambda value: value.astimezone(tz).date().isoformat() if value else ""  # noqa: E731
    values: FormValues = {
        "title": session.title, "title_en": session.title_en, "description": session.description,
        "description_en": session.description_en, "kind": session.kind, "format": session.format,
        "venue_id": str(session.venue.id) if session.venue else "", "online_url": session.online_url,
        "date": start.date().isoformat(), "start_time": start.strftime("%H:%M"), "end_time": end.strftime("%H:%M"),
        "end_date": end.date().isoformat() if end.date() != start.date() else "", "timezone": session.timezone,
        "capacity_in_person": str(session.capacity_in_person), "capacity_online": str(session.capacity_online),
        "registration_opens_at": local(session.registration_opens_at),
        "registration_closes_at": local(session.registration_closes_at),
        "languages": list(session.languages), "themes": "、".join(session.themes),
        "themes_en": ", ".join(session.themes_en),
        "facilitators": "、".join(session.facilitators), "contact_name": session.contact_name,
        "contact_email": session.contact_email, "contact_phone": session.contact_phone,
    }
    if session.childcare:
        care = session.childcare
        values.update(childcare_offered="1", childcare_places=str(care.places),
                      childcare_min_age_months=str(care.min_age_months),
                      childcare_max_age_months=str(care.max_age_months),
                      childcare_deadline=local_day(care.deadline), childcare_note=care.note,
                      childcare_after_deadline=care.after_deadline)
    for offer in session.accommodations:
        values.update({f"acc_{offer.code}": offer.mode, f"acc_{offer.code}_deadline": local_day(offer.deadline),
                       f"acc_{offer.code}_capacity": "" if offer.capacity is None else str(offer.capacity),
                       f"acc_{offer.code}_language": offer.language, f"acc_{offer.code}_note": offer.note,
                       f"acc_{offer.code}_after_deadline": offer.after_deadline})
    return values


def venue_input_from_form(values: FormValues) -> VenueInput:
    read = _Reader(values)
    data = VenueInput(
        name=read.text("name"), name_en=read.text("name_en"), address=read.text("address"),
        address_en=read.text("address_en"), capacity=read.integer("capacity", None),
        features=[code for code in read.listed("features") if code in VENUE_FEATURES],  # type: ignore[misc]
        access_notes=read.text("access_notes"), access_notes_en=read.text("access_notes_en"),
    )
    if read.errors:
        raise InvalidInput(read.errors)
    return data


def venue_form_values(venue: Venue | None) -> FormValues:
    if venue is None:
        return {"features": []}
    return {"name": venue.name, "name_en": venue.name_en, "address": venue.address, "address_en": venue.address_en,
            "capacity": "" if venue.capacity is None else str(venue.capacity), "features": list(venue.features),
            "access_notes": venue.access_notes, "access_notes_en": venue.access_notes_en}


def move_form_default(session: Session) -> FormValues:
    """The move-occurrence form starts from the occurrence's current date and times."""
    values = session_form_values(session)
    return {key: values[key] for key in ("date", "start_time", "end_time")}



def registration_input_from_form(values: FormValues, session: Session, locale: str) -> tuple[RegistrationInput, list[FieldError]]:
    """A RegistrationInput from the resident's form, and the fields that could not be read."""
    read = _Reader(values)
    children = []
    for index in range(1, MAX_CHILD_BLOCKS + 1):
        years, months = read.text(f"child_{index}_years"), read.text(f"child_{index}_months")
        if not years and not months:
            continue
        age = (read.integer(f"child_{index}_years") or 0) * 12 + (read.integer(f"child_{index}_months") or 0)
        children.append(ChildInput(age_months=age, notes=read.text(f"child_{index}_notes")))
    requests = [AccommodationRequestInput(code=offer.code, note=read.text(f"acc_{offer.code}_note"))
                for offer in session.accommodations if read.text(f"acc_{offer.code}")]
    mode = read.text("mode")
    data = RegistrationInput(
        name=read.text("name"), name_kana=read.text("name_kana"), email=read.text("email"),
        phone=read.text("phone"), mode=mode if mode in ("in_person", "online") else None,  # type: ignore[arg-type]
        children=children, accommodations=requests, note=read.text("note"),
        consent_sensitive=bool(read.text("consent_sensitive")), locale=locale,  # type: ignore[arg-type]
    )
    return data, read.errors


def children_shown(values: FormValues) -> int:
    """How many child blocks the resident's form shows: one by default, more as they add children."""
    filled = [index for index in range(1, MAX_CHILD_BLOCKS + 1)
              if any(str(values.get(f"child_{index}_{name}") or "").strip() for name in CHILD_FIELDS)]
    try:
        asked = int(str(values.get("children_shown") or "1"))
    except ValueError:
        asked = 1
    return max(1, min(MAX_CHILD_BLOCKS, max([asked, *filled])))


def change_child_blocks(values: FormValues, action: str) -> FormValues | None:
    """The form's values after "add a child" or "remove child n" (None for any other action)."""
    shown = children_shown(values)
    if action == "add_child":
        return {**values, "children_shown": str(min(MAX_CHILD_BLOCKS, shown + 1))}
    match = re.fullmatch(r"remove_child_([1-9])", action)
    if not match or int(match.group(1)) > shown:
        return None
    removed = int(match.group(1))
    changed = {key: value for key, value in values.items() if not re.fullmatch(r"child_\d+_\w+", key)}
    kept = [index for index in range(1, shown + 1) if index != removed]
    for new, old in enumerate(kept, start=1):
        for name in CHILD_FIELDS:
            changed[f"child_{new}_{name}"] = values.get(f"child_{old}_{name}", "")
    changed["children_shown"] = str(max(1, shown - 1))
    return changed
