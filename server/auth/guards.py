"""Who may reach a route, declared once per router, and the dependencies that hand a handler only
what its caller may act on.

Guards answer before the body is read: `staff` (a signed-in account, else the sign-in page),
`admins`, and `api_tokens` (every /api operation needs an organizer's bearer token unless its
handler is marked `opt={"public": True}`, so a new operation is closed until someone opens it).
The dependencies turn a path id into the object (a session, venue, board) or refuse: another
organization's object is 404, one the account may see but not change is 403.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath

from ledger import store as ledger_store
from ledger.models import Theme
from realtime import store as board_store
from realtime.store import Board
from server.auth.accounts import Account
from server.auth.board_access import can_facilitate
from server.core.i18n import gettext as _
from sessions import evaluation_store, registration_store, store
from sessions.evaluation import Evaluation
from sessions.models import Session, Venue

PUBLIC = {"public": True}  # opt of an /api handler that anyone may call

# what a handler may ask for by name
Db = NamedDependency[Any]
CurrentAccount = NamedDependency[Account]
Viewer = NamedDependency[Account | None]


def account_of(connection: ASGIConnection) -> Account | None:
    """The signed-in account (pages: login cookie; /api: bearer token), or None."""
    return connection.scope["state"].get("account")


def staff(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
    """Guard: staff pages need a signed-in account; anonymous visitors are sent to sign in."""
    if account_of(connection) is None:
        raise NotAuthorizedException()


def admins(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Guard: the administration pages are for admins only."""
    staff(connection, handler)
    if not account_of(connection).is_admin:  # type: ignore[union-attr]
        raise PermissionDeniedException()


