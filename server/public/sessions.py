"""Public pages for residents: upcoming sessions, the filterable list, a session, an organization."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from litestar.plugins.htmx import HTMXRequest
from litestar import Request, get
from litestar.datastructures import Cookie
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from ledger import store as ledger_store
from realtime import store as board_store
from server.core.redirects import local_path
from server.core.i18n import LOCALES, gettext as _, translate
from readings import store as reading_store
from server.core.middleware import ERA_COOKIE, LANG_COOKIE
from sessions import evaluation_store
from sessions import store
from sessions.catalog import ACCOMMODATIONS, FORMATS, KINDS
from sessions.models import Session, SessionFilters
from sessions.registration import registration_open
from sessions.validation import RANGE_MESSAGE, RANGE_PARAMS, in_year_range

PAGE_SIZE = 20
ONE_YEAR = 365 * 24 * 3600


def is_fragment(request: HTMXRequest, target: str) -> bool:
    """True when htmx asks for one region of the page (the same partial the page includes)."""
    return bool(request.htmx) and request.htmx.target == target


def _printable(text: str) -> str:
    """Search text without control characters (a NUL ends an FTS5 string early: a 500, not a search)."""
    return "".join(char if char.isprintable() else " " for char in text)


def filters_from_query(params: Any) -> tuple[SessionFilters, dict[str, str]]:
    """Filters from /sessions' query string; unreadable values are dropped with a message."""
    errors: dict[str, str] = {}

    def day(name: str) -> date | None:
        raw = (params.get(name) or "").strip()
        if not raw:
            return None
        try:
            value = date.fromisoformat(raw)
        except ValueError:
            errors[name] = _("Enter a date such as 2026-11-23.")
            return None
        if not in_year_range(value):  # a day more or less than 9999-12-31 is no date at all: a 500
            errors[name] = translate(RANGE_MESSAGE, RANGE_PARAMS)
            return None
        return value

    def choice(name: str, choices: dict[str, str]) -> str:
        raw = (params.get(name) or "").strip()
        if raw and raw not in choices:
            errors[name] = _("Choose one of the options.")
            return ""
        return raw

    filters = SessionFilters(
        q=_printable(params.get("q") or "").strip()[:200], date_from=day("from"), date_to=day("to"),
        kind=choice("kind", KINDS), format=choice("format", FORMATS),
        childcare=(params.get("childcare") or "") in ("1", "on", "true"),
        accommodation=choice("accommodation", ACCOMMODATIONS), org=(params.get("org") or "").strip()[:100],
    )
    if filters.date_from and filters.date_to and filters.date_to < filters.date_from:
        errors["to"] = _("The end date must not be before the start date.")
    return filters, errors


def filter_params(filters: SessionFilters) -> dict[str, str]:
    """The query parameters that reproduce a set of filters (for shareable links and feeds)."""
    return {key: value for key, value in {
        "q": filters.q, "from": filters.date_from.isoformat() if filters.date_from else "",
        "to": filters.date_to.isoformat() if filters.date_to else "", "kind": filters.kind,
        "format": filters.format, "childcare": "1" if filters.childcare else "",
        "accommodation": filters.accommodation, "org": filters.org,
    }.items() if value}


def viewer_scope(request: Request) -> dict[str, Any]:
    """Which drafts the signed-in account may see in listings."""
    account = request.scope["state"].get("account")
    if account is None:
        return {}
    return {"all_drafts": True} if account.is_admin else {"drafts_of_org": account.org_id}


async def visible_session(request: Request, session_id: int) -> Session:
    """A session the reader may see: drafts only to their organization (others get 404)."""
    session = await store.get_session(request.app.state.db, session_id)
    account = request.scope["state"].get("account")
    if session is None or (session.status == "draft" and not (account and account.can_see_drafts_of(session.org.id))):
        raise NotFoundException()
    return session


@get("/", include_in_schema=False)
async def home(request: Request) -> Template:
    db = request.app.state.db
    upcoming, _next = await store.list_sessions(db, SessionFilters(), upcoming_after=store.now_utc(),
                                                statuses=("published", "cancelled"), limit=6)
    return Template("pages/home.html", context={"sessions": upcoming, "orgs": await store.list_orgs(db)})


