"""Sending a board's notes, clusters and questions to the session's theme as opinions
(/boards/{id}/opinions), the step a facilitator takes when publishing the outcome: the words only,
never who wrote them. On the facilitator's router (guard `staff`, dependency `board`)."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from ledger import collecting, themes
from ledger import store as ledger_store
from realtime.store import Board
from server.auth.guards import Db
from sessions import store


async def _theme_of(db: Db, board: Board) -> tuple[object, object]:
    session = await store.get_session(db, board.session_id)
    theme = await ledger_store.get_theme(db, session.theme_id) if session and session.theme_id else None
    return session, theme if theme is not None and session is not None and theme.org_id == session.org.id else None


@get("/boards/{board_id:int}/opinions", include_in_schema=False)
async def pick_opinions(request: Request, board: NamedDependency[Board], db: Db) -> Template:
    """Checkboxes: clusters, notes and questions of the board, to send to the session's theme."""
    session, theme = await _theme_of(db, board)
    state = await request.app.state.board_service.state(board.id)
    return Template("pages/board_opinions.html", context={
        "board": board, "session": session, "theme": theme, "offer": collecting.pickable(state),
        "sent": request.query_params.get("sent", "")})


@post("/boards/{board_id:int}/opinions", include_in_schema=False)
async def send_opinions(request: Request, board: NamedDependency[Board], db: Db) -> Redirect:
    """Keep the chosen items as opinions of the theme (an item sent before is kept once)."""
    session, theme = await _theme_of(db, board)
    if theme is None:
        return Redirect(path=f"/boards/{board.id}/opinions", status_code=303)
    form = await request.form()
    state = await request.app.state.board_service.state(board.id)
    picked = collecting.chosen(state, board.id, notes=form.getall("note") if "note" in form else [],
                               groups=form.getall("group") if "group" in form else [],
                               questions=form.getall("question") if "question" in form else [])
    day = session.starts_at.astimezone(themes.TOKYO).date()  # type: ignore[union-attr]
    added = await themes.add_collected(db, theme, picked, session_id=board.session_id, received_on=day)
    return Redirect(path=f"/boards/{board.id}/opinions", query_params={"sent": str(added)}, status_code=303)


ROUTES = [pick_opinions, send_opinions]
