"""Organizer pages: sign in, the dashboard, sessions (and series), venues."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from litestar import Request, get, post
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from server.auth import accounts
from server.auth.accounts import Account
from server.core.errors import TooManyRequests, field_messages, form_with_errors
from server.core.forms import (
    CHILD_AGE_CHOICES, form_values, session_form_values, session_input_from_form, venue_form_values,
    venue_input_from_form,
)
from server.i18n import current_locale
from server.i18n import gettext as _
from server.core.middleware import LOGIN_COOKIE, _cookies
from server.public.sessions import _local_path
from server.auth.limits import wait_text
from sessions import registration, scheduling, store
from sessions.models import Session, SessionFilters, SessionInput
from sessions.validation import InvalidInput



def signed_in(request: Request) -> Account:
    """The signed-in account; anonymous visitors are sent to the login page."""
    account = request.scope["state"].get("account")
    if account is None:
        raise NotAuthorizedException()
    return account


async def managed_session(request: Request, session_id: int) -> tuple[Account, Session]:
    """A session the signed-in account may change; another organization's session is 404."""
    account = signed_in(request)
    session = await store.get_session(request.app.state.db, session_id)
    if session is None or not account.can_see_drafts_of(session.org.id):
        raise NotFoundException()
    if not account.can_manage(session.org.id):
        raise PermissionDeniedException()
    return account, session


async def acting_org(request: Request, account: Account) -> int:
    """The organization a new session or venue belongs to (admins may pick one with ?org=)."""
    slug = request.query_params.get("org")
    if account.is_admin and slug:
        org = await store.get_org_by_slug(request.app.state.db, slug)
        if org is None:
            raise NotFoundException()
        return org.id
    if not account.can_manage(account.org_id):
        raise PermissionDeniedException()
    return account.org_id


# ---------------------------------------------------------------- signing in

@get("/organize/login", include_in_schema=False)
async def login_form(request: Request) -> Template:
    return Template("pages/organize/login.html", context={"next": _local_path(request.query_params.get("next")),
                                                          "values": {}, "error": ""})


@post("/organize/login", include_in_schema=False)
async def login(request: Request) -> Template | Redirect:
    values = form_values(await request.form())
    email = values.get("email", "").strip().lower()
    client = request.client.host if request.client else "unknown"
    target = _local_path(values.get("next"))
    if target == "/":
        target = "/organize"
    throttles = request.app.state.login_throttles
    wait = max(throttles["account"].retry_after(email), throttles["client"].retry_after(client))
    if wait:
        raise TooManyRequests(detail=_("Too many failed sign-in attempts. Please wait {wait} and try again.").format(
            wait=wait_text(wait, current_locale.get())))
    db = request.app.state.db
    account = await accounts.check_password(db, email, values.get("password", ""))
    if account is None:
        throttles["account"].record(email)
        throttles["client"].record(client)
        return Template("pages/organize/login.html", context={
            "next": target, "values": {"email": values.get("email", "")},
            "error": _("The email address or password is not correct.")})
    throttles["account"].clear(email)
    old = _cookies(request.scope).get(LOGIN_COOKIE)
    async with db.transaction() as conn:
        if old:
            await accounts.end_login(conn, old)  # a new session id at every login
        token = await accounts.start_login(conn, account.id)
    settings = request.app.state.settings
    return Redirect(path=target, status_code=303, cookies=[Cookie(
        key=LOGIN_COOKIE, value=token, httponly=True, samesite="lax", secure=settings.secure_cookies,
        max_age=int(accounts.LOGIN_LIFETIME.total_seconds()), path="/")])


@post("/organize/logout", include_in_schema=False)
async def logout(request: Request) -> Redirect:
    token = _cookies(request.scope).get(LOGIN_COOKIE)
    if token:
        async with request.app.state.db.transaction() as conn:
            await accounts.end_login(conn, token)
    return Redirect(path="/", status_code=303, cookies=[Cookie(key=LOGIN_COOKIE, value="", max_age=0, path="/")])


# ---------------------------------------------------------------- dashboard

@get("/organize", include_in_schema=False)
async def dashboard(request: Request) -> Template:
    account = signed_in(request)
    db = request.app.state.db
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
        "can_manage": account.can_manage(org)})


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
async def new_session_form(request: Request) -> Template:
    account = signed_in(request)
    org_id = await acting_org(request, account)
    org = await store.get_org(request.app.state.db, org_id)
    defaults = {"contact_name": org.name if org else "", "contact_email": org.contact_email if org else "",
                "contact_phone": org.contact_phone if org else ""}
    return Template("pages/organize/session_form.html",
                    context=await _form_context(request, org_id, session_form_values(None, defaults=defaults), {}))