def managers(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Guard: pages with support needs or settings are for organizers and admins, not facilitators."""
    staff(connection, handler)
    account = account_of(connection)
    if not account.can_manage(account.org_id):  # type: ignore[union-attr]
        raise PermissionDeniedException()


def api_tokens(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Guard: /api operations answer 401 without an organizer's token, unless marked public."""
    if handler.opt.get("public"):
        return
    if account_of(connection) is None:
        raise NotAuthorizedException(detail=_("Send an API token: Authorization: Bearer <token>."))


# ---------------------------------------------------------------- dependencies

def provide_db(state: State) -> Any:
    """The app's database."""
    return state.db


def provide_account(request: Request) -> Account:
    """The signed-in account (routers that provide it guard that there is one)."""
    account = account_of(request)
    if account is None:
        raise NotAuthorizedException()
    return account


def provide_viewer(request: Request) -> Account | None:
    """The signed-in account if any (public routes that show more to staff)."""
    return account_of(request)


async def managed_session(db: Db, account: CurrentAccount, session_id: FromPath[int]) -> Session:
    """A session the account may change; another organization's session is 404, a facilitator's 403."""
    session = await store.get_session(db, session_id)
    if session is None or not account.can_see_drafts_of(session.org.id):
        raise NotFoundException(detail=_("There is no such session."))
    if not account.can_manage(session.org.id):
        raise PermissionDeniedException(detail=_("Your account cannot change this session."))
    return session


async def seen_session(db: Db, account: CurrentAccount, session_id: FromPath[int]) -> Session:
    """A session of the account's organization (facilitators too), for pages that only read or run it."""
    session = await store.get_session(db, session_id)
    if session is None or not account.can_see_drafts_of(session.org.id):
        raise NotFoundException(detail=_("There is no such session."))
    return session


async def seen_series(db: Db, account: CurrentAccount, series_id: FromPath[int]) -> Any:
    """A series of the account's organization."""
    series = await store.get_series(db, series_id)
    if series is None or not account.can_see_drafts_of(series["org_id"]):
        raise NotFoundException()
    return series


async def managed_series(db: Db, account: CurrentAccount, series_id: FromPath[int]) -> Any:
    """A series the account may change."""
    series = await seen_series(db, account, series_id)
    if not account.can_manage(series["org_id"]):
        raise PermissionDeniedException()
    return series


async def support_request(db: Db, account: CurrentAccount, request_id: FromPath[int]) -> Any:
    """An accommodation or childcare request (with its session's ids) the account may answer."""
    row = await registration_store.request_with_session(db, request_id)
    if row is None or not account.can_see_drafts_of(row["org_id"]):
        raise NotFoundException()
    if not account.can_manage(row["org_id"]):
        raise PermissionDeniedException()
    return row


async def managed_venue(db: Db, account: CurrentAccount, venue_id: FromPath[int]) -> Venue:
    """A venue the account may change (same rules as sessions)."""
    venue = await store.get_venue(db, venue_id)
    if venue is None or not account.can_see_drafts_of(venue.org_id):
        raise NotFoundException(detail=_("There is no such venue."))
    if not account.can_manage(venue.org_id):
        raise PermissionDeniedException(detail=_("Your account cannot change this venue."))
    return venue


async def acting_org(request: Request, db: Db, account: CurrentAccount) -> int:
    """The organization a new session or venue belongs to (admins may pick one with ?org=)."""
    slug = request.query_params.get("org")
    if account.is_admin and slug:
        org = await store.get_org_by_slug(db, slug)
        if org is None:
            raise NotFoundException()
        return org.id
    if not account.can_manage(account.org_id):
        raise PermissionDeniedException()
    return account.org_id


async def facilitated_board(db: Db, account: CurrentAccount, board_id: FromPath[int]) -> Board:
    """A board the account facilitates (its organization's); any other board is 404. Read from the
    database, not this process's cache: another process may have just changed its outcome flags."""
    board = await board_store.get_board(db, board_id)
    if board is None or not await can_facilitate(db, account, board_id):
        raise NotFoundException(detail=_("There is no such board."))
    return board


async def managed_evaluation(db: Db, account: CurrentAccount, evaluation_id: FromPath[int]) -> Evaluation:
    """An evaluation of a session the account may change: answers are for the session's organizers only
    (another organization's is 404, a facilitator's 403)."""
    owner = await evaluation_store.org_of_evaluation(db, evaluation_id)
    if owner is None or not account.can_see_drafts_of(owner[0]):
        raise NotFoundException(detail=_("There is no such evaluation."))
    if not account.can_manage(owner[0]):
        raise PermissionDeniedException(detail=_("Only the session's organizers see its evaluation."))
    evaluation = await evaluation_store.get_evaluation(db, evaluation_id)
    assert evaluation is not None
    return evaluation


def _theme_of_org(account: Any, found: Any, org_id: int | None, missing: str) -> Any:
    """What a ledger route changes, if the account may change its theme: another organization's (or
    nothing) is 404 with `missing`, a facilitator's 403."""
    if found is None or org_id is None or not account.can_see_drafts_of(org_id):
        raise NotFoundException(detail=missing)
    if not account.can_manage(org_id):
        raise PermissionDeniedException(detail=_("Your account cannot change this theme."))
    return found


async def managed_theme(db: Db, account: CurrentAccount, theme_id: FromPath[int]) -> Theme:
    """A ledger theme the account may change; another organization's theme is 404, a facilitator's 403."""
    theme = await ledger_store.get_theme(db, theme_id)
    return _theme_of_org(account, theme, theme.org_id if theme else None, _("There is no such theme."))


async def managed_issue(db: Db, account: CurrentAccount, issue_id: FromPath[int]) -> Any:
    """An issue (with its theme's org_id and slug) of a theme the account may change."""
    issue = await ledger_store.issue_row(db, issue_id)
    return _theme_of_org(account, issue, issue["org_id"] if issue else None, _("There is no such issue."))


async def managed_response(db: Db, account: CurrentAccount, response_id: FromPath[int]) -> Any:
    """A response (with its issue and theme) of a theme the account may change."""
    response = await ledger_store.response_row(db, response_id)
    return _theme_of_org(account, response, response["org_id"] if response else None,
                         _("There is no such response."))


# every handler may ask for `db` and `viewer` (app level); staff routers add `account`
APP_DEPENDENCIES = {"db": Provide(provide_db, sync_to_thread=False),
                    "viewer": Provide(provide_viewer, sync_to_thread=False)}
STAFF = {"account": Provide(provide_account, sync_to_thread=False)}
