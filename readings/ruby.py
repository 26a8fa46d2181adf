"""Readings as <ruby> markup, for one text or for every text node of an HTML page.

The markup is `<ruby>漢字<rt aria-hidden="true" data-reading="かんじ"></rt></ruby>`, and the stylesheet
shows the reading with `rt::before { content: attr(data-reading) }`:
- sighted readers see the reading above the kanji (the browser lays the <rt> out as ruby);
- screen readers read the kanji once: the <rt> is aria-hidden, so the reading is not spoken after it;
- the reading is not text of the document, so copying, find in page (Ctrl+F) and anything reading
  the page's text (innerText, a translator, a search engine) see the plain text: with the reading as
  text inside <rt>, Chromium's find cannot match 対話の場 across two ruby elements and copying gives
  対話たいわの場ば;
- without the stylesheet (a text browser, reader mode) the plain text remains.
Only the kanji part of a word carries a reading: 食<rt data-reading="た"></rt>べる.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from html import escape

from readings.analysis import BUILT_IN, CACHE_SIZE, NameBook, Segment, analyse
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
# a region of one organization's content: its text reads with that organization's dictionary
_ORG = re.compile(r"""\bdata-reading-org\s*=\s*["']([^"'>]*)["']""", re.IGNORECASE)


def ruby_markup(base: str, reading: str) -> str:
    """One ruby unit; `base` must already be HTML text, `reading` is hiragana (escaped here)."""
    return f'<ruby>{base}<rt aria-hidden="true" data-reading="{escape(reading, quote=True)}"></rt></ruby>'


def segments_html(segments: tuple[Segment, ...], *, escaped: bool = False) -> str:
    """Segments as HTML; `escaped`: their texts are already HTML (text nodes of a page)."""
    out: list[str] = []
    for segment in segments:
        for text, reading in segment.parts or ((segment.text, None),):
            safe = text if escaped else escape(text, quote=False)
            out.append(ruby_markup(safe, reading) if reading and has_kanji(text) else safe)
    return "".join(out)


def ruby_html(text: str, names: NameBook = BUILT_IN) -> str:
    """`text` (plain) as HTML with ruby over its kanji."""
    if not has_kanji(text):
        return escape(text, quote=False)
    return segments_html(analyse(text, names))


@lru_cache(maxsize=CACHE_SIZE)
def _text_node(text: str, names: NameBook) -> str:
    # a text node of a page is already HTML: entities (&amp;) are ASCII and never meet a kanji,
    # so the analysed pieces are written back as they were
    return segments_html(analyse(text, names), escaped=True)


def annotate_html(html: str, names: NameBook = BUILT_IN, regions: Mapping[str, NameBook] | None = None) -> str:
    """A whole page or fragment with ruby over the kanji of its text nodes (not attributes, scripts,
    styles, form fields, code, existing ruby or opted-out elements).

    `names` is the dictionary of the whole answer; inside an element marked
    `data-reading-org="<slug>"` the text reads with `regions[slug]` instead (the innermost mark wins;
    a slug without entries reads with the built-in terms), so a list can show each organization's
    session with that organization's names."""
    out: list[str] = []
    stack: list[tuple[str, bool, bool]] = []  # open elements: (name, skipped, opened a region)
    books = [names]  # the dictionary of each open region, innermost last
    skipping = 0
    position = 0
    while (match := _MARKUP.search(html, position)) is not None:
        text = html[position:match.start()]
        if text:
            out.append(text if skipping or not has_kanji(text) else _text_node(text, books[-1]))
        markup = match.group()
        out.append(markup)
        position = match.end()
        tag = _TAG.fullmatch(markup)
        if not tag:
            continue
        closing, name, attributes, self_closing = tag.group(1), tag.group(2).lower(), tag.group(3), tag.group(4)
        if closing:
            while stack:
                opened, skipped, region = stack.pop()
                skipping -= skipped
                if region:
                    books.pop()
                if opened == name:
                    break
        elif name not in VOID and not self_closing:
            skipped = name in SKIPPED or bool(_OPT_OUT.search(attributes))
            org = _ORG.search(attributes) if regions is not None else None
            if org:
                books.append(regions.get(org.group(1), BUILT_IN) if regions is not None else BUILT_IN)
            stack.append((name, skipped, bool(org)))
            skipping += skipped
            if name in _RAW_TEXT:  # its text runs to the closing tag, whatever it looks like
                end = _RAW_TEXT[name].search(html, position)
                stop = end.start() if end else len(html)
                out.append(html[position:stop])
                position = stop
    rest = html[position:]
    out.append(rest if skipping or not has_kanji(rest) else _text_node(rest, books[-1]))
    return "".join(out)
