"""Board pages for everyone in the workshop: join by code or QR (/j), the participant board, the
plain-HTML list view and its form commands, and the published outcome.

No account is needed: a participant holds a cookie for one board; a signed-in facilitator of the
board's organization sees the same pages with the facilitator's rights (see facilitation.py).
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, get, post
from litestar.datastructures import Cookie
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from ledger import store as ledger_store
from realtime import caption_store, store as board_store
from realtime.board import COLORS, PHASES, Actor, BoardState, results
from realtime.exports import outcome_sections
from realtime.polls import poll_results
from realtime.store import Board
from realtime.views import poll_view, snapshot
from server.auth.board_access import can_facilitate, facilitator_actor, participant_actor, participant_cookie
from server.auth.joining import admit, board_for_code, closed_notice
from server.core.errors import Conflict, TooManyRequests, form_with_errors
from server.core.forms import form_values
from server.core.i18n import gettext as _, translate
from server.public.captions import captions_band
from server.auth.guards import Db
from sessions import store
from sessions.catalog import N_

PHASE_NAMES = {"write": N_("Write"), "group": N_("Group"), "vote": N_("Vote"), "discuss": N_("Discuss"),
               "closed": N_("Finished")}
COLOR_NAMES = {"yellow": N_("Yellow"), "pink": N_("Pink"), "blue": N_("Blue"), "green": N_("Green"),
               "orange": N_("Orange"), "purple": N_("Purple")}


# ---------------------------------------------------------------- joining

async def _board_or_404(request: Request, board_id: int) -> Board:
    board = await request.app.state.board_service.board(board_id)
    if board is None:
        raise NotFoundException()
    return board


async def participant_for(request: Request, board_id: int) -> Any:
    token = request.cookies.get(participant_cookie(board_id))
    if not token:
        return None
    row = await board_store.participant_by_token(request.app.state.db, token)
    return row if row is not None and row["board_id"] == board_id else None


@get("/j", include_in_schema=False)
async def join_by_code_form(request: Request) -> Template | Redirect:
    code = (request.query_params.get("code") or "").strip().replace(" ", "")
    if code:
        return Redirect(path=f"/j/{code}", status_code=303)
    return Template("pages/join.html", context={"board": None, "errors": {}, "values": {}})


def _join_page(board: Board | None, session: Any, values: dict[str, Any], *, errors: dict[str, str] | None = None,
               refusal: str = "", status: int = 200) -> Template:
    return Template("pages/join.html", status_code=status, context={
        "board": board, "session": session, "values": values, "errors": errors or {}, "refusal": refusal})


def _no_such_board(code: str) -> Template:
    """The answer to a wrong code, and alike to a draft session's board: 404, naming nothing."""
    return _join_page(None, None, {"code": code}, status=404, errors={
        "code": _("There is no board with this code. Check the six digits on the screen.")})


@get("/j/{code:str}", include_in_schema=False)
async def join_form(request: Request, code: FromPath[str], db: Db) -> Template:
    board = await board_for_code(request, await board_store.board_by_code(db, code[:20]), code[:20])
    if board is None:
        return _no_such_board(code[:20])
    # the QR code on the projector carries ?via=room: who scans it is in the room (they may still change it)
    place = "room" if request.query_params.get("via") == "room" else "online"
    return _join_page(board, await store.get_session(db, board.session_id), {"place": place, "via": place},
                      refusal=await closed_notice(request, board))