@post("/organize/sessions/new", include_in_schema=False)
async def create_session(request: Request) -> Template | Redirect:
    account = signed_in(request)
    org_id = await acting_org(request, account)
    values = form_values(await request.form())
    try:
        data = await _session_from_form(request, org_id, values, with_recurrence=True)
        ids = await scheduling.create_sessions(request.app.state.db, org_id, data)
    except InvalidInput as invalid:
        return form_with_errors(request, "pages/organize/session_form.html", await _form_context(request, org_id, values, field_messages(invalid.errors)))
    if len(ids) > 1:
        session = await store.get_session(request.app.state.db, ids[0])
        return Redirect(path=f"/organize/series/{session.series_id}", status_code=303)  # type: ignore[union-attr]
    return Redirect(path=f"/organize/sessions/{ids[0]}", status_code=303)


@get("/organize/sessions/{session_id:int}", include_in_schema=False)
async def session_overview(request: Request, session_id: FromPath[int]) -> Template:
    account = signed_in(request)
    session = await store.get_session(request.app.state.db, session_id)
    if session is None or not account.can_see_drafts_of(session.org.id):
        raise NotFoundException()
    return Template("pages/organize/session.html", context={
        "session": session, "can_manage": account.can_manage(session.org.id)})


@get("/organize/sessions/{session_id:int}/edit", include_in_schema=False)
async def edit_session_form(request: Request, session_id: FromPath[int]) -> Template:
    _account, session = await managed_session(request, session_id)
    return Template("pages/organize/session_form.html", context=await _form_context(
        request, session.org.id, session_form_values(session), {}, session))


@post("/organize/sessions/{session_id:int}/edit", include_in_schema=False)
async def update_session(request: Request, session_id: FromPath[int]) -> Template | Redirect:
    _account, session = await managed_session(request, session_id)
    values = form_values(await request.form())
    try:
        data = await _session_from_form(request, session.org.id, values, with_recurrence=False)
        status = None
        if session.status == "draft" and values.get("action") != "publish":
            status = "draft"
        elif session.status == "published":
            status = "published"
        await scheduling.change_session(request.app.state.db, session, data, status=status)
        await registration.refill_after_change(request.app.state.db, session_id, notify=request.app.state.notify)
    except InvalidInput as invalid:
        return form_with_errors(request, "pages/organize/session_form.html", await _form_context(
            request, session.org.id, values, field_messages(invalid.errors), session))
    return Redirect(path=f"/organize/sessions/{session_id}", status_code=303)


@post("/organize/sessions/{session_id:int}/publish", include_in_schema=False)
async def publish_session(request: Request, session_id: FromPath[int]) -> Template | Redirect:
    _account, session = await managed_session(request, session_id)
    try:
        await scheduling.publish_session(request.app.state.db, session)
    except InvalidInput as invalid:
        return form_with_errors(request, "pages/organize/session.html", {
            "session": session, "can_manage": True, "publish_errors": field_messages(invalid.errors)})
    return Redirect(path=f"/organize/sessions/{session_id}", status_code=303)


@get("/organize/sessions/{session_id:int}/cancel", include_in_schema=False)
async def cancel_session_form(request: Request, session_id: FromPath[int]) -> Template:
    _account, session = await managed_session(request, session_id)
    return Template("pages/organize/session_cancel.html", context={"session": session, "errors": {}})


@post("/organize/sessions/{session_id:int}/cancel", include_in_schema=False)
async def cancel_session(request: Request, session_id: FromPath[int]) -> Template | Redirect:
    _account, session = await managed_session(request, session_id)
    values = form_values(await request.form())
    try:
        await scheduling.cancel_session(request.app.state.db, session, values.get("reason", ""))
    except InvalidInput as invalid:
        return form_with_errors(request, "pages/organize/session_cancel.html", {"session": session, "errors": field_messages(invalid.errors)})
    if session.series_id:
        return Redirect(path=f"/organize/series/{session.series_id}", status_code=303)
    return Redirect(path=f"/organize/sessions/{session_id}", status_code=303)


@post("/organize/sessions/{session_id:int}/duplicate", include_in_schema=False)
async def duplicate_session(request: Request, session_id: FromPath[int]) -> Redirect:
    _account, session = await managed_session(request, session_id)
    new_id = await scheduling.duplicate_session(request.app.state.db, session)
    return Redirect(path=f"/organize/sessions/{new_id}/edit", status_code=303)


@get("/organize/sessions/{session_id:int}/move", include_in_schema=False)
async def move_form(request: Request, session_id: FromPath[int]) -> Template:
    _account, session = await managed_session(request, session_id)
    values = session_form_values(session)
    return Template("pages/organize/session_move.html", context={"session": session, "values": values, "errors": {}})


