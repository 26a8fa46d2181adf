"""Staff pages under /organize: the dashboard, sessions (and series), venues.

The organize router (server/organize/__init__.py) guards every route: a signed-in account; the
dependencies in server/auth/guards.py hand each handler only the session or venue it may change."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.di import Provide
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.di import NamedDependency

from server.auth.accounts import Account
from server.auth.guards import managed_series, seen_session
from server.core.errors import field_messages, form_with_errors
from server.core.forms import (
    CHILD_AGE_CHOICES, form_values, session_form_values, session_input_from_form, venue_form_values,
    venue_input_from_form,
)
from server.core.i18n import gettext as _
from server.auth.guards import Db, CurrentAccount
from server.organize.flash import redirect_with_flash
from sessions import message_store, registration, scheduling, store
from sessions import registration_store as rstore
from sessions.models import Session, SessionFilters, SessionInput, Venue
from sessions.validation import InvalidInput




# ---------------------------------------------------------------- dashboard

@get("/organize", include_in_schema=False)
async def dashboard(request: Request, account: CurrentAccount, db: Db) -> Template:
    org = account.org_id
    if account.is_admin and request.query_params.get("org"):
        chosen = await store.get_org_by_slug(db, request.query_params["org"])
        org = chosen.id if chosen else org
    now = store.now_utc()
    upcoming, _n = await store.list_sessions(db, SessionFilters(), org_id=org, all_drafts=True,
                                             upcoming_after=now, limit=200)
    past, _n = await store.list_sessions(db, SessionFilters(date_to=now.date()), org_id=org, all_drafts=True,
                                         limit=20, descending=True, cursor=None)
    past = [s for s in past if s.ends_at < now]
    return Template("pages/organize/dashboard.html", context={
        "org": await store.get_org(db, org), "upcoming": upcoming, "past": past,
        "drafts": [s for s in upcoming if s.status == "draft"],
        "orgs": await store.list_orgs(db) if account.is_admin else [],
        "can_manage": account.can_manage(org), "now": now})


# ---------------------------------------------------------------- sessions

async def _form_context(request: Request, org_id: int, values: dict[str, Any], errors: dict[str, str],
                        session: Session | None = None) -> dict[str, Any]:
    return {"values": values, "errors": errors, "session": session,
            "venues": await store.list_venues(request.app.state.db, org_id),
            "org": await store.get_org(request.app.state.db, org_id), "age_choices": CHILD_AGE_CHOICES}


async def _session_from_form(request: Request, org_id: int, values: dict[str, Any], *,
                             with_recurrence: bool) -> SessionInput:
    """The form's session, or InvalidInput with every problem (unreadable fields and broken rules)."""
    data, unreadable = session_input_from_form(values, with_recurrence=with_recurrence)
    if unreadable:
        raise InvalidInput(await scheduling.session_problems(request.app.state.db, org_id, data, unreadable))
    return data


@get("/organize/sessions/new", include_in_schema=False)
async def new_session_form(request: Request, acting_org: NamedDependency[int], db: Db) -> Template:
    org = await store.get_org(db, acting_org)
    defaults = {"contact_name": org.name if org else "", "contact_email": org.contact_email if org else "",
                "contact_phone": org.contact_phone if org else ""}
    return Template("pages/organize/session_form.html",
                    context=await _form_context(request, acting_org, session_form_values(None, defaults=defaults), {}))


@post("/organize/sessions/new", include_in_schema=False)
async def create_session(request: Request, acting_org: NamedDependency[int], db: Db) -> Template | Redirect:
    values = form_values(await request.form())
    try:
        data = await _session_from_form(request, acting_org, values, with_recurrence=True)
        ids = await scheduling.create_sessions(db, acting_org, data)
    except InvalidInput as invalid:
        return form_with_errors(request, "pages/organize/session_form.html", await _form_context(request, acting_org, values, field_messages(invalid.errors)))
    done = "published" if data.status == "published" else "saved"
    if len(ids) > 1:
        session = await store.get_session(db, ids[0])
        return redirect_with_flash(request, f"/organize/series/{session.series_id}", done)  # type: ignore[union-attr]
    return redirect_with_flash(request, f"/organize/sessions/{ids[0]}", done)


async def session_page_context(db: Any, account: Account, session: Session, **more: Any) -> dict[str, Any]:
    """What the organizer's session page shows: the session, whether the account may change it, the
    messages sent to its registrants and the form to send another (`more` overrides, e.g. errors)."""
    mailable, unreachable = await rstore.registrants_to_message(db, session.id)
    return {"session": session, "can_manage": account.can_manage(session.org.id), "now": store.now_utc(),
            "sent_messages": await message_store.session_messages(db, session.id),
            "audience": {"mail": len(mailable), "no_mail": unreachable},
            "message": {"form_key": secrets.token_urlsafe(16)}, "message_errors": {}, **more}


