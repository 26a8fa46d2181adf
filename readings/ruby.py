"""Readings as <ruby> markup, for one text or for every text node of an HTML page.

The markup is `<ruby>漢字<rp>(</rp><rt aria-hidden="true">かんじ</rt><rp>)</rp></ruby>`: sighted readers
see the reading above the kanji; screen readers read the kanji once (their speech already reads it,
and the reading would be spoken twice); the <rp> parentheses show only where ruby is not supported
(plain-text views, some mail readers). The stylesheet makes <rt> unselectable, so copying gives the
plain text. Only the kanji part of a word carries a reading: 食<rt>た</rt>べる.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html import escape

from readings.analysis import BUILT_IN, NameBook, Segment, analyse
from readings.kana import has_kanji

# elements whose text is never annotated: raw text, form values, code, existing ruby, and anything
# marked translate="no" or data-ruby="off" (e.g. a join code, a person's name typed in Latin)
SKIPPED = frozenset({"script", "style", "textarea", "title", "option", "optgroup", "select", "code", "pre", "kbd",
                     "samp", "var", "ruby", "rt", "rp", "svg", "math", "noscript", "template", "head"})
VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
                  "track", "wbr"})
_MARKUP = re.compile(r"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<![^>]*>|<[^>]*>", re.DOTALL)
_TAG = re.compile(r"<\s*(/?)\s*([a-zA-Z][a-zA-Z0-9-]*)([^>]*?)(/?)\s*>", re.DOTALL)
_RAW_TEXT = {name: re.compile(rf"</\s*{name}\s*>", re.IGNORECASE) for name in ("script", "style", "textarea", "title")}
_OPT_OUT = re.compile(r"""\btranslate\s*=\s*["']?no\b|\bdata-ruby\s*=\s*["']?off\b""", re.IGNORECASE)


def ruby_markup(base: str, reading: str) -> str:
    """One ruby unit; `base` and `reading` must already be HTML-safe."""
    return f'<ruby>{base}<rp>(</rp><rt aria-hidden="true">{reading}</rt><rp>)</rp></ruby>'


def segments_html(segments: tuple[Segment, ...], *, escaped: bool = False) -> str:
    """Segments as HTML; `escaped`: their texts are already HTML (text nodes of a page)."""
    out: list[str] = []
    for segment in segments:
        for text, reading in segment.parts or ((segment.text, None),):
            safe = text if escaped else escape(text, quote=False)
            out.append(ruby_markup(safe, escape(reading, quote=False)) if reading and has_kanji(text) else safe)
    return "".join(out)


def ruby_html(text: str, names: NameBook = BUILT_IN) -> str:
    """`text` (plain) as HTML with ruby over its kanji."""
    if not has_kanji(text):
        return escape(text, quote=False)
    return segments_html(analyse(text, names))


@lru_cache(maxsize=50_000)
def _text_node(text: str, names: NameBook) -> str:
    # a text node of a page is already HTML: entities (&amp;) are ASCII and never meet a kanji,
    # so the analysed pieces are written back as they were
    return segments_html(analyse(text, names), escaped=True)


def annotate_html(html: str, names: NameBook = BUILT_IN) -> str:
    """A whole page or fragment with ruby over the kanji of its text nodes (not attributes, scripts,
    styles, form fields, code, existing ruby or opted-out elements)."""
    out: list[str] = []
    stack: list[tuple[str, bool]] = []  # open elements: (name, skipped)
    skipping = 0
    position = 0
    while (match := _MARKUP.search(html, position)) is not None:
        text = html[position:match.start()]
        if text:
            out.append(text if skipping or not has_kanji(text) else _text_node(text, names))
        markup = match.group()
        out.append(markup)
        position = match.end()
        tag = _TAG.fullmatch(markup)
        if not tag:
            continue
        closing, name, attributes, self_closing = tag.group(1), tag.group(2).lower(), tag.group(3), tag.group(4)
        if closing:
            while stack:
                opened, skipped = stack.pop()
                skipping -= skipped
                if opened == name:
                    break
        elif name not in VOID and not self_closing:
            skipped = name in SKIPPED or bool(_OPT_OUT.search(attributes))
            stack.append((name, skipped))
            skipping += skipped
            if name in _RAW_TEXT:  # its text runs to the closing tag, whatever it looks like
                end = _RAW_TEXT[name].search(html, position)
                stop = end.start() if end else len(html)
                out.append(html[position:stop])
                position = stop
    rest = html[position:]
    out.append(rest if skipping or not has_kanji(rest) else _text_node(rest, names))
    return "".join(out)
