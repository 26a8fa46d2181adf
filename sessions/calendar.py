"""iCalendar (RFC 5545 / RFC 7986) for sessions: single events, series with overrides, whole feeds.

A series is one VEVENT with RRULE; a cancelled (or unpublished) occurrence is an EXDATE, and an
occurrence that was moved or changed is an override with RECURRENCE-ID. An occurrence on its own
(its .ics, a registrant's feed, a mail) is that same override: the series' UID and its RECURRENCE-ID,
so every calendar file names one occurrence the same way. Times carry their zone (TZID = the IANA
name) with a VTIMEZONE for every zone used. UIDs never change: their domain part comes from the
server secret, not from the site's address.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from datetime import date, datetime, timedelta
from functools import lru_cache

from icalendar import Calendar, Event, Timezone, vRecur
from icalendar.prop import vCategory, vText, vUri

from sessions.models import Session
from sessions.text import without_control_bytes
from sessions.validation import zone

Describe = Callable[[Session], str]
Locate = Callable[[Session], str]
Categorize = Callable[[Session], list[str]]
Summarize = Callable[[Session], str]
REFRESH = timedelta(hours=1)


@dataclass(frozen=True)
class FeedText:
    """What the web shell supplies in the reader's language."""

    describe: Describe
    locate: Locate
    categorize: Categorize
    summarize: Summarize = lambda session: session.title


@dataclass(frozen=True)
class SeriesRule:
    id: int
    rrule: str
    timezone: str
    first_starts_at: datetime
    duration: timedelta


def uid_domain(secret: str) -> str:
    """The domain part of every UID of a site: derived from its secret (which it never reveals), so
    UIDs stay when TAIWA_BASE_URL changes and two Taiwa sites never share one."""
    return hmac.new(secret.encode(), b"calendar-uid", hashlib.sha256).hexdigest()[:20] + ".taiwa"


def session_uid(session: Session, domain: str) -> str:
    """The UID of a session; an occurrence of a series has its series' UID (and a RECURRENCE-ID)."""
    if session.series_id is not None and session.recurrence_at is not None:
        return series_uid(session.series_id, domain)
    return f"session-{session.id}@{domain}"


def series_uid(series_id: int, domain: str) -> str:
    return f"series-{series_id}@{domain}"


def series_sequence(occurrences: Iterable[Session]) -> int:
    """The SEQUENCE of a series: the sum of its occurrences' as the public saw them. Each visible change
    to an occurrence raises its own, so the sum rises with every change to the series (the maximum
    would not: a second occurrence cancelled keeps it equal), and a draft's edits never count."""
    return sum(trace[0] for trace in (o.public_trace for o in occurrences) if trace is not None)


def new_calendar(name: str, *, description: str = "", method: str = "PUBLISH") -> Calendar:
    # a calendar's name is one line: icalendar does not escape NAME, and a line break in an
    # organizer's title would otherwise break the file (or add properties of its own)
    # icalendar writes NAME and X-WR-CALNAME as they are unless told they are TEXT: a comma,
    # semicolon or backslash in a title must be escaped like any other text
    name = " ".join(name.split())
    calendar = Calendar()
    calendar.add("prodid", "-//Taiwa//Taiwa 1.0//JA")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    calendar.add("name", Text(name))
    calendar.add("x-wr-calname", Text(name))
    if description:
        calendar.add("description", Text(description))
        calendar.add("x-wr-caldesc", Text(description))
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    return calendar


def _fill(event: Event, session: Session, *, text: FeedText, base_url: str, sequence: int,
          private_note: str = "") -> None:
    tz = zone(session.timezone)
    event.add("dtstamp", session.updated_at)
    event.add("last-modified", session.updated_at)
    event.add("created", session.created_at)
    event.add("dtstart", session.starts_at.astimezone(tz))
    event.add("dtend", session.ends_at.astimezone(tz))
    event.add("sequence", sequence)
    event.add("summary", Text(text.summarize(session)))
    event.add("status", "CANCELLED" if session.status == "cancelled" else "CONFIRMED")
    event.add("url", f"{base_url}/sessions/{session.id}", parameters={"VALUE": "URI"})
    location = text.locate(session)
    if location:
        event.add("location", Text(location))
    description = text.describe(session)
    if private_note:
        description = f"{private_note}\n\n{description}"
    event.add("description", Text(description))
    categories = [c for c in text.categorize(session) if c]
    if categories:
        event.add("categories", Categories(categories))
    event.add("class", "PUBLIC")
    event.add("transp", "OPAQUE")


def session_event(session: Session, *, text: FeedText, base_url: str, domain: str, private_note: str = "",
                  online_url: str = "", sequence: int | None = None, changed: datetime | None = None) -> Event:
    """One VEVENT for one session, or one occurrence on its own (the series' UID and its RECURRENCE-ID).

    `sequence` and `changed` (LAST-MODIFIED) replace the session's own: a series' SEQUENCE, or one
    that also counts the changes of a registration.
    """
    event = Event()
    event.add("uid", session_uid(session, domain))
    _fill(event, session, text=text, base_url=base_url,
          sequence=session.sequence if sequence is None else sequence, private_note=private_note)
    if session.series_id is not None and session.recurrence_at is not None:
        event.add("recurrence-id", session.recurrence_at.astimezone(zone(session.timezone)))
    if changed is not None and changed > session.updated_at:
        for name in ("dtstamp", "last-modified"):
            del event[name]
            event.add(name, changed)
    if online_url:
        event.add("conference", vUri(online_url), parameters={"VALUE": "URI", "FEATURE": "VIDEO,AUDIO"})
    return event


