"""Checks of an easy-Japanese (やさしい日本語) text, after 在留支援のためのやさしい日本語ガイドライン
(出入国在留管理庁・文化庁, 2020): short sentences, no double negatives, everyday kanji only.

Each check gives a `Flag` the organizer's editor shows next to the text; nothing is refused."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from readings.kana import KANJI

LONG_SENTENCE = 50  # characters; the guideline asks for short sentences (one thing per sentence)
_SENTENCE_END = re.compile(r"(?<=[。！？!?])|\n+")
# ない...ない, なければならない and their polite forms: the guideline asks for the plain affirmative
DOUBLE_NEGATIVES = re.compile(
    r"な(?:い|く)(?:わけ|こと|の)?(?:では|は|も)(?:ない|ありません|なかった)"
    r"|ないとは限ら(?:ない|ず|ません)"
    r"|ないわけにはいか(?:ない|ず|ません)"
    r"|ないでもない"
    r"|なければ(?:なら|なり|いけ)(?:ない|ません|ず)"
    r"|なくては(?:なら|なり|いけ)(?:ない|ません|ず)"
    r"|ざるを得(?:ない|ません|ず)"
    r"|ないものでもない"
    r"|不[^\s。、]{1,4}ではない"
)


@dataclass(frozen=True)
class Flag:
    """What the editor points out: `kind` is long_sentence, double_negative or rare_kanji."""

    kind: str
    text: str


@cache
def joyo_kanji() -> frozenset[str]:
    """The 2,136 常用漢字 (readings/data/joyo_kanji.txt; its header names the source and licence)."""
    lines = (Path(__file__).parent / "data" / "joyo_kanji.txt").read_text(encoding="utf-8").splitlines()
    chars = "".join(line.strip() for line in lines if not line.startswith("#"))
    return frozenset(chars) | {"叱"}  # the notice prints 𠮟; 叱 is how most text writes it


def sentences(text: str) -> list[str]:
    """The sentences of a text (split after 。！？ and at line breaks), without blank ones."""
    return [part.strip() for part in _SENTENCE_END.split(text) if part and part.strip()]


def check(text: str) -> list[Flag]:
    """Every flag for `text`, in reading order: long sentences, double negatives, rare kanji."""
    flags: list[Flag] = []
    for sentence in sentences(text):
        if len(sentence) > LONG_SENTENCE:
            flags.append(Flag("long_sentence", sentence))
        for match in DOUBLE_NEGATIVES.finditer(sentence):
            flags.append(Flag("double_negative", match.group()))
    seen: list[str] = []
    joyo = joyo_kanji()
    for char in text:
        if KANJI.match(char) and char not in joyo and char not in "々〆ヵヶ" and char not in seen:
            seen.append(char)
    flags.extend(Flag("rare_kanji", char) for char in seen)
    return flags
