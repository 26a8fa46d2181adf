"""iCalendar (RFC 5545) events for sessions, e.g. attached to a confirmation mail."""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar, Event, Timezone

from sessions.models import Session
from sessions.validation import zone


def session_uid(session: Session, host: str) -> str:
    """A UID that never changes for a session or an occurrence of a series."""
    return f"session-{session.id}@{host}"


def session_calendar(session: Session, *, base_url: str, online_url: bool, stamp: datetime,
                     description: str = "", location: str = "") -> bytes:
    """A VCALENDAR with one VEVENT for the session, in its own time zone (with VTIMEZONE)."""
    host = base_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "taiwa"
    tz = zone(session.timezone)
    calendar = Calendar()
    calendar.add("prodid", "-//Taiwa//taiwa//JA")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add_component(_vtimezone(session))
    event = Event()
    event.add("uid", session_uid(session, host))
    event.add("dtstamp", stamp)
    event.add("dtstart", session.starts_at.astimezone(tz))
    event.add("dtend", session.ends_at.astimezone(tz))
    event.add("last-modified", session.updated_at)
    event.add("sequence", session.sequence)
    event.add("summary", session.title)
    event.add("status", "CANCELLED" if session.status == "cancelled" else "CONFIRMED")
    event.add("url", f"{base_url}/sessions/{session.id}")
    if location:
        event.add("location", location)
    text = description
    if online_url and session.online_url:
        text = f"{text}\n\n{session.online_url}".strip()
    if text:
        event.add("description", text)
    calendar.add_component(event)
    return calendar.to_ical()


def _vtimezone(session: Session) -> Timezone:
    tz = zone(session.timezone)
    return Timezone.from_tzinfo(tz, tzid=session.timezone, first_date=session.starts_at.astimezone(tz).date(),
                                last_date=session.ends_at.astimezone(tz).date())
