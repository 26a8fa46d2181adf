"""Languages (Japanese by default, English complete) and Japanese-style dates.

The locale of the current request lives in a context variable set by LocaleMiddleware, so
templates, error handlers and validation messages all translate the same way.
"""

from __future__ import annotations

import gettext as _gettext
import io
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from sessions.catalog import Age
from sessions.validation import zone

LOCALES = ("ja", "en")
DEFAULT_LOCALE = "ja"
LOCALE_DIR = Path(__file__).parent.parent / "locale"  # server/locale

current_locale: ContextVar[str] = ContextVar("current_locale", default=DEFAULT_LOCALE)
# 和暦 (令和) instead of the Western year, when the reader asks for it
current_era: ContextVar[bool] = ContextVar("current_era", default=False)


@cache
def translations(locale: str) -> _gettext.NullTranslations:
    """The compiled catalog of a locale; compiled from the .po in memory if `make` has not run."""
    mo = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.mo"
    po = mo.with_suffix(".po")
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        return Translations.load(str(LOCALE_DIR), [locale])
    if po.exists():
        with po.open("rb") as source:
            catalog = read_po(source, locale=locale)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        return Translations(buffer)
    return _gettext.NullTranslations()


def gettext(message: str) -> str:
    return translations(current_locale.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_locale.get()).ngettext(singular, plural, n)


def translate(message: str, params: dict[str, object] | None = None) -> str:
    """Translate a message id from the domain and fill its {named} parameters.

    A `field` parameter is itself a message id (the name of a field) and is translated too.
    """
    text = gettext(message)
    if not params:
        return text
    if isinstance(params.get("field"), str):
        params = {**params, "field": gettext(params["field"])}
    params = {key: format_age(value) if isinstance(value, Age) else value for key, value in params.items()}
    return text.format(**params)


def format_age(months: int) -> str:
    """An age in years and months, as a parent says it: 1歳6か月 / 1 year 6 months."""
    years, rest = divmod(int(months), 12)
    if current_locale.get() == "ja":
        if years and rest:
            return f"{years}歳{rest}か月"
        return f"{years}歳" if years else f"{rest}か月"
    parts = []
    if years:
        parts.append(ngettext("%(num)d year", "%(num)d years", years) % {"num": years})
    if rest or not years:
        parts.append(ngettext("%(num)d month", "%(num)d months", rest) % {"num": rest})
    return " ".join(parts)


def pick_locale(cookie: str | None, query: str | None, accept_language: str | None, *, api: bool = False) -> str:
    """?lang= wins, then the remembered cookie, then the browser's Accept-Language (so a browser that
    asks for English gets English on its first visit), else Japanese. `api` is kept for callers."""
    for candidate in (query, cookie):
        if candidate in LOCALES:
            return candidate
    return negotiated_locale(accept_language) or DEFAULT_LOCALE


def negotiated_locale(accept_language: str | None) -> str | None:
    """The supported language the browser prefers most (by its q weights), if any."""
    choices: list[tuple[float, int, str]] = []
    for order, part in enumerate((accept_language or "").split(",")[:20]):
        code, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        language = code.strip().lower().split("-")[0]
        if language in LOCALES and weight > 0:
            choices.append((-weight, order, language))
    return min(choices)[2] if choices else None


# ---------------------------------------------------------------- dates

_ERAS = ((date(2019, 5, 1), "令和", "Reiwa"), (date(1989, 1, 8), "平成", "Heisei"), (date(1926, 12, 25), "昭和", "Showa"))


def era_year(day: date) -> tuple[str, str, int]:
    """(Japanese era name, romanised name, year in the era) for a date."""
    for start, name, romaji in _ERAS:
        if day >= start:
            return name, romaji, day.year - start.year + 1
    return "", "", day.year


def _local(value: datetime, tz_name: str) -> datetime:
    return value.astimezone(zone(tz_name))


def format_day(day: date, *, with_year: bool = True) -> str:
    """2026年11月23日(月) (or 令和8年…) in Japanese; Mon 23 Nov 2026 in English."""
    locale = current_locale.get()
    if locale == "ja":
        weekday = format_date(day, "E", locale="ja")
        if not with_year:
            return f"{day.month}月{day.day}日({weekday})"
        if current_era.get():
            name, _, year = era_year(day)
            year_text = "元" if year == 1 else str(year)
            return f"{name}{year_text}年{day.month}月{day.day}日({weekday})"
        return f"{day.year}年{day.month}月{day.day}日({weekday})"
    if current_era.get() and with_year:
        _, romaji, year = era_year(day)
        return format_date(day, "EEE d MMM", locale="en") + f" {day.year} ({romaji} {year})"
    return format_date(day, "EEE d MMM y" if with_year else "EEE d MMM", locale="en")


def format_clock(value: datetime) -> str:
    return format_time(value, "HH:mm", locale=current_locale.get())


def format_when(starts_at: datetime, ends_at: datetime, tz_name: str) -> str:
    """2026年11月23日(月) 14:00〜16:00, in the session's own time zone."""
    start, end = _local(starts_at, tz_name), _local(ends_at, tz_name)
    dash = "〜" if current_locale.get() == "ja" else "–"
    text = f"{format_day(start.date())} {format_clock(start)}{dash}"
    if end.date() != start.date():
        text += f"{format_day(end.date(), with_year=end.year != start.year)} "
    text += format_clock(end)
    if tz_name != "Asia/Tokyo":
        text += f" ({tz_name})"
    return text


def format_moment(value: datetime | None, tz_name: str = "Asia/Tokyo") -> str:
    """A single point in time (a deadline): 2026年11月16日(月) 23:59."""
    if value is None:
        return ""
    local = _local(value, tz_name)
    return f"{format_day(local.date())} {format_clock(local)}"


def format_date_only(value: datetime | None, tz_name: str = "Asia/Tokyo") -> str:
    if value is None:
        return ""
    return format_day(_local(value, tz_name).date())


def language_name(code: str) -> str:
    """The name of a locale in its own language, for the language switcher."""
    return Locale.parse(code).get_display_name(code) or code