def without_empty_params(request: Request) -> str | None:
    """The same address without its empty parameters (`?theme=&childcare=1` → `?childcare=1`), or
    None when it has none: links people share stay short and say only what was chosen."""
    items = list(request.query_params.multi_items())
    kept = [(key, value) for key, value in items if value.strip()]
    if len(kept) == len(items):
        return None
    return request.url.path + (f"?{urlencode(kept)}" if kept else "")


@get("/sessions", include_in_schema=False)
async def session_list(request: HTMXRequest) -> Template | Redirect:
    clean = without_empty_params(request)
    if clean is not None and not request.htmx:
        return Redirect(path=clean, status_code=303)
    db = request.app.state.db
    filters, errors = filters_from_query(request.query_params)
    cursor = request.query_params.get("cursor") or None
    scope = {"upcoming_after": store.now_utc(), "statuses": ("published", "cancelled", "completed"),
             **viewer_scope(request)}
    sessions, next_cursor = await store.list_sessions(db, filters, limit=PAGE_SIZE, cursor=cursor, **scope)
    context = {"sessions": sessions, "next_cursor": next_cursor, "filters": filters,
               "params": filter_params(filters), "errors": errors, "orgs": await store.list_orgs(db),
               "total": await store.count_sessions(db, filters, **scope), "fragment": False}
    # htmx puts the address it asked for in the location bar: the clean one instead
    headers = {"HX-Push-Url": clean} if clean is not None else {}
    if is_fragment(request, "session-results"):
        return Template("partials/_session_results.html", context={**context, "fragment": True}, headers=headers)
    return Template("pages/sessions.html", context=context, headers=headers)


@get("/sessions/{session_id:int}", include_in_schema=False)
async def session_detail(request: Request, session_id: FromPath[int]) -> Template:
    session = await visible_session(request, session_id)
    series = []
    if session.series_id:
        series = [s for s in await store.series_occurrences(request.app.state.db, session.series_id)
                  if s.status != "draft" and s.ends_at >= store.now_utc()][:6]
    closed = registration_open(session, store.now_utc())
    outcomes = [b for b in await board_store.session_boards(request.app.state.db, session.id) if b.outcome_published]
    easy = await reading_store.easy_summary(request.app.state.db, session.id)
    evaluation = await evaluation_store.evaluation_for_session(request.app.state.db, session.id)
    return Template("pages/session_detail.html", context={
        "session": session, "series": series, "outcomes": outcomes, "now": store.now_utc(),
        "registration_closed": closed, "easy_summary": easy,
        "theme": await ledger_store.public_theme_of_session(request.app.state.db, session.id),
        "evaluation_published": bool(evaluation and evaluation.results_published)})


@get("/orgs/{slug:str}", include_in_schema=False)
async def organization_page(request: Request, slug: FromPath[str]) -> Template:
    db = request.app.state.db
    org = await store.get_org_by_slug(db, slug)
    if org is None:
        raise NotFoundException()
    sessions, _next = await store.list_sessions(db, SessionFilters(org=slug), upcoming_after=store.now_utc(),
                                                statuses=("published", "cancelled"), limit=50)
    return Template("pages/organization.html", context={"org": org, "sessions": sessions})


@get("/lang/{code:str}", include_in_schema=False)
async def switch_language(request: Request, code: FromPath[str]) -> Redirect:
    """Remember the reader's language for a year and go back to where they were."""
    if code not in LOCALES:
        raise NotFoundException()
    settings = request.app.state.settings
    return Redirect(path=local_path(request.query_params.get("next")), status_code=303, cookies=[
        Cookie(key=LANG_COOKIE, value=code, max_age=ONE_YEAR, httponly=True, samesite="lax",
               secure=settings.secure_cookies)])


@get("/era/{mode:str}", include_in_schema=False)
async def switch_era(request: Request, mode: FromPath[str]) -> Redirect:
    """Show years as 令和 (wareki) or in the Western calendar (seireki)."""
    if mode not in ("wareki", "seireki"):
        raise NotFoundException()
    settings = request.app.state.settings
    return Redirect(path=local_path(request.query_params.get("next")), status_code=303, cookies=[
        Cookie(key=ERA_COOKIE, value=mode, max_age=ONE_YEAR, httponly=True, samesite="lax",
               secure=settings.secure_cookies)])


ROUTES = [home, session_list, session_detail, organization_page, switch_language, switch_era]
