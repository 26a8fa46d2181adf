"""Board pages: set up boards for a session, join by code or QR, the participant board, the
plain-HTML list view, the facilitator's controls, the projector, exports and the published outcome."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import segno
from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from markupsafe import Markup

from realtime import store as board_store
from realtime.board import COLORS, PHASES, Actor, BoardState, results
from realtime.store import Board
from realtime.polls import poll_results
from realtime.views import poll_view, snapshot
from server.auth.board_access import can_facilitate, facilitator_actor, participant_actor, participant_cookie
from server.core.errors import form_with_errors
from server.core.forms import form_values
from server.core.spreadsheet import csv_bytes
from server.i18n import gettext as _, translate
from server.organize.sessions import managed_session, signed_in
from sessions.catalog import N_
from sessions import store

MAX_PROMPTS = 8
PHASE_NAMES = {"write": N_("Write"), "group": N_("Group"), "vote": N_("Vote"), "discuss": N_("Discuss"),
               "closed": N_("Finished")}
COLOR_NAMES = {"yellow": N_("Yellow"), "pink": N_("Pink"), "blue": N_("Blue"), "green": N_("Green"),
               "orange": N_("Orange"), "purple": N_("Purple")}


# ---------------------------------------------------------------- setting up boards

def board_errors(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Board settings from a form (or JSON), and a message per invalid field."""
    errors: dict[str, str] = {}
    title = str(values.get("title", "")).strip()
    prompts_raw = values.get("prompts", "")
    prompts = prompts_raw if isinstance(prompts_raw, list) else str(prompts_raw).splitlines()
    prompts = [str(p).strip() for p in prompts if str(p).strip()]
    if not title or len(title) > 100:
        errors["title"] = _("Enter a title of up to 100 characters.")
    if not 1 <= len(prompts) <= MAX_PROMPTS or any(len(p) > 100 for p in prompts):
        errors["prompts"] = _("Enter 1 to 8 prompts, one per line, each up to 100 characters.")

    def number(name: str, default: int) -> int:
        raw = values.get(name, default)
        try:
            value = int(raw) if raw not in ("", None) else default
        except (TypeError, ValueError):
            errors[name] = _("Enter a whole number.")
            return default
        if not 1 <= value <= 20:
            errors[name] = _("Enter a number from 1 to 20.")
        return value

    budget = number("vote_budget", 5)
    per_note = number("max_votes_per_note", 3)
    if per_note > budget and "max_votes_per_note" not in errors:
        errors["max_votes_per_note"] = _("Dots per note cannot exceed the dots per person.")
    colors = values.get("colors") or list(COLORS)
    colors = [c for c in (colors if isinstance(colors, list) else [colors]) if c in COLORS] or list(COLORS)
    truthy = lambda v: v in (True, "1", "on", "true")  # noqa: E731
    config = {"title": title, "prompts": prompts, "vote_budget": budget, "max_votes_per_note": per_note,
              "anonymous": truthy(values.get("anonymous")), "private_writing": truthy(values.get("private_writing")),
              "colors": colors}
    return config, errors


async def create_board(db: Any, session_id: int, org_id: int, config: dict[str, Any]) -> int:
    async with db.transaction() as conn:
        return await board_store.create_board(conn, session_id=session_id, org_id=org_id, **config)


@get("/organize/sessions/{session_id:int}/boards", include_in_schema=False)
async def boards_page(request: Request, session_id: FromPath[int]) -> Template:
    _account, session = await managed_session(request, session_id)
    db = request.app.state.db
    values: dict[str, Any] = {"prompts": "地域の良いところ\n困っていること\nやってみたいこと", "vote_budget": "5",
                              "max_votes_per_note": "3", "colors": list(COLORS)}
    template_id = request.query_params.get("template")
    for row in await board_store.templates(db, session.org.id):
        if str(row["id"]) == template_id:
            config = json.loads(row["config"])
            values = {**config, "prompts": "\n".join(config["prompts"]), "anonymous": "1" if config["anonymous"] else "",
                      "private_writing": "1" if config["private_writing"] else ""}
    return Template("pages/organize/boards.html", context=await _boards_context(request, session, values, {}))


async def _boards_context(request: Request, session: Any, values: dict[str, Any], errors: dict[str, str]) -> dict:
    db = request.app.state.db
    return {"session": session, "boards": await board_store.session_boards(db, session.id), "values": values,
            "errors": errors, "templates": await board_store.templates(db, session.org.id), "colors": COLORS,
            "color_names": {c: _(COLOR_NAMES[c]) for c in COLORS}}


