"""Who may use a board: participants by their token, facilitators by login or API token."""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

from server.auth import accounts
from server.core import i18n
from server.core.middleware import LANG_COOKIE, LOGIN_COOKIE
from realtime import store as board_store
from realtime.board import Actor
from realtime.namespace import Joined

PARTICIPANT_COOKIE = "taiwa_bp"


def participant_cookie(board_id: int) -> str:
    return f"{PARTICIPANT_COOKIE}_{board_id}"


def facilitator_actor(account: accounts.Account) -> Actor:
    return Actor(id=f"f{account.id}", name=account.display_name or account.email.split("@")[0], facilitator=True)


def participant_actor(row: Any) -> Actor:
    return Actor(id=row["id"], name=row["display_name"], place="room" if row["place"] == "room" else "online")


async def can_facilitate(db: Any, account: accounts.Account | None, board_id: int) -> bool:
    """Organizers and facilitators of the board's organization (and admins) run it."""
    if account is None:
        return False
    board = await board_store.get_board(db, board_id)
    return board is not None and (account.is_admin or account.org_id == board.org_id)


def _environ_cookies(environ: dict[str, Any]) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(environ.get("HTTP_COOKIE", ""))
    except Exception:  # noqa: BLE001 - a malformed header is no cookies
        return {}
    return {key: morsel.value for key, morsel in jar.items()}


def authenticator(db: Any):  # noqa: ANN201 - returns the namespace's Authenticate callable
    """The socket handshake check: a participant token (bound to its board), an organizer's API
    token with `board`, or the organizer's login cookie with `board`."""

    async def authenticate(auth: dict[str, Any], environ: dict[str, Any]) -> Joined | None:
        cookies = _environ_cookies(environ)
        locale = auth.get("lang") if auth.get("lang") in i18n.LOCALES else i18n.pick_locale(
            cookies.get(LANG_COOKIE), None, environ.get("HTTP_ACCEPT_LANGUAGE"), api=True)
        token = auth.get("token") if isinstance(auth.get("token"), str) else ""
        board_id = auth.get("board") if isinstance(auth.get("board"), int) else None
        if token.startswith("bp_"):
            row = await board_store.participant_by_token(db, token[:200])
            if row is None or (board_id is not None and row["board_id"] != board_id):
                return None
            return Joined(board_id=row["board_id"], actor=participant_actor(row), locale=locale, place=row["place"])
        if board_id is None:
            return None
        account = None
        if token.startswith("tw_"):
            account = await accounts.account_for_api_token(db, token[:200])
        elif not token and cookies.get(LOGIN_COOKIE):
            account = await accounts.account_for_login(db, cookies[LOGIN_COOKIE])
        if account is None or not await can_facilitate(db, account, board_id):
            return None
        return Joined(board_id=board_id, actor=facilitator_actor(account), locale=locale, place="room")

    return authenticate


def translate_for(message: str, params: dict[str, Any], locale: str) -> str:
    """Translate a board message id in a given locale (socket clients carry their own)."""
    token = i18n.current_locale.set(locale if locale in i18n.LOCALES else "ja")
    try:
        return i18n.translate(message, params)
    finally:
        i18n.current_locale.reset(token)