@get("/organize/sessions/{session_id:int}", include_in_schema=False,
     dependencies={"session": Provide(seen_session)})
async def session_overview(account: CurrentAccount, session: NamedDependency[Session], db: Db) -> Template:
    return Template("pages/organize/session.html", context=await session_page_context(db, account, session))


@get("/organize/sessions/{session_id:int}/edit", include_in_schema=False)
async def edit_session_form(request: Request, session_id: FromPath[int], session: NamedDependency[Session]) -> Template:
    return Template("pages/organize/session_form.html", context=await _form_context(
        request, session.org.id, session_form_values(session), {}, session))


@post("/organize/sessions/{session_id:int}/edit", include_in_schema=False)
async def update_session(request: Request, session_id: FromPath[int], session: NamedDependency[Session], db: Db) -> Template | Redirect:
    values = form_values(await request.form())
    try:
        data = await _session_from_form(request, session.org.id, values, with_recurrence=False)
        status = None
        if session.status == "draft" and values.get("action") != "publish":
            status = "draft"
        elif session.status == "published":
            status = "published"
        await scheduling.change_session(db, session, data, status=status, notify=request.app.state.notify)
        await registration.refill_after_change(db, session_id, notify=request.app.state.notify)
    except InvalidInput as invalid:
        return form_with_errors(request, "pages/organize/session_form.html", await _form_context(
            request, session.org.id, values, field_messages(invalid.errors), session))
    done = "published" if session.status == "draft" and status is None else "saved"
    return redirect_with_flash(request, f"/organize/sessions/{session_id}", done)


@post("/organize/sessions/{session_id:int}/publish", include_in_schema=False)
async def publish_session(request: Request, session_id: FromPath[int], account: CurrentAccount,
                          session: NamedDependency[Session], db: Db) -> Template | Redirect:
    try:
        await scheduling.publish_session(db, session)
    except InvalidInput as invalid:
        return form_with_errors(request, "pages/organize/session.html", await session_page_context(
            db, account, session, publish_errors=field_messages(invalid.errors)))
    return redirect_with_flash(request, f"/organize/sessions/{session_id}", "published")


@get("/organize/sessions/{session_id:int}/cancel", include_in_schema=False)
async def cancel_session_form(request: Request, session_id: FromPath[int], session: NamedDependency[Session]) -> Template:
    return Template("pages/organize/session_cancel.html", context={"session": session, "errors": {}})


@post("/organize/sessions/{session_id:int}/cancel", include_in_schema=False)
async def cancel_session(request: Request, session_id: FromPath[int], session: NamedDependency[Session], db: Db) -> Template | Redirect:
    values = form_values(await request.form())
    try:
        await scheduling.cancel_session(db, session, values.get("reason", ""), notify=request.app.state.notify)
    except InvalidInput as invalid:
        return form_with_errors(request, "pages/organize/session_cancel.html", {"session": session, "errors": field_messages(invalid.errors)})
    return redirect_with_flash(request, _back_from(session), "cancelled")


def _back_from(session: Session) -> str:
    """Where a change to one date lands: its series' page when it has one, else the session's."""
    return f"/organize/series/{session.series_id}" if session.series_id else f"/organize/sessions/{session.id}"


@post("/organize/sessions/{session_id:int}/duplicate", include_in_schema=False)
async def duplicate_session(request: Request, session_id: FromPath[int], session: NamedDependency[Session], db: Db) -> Redirect:
    new_id = await scheduling.duplicate_session(db, session)
    return redirect_with_flash(request, f"/organize/sessions/{new_id}/edit", "duplicated")


@get("/organize/sessions/{session_id:int}/move", include_in_schema=False)
async def move_form(request: Request, session_id: FromPath[int], session: NamedDependency[Session]) -> Template:
    values = session_form_values(session)
    return Template("pages/organize/session_move.html", context={"session": session, "values": values, "errors": {}})


