"""Calendar feeds that calendar apps subscribe to, and the add-to-calendar links on pages.

Every feed answers with ETag and Last-Modified and honours If-None-Match / If-Modified-Since
with 304, computed from a cheap version query before anything is rendered; rendered feeds are
cached by that version. Public feeds see only what the public may see: drafts, and sessions
cancelled before they were published, change neither their content nor their validators.
A filter nobody asked for before costs a build: each client may cause `feed_build` of them per
window (TAIWA_LIMITS), and the cache keeps CACHE_SIZE feeds of at most CACHE_BYTES in all.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import HttpMethod, Request, Response, route
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from server.core.errors import check_limit
from server.core.i18n import current_locale, format_date_only, gettext as _
from server.public.sessions import filters_from_query, filter_params
from server.auth.limits import client_key
from server.public.registration import own_registration
from server.core.templating import age_text, label, localized
from sessions import calendar, store
from sessions.models import Session, SessionFilters
from sessions.registration_models import Registration
from sessions.validation import zone

FEED_METHODS = [HttpMethod.GET, HttpMethod.HEAD]
PAST_DAYS = 90  # ended sessions (and cancelled ones) stay in feeds this long
PAGE = 500
CACHE_SIZE = 64
CACHE_BYTES = 32 * 1024 * 1024
VERSIONS_KEPT = 4096  # feeds whose last version and Last-Modified are remembered
STARTED = store.now_utc().replace(microsecond=0)
FEED_FORMAT = "5"  # bump when the feed's shape changes, so cached copies are not reused


def describe(session: Session) -> str:
    """The event description in the reader's language: what, childcare, accessibility, link."""
    lines = [localized(session, "description").strip()] if localized(session, "description").strip() else []
    lines.append(f"{_('Type')}: {label('kinds', session.kind)} / {label('formats', session.format)}")
    if session.childcare:
        care = session.childcare
        lines.append(_("Childcare") + ": " + _("Ages %(min)s to %(max)s") % {"min": age_text(care.min_age_months),
                                                     "max": age_text(care.max_age_months)}
                     + (" / " + _("Request by %(date)s") % {"date": _day(care.deadline, session)} if care.deadline else ""))
    else:
        lines.append(_("Childcare") + ": " + _("No childcare is offered at this session."))
    for offer in session.accommodations:
        how = _("Always provided") if offer.mode == "always" else _("On request by %(date)s") % {
            "date": _day(offer.deadline, session)}
        lines.append(f"{label('accommodations', offer.code)}{f' ({offer.language})' if offer.language else ''}: {how}")
    lines.append(f"{_('Organizer')}: {localized(session.org, 'name')}")
    if session.status == "cancelled":
        lines.insert(0, _("This session has been cancelled.") + (f" {session.cancel_reason}" if session.cancel_reason else ""))
    return "\n".join(lines)


def _day(value: Any, session: Session) -> str:
    return format_date_only(value, session.timezone)


def locate(session: Session) -> str:
    if session.format == "online" or session.venue is None:
        return _("Online")
    place = localized(session.venue, "name")
    address = localized(session.venue, "address")
    text = f"{place}, {address}" if address else place
    return text + (f" / {_('Online')}" if session.format == "hybrid" else "")


def categorize(session: Session) -> list[str]:
    return [label("kinds", session.kind), label("formats", session.format), *session.themes]


def summarize(session: Session) -> str:
    return localized(session, "title")


def feed_text() -> calendar.FeedText:
    return calendar.FeedText(describe=describe, locate=locate, categorize=categorize, summarize=summarize)


def _not_modified(request: Request, etag: str, last_modified: Any) -> bool:
    if request.headers.get("if-none-match"):
        # weak comparison (RFC 9110 13.1.2): proxies that compress turn "x" into W/"x"
        tags = [tag.strip().removeprefix("W/") for tag in request.headers["if-none-match"].split(",")]
        return etag in tags or "*" in tags
    since = request.headers.get("if-modified-since")
    if since and last_modified is not None:
        try:
            return last_modified.replace(microsecond=0) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


