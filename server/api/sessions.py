"""The JSON API under /api/: sessions, series and venues, for organizers' tools and integrations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, get, patch, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.di import NamedDependency

from server.auth.accounts import Account
from server.auth.guards import PUBLIC as PUBLIC_OPT
from server.core.errors import error_responses
from server.core.i18n import gettext as _
from server.public.sessions import filters_from_query
from server.auth.guards import Db, CurrentAccount
from ledger import store as ledger_store
from ledger import themes as ledger_themes
from sessions import registration, scheduling, store
from sessions.catalog import N_
from sessions.models import Session, SessionInput, SessionUpdate, Venue, VenueInput
from sessions.validation import FieldError, InvalidInput, range_errors, zone

SECURITY = [{"bearer": []}]


ORGANIZER = {"security": SECURITY}
PUBLIC = {"opt": PUBLIC_OPT}  # the /api router needs a bearer token for everything else
# the error answers each kind of route documents (the body is always ErrorBody)
PUBLIC_ERRORS = error_responses(400, 404, 422)
ORGANIZER_ERRORS = error_responses(400, 401, 403, 404, 422)


class ChildcareOut(msgspec.Struct):
    places: int
    min_age_months: int
    max_age_months: int
    deadline: datetime | None
    note: str = ""


class AccommodationOut(msgspec.Struct):
    code: str
    mode: str
    deadline: datetime | None
    capacity: int | None = None
    language: str = ""
    note: str = ""


class SessionOut(msgspec.Struct):
    id: int
    title: str
    description: str
    kind: str
    format: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    capacity_in_person: int
    capacity_online: int
    status: str
    org: str
    venue_id: int | None
    series_id: int | None
    childcare: ChildcareOut | None
    accommodations: list[AccommodationOut]
    title_en: str = ""
    description_en: str = ""
    recurrence_id: datetime | None = None
    registration_opens_at: datetime | None = None
    registration_closes_at: datetime | None = None
    places_left_in_person: int = 0
    places_left_online: int = 0
    languages: list[str] = msgspec.field(default_factory=list)
    themes: list[str] = msgspec.field(default_factory=list)
    themes_en: list[str] = msgspec.field(default_factory=list)
    facilitators: list[str] = msgspec.field(default_factory=list)
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    cancel_reason: str = ""
    sequence: int = 0
    url: str = ""
    updated_at: datetime | None = None
    online_url: str | msgspec.UnsetType = msgspec.UNSET
    theme_id: int | None | msgspec.UnsetType = msgspec.UNSET  # organizers only (a theme may be unpublished)


class SessionPage(msgspec.Struct):
    items: list[SessionOut]
    next: str | None


class SeriesOut(msgspec.Struct):
    id: int
    rrule: str
    timezone: str
    occurrences: list[SessionOut]


class VenueOut(msgspec.Struct):
    id: int
    org_id: int
    name: str
    name_en: str
    address: str
    address_en: str
    capacity: int | None
    features: list[str]
    access_notes: str
    access_notes_en: str


class OrganizationOut(msgspec.Struct):
    slug: str
    name: str
    name_en: str
    contact_email: str
    contact_phone: str
    website: str


def session_out(session: Session, *, base_url: str, private: bool) -> SessionOut:
    """The contract's Session shape; times carry the session zone's offset; online_url only when private."""
    tz = zone(session.timezone)
    local = lambda value: value.astimezone(tz) if value is not None else None  # noqa: E731
    care = session.childcare
    return SessionOut(
        id=session.id, title=session.title, title_en=session.title_en, description=session.description,
        description_en=session.description_en, kind=session.kind, format=session.format,
        starts_at=local(session.starts_at), ends_at=local(session.ends_at), timezone=session.timezone,  # type: ignore[arg-type]
        capacity_in_person=session.capacity_in_person, capacity_online=session.capacity_online,
        status=session.status, org=session.org.slug, venue_id=session.venue.id if session.venue else None,
        series_id=session.series_id, recurrence_id=local(session.recurrence_at),
        childcare=ChildcareOut(places=care.places, min_age_months=care.min_age_months,
                               max_age_months=care.max_age_months, deadline=local(care.deadline),
                               note=care.note) if care else None,
        accommodations=[AccommodationOut(code=o.code, mode=o.mode, deadline=local(o.deadline), capacity=o.capacity,
                                         language=o.language, note=o.note) for o in session.accommodations],
        registration_opens_at=local(session.registration_opens_at),
        registration_closes_at=local(session.registration_closes_at),
        places_left_in_person=session.places_left_in_person, places_left_online=session.places_left_online,
        languages=session.languages, themes=session.themes, themes_en=session.themes_en,
        facilitators=session.facilitators,
        contact_name=session.contact_name, contact_email=session.contact_email, contact_phone=session.contact_phone,
        cancel_reason=session.cancel_reason, sequence=session.sequence, url=f"{base_url}/sessions/{session.id}",
        updated_at=session.updated_at, online_url=session.online_url if private else msgspec.UNSET,
        theme_id=session.theme_id if private else msgspec.UNSET,
    )


def venue_out(venue: Venue) -> VenueOut:
    return VenueOut(**{field: getattr(venue, field) for field in VenueOut.__struct_fields__})


def _account(request: Request) -> Account | None:
    return request.scope["state"].get("account")


def _out(request: Request, session: Session) -> SessionOut:
    account = _account(request)
    return session_out(session, base_url=request.app.state.settings.base_url,
                       private=bool(account and account.can_see_drafts_of(session.org.id)))


async def _visible(request: Request, session_id: int) -> Session:
    session = await store.get_session(request.app.state.db, session_id)
    account = _account(request)
    if session is None or (session.status == "draft" and not (account and account.can_see_drafts_of(session.org.id))):
        raise NotFoundException(detail=_("There is no such session."))
    return session


@get("/api/sessions", summary="List sessions", tags=["sessions"], **PUBLIC, responses=PUBLIC_ERRORS)
async def list_sessions(
    request: Request,
    db: Db,
    limit: Annotated[int, QueryParameter(ge=1, le=200, description="page size")] = 50,
    cursor: Annotated[str | None, QueryParameter(description="the `next` value of the previous page")] = None,
    q: Annotated[str | None, QueryParameter(description="free text (Japanese substrings)")] = None,
    from_: Annotated[str | None, QueryParameter(name="from", description="first date, YYYY-MM-DD")] = None,
    to: Annotated[str | None, QueryParameter(description="last date, YYYY-MM-DD")] = None,
    kind: Annotated[str | None, QueryParameter(description="dialogue, round_table, workshop, ...")] = None,
    format: Annotated[str | None, QueryParameter(description="in_person, online or hybrid")] = None,
    childcare: Annotated[str | None, QueryParameter(description="1: only sessions offering childcare")] = None,
    accommodation: Annotated[str | None, QueryParameter(description="an accommodation code, e.g. sign_language")] = None,
    org: Annotated[str | None, QueryParameter(description="an organization's slug")] = None,
) -> SessionPage:
    """Published sessions in start order (an organizer's token also lists its own drafts)."""
    filters, errors = filters_from_query(request.query_params)
    if errors:
        raise InvalidInput([FieldError(name, message) for name, message in errors.items()])
    account = _account(request)
    scope: dict[str, Any] = {}
    if account:
        scope = {"all_drafts": True} if account.is_admin else {"drafts_of_org": account.org_id}
    sessions, next_cursor = await store.list_sessions(db, filters, limit=limit, cursor=cursor,
                                                      **scope)
    return SessionPage(items=[_out(request, s) for s in sessions], next=next_cursor)


@post("/api/sessions", summary="Create a session or a series", tags=["sessions"], **ORGANIZER,
      responses=ORGANIZER_ERRORS)
async def create_session(request: Request, data: JSONBody[SessionInput], account: CurrentAccount, db: Db) -> SessionOut:
    """Create a session; with `recurrence` every occurrence of the series is created (the first is returned)."""
    if not account.can_manage(account.org_id):
        raise PermissionDeniedException(detail=_("Your account cannot create sessions."))
    ids = await scheduling.create_sessions(db, account.org_id, data)
    return _out(request, await store.get_session(db, ids[0]))  # type: ignore[arg-type]


@get("/api/sessions/{session_id:int}", summary="Get a session", tags=["sessions"], **PUBLIC, responses=PUBLIC_ERRORS)
async def get_session(request: Request, session_id: FromPath[int]) -> SessionOut:
    return _out(request, await _visible(request, session_id))


@patch("/api/sessions/{session_id:int}", summary="Change a session", tags=["sessions"], **ORGANIZER,
       responses=ORGANIZER_ERRORS)
async def patch_session(request: Request, session_id: FromPath[int], data: JSONBody[SessionUpdate], session: NamedDependency[Session], db: Db) -> SessionOut:
    """Change some fields; `status` publishes, cancels or completes; one occurrence of a series changes alone."""
    if range_errors(data):  # before the new start moves deadlines (a far-off year would overflow)
        raise InvalidInput(range_errors(data))
    if data.theme_id is not msgspec.UNSET:  # the ledger's theme (論点整理), of the session's organization
        theme = await ledger_store.get_theme(db, data.theme_id) if data.theme_id is not None else None
        if data.theme_id is not None and (theme is None or theme.org_id != session.org.id):
            raise InvalidInput([FieldError("theme_id", N_("Choose a theme of the session's organization."))])
        await ledger_themes.attach_session(db, theme, session_id)
        data = msgspec.structs.replace(data, theme_id=msgspec.UNSET)
    if any(getattr(data, name) is not msgspec.UNSET for name in data.__struct_fields__):
        await scheduling.patch_session(db, session, data, notify=request.app.state.notify)
        await registration.refill_after_change(db, session_id, notify=request.app.state.notify)
    return _out(request, await store.get_session(db, session_id))  # type: ignore[arg-type]


@post("/api/sessions/{session_id:int}/duplicate", summary="Duplicate a session as a draft", tags=["sessions"],
      **ORGANIZER, responses=ORGANIZER_ERRORS)
async def duplicate_session(request: Request, session_id: FromPath[int], session: NamedDependency[Session], db: Db) -> SessionOut:
    new_id = await scheduling.duplicate_session(db, session)
    return _out(request, await store.get_session(db, new_id))  # type: ignore[arg-type]


@get("/api/series/{series_id:int}", summary="A series and its occurrences", tags=["sessions"], **PUBLIC,
     responses=PUBLIC_ERRORS)
async def get_series(request: Request, series_id: FromPath[int], db: Db) -> SeriesOut:
    series = await store.get_series(db, series_id)
    account = _account(request)
    drafts_ok = bool(account and series and account.can_see_drafts_of(series["org_id"]))
    occurrences = [s for s in await store.series_occurrences(db, series_id) if drafts_ok or s.status != "draft"]
    if series is None or not occurrences:
        raise NotFoundException(detail=_("There is no such series."))
    return SeriesOut(id=series_id, rrule=series["rrule"], timezone=series["timezone"],
                     occurrences=[_out(request, s) for s in occurrences])


@get("/api/orgs", summary="Organizations", tags=["organizations"], **PUBLIC)
async def list_orgs(request: Request, db: Db) -> list[OrganizationOut]:
    return [OrganizationOut(**{f: getattr(org, f) for f in OrganizationOut.__struct_fields__})
            for org in await store.list_orgs(db)]


@get("/api/venues", summary="Your organization's venues", tags=["venues"], **ORGANIZER,
     responses=ORGANIZER_ERRORS)
async def list_venues(request: Request, account: CurrentAccount, db: Db) -> list[VenueOut]:
    return [venue_out(v) for v in await store.list_venues(db, account.org_id)]


@post("/api/venues", summary="Create a venue", tags=["venues"], **ORGANIZER, responses=ORGANIZER_ERRORS)
async def create_venue(request: Request, data: JSONBody[VenueInput], account: CurrentAccount, db: Db) -> VenueOut:
    if not account.can_manage(account.org_id):
        raise PermissionDeniedException(detail=_("Your account cannot create venues."))
    venue_id = await scheduling.create_venue(db, account.org_id, data)
    return venue_out(await store.get_venue(db, venue_id))  # type: ignore[arg-type]


@get("/api/venues/{venue_id:int}", summary="Get a venue", tags=["venues"], **ORGANIZER,
     responses=ORGANIZER_ERRORS)
async def get_venue(venue_id: FromPath[int], venue: NamedDependency[Venue]) -> VenueOut:
    return venue_out(venue)


@patch("/api/venues/{venue_id:int}", summary="Replace a venue's details", tags=["venues"], **ORGANIZER,
       responses=ORGANIZER_ERRORS)
async def update_venue(request: Request, venue_id: FromPath[int], data: JSONBody[VenueInput], venue: NamedDependency[Venue], db: Db) -> VenueOut:
    await scheduling.change_venue(db, venue.id, data)
    return venue_out(await store.get_venue(db, venue_id))  # type: ignore[arg-type]


ROUTES = [list_sessions, create_session, get_session, patch_session, duplicate_session, get_series, list_orgs,
          list_venues, create_venue, get_venue, update_venue]