@post("/j/{code:str}", include_in_schema=False)
async def join(request: Request, code: FromPath[str], db: Db) -> Template | Redirect:
    """A display name (or anonymous) and where you are; then the board. No account needed."""
    board = await board_for_code(request, await board_store.board_by_code(db, code[:20]), code[:20])
    if board is None:
        return _no_such_board(code[:20])
    values = form_values(await request.form())
    name = str(values.get("display_name", "")).strip()
    if values.get("anonymous") or board.anonymous:
        name = name if not values.get("anonymous") else ""
    if len(name) > 40:
        return form_with_errors(request, "pages/join.html", {
            "board": board, "session": await store.get_session(db, board.session_id), "values": values,
            "errors": {"display_name": _("Keep your name under 40 characters.")}})
    place = "room" if values.get("place") == "room" else "online"
    try:
        _participant, token = await admit(request, board, name or _("Anonymous"), place)
    except (Conflict, TooManyRequests) as refused:
        return _join_page(board, await store.get_session(db, board.session_id), values, refusal=str(refused.detail),
                          status=refused.status_code)
    settings = request.app.state.settings
    return Redirect(path=f"/boards/{board.id}" + ("/list" if values.get("view") == "list" else ""),
                    status_code=303, cookies=[Cookie(
                        key=participant_cookie(board.id), value=token, httponly=True, samesite="lax",
                        secure=settings.secure_cookies, path=f"/boards/{board.id}", max_age=7 * 24 * 3600)])


# ---------------------------------------------------------------- viewing and acting

async def viewer_for(request: Request, board: Board) -> Actor | None:
    """The facilitator (signed in, same organization) or the participant (cookie) looking at a board."""
    account = request.scope["state"].get("account")
    if account is not None and await can_facilitate(request.app.state.db, account, board.id):
        return facilitator_actor(account)
    row = await participant_for(request, board.id)
    return participant_actor(row) if row is not None else None


async def board_context(request: Request, board: Board, viewer: Actor) -> dict[str, Any]:
    service = request.app.state.board_service
    state: BoardState = await service.state(board.id)
    session = await store.get_session(request.app.state.db, board.session_id)
    participants = await board_store.participant_count(request.app.state.db, board.id)
    snap = snapshot(state, viewer, title=board.title, participants=participants, server_now=0)
    notes_by_zone: dict[str, dict[str | None, list[dict[str, Any]]]] = {z["id"]: {} for z in state.zones}
    for note in snap["notes"]:
        notes_by_zone.setdefault(note["zone"], {}).setdefault(note["group"], []).append(note)
    return {"board": board, "session": session, "snap": snap, "state": state, "viewer": viewer,
            "notes_by_zone": notes_by_zone, "groups": {g["id"]: g for g in snap["groups"]}, "phases": PHASES,
            "colors": state.colors, "phase_names": {p: _(PHASE_NAMES[p]) for p in PHASES},
            "color_names": {c: _(COLOR_NAMES[c]) for c in COLORS}, "new_op": lambda: uuid.uuid4().hex,
            "js": request.query_params.get("js") == "1",
            "back": "facilitate" if request.query_params.get("back") == "facilitate" else "list",
            "mode": "facilitator" if viewer.facilitator else "participant",
            "captions": await captions_band(request.app.state.db, board.session_id),
            # facilitators see which connections made the most participants (ballot stuffing shows)
            "joins": await board_store.joins_by_connection(request.app.state.db, board.id) if viewer.facilitator
            else ([], 0)}


@get("/boards/{board_id:int}", include_in_schema=False)
async def participant_board(request: Request, board_id: FromPath[int]) -> Template | Redirect:
    board = await _board_or_404(request, board_id)
    viewer = await viewer_for(request, board)
    if viewer is None:
        return Redirect(path="/j", status_code=303)  # never the code: this visitor may not hold it
    if viewer.facilitator:
        return Redirect(path=f"/boards/{board_id}/facilitate", status_code=303)
    token = request.cookies.get(participant_cookie(board_id))
    return Template("pages/board.html", context={**await board_context(request, board, viewer), "token": token,
                                                 "mode": "participant"})


@get("/boards/{board_id:int}/list", include_in_schema=False)
async def list_view(request: Request, board_id: FromPath[int]) -> Template | Redirect:
    board = await _board_or_404(request, board_id)
    viewer = await viewer_for(request, board)
    if viewer is None:
        return Redirect(path="/j", status_code=303)  # never the code: this visitor may not hold it
    context = await board_context(request, board, viewer)
    context["message"] = request.query_params.get("msg", "")
    if request.htmx and request.htmx.target == "board-list":
        return Template("partials/_board_list.html", context=context)
    return Template("pages/board_list.html", context=context)


