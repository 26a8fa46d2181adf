"""Series rules: RRULE text and occurrences, the same wall-clock time, an end always required."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from sessions.models import Recurrence, SessionInput
from sessions.series import occurrence_starts, rrule_text
from sessions.validation import normalise_session, session_errors

TOKYO = "Asia/Tokyo"
# Saturday 12 December 2026, 10:00 in Tokyo = 01:00 UTC; the 2nd Saturday of the month
FIRST = datetime(2026, 12, 12, 1, 0, tzinfo=timezone.utc)


def test_monthly_on_the_second_saturday():
    rule = Recurrence(freq="monthly", count=4, monthly_by="weekday")
    assert rrule_text(rule, FIRST, TOKYO) == "FREQ=MONTHLY;BYDAY=2SA;COUNT=4"
    local = [s.astimezone(ZoneInfo(TOKYO)) for s in occurrence_starts(rule, FIRST, TOKYO)]
    assert [(d.month, d.day, d.hour) for d in local] == [(12, 12, 10), (1, 9, 10), (2, 13, 10), (3, 13, 10)]
    assert all(d.weekday() == 5 for d in local)


def test_weekly_until_includes_the_last_day():
    rule = Recurrence(freq="weekly", until=date(2027, 1, 2))
    starts = occurrence_starts(rule, FIRST, TOKYO)
    assert len(starts) == 4  # 12, 19, 26 December and 2 January
    assert rrule_text(rule, FIRST, TOKYO) == "FREQ=WEEKLY;UNTIL=20270102T145959Z"


def test_daylight_saving_keeps_the_local_time():
    first = datetime(2027, 3, 6, 15, 0, tzinfo=timezone.utc)  # 10:00 in New York before DST
    starts = occurrence_starts(Recurrence(freq="weekly", count=3), first, "America/New_York")
    assert [s.hour for s in starts] == [15, 15, 14]  # 10:00 local every week; DST begins 14 March


def _input(**changes) -> SessionInput:
    values = dict(title="円卓会議", kind="round_table", format="online", starts_at=datetime(2026, 12, 12, 10),
                  ends_at=datetime(2026, 12, 12, 12), timezone=TOKYO, capacity_online=20)
    values.update(changes)
    return normalise_session(SessionInput(**values))


def test_a_series_with_no_end_is_refused_with_a_reason():
    errors = session_errors(_input(recurrence=Recurrence(freq="weekly")), venue_ids=set())
    assert [e.field for e in errors] == ["recurrence.until"]


def test_impossible_values_are_refused():
    errors = session_errors(_input(ends_at=datetime(2026, 12, 12, 9), capacity_online=-1), venue_ids=set())
    assert {e.field for e in errors} == {"ends_at", "capacity_online"}
