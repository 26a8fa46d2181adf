"""Reading an existing event calendar (.ics) into draft sessions, with every problem's line number.

Nothing is written here: `read_calendar` returns what would be created and what cannot be read,
for the organizer to preview and confirm. Each event keeps its UID, so importing the same file again
updates the drafts it made instead of adding more. Lines are unfolded before they are decoded: a fold
may fall inside a multi-byte character (RFC 5545 §3.1). Its work is bounded by the file (at most MAX_BYTES,
MAX_EVENTS events read, MAX_TIMEZONES time zones) and each part is parsed once: each time zone,
then each event alone. It is slow enough (seconds for a large file) that callers on an event loop
run it in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from icalendar import Calendar, Event

from sessions.catalog import N_
from sessions.models import SessionInput

MAX_BYTES = 2 * 1024 * 1024
MAX_EVENTS = 500
MAX_TIMEZONES = 50  # calendar apps write one per zone their events use
ENCODINGS = ("utf-8-sig", "cp932")
MAX_UID = 500  # UTF-8, or Shift_JIS as older Japanese systems export


@dataclass(frozen=True)
class Problem:
    line: int
    message: str  # a message id
    params: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportedEvent:
    line: int
    data: SessionInput
    place: str
    uid: str = ""  # the event's UID in the file ("" when it has none)


@dataclass
class ImportPreview:
    events: list[ImportedEvent] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    fatal: str | None = None  # a message id when the file as a whole cannot be read


def decode(raw: bytes) -> str | None:
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _unfolded(raw: bytes) -> list[tuple[int, bytes]]:
    """Unfold RFC 5545 lines as octets, remembering the physical line each logical line starts on.

    Folding is defined on octets (a fold may split a UTF-8 or Shift_JIS character), so it is undone
    before anything is decoded.
    """
    lines: list[tuple[int, bytes]] = []
    for number, physical in enumerate(raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"), start=1):
        if physical[:1] in (b" ", b"\t") and lines:
            start, previous = lines[-1]
            lines[-1] = (start, previous + physical[1:])
        elif physical.strip():
            lines.append((number, physical))
    return lines


def _logical_lines(raw: bytes) -> list[tuple[int, str]] | None:
    """The unfolded, decoded lines with their first physical line; None when the file cannot be decoded."""
    unfolded = _unfolded(raw)
    text = decode(b"\n".join(line for _number, line in unfolded))
    if text is None:
        return None
    # neither encoding has a line feed inside a character, so the lines are the same after decoding
    return list(zip((number for number, _line in unfolded), text.split("\n")))


def read_calendar(raw: bytes, *, default_timezone: str = "Asia/Tokyo") -> ImportPreview:
    """Parse an uploaded file; good events become draft SessionInputs, bad ones Problems."""
    preview = ImportPreview()
    if len(raw) > MAX_BYTES:
        preview.fatal = N_("The file is too large (at most 2 MB).")
        return preview
    lines = _logical_lines(raw)
    if not lines or not lines[0][1].lstrip().upper().startswith("BEGIN:VCALENDAR"):
        preview.fatal = N_("This is not an iCalendar (.ics) file.")
        return preview
    timezones, blocks, unclosed = _components(lines)
    if unclosed is not None:
        preview.problems.append(Problem(unclosed, N_("This event is not closed (END:VEVENT is missing).")))
    if not blocks and not preview.problems:
        preview.fatal = N_("The file contains no events.")
        return preview
    if len(timezones) > MAX_TIMEZONES:
        preview.fatal = N_("The file defines too many time zones (at most 50). Export only the events to import.")
        return preview
    unreadable = _read_timezones(timezones)
    repeating = _repeating_uids(blocks[:MAX_EVENTS])
    for start, block in blocks[:MAX_EVENTS]:
        try:
            _read_event(start, block, unreadable, repeating, default_timezone, preview)
        except Exception:  # noqa: BLE001 - an event we cannot make sense of is reported, never fatal
            preview.problems.append(Problem(start, N_("This event cannot be read (invalid iCalendar).")))
    if len(blocks) > MAX_EVENTS:
        preview.problems.append(Problem(blocks[MAX_EVENTS][0], N_("Only the first {max} events are read."),
                                        {"max": MAX_EVENTS}))
    return preview


def _components(lines: list[tuple[int, str]]) -> tuple[list[list[str]], list[tuple[int, list[str]]], int | None]:
    """The file's VTIMEZONEs, its VEVENTs with their first line, and the line of an unclosed VEVENT."""
    timezones: list[list[str]] = []
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] | None = None
    current_start = 0
    depth_tz: list[str] | None = None
    for number, line in lines:
        upper = line.upper()
        if upper.startswith("BEGIN:VTIMEZONE"):
            depth_tz = [line]
        elif depth_tz is not None:
            depth_tz.append(line)
            if upper.startswith("END:VTIMEZONE"):
                timezones.append(depth_tz)
                depth_tz = None
        elif upper.startswith("BEGIN:VEVENT"):
            current, current_start = [line], number
        elif current is not None:
            current.append(line)
            if upper.startswith("END:VEVENT"):
                blocks.append((current_start, current))
                current = None
    return timezones, blocks, current_start if current is not None else None


