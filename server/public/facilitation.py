"""The facilitator's pages of a board: the console (/boards/{id}/facilitate), the projector
(/present), exports, poll results as CSV and publishing the outcome.

Its router needs a signed-in account (guard `staff`), and the `board` dependency hands each
handler only a board the account facilitates; any other board is 404.
"""

from __future__ import annotations

import io
from typing import Any

import segno
from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Template
from litestar.di import NamedDependency
from markupsafe import Markup

from realtime import store as board_store
from realtime.board import Actor, results, without_controls
from realtime.exports import CSV_COLUMNS, csv_rows, export_json, export_markdown, poll_rows
from realtime.store import Board
from realtime.stage import current_poll, next_phase, projector_stage
from realtime.views import poll_view, question_view
from server.auth.board_access import facilitator_actor
from server.core.forms import form_values
from server.core.i18n import gettext as _
from server.core.spreadsheet import csv_bytes
from server.public.evaluation import evaluation_qr
from server.public.boards import board_context
from server.auth.guards import Db, CurrentAccount
from sessions import store
from sessions.catalog import N_
from sessions.validation import FieldError, InvalidInput


@get("/boards/{board_id:int}/facilitate", include_in_schema=False)
async def facilitate(request: Request, board: NamedDependency[Board], account: CurrentAccount) -> Template:
    """The console; `?fragment=1` is its live part (controls and board), which board.js re-fetches."""
    context = await board_context(request, board, facilitator_actor(account))
    state = context["state"]
    context.update(mode="facilitator", token="", message=request.query_params.get("msg", ""), back="facilitate",
                   join_url=f"{request.app.state.settings.base_url}/j/{board.join_code}",
                   stage=projector_stage(state), next_phase=next_phase(state.phase), next_steps_max=NEXT_STEPS_MAX,
                   stage_preview=await stage_preview(request, board))
    if request.query_params.get("fragment") == "1":
        return Template("partials/_facilitate_live.html", context=context)
    return Template("pages/board_facilitate.html", context=context)


def qr_svg(url: str) -> Markup:
    """The join QR code as inline SVG (segno), for the projector."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=8, border=2, xmldecl=False, svgns=True, omitsize=True,
                                    title=_("QR code to join the board"), svgclass="qr", lineclass=None)
    return Markup(buffer.getvalue().decode())


async def stage_context(request: Request, board: Board) -> dict[str, Any]:
    """What the projector shows, as the audience may see it (a participant's view, never more)."""
    context = await board_context(request, board, Actor(id="projector", name="", facilitator=False))
    state = context["state"]
    join_url = f"{request.app.state.settings.base_url}/j/{board.join_code}"
    room_url = f"{join_url}?via=room"  # the QR code in the room: who scans it is in the room
    ranked = results(state) if state.revealed else []
    poll = current_poll(state)
    pinned = state.questions.get(state.pinned) if state.pinned else None
    context.update(mode="projector", token="", join_url=join_url, room_url=room_url, qr=qr_svg(room_url), js=True,
                   stage=projector_stage(state), next_phase=next_phase(state.phase), ranked=ranked[:8],
                   top_total=max([item["total"] for item in ranked] + [1]),
                   places=await board_store.participants_by_place(request.app.state.db, board.id),
                   poll=poll_view(poll, context["viewer"]) if poll else None,
                   pinned=question_view(state, pinned, None) if pinned and pinned.status == "visible" else None,
                   outcome_url=f"/boards/{board.id}/outcome" if board.outcome_published else "")
    if context["stage"] == "closing":  # the closing screen shows the evaluation's QR code while it is open
        context.update(await evaluation_qr(request.app.state.db, board.session_id,
                                           request.app.state.settings.base_url) or {})
    return context


async def stage_preview(request: Request, board: Board) -> Markup:
    """The projector's stage as the console previews it: the same partial, with ids of its own."""
    context = await stage_context(request, board)
    template = request.app.template_engine.engine.get_template("partials/_stage.html")  # type: ignore[attr-defined]
    return Markup(template.render({**context, "request": request, "id_prefix": "preview-"}))


@get("/boards/{board_id:int}/present", include_in_schema=False)
async def present(request: Request, board: NamedDependency[Board]) -> Template:
    """The projector: full screen, no site chrome, one stage at a time following the facilitator."""
    context = await stage_context(request, board)
    if request.query_params.get("fragment") == "1":
        return Template("partials/_stage.html", context=context)
    return Template("pages/board_present.html", context=context)


# ---------------------------------------------------------------- exports and the outcome

async def export_answer(request: Request, board: Board, fmt: str, *, names: bool = True) -> Response[Any]:
    """The board as a download: Markdown, CSV (UTF-8 with BOM) or JSON."""
    state = await request.app.state.board_service.state(board.id)
    headers = {"Content-Disposition": f'attachment; filename="board-{board.id}.{fmt}"', "Cache-Control": "no-store"}
    if fmt == "md":
        session = await store.get_session(request.app.state.db, board.session_id)
        text = export_markdown(board, state, names=names, session_title=session.title if session else "", gettext=_)
        return Response(text.encode("utf-8"), media_type="text/markdown", headers=headers)
    if fmt == "csv":
        rows = csv_rows(board, state, names=names)
        return Response(csv_bytes(CSV_COLUMNS, ([row[c] for c in CSV_COLUMNS] for row in rows)),
                        media_type="text/csv", headers=headers)
    if fmt == "json":
        return Response(export_json(board, state, names=names), headers=headers)
    raise NotFoundException()


EXPORT_FORMATS = ("md", "csv", "json")


@get([f"/boards/{{board_id:int}}/export.{fmt}" for fmt in EXPORT_FORMATS], include_in_schema=False)
async def export(request: Request, board: NamedDependency[Board]) -> Response[Any]:
    """/boards/{id}/export.md, .csv and .json (a path parameter cannot share a segment with text)."""
    return await export_answer(request, board, request.url.path.rsplit(".", 1)[-1])


@get("/boards/{board_id:int}/polls.csv", include_in_schema=False)
async def polls_csv(request: Request, board: NamedDependency[Board]) -> Response[bytes]:
    """Poll results and questions as CSV (UTF-8 with BOM), for the facilitator."""
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
async def publish_outcome(request: Request, board: NamedDependency[Board], db: Db) -> Redirect:
    """Publish (公開) the outcome on a public page linked from the session, with or without names."""
    values = form_values(await request.form())
    async with db.transaction() as conn:
        await board_store.set_outcome(conn, board.id, values.get("publish") == "1", bool(values.get("names")))
    await request.app.state.board_service.forget(board.id)
    return Redirect(path=f"/boards/{board.id}/facilitate", status_code=303)


NEXT_STEPS_MAX = 5000


@post("/boards/{board_id:int}/next-steps", include_in_schema=False)
async def save_next_steps(request: Request, board: NamedDependency[Board], db: Db) -> Redirect:
    """"What happens next", written by the organizer for the published outcome."""
    values = form_values(await request.form())
    text = without_controls(str(values.get("next_steps", ""))).strip()
    if len(text) > NEXT_STEPS_MAX:
        raise InvalidInput([FieldError("next_steps", N_("Keep what happens next under {max} characters."),
                                       {"max": NEXT_STEPS_MAX})])
    async with db.transaction() as conn:
        await board_store.set_next_steps(conn, board.id, text)
    await request.app.state.board_service.forget(board.id)
    return Redirect(path=f"/boards/{board.id}/facilitate", query_params={"msg": _("Saved.")}, status_code=303)


ROUTES = [facilitate, present, export, polls_csv, publish_outcome, save_next_steps]