# ---- the feed's VEVENTs written directly (icalendar's general serialiser takes about 0.3 ms an
# event; a city's whole feed must render in well under a second). tests/test_calendar_feeds.py checks that
# this writes byte for byte what icalendar writes for the same event.

def _escaped(text: str) -> str:
    """RFC 5545 TEXT escaping. (icalendar's own first turns a literal backslash-N into a line break, so
    a title with `\\N` in it would not come back as written: `Text` is used instead.)"""
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


class Text(vText):
    """A TEXT value escaped exactly (see `_escaped`)."""

    def to_ical(self) -> bytes:
        return _escaped(str(self)).encode(self.encoding)


class Categories(vCategory):
    """CATEGORIES with each name escaped exactly."""

    def to_ical(self) -> bytes:
        return b",".join(_escaped(str(name)).encode() for name in self.cats)


def _folded(line: str) -> bytes:
    """A content line folded as icalendar folds it: at most 74 octets a line, never inside a UTF-8
    character, and never right after a backslash (or ^) that starts an escape."""
    data = line.encode()
    if len(data) < 75:
        return data + b"\r\n"
    parts = []
    start = 0
    while len(data) - start >= 75:
        end = start + 74
        while data[end] & 0xC0 == 0x80:  # a continuation byte: fold before its character
            end -= 1
        if data[end - 1] in b"\\^" and end - 1 > start:
            end -= 1
        parts.append(data[start:end])
        start = end
    parts.append(data[start:])
    return b"\r\n ".join(parts) + b"\r\n"


def _utc(value: datetime) -> str | None:
    if value.tzinfo is None or value.utcoffset() != timedelta(0) or getattr(value.tzinfo, "key", "UTC") != "UTC":
        return None
    return value.strftime("%Y%m%dT%H%M%SZ")


def feed_event(session: Session, *, text: FeedText, base_url: str, domain: str) -> bytes:
    """The VEVENT `session_event` makes for a feed, written directly; icalendar when anything is unusual."""
    tz = zone(session.timezone)
    stamps = [_utc(session.updated_at), _utc(session.created_at)]
    if session.timezone in ("UTC", "Etc/UTC") or None in stamps or session.series_id is not None:
        return session_event(session, text=text, base_url=base_url, domain=domain).to_ical()
    updated, created = stamps
    local = "%Y%m%dT%H%M%S"
    lines = [
        "BEGIN:VEVENT",
        "SUMMARY:" + _escaped(text.summarize(session)),
        f"DTSTART;TZID={session.timezone}:{session.starts_at.astimezone(tz).strftime(local)}",
        f"DTEND;TZID={session.timezone}:{session.ends_at.astimezone(tz).strftime(local)}",
        f"DTSTAMP:{updated}",
        "UID:" + _escaped(session_uid(session, domain)),
        f"SEQUENCE:{session.sequence}",
    ]
    categories = [c for c in text.categorize(session) if c]
    if categories:
        lines.append("CATEGORIES:" + ",".join(_escaped(c) for c in categories))
    lines += ["CLASS:PUBLIC", f"CREATED:{created}", "DESCRIPTION:" + _escaped(text.describe(session)),
              f"LAST-MODIFIED:{updated}"]
    location = text.locate(session)
    if location:
        lines.append("LOCATION:" + _escaped(location))
    lines += ["STATUS:" + ("CANCELLED" if session.status == "cancelled" else "CONFIRMED"), "TRANSP:OPAQUE",
              f"URL;VALUE=URI:{base_url}/sessions/{session.id}", "END:VEVENT"]
    return b"".join(_folded(line) for line in lines)


def _differs(occurrence: Session, master: Session) -> bool:
    """An occurrence needs an override when what a subscriber sees differs from the rule's instance."""
    expected_end = occurrence.recurrence_at + (master.ends_at - master.starts_at) if occurrence.recurrence_at else None
    return (occurrence.starts_at != occurrence.recurrence_at or occurrence.ends_at != expected_end
            or occurrence.title != master.title or occurrence.venue != master.venue
            or occurrence.format != master.format or occurrence.description != master.description)


