"""The JSON API for boards: create boards, let participants in, export the outcome."""

from __future__ import annotations

import re
import uuid
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED
from litestar.di import NamedDependency

from realtime import store as board_store
from realtime.board_settings import board_settings
from realtime.polls import poll_results
from realtime.store import Board
from server.api.sessions import ORGANIZER, ORGANIZER_ERRORS, PUBLIC
from server.auth.board_access import can_facilitate, facilitator_actor
from server.auth.joining import admit, board_for_code, facilitates
from server.organize.boards import create_board
from server.public.facilitation import export_answer
from server.core.errors import error_responses
from server.core.i18n import gettext as _
from server.auth.guards import Db, CurrentAccount, Viewer
from sessions import store
from sessions.validation import FieldError, InvalidInput, without_controls


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
      status_code=HTTP_201_CREATED, **ORGANIZER, responses=ORGANIZER_ERRORS)
async def create(request: Request, session_id: FromPath[int], data: JSONBody[BoardCreate], account: CurrentAccount, db: Db) -> BoardOut:
    session = await store.get_session(db, session_id)
    if session is None or not account.can_see_drafts_of(session.org.id):
        raise NotFoundException(detail=_("There is no such session."))
    if not account.can_manage(session.org.id) and account.role != "facilitator":
        raise PermissionDeniedException(detail=_("Your account cannot create boards here."))
    config, errors = board_settings(msgspec.to_builtins(data))
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
      tags=["boards"], status_code=HTTP_201_CREATED, responses=error_responses(400, 404, 409, 422, 429), **PUBLIC)
async def add_participant(request: Request, board_id: FromPath[int], data: JSONBody[ParticipantCreate],
                          db: Db) -> ParticipantOut:
    """With the board's join code, or an organizer's bearer token of the board's organization. 409
    while the facilitator has closed joining; 429 after too many wrong codes or joins from one client."""
    board = await board_store.get_board(db, board_id)
    if board is None or not await facilitates(request, board):
        board = await board_for_code(request, board, data.code)
    if board is None:
        raise NotFoundException(detail=_("There is no board with this code."))
    name = without_controls(data.display_name).strip()
    if len(name) > 40:
        raise InvalidInput([FieldError("display_name", "Keep your name under 40 characters.")])
    place = "room" if data.place == "room" else "online"
    participant, token = await admit(request, board, name or _("Anonymous"), place)
    return ParticipantOut(token=token, participant=participant, board=board_id)


async def _export(request: Request, board: Board, fmt: str) -> Response[Any]:
    answer = await export_answer(request, board, fmt)
    # Litestar adds "; charset=utf-8" to text/* itself: a media type that already names it would say it twice
    if isinstance(answer.media_type, str):
        answer.media_type = answer.media_type.split(";")[0]
    return answer


# one route per format, so the schema names each one's content type
@get("/api/boards/{board_id:int}/export.md", summary="Export a board as Markdown", tags=["boards"],
     media_type="text/markdown", **ORGANIZER, responses=ORGANIZER_ERRORS)
async def export_md(request: Request, board_id: FromPath[int], board: NamedDependency[Board]) -> Response[str]:
    return await _export(request, board, "md")


@get("/api/boards/{board_id:int}/export.csv", summary="Export a board as CSV (UTF-8 with BOM)", tags=["boards"],
     media_type="text/csv", **ORGANIZER, responses=ORGANIZER_ERRORS)
async def export_csv(request: Request, board_id: FromPath[int], board: NamedDependency[Board]) -> Response[str]:
    return await _export(request, board, "csv")


@get("/api/boards/{board_id:int}/export.json", summary="Export a board as JSON", tags=["boards"],
     **ORGANIZER, responses=ORGANIZER_ERRORS)
async def export_json(request: Request, board_id: FromPath[int], board: NamedDependency[Board]) -> Response[dict[str, Any]]:
    return await _export(request, board, "json")


class PollCreate(msgspec.Struct):
    type: str
    question: str
    options: list[str] = msgspec.field(default_factory=list)
    max_choices: int | None = None
    live_results: bool = False
    anonymous: bool = True
    open: bool = False


class PollOption(msgspec.Struct):
    id: str
    label: str


class PollOut(msgspec.Struct):
    id: str
    board: int
    type: str
    question: str
    options: list[PollOption]
    status: str


POLL_ID = re.compile(r"^b(\d+)p\d+$")


async def _run(request: Request, board_id: int, kind: str, data: dict[str, Any], actor: Any) -> Any:
    """A command through the same service (and broadcast) as the socket events."""
    namespace = request.app.state.board_namespace
    outcome = await request.app.state.board_service.handle(
        board_id, kind, data, actor, f"api-{uuid.uuid4().hex}", announce=lambda done: namespace.announce(board_id, done))
    if not outcome.result.get("ok"):
        error = outcome.result["error"]
        raise InvalidInput([FieldError(str(error.get("params", {}).get("field", "poll")), error["message"],
                                       error.get("params", {}))])
    return outcome


@post("/api/boards/{board_id:int}/polls", summary="Create a poll (facilitator)", tags=["polls"],
      status_code=HTTP_201_CREATED, **ORGANIZER, responses=ORGANIZER_ERRORS)
async def create_poll(request: Request, board_id: FromPath[int], data: JSONBody[PollCreate], board: NamedDependency[Board],
                      account: CurrentAccount) -> PollOut:
    actor = facilitator_actor(account)
    payload = {key: value for key, value in msgspec.to_builtins(data).items() if key != "open" and value is not None}
    outcome = await _run(request, board_id, "poll:create", payload, actor)
    poll_id = outcome.result["id"]
    if data.open:
        await _run(request, board_id, "poll:open", {"poll": poll_id}, actor)
    poll = (await request.app.state.board_service.state(board_id)).polls[poll_id]
    return PollOut(id=poll.id, board=board_id, type=poll.type, question=poll.question, status=poll.status,
                   options=[PollOption(id=o["id"], label=o["label"]) for o in poll.options])


@get("/api/polls/{poll_id:str}/results", summary="A poll's results", tags=["polls"],
     responses=error_responses(400, 404), **PUBLIC)
async def poll_results_api(request: Request, poll_id: FromPath[str], viewer: Viewer, db: Db) -> dict[str, Any]:
    """{total, counts: {option_id: n}} ({total, words: [{text, count}]} for text polls); counts include
    the room's; hidden results are for the board's facilitators only."""
    match = POLL_ID.match(poll_id)
    board = await board_store.get_board(db, int(match.group(1))) if match else None
    state = await request.app.state.board_service.state(board.id) if board else None
    poll = state.polls.get(poll_id) if state else None
    if poll is None:
        raise NotFoundException(detail=_("There is no such poll."))
    if not (poll.revealed or poll.live_results or await can_facilitate(db, viewer, board.id)):
        raise NotFoundException(detail=_("There is no such poll."))
    return poll_results(poll)


ROUTES = [create, add_participant, export_md, export_csv, export_json, create_poll, poll_results_api]
