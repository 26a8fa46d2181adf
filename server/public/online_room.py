"""The online room (/r/{token}/room): one page for a registrant who joins online, from the start
window on: the meeting link, the live captions, the session's live board with its current poll
and Q&A — the same board and the same captions the room uses.

The registrant joins the board as an anonymous participant (their name is not shown to others);
the participant token is derived from the registration, so every visit is the same participant.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta
from typing import Any

from litestar import Request, get
from litestar.datastructures import Cookie
from litestar.params import FromPath
from litestar.response import Template

from realtime import store as board_store
from realtime.board import Actor
from realtime.captions import VIEWING_AFTER_END_HOURS
from realtime.store import Board
from server.auth.board_access import participant_actor, participant_cookie
from server.core.i18n import gettext as _
from server.public.boards import board_context
from server.public.captions import captions_band
from server.public.registration import own_registration
from sessions import store

ROOM_OPENS_BEFORE = timedelta(minutes=30)


def room_token(secret: str, registration_id: int, board_id: int) -> str:
    """The registrant's participant token on a board: the same on every visit, unguessable without the secret."""
    digest = hmac.new(secret.encode(), f"online-room:{registration_id}:{board_id}".encode(), hashlib.sha256).digest()
    return "bp_" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def room_participant(request: Request, registration_id: int, board: Board) -> tuple[Actor, str]:
    """The registrant as a participant of the board (made on the first visit)."""
    db = request.app.state.db
    token = room_token(request.app.state.secret, registration_id, board.id)
    row = await board_store.participant_by_token(db, token)
    if row is None:
        async with db.transaction() as conn:
            await board_store.add_participant(conn, board.id, _("Anonymous"), "online", token=token)
        row = await board_store.participant_by_token(db, token)
    return participant_actor(row), token


@get("/r/{token:str}/room", include_in_schema=False)
async def online_room(request: Request, token: FromPath[str]) -> Template:
    found, session = await own_registration(request, token)
    now = store.now_utc()
    opens = session.starts_at - ROOM_OPENS_BEFORE
    closes = session.ends_at + timedelta(hours=VIEWING_AFTER_END_HOURS)
    allowed = found.mode == "online" and found.status in ("confirmed", "attended") and session.offers_online
    context: dict[str, Any] = {"registration": found, "session": session, "token": token, "allowed": allowed,
                               "opens": opens, "is_open": allowed and opens <= now <= closes, "ended": now > closes,
                               "captions": None, "board": None}
    if not context["is_open"]:
        return Template("pages/online_room.html", context=context)
    db = request.app.state.db
    context["captions"] = await captions_band(db, session.id)
    boards = await board_store.session_boards(db, session.id)
    cookies = []
    if boards:
        board = boards[-1]  # the board the room is working on: the newest of the session
        actor, participant_token = await room_participant(request, found.id, board)
        context.update(await board_context(request, board, actor))
        context.update(mode="participant", board_token=participant_token, js=True)
        cookies.append(Cookie(key=participant_cookie(board.id), value=participant_token, httponly=True,
                              samesite="lax", secure=request.app.state.settings.secure_cookies,
                              path=f"/boards/{board.id}", max_age=7 * 24 * 3600))
    return Template("pages/online_room.html", context=context, cookies=cookies)


ROUTES = [online_room]