@post("/organize/sessions/{session_id:int}/boards", include_in_schema=False)
async def create_board_page(request: Request, session_id: FromPath[int]) -> Template | Redirect:
    _account, session = await managed_session(request, session_id)
    values = form_values(await request.form())
    config, errors = board_errors(values)
    template_name = str(values.get("template_name", "")).strip()
    if values.get("save_template") and not template_name:
        errors["template_name"] = _("Name the template.")
    if errors:
        return form_with_errors(request, "pages/organize/boards.html",
                                await _boards_context(request, session, values, errors))
    db = request.app.state.db
    board_id = await create_board(db, session.id, session.org.id, config)
    if values.get("save_template"):
        async with db.transaction() as conn:
            await board_store.save_template(conn, session.org.id, template_name[:100], config)
    return Redirect(path=f"/boards/{board_id}/facilitate", status_code=303)


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


@get("/j/{code:str}", include_in_schema=False)
async def join_form(request: Request, code: FromPath[str]) -> Template:
    board = await board_store.board_by_code(request.app.state.db, code[:20])
    if board is None:
        return form_with_errors(request, "pages/join.html", {
            "board": None, "values": {"code": code[:20]},
            "errors": {"code": _("There is no board with this code. Check the six digits on the screen.")}})
    session = await store.get_session(request.app.state.db, board.session_id)
    return Template("pages/join.html", context={"board": board, "session": session, "errors": {},
                                                "values": {"place": "online"}})


@post("/j/{code:str}", include_in_schema=False)
async def join(request: Request, code: FromPath[str]) -> Template | Redirect:
    """A display name (or anonymous) and where you are; then the board. No account needed."""
    db = request.app.state.db
    board = await board_store.board_by_code(db, code[:20])
    if board is None:
        raise NotFoundException()
    values = form_values(await request.form())
    name = str(values.get("display_name", "")).strip()
    if values.get("anonymous") or board.anonymous:
        name = name if not values.get("anonymous") else ""
    if len(name) > 40:
        session = await store.get_session(db, board.session_id)
        return form_with_errors(request, "pages/join.html", {
            "board": board, "session": session, "values": values,
            "errors": {"display_name": _("Keep your name under 40 characters.")}})
    place = "room" if values.get("place") == "room" else "online"
    async with db.transaction() as conn:
        _participant, token = await board_store.add_participant(conn, board.id, name or _("Anonymous"), place)
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
            "mode": "facilitator" if viewer.facilitator else "participant"}


@get("/boards/{board_id:int}", include_in_schema=False)
async def participant_board(request: Request, board_id: FromPath[int]) -> Template | Redirect:
    board = await _board_or_404(request, board_id)
    viewer = await viewer_for(request, board)
    if viewer is None:
        return Redirect(path=f"/j/{board.join_code}", status_code=303)
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
        return Redirect(path=f"/j/{board.join_code}", status_code=303)
    context = await board_context(request, board, viewer)
    context["message"] = request.query_params.get("msg", "")
    if request.headers.get("hx-request") == "true" and request.headers.get("hx-target") == "board-list":
        return Template("partials/_board_list.html", context=context)
    return Template("pages/board_list.html", context=context)


COMMAND_FIELDS = ("zone", "text", "color", "note", "group", "title", "into", "phase", "seconds", "locked",
                  "revealed", "hidden", "count", "poll", "choice", "choices", "ranking", "question", "action",
                  "moderation", "anonymous", "live_results", "max_choices", "options")


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
        elif name in ("locked", "revealed", "hidden", "anonymous", "live_results"):
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
    if not request.app.state.board_limit(f"{board_id}:{viewer.id}", kind):
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
    if request.headers.get("hx-request") == "true" and target == "list":
        context = await board_context(request, board, viewer)
        context["message"] = message
        return Template("partials/_board_list.html", context=context)
    return Redirect(path=f"/boards/{board_id}/{target}", query_params={"msg": message}, status_code=303)


async def facilitator_board(request: Request, board_id: int) -> tuple[Board, Actor]:
    board = await _board_or_404(request, board_id)
    account = signed_in(request)
    if not await can_facilitate(request.app.state.db, account, board_id):
        raise NotFoundException()
    return board, facilitator_actor(account)


