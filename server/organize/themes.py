"""The ledger's staff pages (論点整理): themes (/organize/themes), a theme's sessions, opinions and
issues, an issue's responses (appended as drafts, then published), and the two views of what is
owed: issues without any response, and issues to answer before the theme's next session.

The organize router guards every route (a signed-in account); the `theme`, `issue` and `response`
dependencies hand a handler only what the account may change (another organization's is 404, a
facilitator's 403). The rules live in ledger/.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from ledger import rules, store, themes
from ledger.models import (
    SOURCES,
    STAFF_SOURCES,
    STATUSES,
    UNANSWERED,
    UNANSWERED_LABEL,
    IssueInput,
    OpinionInput,
    ResponseInput,
    Theme,
    ThemeInput,
    ThemeUpdate,
)
from server.auth.guards import CurrentAccount, Db
from server.core import mail
from server.core.errors import field_messages, form_with_errors
from server.core.forms import form_values
from server.core.i18n import format_day
from server.core.i18n import gettext as _
from server.organize.flash import redirect_with_flash
from sessions.timestamps import from_db, now_utc
from sessions.validation import InvalidInput


def _ids(form: Any, name: str) -> list[int]:
    """The checked ids of a checkbox list (anything that is not a number is ignored)."""
    return [int(v) for v in form.getall(name) if str(v).isdigit() and len(str(v)) < 12] if name in form else []


def _labels() -> dict[str, Any]:
    return {"status_labels": {**{c: _(l) for c, l in STATUSES.items()}, UNANSWERED: _(UNANSWERED_LABEL)},
            "source_labels": {c: _(l) for c, l in SOURCES.items()}, "staff_sources": STAFF_SOURCES,
            "on_day": format_day, "from_db": from_db}


# ---------------------------------------------------------------- themes

@get("/organize/themes", include_in_schema=False)
async def theme_list(request: Request, account: CurrentAccount, db: Db) -> Template:
    return Template("pages/organize/themes.html", context={
        "themes": await store.org_themes(db, account.org_id), "values": {"published": "1"}, "errors": {}})


@post("/organize/themes", include_in_schema=False)
async def create_theme(request: Request, account: CurrentAccount, db: Db) -> Template | Redirect:
    if not account.can_manage(account.org_id):
        raise PermissionDeniedException(detail=_("Your account cannot change this theme."))
    values = form_values(await request.form())
    data = ThemeInput(title=values.get("title", ""), description=values.get("description", ""),
                      slug=values.get("slug") or None, published=values.get("published") == "1")
    try:
        theme = await themes.create_theme(db, account.org_id, data)
    except InvalidInput as invalid:
        errors = field_messages(invalid.errors)
    except themes.SlugTaken:
        errors = {"slug": _("Another theme already has this address.")}
    else:
        return redirect_with_flash(request, f"/organize/themes/{theme.id}", "saved")
    return form_with_errors(request, "pages/organize/themes.html", {
        "themes": await store.org_themes(db, account.org_id), "values": values, "errors": errors})


async def _theme_context(db: Any, theme: Theme, **extra: Any) -> dict[str, Any]:
    org_sessions = await store.org_sessions(db, theme.org_id)
    return {"theme": theme, "sessions": await store.theme_sessions(db, theme.id, public=False),
            "org_sessions": org_sessions, "session_titles": {row["id"]: row["title"] for row in org_sessions},
            "opinions": await store.theme_opinions(db, theme.id),
            "issues": await store.theme_issues(db, theme.id, drafts=True),
            "followers": await store.follower_count(db, theme.id),
            "today": themes.today().isoformat(), "values": {}, "errors": {}, "opinion_values": {"source": "paper"},
            "opinion_errors": {}, "issue_values": {}, "issue_errors": {}, **_labels(), **extra}


@get("/organize/themes/{theme_id:int}", include_in_schema=False)
async def theme_page(theme_id: FromPath[int], theme: NamedDependency[Theme], db: Db) -> Template:
    return Template("pages/organize/theme.html", context=await _theme_context(db, theme))


@post("/organize/themes/{theme_id:int}", include_in_schema=False)
async def change_theme(request: Request, theme_id: FromPath[int], theme: NamedDependency[Theme],
                       db: Db) -> Template | Redirect:
    values = form_values(await request.form())
    try:
        await themes.change_theme(db, theme, ThemeUpdate(title=values.get("title", ""),
                                                         description=values.get("description", ""),
                                                         published=values.get("published") == "1"))
    except InvalidInput as invalid:
        return form_with_errors(request, "pages/organize/theme.html", await _theme_context(
            db, theme, values=values, errors=field_messages(invalid.errors)))
    return redirect_with_flash(request, f"/organize/themes/{theme.id}", "saved")


@post("/organize/themes/{theme_id:int}/sessions", include_in_schema=False)
async def set_sessions(request: Request, theme_id: FromPath[int], theme: NamedDependency[Theme],
                       db: Db) -> Redirect:
    """The checked sessions of the organization belong to the theme; unchecked ones leave it."""
    chosen = set(_ids(await request.form(), "session"))
    for row in await store.org_sessions(db, theme.org_id):
        if row["id"] in chosen and row["theme_id"] != theme.id:
            await themes.attach_session(db, theme, row["id"])
        elif row["id"] not in chosen and row["theme_id"] == theme.id:
            await themes.attach_session(db, None, row["id"])
    return redirect_with_flash(request, f"/organize/themes/{theme.id}#sessions", "saved")


@post("/organize/themes/{theme_id:int}/opinions", include_in_schema=False)
async def add_opinion(request: Request, theme_id: FromPath[int], theme: NamedDependency[Theme],
                      db: Db) -> Template | Redirect:
    """An opinion typed in from paper, mail, phone or a public comment, with its source and date."""
    values = form_values(await request.form())
    errors: dict[str, str] = {}
    received_on = None
    try:
        received_on = date.fromisoformat(values.get("received_on", "")) if values.get("received_on") else None
    except ValueError:
        errors["received_on"] = _("Enter a valid date.")
    session_id = int(values["session_id"]) if str(values.get("session_id", "")).isdigit() else None
    if not errors:
        try:
            typed = OpinionInput(text=values.get("text", ""), source=values.get("source", ""),
                                 session_id=session_id, received_on=received_on)
            await themes.add_opinion(db, theme, typed)
        except InvalidInput as invalid:
            errors = field_messages(invalid.errors)
    if errors:
        return form_with_errors(request, "pages/organize/theme.html", await _theme_context(
            db, theme, opinion_values=values, opinion_errors=errors))
    return redirect_with_flash(request, f"/organize/themes/{theme.id}#opinions", "saved")


@post("/organize/themes/{theme_id:int}/issues", include_in_schema=False)
async def raise_issue(request: Request, theme_id: FromPath[int], theme: NamedDependency[Theme],
                      db: Db) -> Template | Redirect:
    form = await request.form()
    values = form_values(form)
    try:
        issue_id = await themes.raise_issue(db, theme, IssueInput(title=values.get("issue_title", ""),
                                                                  opinion_ids=_ids(form, "opinion")))
    except InvalidInput as invalid:
        errors = {("issue_title" if name == "title" else name): message
                  for name, message in field_messages(invalid.errors).items()}
        return form_with_errors(request, "pages/organize/theme.html", await _theme_context(
            db, theme, issue_values={**values, "opinion": _ids(form, "opinion")}, issue_errors=errors))
    return redirect_with_flash(request, f"/organize/issues/{issue_id}", "saved")


# ---------------------------------------------------------------- what is owed

async def _view(db: Any, theme: Theme, view: str) -> Template:
    issues = await store.theme_issues(db, theme.id, drafts=True)
    sessions = await store.theme_sessions(db, theme.id, public=False)
    now = now_utc()
    upcoming = [row for row in sessions if from_db(row["starts_at"]) > now and row["status"] != "cancelled"]
    held = [row for row in sessions if from_db(row["starts_at"]) <= now]
    next_session = upcoming[0] if upcoming else None
    if view == "unanswered":
        shown = rules.unanswered(issues)
    else:
        shown = rules.due_before(issues, next_session_id=next_session["id"] if next_session else None,
                                 last_session_start=from_db(held[-1]["starts_at"]) if held else None)
    return Template("pages/organize/theme_view.html", context={
        "theme": theme, "view": view, "issues": shown, "next_session": next_session,
        "last_session": held[-1] if held else None, **_labels()})


@get("/organize/themes/{theme_id:int}/unanswered", include_in_schema=False)
async def unanswered(theme_id: FromPath[int], theme: NamedDependency[Theme], db: Db) -> Template:
    """Issues without any response, draft or published."""
    return await _view(db, theme, "unanswered")


@get("/organize/themes/{theme_id:int}/due", include_in_schema=False)
async def due(theme_id: FromPath[int], theme: NamedDependency[Theme], db: Db) -> Template:
    """Issues whose latest response is older than the last session: to answer before the next one."""
    return await _view(db, theme, "due")


# ---------------------------------------------------------------- an issue and its responses

async def _issue_context(db: Any, issue: Any, **extra: Any) -> dict[str, Any]:
    theme = await store.get_theme(db, issue["theme_id"])
    assert theme is not None
    full = next(i for i in await store.theme_issues(db, theme.id, drafts=True) if i.id == issue["id"])
    inside = {o.id for o in full.opinions}
    sessions = await store.theme_sessions(db, theme.id, public=False)
    return {"theme": theme, "issue": full, "sessions": sessions,
            "session_titles": {row["id"]: row["title"] for row in sessions},
            "other_opinions": [o for o in await store.theme_opinions(db, theme.id) if o.id not in inside],
            "values": {"publish": "1"}, "errors": {}, **_labels(), **extra}


@get("/organize/issues/{issue_id:int}", include_in_schema=False)
async def issue_page(issue_id: FromPath[int], issue: NamedDependency[Any], db: Db) -> Template:
    return Template("pages/organize/issue.html", context=await _issue_context(db, issue))


@post("/organize/issues/{issue_id:int}/responses", include_in_schema=False)
async def append_response(request: Request, issue_id: FromPath[int], issue: NamedDependency[Any],
                          account: CurrentAccount, db: Db) -> Template | Redirect:
    """Append a response: a draft, or published at once (then the followers are mailed)."""
    values = form_values(await request.form())
    session_id = int(values["session_id"]) if str(values.get("session_id", "")).isdigit() else None
    data = ResponseInput(body=values.get("body", ""), status=values.get("status", ""),
                         department=values.get("department", ""), session_id=session_id,
                         publish=values.get("publish") == "1")
    try:
        await themes.append_response(db, issue, data, author_id=account.id,
                                     tell=mail.response_notice(request.app.state.settings))
    except InvalidInput as invalid:
        return form_with_errors(request, "pages/organize/issue.html", await _issue_context(
            db, issue, values=values, errors=field_messages(invalid.errors)))
    return redirect_with_flash(request, f"/organize/issues/{issue['id']}#responses",
                               "published" if data.publish else "saved")


@post("/organize/issues/{issue_id:int}/opinions", include_in_schema=False)
async def add_to_issue(request: Request, issue_id: FromPath[int], issue: NamedDependency[Any],
                       db: Db) -> Template | Redirect:
    try:
        await themes.add_to_issue(db, issue, _ids(await request.form(), "opinion"))
    except InvalidInput as invalid:
        return form_with_errors(request, "pages/organize/issue.html", await _issue_context(
            db, issue, opinion_errors=field_messages(invalid.errors)))
    return redirect_with_flash(request, f"/organize/issues/{issue['id']}#opinions", "saved")


@post("/organize/responses/{response_id:int}/publish", include_in_schema=False)
async def publish_response(request: Request, response_id: FromPath[int], response: NamedDependency[Any],
                           db: Db) -> Redirect:
    """Publish a draft (publishing twice changes nothing)."""
    await themes.publish_response(db, response_id, tell=mail.response_notice(request.app.state.settings))
    return redirect_with_flash(request, f"/organize/issues/{response['issue_id']}#response-{response_id}", "published")


ROUTES = [theme_list, create_theme, theme_page, change_theme, set_sessions, add_opinion, raise_issue, unanswered, due,
          issue_page, append_response, add_to_issue, publish_response]