async def _answer(request: Request, key: str, version: tuple[Any, ...], build: Any, filename: str) -> Response[bytes]:
    """304 when the client has this version; otherwise the (cached) calendar with validators.

    `build` is an async function that loads and renders; it runs only on a cache miss.
    """
    digest = hashlib.sha256(repr((FEED_FORMAT, key, current_locale.get(), version)).encode()).hexdigest()[:32]
    etag = f'"{digest}"'
    changed = store.from_db(version[0]) if version and isinstance(version[0], str) else None
    private = key.startswith("/r/")
    # A registrant's feed changes with their registration too (a promotion, a cancellation, a new
    # waitlist number), often twice in one second: it is validated by its ETag alone, which changes
    # with everything it shows, and If-Modified-Since is never answered with 304 there.
    last_modified = None if private else _last_modified(request, (key, current_locale.get()), digest, changed)
    headers = {"ETag": etag, "Cache-Control": "private, no-store" if private else "public, max-age=300",
               "Content-Disposition": f'inline; filename="{filename}"'}
    if "lang" not in request.query_params:
        # the language then comes from the cookie (or the browser): a shared cache must keep them apart
        headers["Vary"] = "Cookie, Accept-Language"
    # Last-Modified has one-second resolution; two changes within one second are told apart by the
    # ETag (which counts revisions), the validator calendar apps send first.
    if last_modified:
        headers["Last-Modified"] = format_datetime(last_modified, usegmt=True)
    if _not_modified(request, etag, last_modified):
        return Response(b"", status_code=304, headers=headers)
    cache: OrderedDict[str, bytes] = request.app.state.feed_cache
    body = cache.get(digest)
    if body is None:
        await _count_build(request)
        body = await build()
        _remember(cache, digest, body)
    else:
        cache.move_to_end(digest)
    return Response(body, media_type="text/calendar", headers=headers)


def _last_modified(request: Request, feed: tuple[str, str], digest: str, changed: datetime | None) -> datetime | None:
    """When a feed last changed: the latest change of its sessions, and never earlier than before.

    A session leaving a feed (unpublished, or no longer matching its filters) changes the feed
    but no session still in it, and what it became is not public: the new version of the feed is
    then dated a second after the previous one this process served, or (for the first one it
    serves) not before the process started, when it may have left.
    """
    served: OrderedDict[tuple[str, str], tuple[str, datetime | None]] = _state_cache(request, "feed_versions")
    previous = served.get(feed)
    if previous is not None and previous[0] == digest:
        served.move_to_end(feed)
        return previous[1]
    if previous is None:
        floor: datetime | None = STARTED
    else:
        floor = previous[1] + timedelta(seconds=1) if previous[1] else None
    if changed and floor:
        changed = max(changed, floor)
    served[feed] = (digest, changed)
    while len(served) > VERSIONS_KEPT:
        served.popitem(last=False)
    return changed


def _state_cache(request: Request, name: str) -> Any:
    state = request.app.state
    if not hasattr(state, name):
        setattr(state, name, OrderedDict())
    return getattr(state, name)


async def _count_build(request: Request) -> None:
    """A feed not in the cache is built at most `feed_build` times per client and window; then 429."""
    await check_limit(request, "feed_build", client_key(request), _(
        "Too many different calendars were requested from this connection. Please wait {wait} and try again."))


def _remember(cache: OrderedDict[str, bytes], key: str, body: bytes) -> None:
    """Keep a rendered feed; the least recently used leave first beyond CACHE_SIZE feeds or CACHE_BYTES."""
    cache[key] = body
    while len(cache) > CACHE_SIZE or sum(map(len, cache.values())) > CACHE_BYTES:
        cache.popitem(last=False)


async def _feed_sessions(db: Any, filters: SessionFilters) -> tuple[list[Session], list[tuple[calendar.SeriesRule, list[Session]]]]:
    """Public sessions (published, cancelled or completed, and published once) from PAST_DAYS ago on,
    and whole series they belong to."""
    since = store.now_utc() - timedelta(days=PAST_DAYS)
    singles: list[Session] = []
    series_ids: list[int] = []
    cursor = None
    while True:
        page, cursor = await store.list_sessions(db, filters, upcoming_after=since, limit=PAGE, cursor=cursor,
                                                 statuses=store.FEED_STATUSES, ever_published=True)
        for session in page:
            if session.series_id is None:
                singles.append(session)
            elif session.series_id not in series_ids:
                series_ids.append(session.series_id)
        if cursor is None:
            break
    series = []
    for series_id in series_ids:
        row = await store.get_series(db, series_id)
        occurrences = await store.series_occurrences(db, series_id)
        rule = calendar.SeriesRule(id=series_id, rrule=row["rrule"], timezone=row["timezone"],
                                   first_starts_at=store.from_db(row["first_starts_at"]),  # type: ignore[arg-type]
                                   duration=timedelta(minutes=row["duration_minutes"]))
        series.append((rule, occurrences))
    return singles, series


