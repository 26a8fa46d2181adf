"""A theme's public page (論点整理, /themes/{slug}): its sessions and the city's responses in time
order, each issue with its opinions and responses oldest first, counts and a filter by status (a plain
GET form); its Atom feed and CSV; and following it by mail (double opt-in, one-click unsubscribe).

Only published themes exist here (anything else is 404, the same for everyone), and only published
responses. Open to all; following is limited per client (`follow`).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template

from ledger import following, open_data, rules, store
from ledger.models import SOURCES, STATUSES, UNANSWERED, UNANSWERED_LABEL, Theme
from server.auth.guards import Db
from server.auth.limits import client_key
from server.core import mail
from server.core.errors import check_limit, field_messages, form_with_errors
from server.core.forms import form_values
from server.core.i18n import current_locale, format_day
from server.core.i18n import gettext as _
from server.core.spreadsheet import csv_bytes
from sessions import store as session_store
from sessions.timestamps import from_db
from sessions.validation import InvalidInput

NO_STORE = {"Cache-Control": "no-store"}


async def public_theme(db: Any, slug: str) -> Theme:
    """A published theme by slug; an unknown or unpublished one is the same 404 for everyone."""
    theme = await store.published_theme(db, slug[:100])
    if theme is None:
        raise NotFoundException(detail=_("There is no such theme."))
    return theme


def status_labels() -> dict[str, str]:
    return {**{code: _(label) for code, label in STATUSES.items()}, UNANSWERED: _(UNANSWERED_LABEL)}


async def _page_context(request: Request, db: Any, theme: Theme, **extra: Any) -> dict[str, Any]:
    sessions = [{"id": row["id"], "title": row["title_en"] if current_locale.get() == "en" and row["title_en"]
                 else row["title"], "starts_at": from_db(row["starts_at"]), "timezone": row["timezone"],
                 "status": row["status"]} for row in await store.theme_sessions(db, theme.id, public=True)]
    issues = await store.theme_issues(db, theme.id, drafts=False)
    status = request.query_params.get("status") or ""
    status = status if status in (*STATUSES, UNANSWERED) else ""
    return {
        "theme": theme, "org": await session_store.get_org(db, theme.org_id), "sessions": sessions,
        "session_titles": {s["id"]: s["title"] for s in sessions}, "counts": rules.status_counts(issues),
        "issues": rules.with_status(issues, status or None), "all_issues": len(issues), "status": status,
        "timeline": rules.timeline(sessions, issues), "status_labels": status_labels(),
        "source_labels": {code: _(label) for code, label in SOURCES.items()}, "on_day": format_day,
        "values": {}, "errors": {}, **extra,
    }


@get("/themes/{slug:str}", include_in_schema=False)
async def theme_page(request: Request, slug: FromPath[str], db: Db) -> Template:
    theme = await public_theme(db, slug)
    return Template("pages/theme.html", context=await _page_context(request, db, theme))


@get("/themes/{slug:str}/feed.atom", include_in_schema=False)
async def theme_feed(request: Request, slug: FromPath[str], db: Db) -> Response[bytes]:
    """An entry per published response (drafts never), newest first."""
    theme = await public_theme(db, slug)
    org = await session_store.get_org(db, theme.org_id)
    body = open_data.atom_feed(theme, await store.published_responses(db, theme.id),
                               base_url=request.app.state.settings.base_url, org_name=org.name if org else "",
                               gettext=_)
    return Response(body, media_type="application/atom+xml; charset=utf-8", headers=NO_STORE)


@get("/themes/{slug:str}/export.csv", include_in_schema=False)
async def theme_csv(request: Request, slug: FromPath[str], db: Db) -> Response[bytes]:
    """Open data: a row per opinion and per published response of each issue (UTF-8 with BOM)."""
    theme = await public_theme(db, slug)
    rows = open_data.csv_rows(await store.theme_issues(db, theme.id, drafts=False))
    return Response(csv_bytes(open_data.CSV_COLUMNS, rows), media_type="text/csv; charset=utf-8", headers={
        **NO_STORE, "Content-Disposition": f'attachment; filename="theme-{theme.slug}.csv"'})


# ---------------------------------------------------------------- following by mail

@post("/themes/{slug:str}/follow", include_in_schema=False)
async def follow(request: Request, slug: FromPath[str], db: Db) -> Template:
    """Ask to follow: the same answer whether the address is new, waiting or following already."""
    theme = await public_theme(db, slug)
    values = form_values(await request.form())
    email = str(values.get("email", ""))
    try:
        following.checked_email(email)
    except InvalidInput as invalid:
        return form_with_errors(request, "pages/theme.html", await _page_context(
            request, db, theme, values={"email": email[:254]}, errors=field_messages(invalid.errors)))
    await check_limit(request, "follow", client_key(request), _(
        "Too many requests to follow from here. Please wait {wait} and try again."))
    await following.request_follow(db, theme, email, locale=current_locale.get(),
                                   secret=request.app.state.secret,
                                   ask=mail.follow_confirmation(request.app.state.settings))
    return Template("pages/theme_follow.html", context={"theme": theme, "state": "asked"})


@get("/themes/{slug:str}/follow/{token:str}", include_in_schema=False)
async def confirm_form(request: Request, slug: FromPath[str], token: FromPath[str], db: Db) -> Template:
    """The link in the confirmation mail opens a button (a mail scanner that follows links confirms nothing)."""
    theme = await public_theme(db, slug)
    found = await following.follower_of(db, theme, token)
    state = "confirm" if found is not None and found["confirmed_at"] is None else "following" if found else "unknown"
    return Template("pages/theme_follow.html", context={"theme": theme, "state": state, "token": token},
                    status_code=404 if found is None else 200, headers=NO_STORE)


@post("/themes/{slug:str}/follow/{token:str}", include_in_schema=False)
async def confirm(request: Request, slug: FromPath[str], token: FromPath[str], db: Db) -> Template:
    theme = await public_theme(db, slug)
    confirmed = await following.confirm(db, theme, token)
    state = "following" if confirmed else "unknown"
    return Template("pages/theme_follow.html", context={"theme": theme, "state": state},
                    status_code=200 if confirmed else 404)


@get("/themes/{slug:str}/unsubscribe/{token:str}", include_in_schema=False)
async def unsubscribe_form(request: Request, slug: FromPath[str], token: FromPath[str], db: Db) -> Template:
    theme = await public_theme(db, slug)
    found = await following.follower_of(db, theme, token)
    return Template("pages/theme_follow.html", context={
        "theme": theme, "state": "unsubscribe" if found else "unsubscribed", "token": token}, headers=NO_STORE)


@post("/themes/{slug:str}/unsubscribe/{token:str}", include_in_schema=False)
async def unsubscribe(request: Request, slug: FromPath[str], token: FromPath[str], db: Db) -> Template:
    """One click (RFC 8058: mail programs POST `List-Unsubscribe=One-Click` here, without a CSRF token);
    a token already used or unknown gets the same answer."""
    theme = await public_theme(db, slug)
    await following.unsubscribe(db, theme, token)
    return Template("pages/theme_follow.html", context={"theme": theme, "state": "unsubscribed"})


ROUTES = [theme_page, theme_feed, theme_csv, follow, confirm_form, confirm, unsubscribe_form, unsubscribe]
