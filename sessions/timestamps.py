"""Times as the database keeps them: UTC text to the second (2026-11-23T05:00:00Z)."""

from __future__ import annotations

from datetime import datetime, timezone


def to_db(value: datetime | None) -> str | None:
    """UTC text as stored: 2026-11-23T05:00:00Z."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_db(value: str | None) -> datetime | None:
    """An aware UTC datetime from stored text."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)  # what to_db writes ("…Z"); far faster than strptime
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def now_utc() -> datetime:
    """Now in UTC, to the second (what a stored time can hold)."""
    return datetime.now(timezone.utc).replace(microsecond=0)
