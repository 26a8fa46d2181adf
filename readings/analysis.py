"""Text to segments with hiragana readings: an organization's names first, then SudachiPy
(sudachidict-core, split mode C), with numbers and counters read by `numbers` and times (14:30) read
as times. Results are kept in an LRU cache keyed by the text and the names in force."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from readings import numbers
from readings.kana import has_kanji, split_okurigana, to_hiragana

CACHE_SIZE = 20_000  # texts (and, in readings.ruby, page text nodes): a few MB at most
MAX_CACHED_TEXT = 2_000  # longer texts are analysed each time (they are rare and would crowd the cache)
_TIME = re.compile(r"(?<![\d.])([01]?\d|2[0-4])[:：]([0-5]\d)(?!\d)")
# a weekday in a date: 24日(月) / (土・日): げつ, ど, not がつ, つち
_WEEKDAY = re.compile(r"(?<=[(（・])[月火水木金土日](?=[)）・])")
_WEEKDAYS = {"月": "げつ", "火": "か", "水": "すい", "木": "もく", "金": "きん", "土": "ど", "日": "にち"}
_KANA_ONLY = re.compile("[\u3041-\u309f\u30a1-\u30ffー]+")


@dataclass(frozen=True)
class Segment:
    """A word of the text with its reading in hiragana and its ruby parts: (text, reading or None)."""

    text: str
    reading: str
    parts: tuple[tuple[str, str | None], ...] = field(default=())

    @property
    def has_kanji(self) -> bool:
        return has_kanji(self.text)


class NameBook:
    """Local names and terms with their readings (一関 -> いちのせき), matched longest first before
    the analyser sees the text. Immutable; hashed once so it can key the cache."""

    def __init__(self, entries: Iterable[tuple[str, str]] = ()) -> None:
        self.entries = dict(sorted({surface: reading for surface, reading in entries if surface}.items()))
        self._key = tuple(self.entries.items())
        self._hash = hash(self._key)
        surfaces = sorted(self.entries, key=len, reverse=True)
        self.pattern = re.compile("|".join(map(re.escape, surfaces))) if surfaces else None

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NameBook) and self._key == other._key

    def __len__(self) -> int:
        return len(self.entries)


@cache
def built_in_terms() -> tuple[tuple[str, str], ...]:
    """Terms of municipal notices with their readings (readings/data/terms.tsv)."""
    lines = (Path(__file__).parent / "data" / "terms.tsv").read_text(encoding="utf-8").splitlines()
    rows = (line.split("\t") for line in lines if line.strip() and not line.startswith("#"))
    return tuple((row[0].strip(), row[1].strip()) for row in rows if len(row) == 2)


def name_book(names: Iterable[tuple[str, str]] = ()) -> NameBook:
    """The built-in terms with `names` (an organization's entries) over them."""
    return NameBook({**dict(built_in_terms()), **dict(names)}.items())


BUILT_IN = name_book()


@cache
def _tokenizer() -> Any:
    from sudachipy import Dictionary, SplitMode

    return Dictionary(dict="core").tokenizer(mode=SplitMode.C)


def analyse(text: str, names: NameBook | None = None) -> tuple[Segment, ...]:
    """The segments of `text`, each with its reading (cached for texts up to MAX_CACHED_TEXT);
    `names`: the dictionary in force (default: the built-in terms)."""
    names = BUILT_IN if names is None else names
    if len(text) > MAX_CACHED_TEXT:
        return _analyse(text, names)
    return _cached(text, names)


@lru_cache(maxsize=CACHE_SIZE)
def _cached(text: str, names: NameBook) -> tuple[Segment, ...]:
    return _analyse(text, names)


def cache_info() -> Any:
    """Hits and misses of the readings cache (for the benchmark and the tests)."""
    return _cached.cache_info()


def reading_of(segments: Iterable[Segment]) -> str:
    """The whole text in hiragana."""
    return "".join(segment.reading for segment in segments)


def _analyse(text: str, names: NameBook) -> tuple[Segment, ...]:
    out: list[Segment] = []
    position = 0
    for match in names.pattern.finditer(text) if names.pattern else ():
        out.extend(_without_names(text[position:match.start()]))
        surface = match.group()
        reading = names.entries[surface]
        out.append(Segment(surface, reading, tuple(split_okurigana(surface, reading))))
        position = match.end()
    out.extend(_without_names(text[position:]))
    return tuple(out)


def _without_names(text: str) -> list[Segment]:
    out: list[Segment] = []
    position = 0
    for match in _TIME.finditer(text):
        out.extend(_weekdays(text[position:match.start()]))
        hour, minute = int(match.group(1)), int(match.group(2))
        reading = (numbers.read_counted(hour, "時") if hour else "れいじ") + (
            numbers.read_counted(minute, "分") if minute else "")
        out.append(Segment(match.group(), reading, ((match.group(), None),)))
        position = match.end()
    out.extend(_weekdays(text[position:]))
    return out


def _weekdays(text: str) -> list[Segment]:
    out: list[Segment] = []
    position = 0
    for match in _WEEKDAY.finditer(text):
        out.extend(_tokens(text[position:match.start()]))
        day = match.group()
        out.append(Segment(day, _WEEKDAYS[day], ((day, _WEEKDAYS[day]),)))
        position = match.end()
    out.extend(_tokens(text[position:]))
    return out


def _is_number(token: Any) -> bool:
    return token.part_of_speech()[1] == "数詞"


_SURROGATES = re.compile("([\ud800-\udfff]+)")
_NUMERAL = re.compile("[0-9０-９,，.．〇零一二三四五六七八九十百千万億兆壱弐参]+")


def _tokens(text: str) -> list[Segment]:
    if not text:
        return []
    if _SURROGATES.search(text):  # lone surrogates (broken UTF-16 from a client) cannot be analysed
        pieces = _SURROGATES.split(text)
        return [segment for i, piece in enumerate(pieces) for segment in
                ([Segment(piece, piece, ((piece, None),))] if i % 2 else _tokens(piece))]
    if not has_kanji(text) and not any(char.isdigit() for char in text):
        return [Segment(text, to_hiragana(text), ((text, None),))]  # nothing to look up
    tokens = list(_tokenizer().tokenize(text))
    out: list[Segment] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if _is_number(token):
            segment, used = _number(tokens, i)
            if segment:
                out.append(segment)
                i += used
                continue
        reading_form = token.reading_form()
        if token.surface() == "方" and reading_form == "ホウ":
            # official writing puts the comparative ほう in kana (公用文), so a lone 方 is a person: かた
            reading_form = "カタ"
        out.append(_word(token.surface(), reading_form))
        i += 1
    return out


def _word(surface: str, reading_form: str) -> Segment:
    if has_kanji(surface):
        reading = to_hiragana(reading_form)
        if has_kanji(reading):  # a word the dictionary does not know: no reading is better than a wrong one
            return Segment(surface, surface, ((surface, None),))
        return Segment(surface, reading, tuple(split_okurigana(surface, reading)))
    if _KANA_ONLY.fullmatch(surface):
        return Segment(surface, to_hiragana(surface), ((surface, None),))
    return Segment(surface, surface, ((surface, None),))


def _number(tokens: list[Any], i: int) -> tuple[Segment | None, int]:
    """A number (with the counter after it, if any) as one segment, and how many tokens it took."""
    token = tokens[i]
    surface = token.surface()
    if not _NUMERAL.fullmatch(surface):  # ①, Ⅲ: read as the dictionary says
        return None, 1
    value = numbers.parse_number(surface)
    if value is None:
        value = numbers.parse_number(token.normalized_form())
    if value is None:
        return None, 1
    after = tokens[i + 1].surface() if i + 1 < len(tokens) else ""
    before = tokens[i - 1].surface() if i else ""
    if surface == "十" and after == "分" and before != "時":  # 十分に (enough), not ten minutes
        return Segment("十分", "じゅうぶん", (("十分", "じゅうぶん"),)), 2
    counter = numbers.counter_of(after)
    if counter is None:
        return Segment(surface, numbers.read_number(value), _number_parts(surface, numbers.read_number(value))), 1
    in_date = before in ("月", "毎月") or (i >= 2 and tokens[i - 1].surface() == "月")
    reading = numbers.read_counted(value, counter, date=in_date)
    text = surface + after
    if has_kanji(surface):
        parts: tuple[tuple[str, str | None], ...] = ((text, reading),)
    else:  # 10月: the reading goes over 月 alone when the number's own reading starts it
        plain = numbers.read_number(value)
        parts = ((surface, None), (after, reading[len(plain):])) if reading.startswith(plain) and len(reading) > len(plain) \
            else ((text, reading),)
    return Segment(text, reading, parts), 2


def _number_parts(surface: str, reading: str) -> tuple[tuple[str, str | None], ...]:
    return ((surface, reading if has_kanji(surface) else None),)