COMMAND_FIELDS = ("zone", "text", "color", "note", "group", "title", "into", "phase", "seconds", "locked",
                  "revealed", "hidden", "count", "poll", "choice", "choices", "ranking", "question", "action",
                  "moderation", "anonymous", "live_results", "max_choices", "options", "open")


def command_data(values: dict[str, Any]) -> dict[str, Any]:
    """Form fields to a command's data, with the types the socket clients send."""
    data: dict[str, Any] = {}
    for name in COMMAND_FIELDS:
        if name not in values:
            continue
        value = values[name]
        if name in ("seconds", "count"):
            try:
                value = int(str(value).strip()) * (60 if name == "seconds" and values.get("unit") == "minutes" else 1)
            except ValueError:
                value = None
        elif name in ("locked", "revealed", "hidden", "anonymous", "live_results", "open"):
            value = value in ("1", "true", "on")
        elif name == "max_choices":
            try:
                value = int(str(value).strip())
            except ValueError:
                continue
        elif name == "options":
            value = [line.strip() for line in str(value).splitlines() if line.strip()]
        elif name == "group" and value == "":
            value = None
        data[name] = value
    if values.get("poll_type"):
        data["type"] = values["poll_type"]
    counts = {key[5:]: value for key, value in values.items() if key.startswith("room_")}
    if counts:
        try:
            data["counts"] = {key: int(str(value).strip() or 0) for key, value in counts.items()}
        except ValueError:
            data["counts"] = None
    return data


@post("/boards/{board_id:int}/commands", include_in_schema=False)
async def http_command(request: Request, board_id: FromPath[int]) -> Template | Redirect:
    """The list view's (and the facilitator's no-JS) path: the same service as the socket events."""
    board = await _board_or_404(request, board_id)
    viewer = await viewer_for(request, board)
    if viewer is None:
        raise PermissionDeniedException()
    values = form_values(await request.form())
    kind = str(values.get("type", ""))
    namespace = request.app.state.board_namespace
    if not await request.app.state.board_limit(f"{board_id}:{viewer.id}", kind):
        message = _("Too many changes at once. Please wait a moment.")
    else:
        outcome = await request.app.state.board_service.handle(
            board_id, kind, command_data(values), viewer, values.get("op"),
            announce=lambda done: namespace.announce(board_id, done))
        if outcome.result.get("ok"):
            message = _("Saved.") if not outcome.duplicate else _("Already saved.")
        else:
            error = outcome.result["error"]
            message = translate(error["message"], error.get("params"))
    back = str(values.get("back", "list"))
    target = {"facilitate": "facilitate", "list": "list"}.get(back, "list")
    if request.htmx and target == "list":
        context = await board_context(request, board, viewer)
        context["message"] = message
        return Template("partials/_board_list.html", context=context)
    return Redirect(path=f"/boards/{board_id}/{target}", query_params={"msg": message}, status_code=303)


@get("/boards/{board_id:int}/outcome", include_in_schema=False)
async def outcome(request: Request, board_id: FromPath[int], db: Db) -> Template:
    # The flags as the database has them: another process may have just withdrawn the outcome or its names.
    board = await board_store.get_board(db, board_id)
    if board is None or not board.outcome_published:
        raise NotFoundException()
    state = await request.app.state.board_service.state(board.id)
    session = await store.get_session(db, board.session_id)
    polls = [poll_view(p, None) | {"results": poll_results(p)} for p in state.polls.values()
             if p.status != "draft" and (p.revealed or p.live_results)]
    answered = [q for q in state.questions.values() if q.status == "visible" and q.answered]
    stream = await caption_store.stream_of_session(db, board.session_id)
    return Template("pages/board_outcome.html", context={
        "transcript": stream is not None and stream.published,
        "board": board, "session": session, "state": state, "ranked": results(state)[:10], "polls": polls,
        "answered": sorted(answered, key=lambda q: -len(q.upvotes)),
        "sections": outcome_sections(state, names=board.outcome_names and not board.anonymous),
        "places": await board_store.participants_by_place(db, board.id),
        "theme": await ledger_store.public_theme_of_session(db, board.session_id)})


ROUTES = [join_by_code_form, join_form, join, participant_board, list_view, http_command, outcome]
