"""Series: an RRULE (weekly or monthly, always with an end) expanded into occurrences."""

from __future__ import annotations

from datetime import datetime, time, timezone

from dateutil.rrule import MONTHLY, WEEKLY, rrule, weekday

from sessions.catalog import MAX_OCCURRENCES
from sessions.models import Recurrence
from sessions.validation import zone

_WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def _nth_weekday(local_start: datetime) -> tuple[int, int]:
    """(weekday, n) of a date: the 2nd Saturday is (5, 2); the 5th of a month becomes -1 (last)."""
    n = (local_start.day - 1) // 7 + 1
    return local_start.weekday(), (-1 if n == 5 else n)


def rrule_text(rule: Recurrence, first_start_utc: datetime, tz_name: str) -> str:
    """The RFC 5545 RRULE value for a recurrence starting at first_start_utc."""
    local = first_start_utc.astimezone(zone(tz_name))
    parts = [f"FREQ={rule.freq.upper()}"]
    if rule.interval != 1:
        parts.append(f"INTERVAL={rule.interval}")
    if rule.freq == "monthly":
        if rule.monthly_by == "weekday":
            day, n = _nth_weekday(local)
            parts.append(f"BYDAY={n}{_WEEKDAY_CODES[day]}")
        else:
            parts.append(f"BYMONTHDAY={local.day}")
    if rule.count is not None:
        parts.append(f"COUNT={rule.count}")
    elif rule.until is not None:
        # UNTIL is in UTC when DTSTART has a zone (RFC 5545 3.3.10); the last local day counts whole.
        until_local = datetime.combine(rule.until, time(23, 59, 59), tzinfo=zone(tz_name))
        parts.append("UNTIL=" + until_local.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ"))
    return ";".join(parts)


def occurrence_starts(rule: Recurrence, first_start_utc: datetime, tz_name: str) -> list[datetime]:
    """The UTC start of every occurrence, keeping the local wall-clock time across DST changes."""
    tz = zone(tz_name)
    local = first_start_utc.astimezone(tz).replace(tzinfo=None)
    kwargs: dict[str, object] = {"dtstart": local, "interval": rule.interval}
    if rule.freq == "monthly":
        if rule.monthly_by == "weekday":
            day, n = _nth_weekday(local)
            kwargs["byweekday"] = weekday(day, n)
        else:
            kwargs["bymonthday"] = local.day
    if rule.count is not None:
        kwargs["count"] = rule.count
    else:
        assert rule.until is not None
        kwargs["until"] = datetime.combine(rule.until, time(23, 59, 59))
    starts = []
    for occurrence in rrule(MONTHLY if rule.freq == "monthly" else WEEKLY, **kwargs):  # type: ignore[arg-type]
        starts.append(occurrence.replace(tzinfo=tz).astimezone(timezone.utc))
        if len(starts) >= MAX_OCCURRENCES:
            break
    return starts