@post("/organize/sessions/{session_id:int}/move", include_in_schema=False)
async def move_session(request: Request, session_id: FromPath[int], session: NamedDependency[Session], db: Db) -> Template | Redirect:
    values = form_values(await request.form())
    errors: dict[str, str] = {}
    try:
        day = date.fromisoformat(values.get("date", ""))
        starts = datetime.combine(day, datetime.strptime(values.get("start_time", ""), "%H:%M").time())
        ends = datetime.combine(day, datetime.strptime(values.get("end_time", ""), "%H:%M").time())
        await scheduling.move_occurrence(db, session, starts, ends, notify=request.app.state.notify)
    except ValueError:
        errors["date"] = _("Enter a date such as 2026-11-23 and times such as 14:00.")
    except InvalidInput as invalid:
        errors = field_messages(invalid.errors)
    if errors:
        return form_with_errors(request, "pages/organize/session_move.html",
                                {"session": session, "values": values, "errors": errors})
    return redirect_with_flash(request, _back_from(session), "moved")


@get("/organize/series/{series_id:int}", include_in_schema=False)
async def series_page(series_id: FromPath[int], account: CurrentAccount, series: NamedDependency[Any], db: Db) -> Template:
    occurrences = await store.series_occurrences(db, series_id)
    return Template("pages/organize/series.html", context={
        "series": series, "occurrences": occurrences, "can_manage": account.can_manage(series["org_id"]),
        "now": store.now_utc()})


@post("/organize/series/{series_id:int}/publish", include_in_schema=False,
      dependencies={"series": Provide(managed_series)})
async def publish_series(request: Request, series_id: FromPath[int], series: NamedDependency[Any], db: Db) -> Template | Redirect:
    """Publish every draft occurrence of a series at once."""
    occurrences = await store.series_occurrences(db, series_id)
    errors: dict[str, str] = {}
    for occurrence in occurrences:
        if occurrence.status == "draft":
            try:
                await scheduling.publish_session(db, occurrence)
            except InvalidInput as invalid:
                errors = field_messages(invalid.errors)
                break
    if errors:
        return form_with_errors(request, "pages/organize/series.html", {
            "series": series, "occurrences": await store.series_occurrences(db, series_id), "can_manage": True,
            "publish_errors": errors, "now": store.now_utc()})
    return redirect_with_flash(request, f"/organize/series/{series_id}", "published")


# ---------------------------------------------------------------- venues

@get("/organize/venues", include_in_schema=False)
async def venue_list(acting_org: NamedDependency[int], db: Db) -> Template:
    return Template("pages/organize/venues.html", context={
        "venues": await store.list_venues(db, acting_org),
        "org": await store.get_org(db, acting_org)})


@get("/organize/venues/new", include_in_schema=False)
async def new_venue_form(acting_org: NamedDependency[int]) -> Template:
    return Template("pages/organize/venue_form.html", context={"values": venue_form_values(None), "errors": {},
                                                               "venue": None})


@post("/organize/venues/new", include_in_schema=False)
async def create_venue(request: Request, account: CurrentAccount, acting_org: NamedDependency[int], db: Db) -> Template | Redirect:
    values = form_values(await request.form())
    try:
        await scheduling.create_venue(db, acting_org, venue_input_from_form(values))
    except InvalidInput as invalid:
        return form_with_errors(request, "pages/organize/venue_form.html", {"values": values, "errors": field_messages(invalid.errors), "venue": None})
    return redirect_with_flash(request, _venues_page(request), "saved")


def _venues_page(request: Request) -> str:
    """The venue list a saved venue lands on (an admin's ?org= choice kept)."""
    org = request.query_params.get("org")
    return f"/organize/venues?{urlencode({'org': org})}" if org else "/organize/venues"


@get("/organize/venues/{venue_id:int}/edit", include_in_schema=False)
async def edit_venue_form(request: Request, venue_id: FromPath[int], venue: NamedDependency[Venue]) -> Template:
    return Template("pages/organize/venue_form.html",
                    context={"values": venue_form_values(venue), "errors": {}, "venue": venue})


@post("/organize/venues/{venue_id:int}/edit", include_in_schema=False)
async def update_venue(request: Request, venue_id: FromPath[int], venue: NamedDependency[Venue], db: Db) -> Template | Redirect:
    values = form_values(await request.form())
    try:
        await scheduling.change_venue(db, venue.id, venue_input_from_form(values))
    except InvalidInput as invalid:
        return form_with_errors(request, "pages/organize/venue_form.html", {"values": values, "errors": field_messages(invalid.errors), "venue": venue})
    return redirect_with_flash(request, _venues_page(request), "saved")


ROUTES = [
    dashboard, new_session_form, create_session, session_overview, edit_session_form,
    update_session, publish_session, cancel_session_form, cancel_session, duplicate_session, move_form,
    move_session, series_page, publish_series, venue_list, new_venue_form, create_venue, edit_venue_form,
    update_venue,
]