@post("/organize/sessions/{session_id:int}/move", include_in_schema=False)
async def move_session(request: Request, session_id: FromPath[int]) -> Template | Redirect:
    _account, session = await managed_session(request, session_id)
    values = form_values(await request.form())
    errors: dict[str, str] = {}
    try:
        day = date.fromisoformat(values.get("date", ""))
        starts = datetime.combine(day, datetime.strptime(values.get("start_time", ""), "%H:%M").time())
        ends = datetime.combine(day, datetime.strptime(values.get("end_time", ""), "%H:%M").time())
        await scheduling.move_occurrence(request.app.state.db, session, starts, ends)
    except ValueError:
        errors["date"] = _("Enter a date such as 2026-11-23 and times such as 14:00.")
    except InvalidInput as invalid:
        errors = field_messages(invalid.errors)
    if errors:
        return form_with_errors(request, "pages/organize/session_move.html",
                                {"session": session, "values": values, "errors": errors})
    if session.series_id:
        return Redirect(path=f"/organize/series/{session.series_id}", status_code=303)
    return Redirect(path=f"/organize/sessions/{session_id}", status_code=303)


@get("/organize/series/{series_id:int}", include_in_schema=False)
async def series_page(request: Request, series_id: FromPath[int]) -> Template:
    account = signed_in(request)
    db = request.app.state.db
    series = await store.get_series(db, series_id)
    if series is None or not account.can_see_drafts_of(series["org_id"]):
        raise NotFoundException()
    occurrences = await store.series_occurrences(db, series_id)
    return Template("pages/organize/series.html", context={
        "series": series, "occurrences": occurrences, "can_manage": account.can_manage(series["org_id"])})


@post("/organize/series/{series_id:int}/publish", include_in_schema=False)
async def publish_series(request: Request, series_id: FromPath[int]) -> Template | Redirect:
    """Publish every draft occurrence of a series at once."""
    account = signed_in(request)
    db = request.app.state.db
    series = await store.get_series(db, series_id)
    if series is None or not account.can_see_drafts_of(series["org_id"]):
        raise NotFoundException()
    if not account.can_manage(series["org_id"]):
        raise PermissionDeniedException()
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
            "publish_errors": errors})
    return Redirect(path=f"/organize/series/{series_id}", status_code=303)


# ---------------------------------------------------------------- venues

@get("/organize/venues", include_in_schema=False)
async def venue_list(request: Request) -> Template:
    account = signed_in(request)
    org_id = await acting_org(request, account)
    return Template("pages/organize/venues.html", context={
        "venues": await store.list_venues(request.app.state.db, org_id),
        "org": await store.get_org(request.app.state.db, org_id)})


@get("/organize/venues/new", include_in_schema=False)
async def new_venue_form(request: Request) -> Template:
    account = signed_in(request)
    await acting_org(request, account)
    return Template("pages/organize/venue_form.html", context={"values": venue_form_values(None), "errors": {},
                                                               "venue": None})


@post("/organize/venues/new", include_in_schema=False)
async def create_venue(request: Request) -> Template | Redirect:
    account = signed_in(request)
    org_id = await acting_org(request, account)
    values = form_values(await request.form())
    try:
        await scheduling.create_venue(request.app.state.db, org_id, venue_input_from_form(values))
    except InvalidInput as invalid:
        return form_with_errors(request, "pages/organize/venue_form.html", {"values": values, "errors": field_messages(invalid.errors), "venue": None})
    return Redirect(path="/organize/venues", status_code=303)


async def _managed_venue(request: Request, venue_id: int) -> Any:
    account = signed_in(request)
    venue = await store.get_venue(request.app.state.db, venue_id)
    if venue is None or not account.can_see_drafts_of(venue.org_id):
        raise NotFoundException()
    if not account.can_manage(venue.org_id):
        raise PermissionDeniedException()
    return venue


@get("/organize/venues/{venue_id:int}/edit", include_in_schema=False)
async def edit_venue_form(request: Request, venue_id: FromPath[int]) -> Template:
    venue = await _managed_venue(request, venue_id)
    return Template("pages/organize/venue_form.html",
                    context={"values": venue_form_values(venue), "errors": {}, "venue": venue})


@post("/organize/venues/{venue_id:int}/edit", include_in_schema=False)
async def update_venue(request: Request, venue_id: FromPath[int]) -> Template | Redirect:
    venue = await _managed_venue(request, venue_id)
    values = form_values(await request.form())
    try:
        await scheduling.change_venue(request.app.state.db, venue.id, venue_input_from_form(values))
    except InvalidInput as invalid:
        return form_with_errors(request, "pages/organize/venue_form.html", {"values": values, "errors": field_messages(invalid.errors), "venue": venue})
    return Redirect(path="/organize/venues", status_code=303)


ROUTES = [
    login_form, login, logout, dashboard, new_session_form, create_session, session_overview, edit_session_form,
    update_session, publish_session, cancel_session_form, cancel_session, duplicate_session, move_form,
    move_session, series_page, publish_series, venue_list, new_venue_form, create_venue, edit_venue_form,
    update_venue,
]