async def _version(db: Any, filters: SessionFilters) -> tuple[Any, ...]:
    """A cheap fingerprint of everything a feed shows (and nothing the public may not see), and the day."""
    since = store.now_utc() - timedelta(days=PAST_DAYS)
    return (*await store.feed_fingerprint(db, filters, since), store.now_utc().date().isoformat())


class _EventCache(OrderedDict):  # type: ignore[type-arg]
    """Rendered VEVENTs, least recently used dropped first."""

    LIMIT = 20_000

    def get(self, key: Any, default: Any = None) -> Any:
        if key in self:
            self.move_to_end(key)
            return self[key]
        return default

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        while len(self) > self.LIMIT:
            self.popitem(last=False)


def _event_cache(request: Request) -> _EventCache:
    state = request.app.state
    if not hasattr(state, "event_cache"):
        state.event_cache = _EventCache()
    return state.event_cache


async def _revision(db: Any, session_id: int) -> int:
    return await store.session_revision(db, session_id)


def _calendar_name(base: str, filters: SessionFilters) -> str:
    return _("%(name)s (filtered)") % {"name": base} if filters.active else base


@route("/calendar.ics", http_method=FEED_METHODS, include_in_schema=False)
async def all_sessions_feed(request: Request) -> Response[bytes]:
    """Every public session; accepts the filters of /sessions (q, from, to, kind, format, childcare, ...)."""
    db = request.app.state.db
    filters, _errors = filters_from_query(request.query_params)
    name = _calendar_name(_("Taiwa: dialogue sessions"), filters)

    async def build() -> bytes:
        singles, series = await _feed_sessions(db, filters)
        # rendering thousands of events must not stall live boards: do it off the event loop
        return await asyncio.to_thread(calendar.feed, name, singles, series, text=feed_text(),
                                       base_url=_base(request), domain=_domain(request),
                                       cache=_event_cache(request), variant=current_locale.get())

    return await _answer(request, "/calendar.ics?" + urlencode(filter_params(filters)), await _version(db, filters),
                         build, "taiwa.ics")


@route("/orgs/{slug:str}/calendar.ics", http_method=FEED_METHODS, include_in_schema=False)
async def organization_feed(request: Request, slug: FromPath[str]) -> Response[bytes]:
    db = request.app.state.db
    org = await store.get_org_by_slug(db, slug)
    if org is None:
        raise NotFoundException()
    filters = SessionFilters(org=slug)

    async def build() -> bytes:
        singles, series = await _feed_sessions(db, filters)
        return await asyncio.to_thread(calendar.feed, localized(org, "name"), singles, series, text=feed_text(),
                                       base_url=_base(request), domain=_domain(request),
                                       cache=_event_cache(request), variant=current_locale.get())

    return await _answer(request, f"/orgs/{slug}/calendar.ics", await _version(db, filters), build, f"{slug}.ics")


@route("/sessions/{session_id:int}/calendar.ics", http_method=FEED_METHODS, include_in_schema=False)
async def session_file(request: Request, session_id: FromPath[int]) -> Response[bytes]:
    """/sessions/{id}.ics: one session, or one occurrence of a series (with the series' UID)."""
    db = request.app.state.db
    session = await store.get_session(db, session_id)
    if session is None or session.status == "draft":
        raise NotFoundException()
    sequence = await public_sequence(db, session)

    async def build() -> bytes:
        return calendar.single(session, text=feed_text(), base_url=_base(request), domain=_domain(request),
                               name=localized(session, "title"), sequence=sequence)

    version = (store.to_db(session.updated_at), sequence, await _revision(db, session_id))
    return await _answer(request, f"/sessions/{session_id}.ics", version, build, f"session-{session_id}.ics")


async def public_sequence(db: Any, session: Session) -> int:
    """The SEQUENCE the public feeds give a session: its own, or its series' for an occurrence."""
    if session.series_id is None:
        return session.sequence
    return calendar.series_sequence(await store.series_occurrences(db, session.series_id))


# how far a registration has gone: each step (waitlisted → confirmed → cancelled) raises the SEQUENCE
# of the registrant's own event above what the public feeds say
REGISTRATION_STEPS = {"waitlisted": 0, "confirmed": 1, "attended": 1, "cancelled": 2}


