"""Maintain the translation catalogs: `python -m server.catalogs` extracts messages and updates ja and en.

English msgids are the source text, so the English catalog's translations equal them; missing
English entries are filled in. Japanese entries must be translated by hand (tests fail otherwise).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

from server.core.i18n import LOCALE_DIR, LOCALES

ROOT = LOCALE_DIR.parent.parent
POT = LOCALE_DIR / "messages.pot"


def extract() -> None:
    """Write messages.pot from the Python sources and templates."""
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(ROOT / "babel.cfg"),
         "-k", "N_", "-k", "_", "-k", "gettext", "-k", "ngettext:1,2", "--no-location", "--sort-output",
         "--project", "Taiwa", "--version", "1.0", "-o", str(POT), str(ROOT)],
        check=True, capture_output=True,
    )


def update() -> None:
    """Merge messages.pot into each catalog (no fuzzy guesses) and fill English identically."""
    for locale in LOCALES:
        subprocess.run(
            [sys.executable, "-m", "babel.messages.frontend", "update", "-i", str(POT), "-d", str(LOCALE_DIR),
             "-l", locale, "--no-fuzzy-matching", "--ignore-obsolete"],
            check=True, capture_output=True,
        )
    english = LOCALE_DIR / "en" / "LC_MESSAGES" / "messages.po"
    with english.open("rb") as source:
        catalog = read_po(source, locale="en")
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            if not all(message.string):
                message.string = tuple(message.id)
        elif not message.string:
            message.string = message.id
    with english.open("wb") as target:
        write_po(target, catalog, no_location=True, omit_header=False)


def untranslated(locale: str) -> list[str]:
    """Message ids with no translation (or a fuzzy one) in a locale's catalog."""
    path: Path = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as source:
        catalog = read_po(source, locale=locale)
    missing = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    return missing


if __name__ == "__main__":
    extract()
    update()
    for code in LOCALES:
        left = untranslated(code)
        print(f"{code}: {len(left)} untranslated" + (": " + "; ".join(left[:20]) if left else ""))