def _name(line: str) -> str:
    """The property name of a content line (before its parameters and value), in capitals."""
    return line.split(":", 1)[0].split(";", 1)[0].strip().upper()


def _repeating_uids(blocks: list[tuple[int, list[str]]]) -> set[str]:
    """The UIDs of the file's repeating events (with RRULE): their changed dates (RECURRENCE-ID) go with them."""
    uids = set()
    for _start, block in blocks:
        names = {_name(line): line for line in block}
        if "RRULE" in names and "UID" in names:
            uids.add(names["UID"].split(":", 1)[-1].strip())
    return uids


def _read_timezones(timezones: list[list[str]]) -> set[str]:
    """Parse the file's time zones once, so that its events' TZIDs name them; the TZIDs that cannot be read.

    icalendar keeps what it parsed for the rest of the process: a zone with an IANA or Windows name
    is taken from the system's database instead, one with another name from the first file that
    defined it.
    """
    unreadable: set[str] = set()
    for block in timezones:
        try:
            Calendar.from_ical("\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//import//", *block,
                                             "END:VCALENDAR"]) + "\r\n")
        except Exception:  # noqa: BLE001 - a broken zone is the problem of the events that use it
            unreadable.add(next((line.partition(":")[2].strip() for line in block
                                 if line.upper().startswith("TZID")), ""))
    return unreadable


def _read_event(start: int, block: list[str], unreadable: set[str], repeating: set[str], default_tz: str,
                preview: ImportPreview) -> None:
    try:
        event = Event.from_ical("\r\n".join(block) + "\r\n")
        summary = str(event.get("summary", "")).strip()
        uid = str(event.get("uid", "")).strip()
        begins = event.decoded("dtstart") if "dtstart" in event else None
        zone_name = str(event["dtstart"].params.get("TZID", "")) if "dtstart" in event else ""
    except Exception:  # noqa: BLE001 - any parse failure of one event is that event's problem
        preview.problems.append(Problem(start, N_("This event cannot be read (invalid iCalendar).")))
        return
    if zone_name and zone_name in unreadable:
        preview.problems.append(Problem(start, N_("The time zone of this event cannot be read: {title}."),
                                        {"title": summary}))
        return
    if not summary:
        preview.problems.append(Problem(start, N_("This event has no title (SUMMARY).")))
        return
    if begins is None:
        preview.problems.append(Problem(start, N_("This event has no start (DTSTART).")))
        return
    if not isinstance(begins, date):
        preview.problems.append(Problem(start, N_("The start of this event cannot be read: {title}."),
                                        {"title": summary}))
        return
    if not isinstance(begins, datetime) and isinstance(begins, date):
        preview.problems.append(Problem(start, N_("All-day events are not imported: {title}."), {"title": summary}))
        return
    if "rrule" in event:
        preview.problems.append(Problem(start, N_("Repeating events are not imported: {title}. Create a series instead."),
                                        {"title": summary}))
        return
    if "recurrence-id" in event and uid in repeating:
        preview.problems.append(Problem(start, N_("This changes one date of a repeating event, which is not imported "
                                                  "either: {title}."), {"title": summary}))
        return
    if str(event.get("status", "")).upper() == "CANCELLED":
        preview.problems.append(Problem(start, N_("Cancelled events are not imported: {title}."), {"title": summary}))
        return
    try:
        ends = event.decoded("dtend") if "dtend" in event else None
        if ends is None and "duration" in event:
            ends = begins + event.decoded("duration")
    except Exception:  # noqa: BLE001
        ends = None
    if not isinstance(ends, datetime):
        ends = begins + timedelta(hours=2)
    # a time in UTC (…Z, as many systems export) is an instant: show it in the local zone
    tz_name = getattr(begins.tzinfo, "key", None) if begins.tzinfo is not None else None
    if not tz_name or tz_name in ("UTC", "Etc/UTC", "GMT"):
        tz_name = default_tz
    place = str(event.get("location", "")).strip()
    description = str(event.get("description", "")).strip()
    if place:
        description = f"{description}\n\n{place}".strip()
    if ends <= begins:
        preview.problems.append(Problem(start, N_("This event ends before it starts: {title}."), {"title": summary}))
        return
    data = SessionInput(title=summary[:200], description=description[:20_000], kind="dialogue",
                        format="in_person", starts_at=_aware(begins), ends_at=_aware(ends), timezone=tz_name,
                        status="draft")
    preview.events.append(ImportedEvent(line=start, data=data, place=place, uid=uid[:MAX_UID]))


def _aware(value: datetime) -> datetime:
    """Keep the file's zone; a floating time stays naive and is read in the session's zone."""
    return value.astimezone(timezone.utc) if value.tzinfo else value
