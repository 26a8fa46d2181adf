"""Who may join a board by its code, and how often: the join page (/j/{code}) and
POST /api/boards/{id}/participants share these rules.

- A code that names no board, and the code of a board whose session is still a draft (to anyone
  outside its organization), answer alike and name nothing. Both count as a wrong lookup; a client
  over `join_lookup` is refused every lookup, right or wrong, so the answer never tells which codes
  exist. It stays on with TAIWA_RATE_LIMITS=off, like login throttling: it guards a secret.
- While the facilitator has closed joining (`board:joining`), nobody new joins (409).
- Joins per client and board are limited (`join`, off with TAIWA_RATE_LIMITS=off for load tests).
- The board's facilitators are exempt from both; they need no code.
- Each participant keeps a short code of the connection it joined from (`connection_code`), so the
  facilitator's console can show many participants coming from one connection.
"""

from __future__ import annotations

import hashlib
import hmac

from litestar import Request

from realtime import store as board_store
from realtime.store import Board
from server.auth.board_access import can_facilitate
from server.auth.limits import client_key, wait_text
from server.core.errors import Conflict, TooManyRequests
from server.core.i18n import current_locale, gettext as _
from sessions import store


def _refuse(wait: int, message: str) -> None:
    """429 when there is a `wait`; `message` (translated) says how long in {wait}."""
    if wait:
        raise TooManyRequests(detail=message.format(wait=wait_text(wait, current_locale.get())))


async def _seen_by(request: Request, board: Board) -> bool:
    """Whether the board's session is public, or a draft the signed-in account's organization owns."""
    session = await store.get_session(request.app.state.db, board.session_id)
    if session is None or session.status != "draft":
        return session is not None
    account = request.scope["state"].get("account")
    return account is not None and account.can_see_drafts_of(session.org.id)


async def board_for_code(request: Request, board: Board | None, code: str) -> Board | None:
    """`board` when `code` is its join code and its session can be seen; else None, counted as a
    wrong lookup. A client with too many wrong lookups is refused (429) before anything is compared."""
    limits = request.app.state.shared_limits  # one count for every process
    counter = ("join_lookup", client_key(request))
    _refuse(await limits.wait(counter), _("Too many wrong join codes from this connection. Please wait {wait} and "
                                          "check the six digits on the screen."))
    given = code.encode("utf-8", "replace")  # a lone surrogate from escaped JSON is just a wrong code
    if board is None or not hmac.compare_digest(given, board.join_code.encode()) or not await _seen_by(request, board):
        await limits.take(counter)
        return None
    return board


async def facilitates(request: Request, board: Board) -> bool:
    """Whether the signed-in account (login or API token) runs this board."""
    return await can_facilitate(request.app.state.db, request.scope["state"].get("account"), board.id)


async def closed_notice(request: Request, board: Board) -> str:
    """Why nobody new may join now, or "" (joining is open). Read from the board's log, so every
    process agrees."""
    if (await request.app.state.board_service.state(board.id)).joining_open:
        return ""
    return _("Joining this board is closed. Please ask the facilitator.")


def connection_code(request: Request, board: Board) -> str:
    """Six hex digits naming the client's connection on one board, shown to facilitators instead of the
    address: keyed with the app's secret and different on every board, and so short that about 256
    IPv4 addresses share each code, so even with the secret it points at no one address."""
    message = f"{board.id} {client_key(request)}".encode()
    return hmac.new(request.app.state.secret.encode(), message, hashlib.sha256).hexdigest()[:6]


async def _count_join(request: Request, board: Board) -> None:
    if not request.app.state.settings.rate_limits:
        return
    taken = await request.app.state.shared_limits.take(("join", f"{board.id} {client_key(request)}"))
    _refuse(taken.wait, _("Many people have joined this board from this connection in a short time. "
                          "Please wait {wait} and join again."))


async def admit(request: Request, board: Board, name: str, place: str) -> tuple[str, str]:
    """A new participant of `board`: (participant id, token). Refused while joining is closed (409)
    and over the `join` limit (429), unless the board's facilitator adds them."""
    connection = ""
    if not await facilitates(request, board):
        closed = await closed_notice(request, board)
        if closed:
            raise Conflict(detail=closed)
        await _count_join(request, board)
        connection = connection_code(request, board)
    async with request.app.state.db.transaction() as conn:
        return await board_store.add_participant(conn, board.id, name, place, connection)
