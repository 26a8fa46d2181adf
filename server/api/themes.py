"""The ledger's JSON API (論点整理): themes, opinions, issues and responses for organizers, and a
published theme as open data for anyone (`GET /api/themes/{slug}`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec
from litestar import Request, get, patch, post
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from ledger import open_data, store, themes
from ledger.models import (
    IssueInput,
    OpinionInput,
    ResponseInput,
    Theme,
    ThemeInput,
    ThemeUpdate,
)
from server.api.sessions import ORGANIZER, PUBLIC, PUBLIC_ERRORS
from server.auth.guards import CurrentAccount, Db
from server.core import mail
from server.core.errors import Conflict, error_responses
from server.core.i18n import gettext as _
from server.public.themes import public_theme

ERRORS = error_responses(400, 401, 403, 404, 409, 422)


class ThemeCreated(msgspec.Struct):
    id: int
    slug: str
    title: str
    published: bool
    url: str


class Created(msgspec.Struct):
    id: int


class OpinionIds(msgspec.Struct):
    opinion_ids: list[int]


class SessionRef(msgspec.Struct):
    id: int
    title: str
    starts_at: datetime


class OpinionOut(msgspec.Struct, omit_defaults=True):
    id: int
    text: str
    source: str
    received_on: date
    session_id: int | None = None


class ResponseOut(msgspec.Struct, omit_defaults=True):
    id: int
    body: str
    status: str
    published_at: datetime
    department: str = ""
    session_id: int | None = None


class IssueOut(msgspec.Struct):
    id: int
    title: str
    status: str | None  # that of the latest published response; null while none is published
    opinions: list[OpinionOut]
    responses: list[ResponseOut]


class ThemeData(msgspec.Struct):
    """A published theme as open data (only published responses; optional fields absent when empty)."""

    slug: str
    title: str
    description: str
    url: str
    sessions: list[SessionRef]
    counts: dict[str, int]
    issues: list[IssueOut]


class Published(msgspec.Struct):
    id: int
    published: bool


def _theme_out(request: Request, theme: Theme) -> ThemeCreated:
    return ThemeCreated(id=theme.id, slug=theme.slug, title=theme.title, published=theme.published,
                        url=f"{request.app.state.settings.base_url}/themes/{theme.slug}")


@get("/api/themes", summary="Your organization's themes", tags=["ledger"], **ORGANIZER, responses=ERRORS)
async def list_themes(request: Request, account: CurrentAccount, db: Db) -> list[ThemeCreated]:
    return [_theme_out(request, theme) for theme in await store.org_themes(db, account.org_id)]


@post("/api/themes", summary="Create a theme", tags=["ledger"], status_code=HTTP_201_CREATED, **ORGANIZER,
      responses=ERRORS)
async def create_theme(request: Request, data: JSONBody[ThemeInput], account: CurrentAccount, db: Db) -> ThemeCreated:
    """A policy topic with a public page (`published: false` keeps it from the public everywhere)."""
    if not account.can_manage(account.org_id):
        raise PermissionDeniedException(detail=_("Your account cannot change this theme."))
    try:
        theme = await themes.create_theme(db, account.org_id, data)
    except themes.SlugTaken:
        raise Conflict(detail=_("Another theme already has this address.")) from None
    return _theme_out(request, theme)


@patch("/api/themes/{theme_id:int}/settings", summary="Change a theme", tags=["ledger"], **ORGANIZER,
       responses=ERRORS)
async def change_theme(request: Request, theme_id: FromPath[int], data: JSONBody[ThemeUpdate],
                       theme: NamedDependency[Theme], db: Db) -> ThemeCreated:
    """Change the title, the description, or `published` (false hides the theme from the public)."""
    return _theme_out(request, await themes.change_theme(db, theme, data))


@post("/api/themes/{theme_id:int}/opinions", summary="Add an opinion", tags=["ledger"],
      status_code=HTTP_201_CREATED, **ORGANIZER, responses=ERRORS)
async def add_opinion(theme_id: FromPath[int], data: JSONBody[OpinionInput], theme: NamedDependency[Theme],
                      db: Db) -> Created:
    """What a resident said, with its source and date; never who said it."""
    return Created(id=await themes.add_opinion(db, theme, data))


@post("/api/themes/{theme_id:int}/issues", summary="Group opinions under an issue", tags=["ledger"],
      status_code=HTTP_201_CREATED, **ORGANIZER, responses=ERRORS)
async def raise_issue(theme_id: FromPath[int], data: JSONBody[IssueInput], theme: NamedDependency[Theme],
                      db: Db) -> Created:
    return Created(id=await themes.raise_issue(db, theme, data))


@post("/api/issues/{issue_id:int}/opinions", summary="Put more opinions under an issue", tags=["ledger"],
      status_code=HTTP_200_OK, **ORGANIZER, responses=ERRORS)
async def add_to_issue(issue_id: FromPath[int], data: JSONBody[OpinionIds], issue: NamedDependency[Any],
                       db: Db) -> Created:
    await themes.add_to_issue(db, issue, data.opinion_ids)
    return Created(id=issue_id)


@post("/api/issues/{issue_id:int}/responses", summary="Append the city's response", tags=["ledger"],
      status_code=HTTP_201_CREATED, **ORGANIZER, responses=ERRORS)
async def append_response(request: Request, issue_id: FromPath[int], data: JSONBody[ResponseInput],
                          issue: NamedDependency[Any], account: CurrentAccount, db: Db) -> Created:
    """Responses are appended, never edited (a correction is a new response); `publish: false` keeps a draft."""
    response_id = await themes.append_response(db, issue, data, author_id=account.id,
                                               tell=mail.response_notice(request.app.state.settings))
    return Created(id=response_id)


@post("/api/responses/{response_id:int}/publish", summary="Publish a draft response", tags=["ledger"],
      status_code=HTTP_200_OK, **ORGANIZER, responses=ERRORS)
async def publish_response(request: Request, response_id: FromPath[int], response: NamedDependency[Any],
                           db: Db) -> Published:
    """Publish once; publishing again changes nothing (409)."""
    if not await themes.publish_response(db, response_id, tell=mail.response_notice(request.app.state.settings)):
        raise Conflict(detail=_("This response is already published."))
    return Published(id=response_id, published=True)


@get("/api/themes/{slug:str}", summary="A theme as open data", tags=["ledger"], **PUBLIC, responses=PUBLIC_ERRORS)
async def theme_data(request: Request, slug: FromPath[str], db: Db) -> ThemeData:
    """Sessions, issues with their opinions and published responses (oldest first), counts per status."""
    theme = await public_theme(db, slug)
    data = open_data.theme_json(theme, await store.theme_sessions(db, theme.id, public=True),
                                await store.theme_issues(db, theme.id, drafts=False),
                                base_url=request.app.state.settings.base_url)
    return msgspec.convert(data, ThemeData, strict=False)


ROUTES = [list_themes, create_theme, change_theme, add_opinion, raise_issue, add_to_issue, append_response,
          publish_response, theme_data]
