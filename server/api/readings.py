"""POST /api/readings (public): the hiragana reading of a text and its words, for integrations and for
the live pages' own scripts (static/js/ruby.js)."""

from __future__ import annotations

import msgspec
from litestar import Request, post
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK

from readings.analysis import BUILT_IN, analyse, reading_of
from readings.kana import has_kanji
from server.api.sessions import PUBLIC
from server.auth.limits import client_key
from server.core.errors import check_limit, error_responses
from server.core.i18n import gettext as _
from sessions import store as session_store
from sessions.catalog import N_
from sessions.validation import FieldError, InvalidInput

MAX_TEXT = 10_000


class ReadingInput(msgspec.Struct):
    text: str
    org: str | None = None  # an organization's slug: read with its dictionary of local names


class Part(msgspec.Struct, omit_defaults=True):
    text: str
    reading: str | None = None


class SegmentOut(msgspec.Struct, omit_defaults=True):
    """A word; `reading` only where it has kanji; `parts`: the ruby units (okurigana split off)."""

    text: str
    reading: str | None = None
    parts: list[Part] | None = None


class ReadingOut(msgspec.Struct):
    reading: str
    segments: list[SegmentOut]


@post("/api/readings", summary="Readings of a Japanese text", tags=["readings"], **PUBLIC, status_code=HTTP_200_OK,
      responses=error_responses(400, 422, 429))
async def readings(request: Request, data: JSONBody[ReadingInput]) -> ReadingOut:
    """The text's reading in hiragana, and its segments (words) with readings over those with kanji;
    with `org` (an organization's slug) its dictionary of local names is used, else the built-in terms.
    Texts up to 10,000 characters; each client may ask `readings` times per window (TAIWA_LIMITS)."""
    if len(data.text) > MAX_TEXT:
        raise InvalidInput([FieldError("text", N_("The text is too long (at most {max} characters)."), {"max": MAX_TEXT})])
    await check_limit(request, "readings", client_key(request), _(
        "Too many readings were asked for from this connection. Please wait {wait} and try again."))
    book = BUILT_IN
    if data.org is not None:
        if len(data.org) > 100 or await session_store.get_org_by_slug(request.app.state.db, data.org) is None:
            raise InvalidInput([FieldError("org", N_("No organization has this address name (slug)."))])
        books = getattr(request.app.state, "name_books", None)
        book = await books.current(data.org) if books else BUILT_IN
    segments = analyse(data.text, book)
    out = []
    for segment in segments:
        if segment.has_kanji:
            parts = [Part(text, reading if reading and has_kanji(text) else None) for text, reading in segment.parts]
            out.append(SegmentOut(segment.text, segment.reading, parts))
        else:
            out.append(SegmentOut(segment.text))
    return ReadingOut(reading_of(segments), out)


ROUTES = [readings]