@get("/boards/{board_id:int}/facilitate", include_in_schema=False)
async def facilitate(request: Request, board_id: FromPath[int]) -> Template:
    board, actor = await facilitator_board(request, board_id)
    context = await board_context(request, board, actor)
    context.update(mode="facilitator", token="", message=request.query_params.get("msg", ""), back="facilitate",
                   join_url=f"{request.app.state.settings.base_url}/j/{board.join_code}")
    return Template("pages/board_facilitate.html", context=context)


def qr_svg(url: str) -> Markup:
    """The join QR code as inline SVG (segno), for the projector."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=8, border=2, xmldecl=False, svgns=True,
                                    title=_("QR code to join the board"), svgclass="qr", lineclass=None)
    return Markup(buffer.getvalue().decode())


@get("/boards/{board_id:int}/present", include_in_schema=False)
async def present(request: Request, board_id: FromPath[int]) -> Template:
    board, actor = await facilitator_board(request, board_id)
    context = await board_context(request, board, Actor(id="projector", name="", facilitator=False))
    join_url = f"{request.app.state.settings.base_url}/j/{board.join_code}"
    state = context["state"]
    context.update(mode="projector", token="", join_url=join_url, qr=qr_svg(join_url),
                   ranked=results(state) if state.revealed else [], js=True)
    if request.query_params.get("fragment") == "1":
        return Template("partials/_board_list.html", context=context)
    return Template("pages/board_present.html", context=context)


# ---------------------------------------------------------------- exports and the outcome

def export_rows(board: Board, state: BoardState, *, names: bool) -> list[dict[str, Any]]:
    zones = {z["id"]: z["title"] for z in state.zones}
    rows = []
    for note in state.notes.values():
        if note.hidden:
            continue
        group = state.groups.get(note.group) if note.group else None
        rows.append({"zone": zones.get(note.zone, note.zone), "cluster": group.title if group else "",
                     "note": note.text, "author": note.author_name if names and not board.anonymous else "",
                     "entered_by_facilitator": note.by_facilitator, "dots_online": state.tally(note.id),
                     "dots_proxy": state.proxy.get(note.id, 0)})
    rows.sort(key=lambda r: (list(zones.values()).index(r["zone"]) if r["zone"] in zones.values() else 99,
                             r["cluster"], -(r["dots_online"] + r["dots_proxy"])))
    return rows


def export_markdown(board: Board, state: BoardState, *, names: bool, session_title: str) -> str:
    lines = [f"# {board.title}", "", f"{session_title}", ""]
    ranked = results(state)
    if ranked:
        heading, online_word, room_word = _("Vote results"), _("Online"), _("In the room")
        lines += [f"## {heading}", ""]
        for place, item in enumerate(ranked[:10], start=1):
            lines.append(f"{place}. {item['title']} — {item['total']} ({online_word} {item['online']}, "
                         f"{room_word} {item['proxy']})")
        lines.append("")
    for zone in state.zones:
        lines += [f"## {zone['title']}", ""]
        zone_notes = [n for n in state.notes.values() if n.zone == zone["id"] and not n.hidden]
        for group in [g for g in state.groups.values() if g.zone == zone["id"]]:
            lines.append(f"### {group.title}")
            for note in [n for n in zone_notes if n.group == group.id]:
                lines.append(_markdown_note(board, state, note, names))
            lines.append("")
        for note in [n for n in zone_notes if n.group is None]:
            lines.append(_markdown_note(board, state, note, names))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _markdown_note(board: Board, state: BoardState, note: Any, names: bool) -> str:
    dots = state.tally(note.id) + state.proxy.get(note.id, 0)
    author = f" — {note.author_name}" if names and not board.anonymous and note.author_name else ""
    text = note.text.replace("\n", " ")
    return f"- {text}{author}" + (f" ({dots})" if dots else "")


async def export_answer(request: Request, board: Board, fmt: str, *, names: bool = True) -> Response[Any]:
    state = await request.app.state.board_service.state(board.id)
    session = await store.get_session(request.app.state.db, board.session_id)
    title = session.title if session else ""
    filename = f"board-{board.id}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}
    if fmt == "md":
        return Response(export_markdown(board, state, names=names, session_title=title).encode("utf-8"),
                        media_type="text/markdown", headers=headers)
    rows = export_rows(board, state, names=names)
    if fmt == "csv":
        columns = ["zone", "cluster", "note", "author", "entered_by_facilitator", "dots_online", "dots_proxy"]
        return Response(csv_bytes(columns, ([row[c] for c in columns] for row in rows)),
                        media_type="text/csv", headers=headers)
    if fmt == "json":
        payload = {"board": {"id": board.id, "title": board.title, "session_id": board.session_id},
                   "zones": state.zones, "groups": [{"id": g.id, "zone": g.zone, "title": g.title}
                                                    for g in state.groups.values()],
                   "notes": rows, "results": results(state), "phase": state.phase}
        return Response(payload, headers=headers)
    raise NotFoundException()


EXPORT_FORMATS = ("md", "csv", "json")


@get([f"/boards/{{board_id:int}}/export.{fmt}" for fmt in EXPORT_FORMATS], include_in_schema=False)
async def export(request: Request, board_id: FromPath[int]) -> Response[Any]:
    """/boards/{id}/export.md, .csv and .json (a path parameter cannot share a segment with text)."""
    board, _actor = await facilitator_board(request, board_id)
    return await export_answer(request, board, request.url.path.rsplit(".", 1)[-1])


def poll_rows(state: BoardState) -> list[list[Any]]:
    """One row per poll option (or word), with online, room and total counts and the share."""
    rows: list[list[Any]] = []
    for poll in state.polls.values():
        result = poll_results(poll)
        if poll.type == "text":
            for word in result["words"]:
                rows.append([poll.question, poll.type, word["text"], word["count"], 0, word["count"], ""])
            continue
        total = sum(result["counts"].values()) or 0
        for option in poll.options:
            count = result["counts"].get(option["id"], 0)
            rows.append([poll.question, poll.type, option["label"], result["online"].get(option["id"], 0),
                         result["room"].get(option["id"], 0), count,
                         f"{count / total * 100:.1f}" if total else "0.0"])
    return rows


@get("/boards/{board_id:int}/polls.csv", include_in_schema=False)
async def polls_csv(request: Request, board_id: FromPath[int]) -> Response[bytes]:
    """Poll results and questions as CSV (UTF-8 with BOM), for the facilitator."""
    board, _actor = await facilitator_board(request, board_id)
    state = await request.app.state.board_service.state(board.id)
    header = [_("Question"), _("Type"), _("Option"), _("Online"), _("In the room"), _("Total"), "%", _("Name")]
    rows = [[*row, ""] for row in poll_rows(state)]
    for poll in state.polls.values():  # who answered what, for polls that are not anonymous
        if not poll.anonymous:
            for item in poll_view(poll, Actor(id="facilitator", facilitator=True)).get("named_answers", []):
                rows.append([poll.question, "answer", item["answer"], 1, 0, 1, "", item["name"] or _("Anonymous")])
    for question in state.questions.values():
        if question.status == "visible":
            rows.append([question.text, "question", _("Answered") if question.answered else "",
                         len(question.upvotes), 0, len(question.upvotes), "", ""])
    return Response(csv_bytes(header, rows), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="board-{board.id}-polls.csv"', "Cache-Control": "no-store"})


@post("/boards/{board_id:int}/outcome", include_in_schema=False)
async def publish_outcome(request: Request, board_id: FromPath[int]) -> Redirect:
    """Publish (公開) the outcome on a public page linked from the session, with or without names."""
    board, _actor = await facilitator_board(request, board_id)
    values = form_values(await request.form())
    async with request.app.state.db.transaction() as conn:
        await board_store.set_outcome(conn, board.id, values.get("publish") == "1", bool(values.get("names")))
    request.app.state.board_service.forget(board.id)
    return Redirect(path=f"/boards/{board_id}/facilitate", status_code=303)


@get("/boards/{board_id:int}/outcome", include_in_schema=False)
async def outcome(request: Request, board_id: FromPath[int]) -> Template:
    board = await _board_or_404(request, board_id)
    if not board.outcome_published:
        raise NotFoundException()
    state = await request.app.state.board_service.state(board.id)
    session = await store.get_session(request.app.state.db, board.session_id)
    polls = [poll_view(p, None) | {"results": poll_results(p)} for p in state.polls.values()
             if p.status != "draft" and (p.revealed or p.live_results)]
    answered = [q for q in state.questions.values() if q.status == "visible" and q.answered]
    return Template("pages/board_outcome.html", context={
        "board": board, "session": session, "state": state, "ranked": results(state), "polls": polls,
        "answered": answered, "rows": export_rows(board, state, names=board.outcome_names)})


ROUTES = [boards_page, create_board_page, join_by_code_form, join_form, join, participant_board, list_view,
          http_command, facilitate, present, export, polls_csv, publish_outcome, outcome]