async def registrant_calendar(db: Any, found: Registration, session: Session, *, base_url: str, domain: str,
                              page_url: str, method: str = "PUBLISH", organizer: tuple[str, str] | None = None,
                              attendee: str = "") -> tuple[bytes, tuple[Any, ...]]:
    """A registrant's own calendar file (their feed, and the .ics their mails carry) and what it depends on
    besides the session's details (the feed adds their revision to make its version).

    The event has the UID the public feeds give the session; its SEQUENCE and LAST-MODIFIED also
    rise when the registration changes. Call it in the registrant's language.
    """
    status = label("registration_statuses", found.status)
    note = f"{_('Your registration')}: {status}"
    if found.status == "waitlisted" and found.position:
        note += " " + _("(waitlist number %(position)d)") % {"position": found.position}
    online = session.online_url if found.mode == "online" and found.status in ("confirmed", "attended") else ""
    if online:
        note += f"\n{_('Join online')}: {online}"
    note += f"\n{page_url}"
    shown = session
    if found.status == "cancelled" and session.status != "cancelled":
        shown = msgspec.structs.replace(session, status="cancelled")
    sequence = await public_sequence(db, session) + REGISTRATION_STEPS.get(found.status, 0)
    changed = max(filter(None, [session.updated_at, found.cancelled_at, found.updated_at]))
    body = calendar.single(shown, text=feed_text(), base_url=base_url, domain=domain,
                           name=localized(session, "title"), private_note=note, online_url=online, sequence=sequence,
                           changed=changed, method=method, organizer=organizer, attendee=attendee)
    return body, (store.to_db(changed), sequence, found.status, found.position, bool(online))


@route("/r/{token:str}/calendar.ics", http_method=FEED_METHODS, include_in_schema=False)
async def registrant_feed(request: Request, token: FromPath[str]) -> Response[bytes]:
    """The registrant's own session with their status and, for online participation, the link."""
    found, session = await own_registration(request, token)
    db = request.app.state.db
    body, depends_on = await registrant_calendar(db, found, session, base_url=_base(request), domain=_domain(request),
                                                 page_url=f"{_base(request)}/r/{token}")
    version = (*depends_on, await _revision(db, session.id))

    async def build() -> bytes:
        return body

    return await _answer(request, f"/r/{found.id}/calendar.ics", version, build, "registration.ics")


def _base(request: Request) -> str:
    return request.app.state.settings.base_url


def _domain(request: Request) -> str:
    return calendar.uid_domain(request.app.state.secret)


# ---------------------------------------------------------------- links for pages

def webcal(url: str) -> str:
    """The same address with webcal://, which calendar apps open as a subscription."""
    return "webcal://" + url.split("://", 1)[-1]


def google_calendar_link(session: Session, base_url: str) -> str:
    fmt = "%Y%m%dT%H%M%SZ"
    return "https://calendar.google.com/calendar/render?" + urlencode({
        "action": "TEMPLATE", "text": localized(session, "title"),
        "dates": f"{session.starts_at.strftime(fmt)}/{session.ends_at.strftime(fmt)}",
        "details": f"{base_url}/sessions/{session.id}", "location": locate(session), "ctz": session.timezone,
    })


def outlook_link(session: Session, base_url: str) -> str:
    tz = zone(session.timezone)
    return "https://outlook.live.com/calendar/0/action/compose?" + urlencode({
        "path": "/calendar/action/compose", "rru": "addevent", "subject": localized(session, "title"),
        "startdt": session.starts_at.astimezone(tz).isoformat(), "enddt": session.ends_at.astimezone(tz).isoformat(),
        "body": f"{base_url}/sessions/{session.id}", "location": locate(session),
    })


def in_language(url: str) -> str:
    """A calendar address in the reader's language: `?lang=en` when reading in English (Japanese is the
    default), so the file a subscription fetches later, without the reader's cookie, stays in it."""
    language = current_locale.get()
    return url if language == "ja" else url + ("&" if "?" in url else "?") + urlencode({"lang": language})


def session_links(session: Session, base_url: str) -> dict[str, str]:
    """Download, subscribe and add-to-calendar links for one session."""
    ics = in_language(f"{base_url}/sessions/{session.id}.ics")
    return {"ics": ics, "webcal": webcal(ics), "google": google_calendar_link(session, base_url),
            "outlook": outlook_link(session, base_url)}


def feed_links(path: str, params: dict[str, str], base_url: str) -> dict[str, str]:
    """The https and webcal addresses of a feed with the current filters (and language)."""
    query = {**params, **({"lang": current_locale.get()} if current_locale.get() != "ja" else {})}
    url = f"{base_url}{path}" + (f"?{urlencode(query)}" if query else "")
    return {"https": url, "webcal": webcal(url)}


ROUTES = [all_sessions_feed, organization_feed, session_file, registrant_feed]
