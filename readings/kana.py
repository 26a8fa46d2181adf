"""Kana and kanji: what needs a reading, katakana to hiragana, and okurigana split off a word."""

from __future__ import annotations

import re

# kanji, plus the iteration mark and the small ke/ka read as part of a kanji word (一ヶ月, 人々)
KANJI_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3005\u3006\u30f5\u30f6"
KANJI = re.compile(f"[{KANJI_CLASS}]")
KANJI_RUN = re.compile(f"[{KANJI_CLASS}]+")
_KATAKANA = re.compile("[\u30a1-\u30f6]")


def has_kanji(text: str) -> bool:
    """True when `text` has a character a kana-only reader needs a reading for."""
    return KANJI.search(text) is not None


def to_hiragana(text: str) -> str:
    """Katakana (ァ..ヶ) as hiragana; the long-vowel mark and everything else unchanged."""
    return _KATAKANA.sub(lambda m: chr(ord(m.group()) - 0x60) if m.group() not in "ヵヶ" else m.group(), text)


def split_okurigana(surface: str, reading: str) -> list[tuple[str, str | None]]:
    """The parts of a word, each kanji run with its own reading and kana left bare:
    食べる/たべる -> [(食, た), (べる, None)]. A word whose kana do not line up with its reading
    keeps one reading over the whole word."""
    parts = re.split(f"([{KANJI_CLASS}]+)", surface)
    parts = [part for part in parts if part]
    if len(parts) == 1:
        return [(surface, reading if has_kanji(surface) else None)]
    pattern = "".join("(.+?)" if has_kanji(part) else f"({re.escape(to_hiragana(part))})" for part in parts)
    match = re.fullmatch(pattern, to_hiragana(reading))
    if not match:
        return [(surface, reading)]
    return [(part, match.group(i + 1) if has_kanji(part) else None) for i, part in enumerate(parts)]
