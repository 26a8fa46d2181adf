"""The JSON API for boards: create boards, let participants in, export the outcome."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED

from realtime import store as board_store
from server.api import ORGANIZER, _organizer
from server.board_access import can_facilitate
from server.boards import EXPORT_FORMATS, board_errors, create_board, export_answer
from server.i18n import gettext as _
from sessions import store
from sessions.validation import FieldError, InvalidInput


class BoardCreate(msgspec.Struct):
    title: str
    prompts: list[str]
    vote_budget: int = 5
    max_votes_per_note: int = 3
    anonymous: bool = False
    private_writing: bool = False
    colors: list[str] | None = None


class BoardOut(msgspec.Struct):
    id: int
    session_id: int
    title: str
    join_code: str
    join_url: str
    zones: list[dict[str, str]]
    vote_budget: int
    max_votes_per_note: int
    anonymous: bool
    private_writing: bool


class ParticipantCreate(msgspec.Struct):
    display_name: str = ""
    code: str = ""
    place: str = "online"


class ParticipantOut(msgspec.Struct):
    token: str
    participant: str
    board: int


@post("/api/sessions/{session_id:int}/boards", summary="Create a board for a session", tags=["boards"],
      status_code=HTTP_201_CREATED, **ORGANIZER)
async def create(request: Request, session_id: FromPath[int], data: JSONBody[BoardCreate]) -> BoardOut:
    account = _organizer(request)
    db = request.app.state.db
    session = await store.get_session(db, session_id)
    if session is None or not account.can_see_drafts_of(session.org.id):
        raise NotFoundException(detail=_("There is no such session."))
    if not account.can_manage(session.org.id) and account.role != "facilitator":
        raise PermissionDeniedException(detail=_("Your account cannot create boards here."))
    config, errors = board_errors(msgspec.to_builtins(data))
    if errors:
        raise InvalidInput([FieldError(name, message) for name, message in errors.items()])
    board_id = await create_board(db, session_id, session.org.id, config)
    board = await board_store.get_board(db, board_id)
    assert board is not None
    return BoardOut(id=board.id, session_id=board.session_id, title=board.title, join_code=board.join_code,
                    join_url=f"{request.app.state.settings.base_url}/j/{board.join_code}", zones=board.prompts,
                    vote_budget=board.vote_budget, max_votes_per_note=board.max_votes_per_note,
                    anonymous=board.anonymous, private_writing=board.private_writing)


@post("/api/boards/{board_id:int}/participants", summary="Join a board (returns a participant token)",
      tags=["boards"], status_code=HTTP_201_CREATED)
async def add_participant(request: Request, board_id: FromPath[int], data: JSONBody[ParticipantCreate]) -> ParticipantOut:
    """With the board's join code, or an organizer's bearer token of the board's organization."""
    db = request.app.state.db
    board = await board_store.get_board(db, board_id)
    account = request.scope["state"].get("account")
    allowed = board is not None and (data.code == board.join_code or await can_facilitate(db, account, board_id))
    if board is None or not allowed:
        raise NotFoundException(detail=_("There is no board with this code."))
    name = data.display_name.strip()
    if len(name) > 40:
        raise InvalidInput([FieldError("display_name", "Keep your name under 40 characters.")])
    async with db.transaction() as conn:
        participant, token = await board_store.add_participant(conn, board_id, name or _("Anonymous"),
                                                               "room" if data.place == "room" else "online")
    return ParticipantOut(token=token, participant=participant, board=board_id)


@get([f"/api/boards/{{board_id:int}}/export.{fmt}" for fmt in EXPORT_FORMATS],
     summary="Export a board (md, csv or json)", tags=["boards"], **ORGANIZER)
async def export(request: Request, board_id: FromPath[int]) -> Response[Any]:
    account = _organizer(request)
    fmt = request.url.path.rsplit(".", 1)[-1]
    board = await board_store.get_board(request.app.state.db, board_id)
    if board is None or not await can_facilitate(request.app.state.db, account, board_id) or fmt not in ("md", "csv", "json"):
        raise NotFoundException(detail=_("There is no such board."))
    return await export_answer(request, board, fmt)


ROUTES = [create, add_participant, export]