def series_events(rule: SeriesRule, occurrences: list[Session], *, text: FeedText, base_url: str,
                  domain: str) -> list[Event]:
    """The master VEVENT (RRULE + EXDATE) and an override per moved or changed occurrence.

    A series whose every public occurrence is cancelled stays, as one cancelled event (calendar apps
    then strike it out, where a series that vanished would silently stay in some of them).
    """
    tz = zone(rule.timezone)
    shown = [o for o in occurrences if o.ever_public and o.status in ("published", "completed")]
    if not shown:
        shown = [o for o in occurrences if o.ever_public and o.status == "cancelled"]
    excluded = [o for o in occurrences if o not in shown]
    if not shown:
        return []
    # the rule's content comes from the first occurrence still at its original time
    master = next((o for o in shown if o.starts_at == o.recurrence_at), shown[0])
    # what the public never saw (a draft occurrence's edits) changes neither SEQUENCE nor LAST-MODIFIED
    traces = [trace for trace in (o.public_trace for o in occurrences) if trace is not None]
    sequence = series_sequence(occurrences)
    uid = series_uid(rule.id, domain)
    event = Event()
    event.add("uid", uid)
    _fill(event, master, text=text, base_url=base_url, sequence=sequence)
    latest = max(trace[1] for trace in traces)
    for name in ("dtstart", "dtend", "dtstamp", "last-modified"):
        del event[name]
    event.add("dtstart", rule.first_starts_at.astimezone(tz))
    event.add("dtend", (rule.first_starts_at + (master.ends_at - master.starts_at)).astimezone(tz))
    event.add("dtstamp", latest)
    event.add("last-modified", latest)
    event.add("rrule", vRecur.from_ical(rule.rrule))
    if excluded:
        event.add("exdate", [o.recurrence_at.astimezone(tz) for o in excluded if o.recurrence_at])
    events = [event]
    for occurrence in shown:
        if occurrence is master or not _differs(occurrence, master) or occurrence.recurrence_at is None:
            continue
        override = Event()
        override.add("uid", uid)
        override.add("recurrence-id", occurrence.recurrence_at.astimezone(tz))
        _fill(override, occurrence, text=text, base_url=base_url, sequence=sequence)
        events.append(override)
    return events


@lru_cache(maxsize=64)
def _vtimezone(name: str, first_year: int, last_year: int) -> Timezone:
    return Timezone.from_tzinfo(zone(name), tzid=name, first_date=date(first_year, 1, 1),
                                last_date=date(last_year, 12, 31))


def add_timezones(calendar: Calendar, sessions: Iterable[Session]) -> None:
    """A VTIMEZONE (TZID = the IANA name) for every zone used, covering the years of the events."""
    years: dict[str, tuple[int, int]] = {}
    for session in sessions:
        year = session.starts_at.year
        low, high = years.get(session.timezone, (year, year))
        years[session.timezone] = (min(low, year), max(high, year))
    for name, (low, high) in sorted(years.items()):
        calendar.add_component(_vtimezone(name, low - 1, high + 1))


def feed(name: str, singles: list[Session], series: list[tuple[SeriesRule, list[Session]]], *, text: FeedText,
         base_url: str, domain: str, description: str = "", cache: dict[Any, bytes] | None = None,
         variant: str = "") -> bytes:
    """A whole feed: single sessions as VEVENTs, each series as a rule with its exceptions.

    With a `cache`, each session's rendered VEVENT is kept under (id, revision,
    variant) — `variant` names the language — so after one change only that event is rendered again.
    """
    calendar = new_calendar(name, description=description)
    add_timezones(calendar, [*singles, *(o for _r, occ in series for o in occ)])  # VTIMEZONE before events
    head, end = calendar.to_ical().rsplit(b"END:VCALENDAR", 1)
    parts = [head]
    for session in singles:
        key = ("session", session.id, session.revision, session.sequence, session.updated_at, variant, base_url)
        rendered = cache.get(key) if cache is not None else None
        if rendered is None:
            rendered = feed_event(session, text=text, base_url=base_url, domain=domain)
            if cache is not None:
                cache[key] = rendered
        parts.append(rendered)
    for rule, occurrences in series:
        for event in series_events(rule, occurrences, text=text, base_url=base_url, domain=domain):
            parts.append(event.to_ical())
    parts.append(b"END:VCALENDAR" + end)
    return without_control_bytes(b"".join(parts))


def single(session: Session, *, text: FeedText, base_url: str, domain: str, name: str, private_note: str = "",
           online_url: str = "", sequence: int | None = None, changed: datetime | None = None,
           method: str = "PUBLISH", organizer: tuple[str, str] | None = None, attendee: str = "") -> bytes:
    """A calendar file with one session (download, mail attachment).

    A mail that updates or cancels a registrant's calendar is an iTIP message (RFC 5546): METHOD
    REQUEST or CANCEL, with the ORGANIZER (name, address) and the ATTENDEE it is sent to.
    """
    calendar = new_calendar(name, method=method)
    add_timezones(calendar, [session])
    event = session_event(session, text=text, base_url=base_url, domain=domain, private_note=private_note,
                          online_url=online_url, sequence=sequence, changed=changed)
    if organizer is not None:
        event.add("organizer", f"mailto:{organizer[1]}", parameters={"CN": organizer[0]})
    if attendee:
        event.add("attendee", f"mailto:{attendee}", parameters={"RSVP": "FALSE", "ROLE": "REQ-PARTICIPANT"})
    calendar.add_component(event)
    return without_control_bytes(calendar.to_ical())
