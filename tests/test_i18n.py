"""Japanese by default, English complete: catalogs, dates as Japanese readers expect, 令和 on request."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from server.core import i18n
from server.catalogs import untranslated

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}")


@pytest.fixture
def japanese():
    token = i18n.current_locale.set("ja")
    yield
    i18n.current_locale.reset(token)


@pytest.fixture
def english():
    token = i18n.current_locale.set("en")
    yield
    i18n.current_locale.reset(token)


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_every_message_is_translated(locale):
    assert untranslated(locale) == []


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_translations_keep_their_placeholders(locale):
    with (i18n.LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalog = read_po(source, locale=locale)
    for message in catalog:
        if not message.id:
            continue
        source_text = message.id if isinstance(message.id, str) else message.id[1]
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for translated in filter(None, strings):  # empty ones are reported by the test above
            assert set(PLACEHOLDER.findall(translated)) == set(PLACEHOLDER.findall(source_text)), message.id


def test_catalogs_cover_every_string_in_the_code(tmp_path):
    """A string added to a template or module without `make messages` fails here."""
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(ROOT / "babel.cfg"),
                    "-k", "N_", "-k", "_", "-k", "gettext", "-k", "ngettext:1,2", "--no-location",
                    "-o", str(pot), str(ROOT)], check=True, capture_output=True)
    with pot.open("rb") as source:
        wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(source) if m.id}
    with (i18n.LOCALE_DIR / "ja" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        have = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(source) if m.id}
    assert sorted(wanted - have) == []


def test_japanese_date_and_time_range(japanese):
    start = datetime(2026, 11, 23, 5, 0, tzinfo=timezone.utc)  # 14:00 in Tokyo
    end = datetime(2026, 11, 23, 7, 0, tzinfo=timezone.utc)
    assert i18n.format_when(start, end, "Asia/Tokyo") == "2026年11月23日(月) 14:00〜16:00"


def test_reiwa_on_request_and_first_year_is_gannen(japanese):
    token = i18n.current_era.set(True)
    try:
        assert i18n.format_day(date(2026, 11, 23)) == "令和8年11月23日(月)"
        assert i18n.format_day(date(2019, 5, 1)) == "令和元年5月1日(水)"
        assert i18n.format_day(date(2019, 4, 30)) == "平成31年4月30日(火)"
    finally:
        i18n.current_era.reset(token)


def test_session_spanning_midnight_names_both_days(japanese):
    start = datetime(2026, 12, 31, 12, 0, tzinfo=timezone.utc)  # 21:00 on the 31st
    end = datetime(2027, 1, 1, 1, 0, tzinfo=timezone.utc)  # 10:00 on 1 January
    assert i18n.format_when(start, end, "Asia/Tokyo") == "2026年12月31日(木) 21:00〜2027年1月1日(金) 10:00"


def test_english_dates(english):
    start = datetime(2026, 11, 23, 5, 0, tzinfo=timezone.utc)
    end = datetime(2026, 11, 23, 7, 0, tzinfo=timezone.utc)
    assert i18n.format_when(start, end, "Asia/Tokyo") == "Mon 23 Nov 2026 14:00–16:00"


def test_other_time_zones_are_named(japanese):
    start = datetime(2026, 11, 23, 5, 0, tzinfo=timezone.utc)
    end = datetime(2026, 11, 23, 6, 0, tzinfo=timezone.utc)
    assert i18n.format_when(start, end, "Europe/Berlin").endswith("(Europe/Berlin)")


def test_language_follows_accept_language_then_defaults_to_japanese():
    assert i18n.pick_locale(None, None, "en-US,en;q=0.9", api=True) == "en"
    # pages too: a browser that asks for English gets English on its first visit
    assert i18n.pick_locale(None, None, "en-US,en;q=0.9", api=False) == "en"
    assert i18n.pick_locale(None, None, "fr-FR, ja;q=0.8, en;q=0.5") == "ja"  # q weights, not order
    assert i18n.pick_locale(None, None, "en;q=0, ja;q=0.1") == "ja"  # q=0 means "not this one"
    assert i18n.pick_locale(None, None, "de, *;q=0.5") == "ja"
    assert i18n.pick_locale(None, None, "en;q=nonsense," * 500) == "ja"
    assert i18n.pick_locale("ja", None, "en") == "ja"  # the remembered choice wins
    assert i18n.pick_locale(None, "ja", "en") == "ja"  # and ?lang= wins over both
    assert i18n.pick_locale("en", None, None, api=False) == "en"
    assert i18n.pick_locale("en", "ja", None, api=False) == "ja"
    assert i18n.pick_locale("xx", None, None, api=False) == "ja"
