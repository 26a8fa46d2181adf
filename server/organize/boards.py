"""Setting up boards for a session (/organize/sessions/{id}/boards): prompts, dots, colours,
templates, for those who may change the session; the rules live in realtime/."""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.di import NamedDependency

from realtime import store as board_store
from realtime.board import COLORS
from realtime.board_settings import board_settings
from server.core.errors import form_with_errors
from server.core.forms import form_values
from server.core.i18n import gettext as _
from server.core.i18n import translate
from server.public.boards import COLOR_NAMES
from litestar.di import Provide

from server.auth.guards import CurrentAccount, Db, seen_session
from sessions.models import Session

DEFAULT_PROMPTS = "地域の良いところ\n困っていること\nやってみたいこと"


def board_errors(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Board settings from a form (or JSON), and a translated message per invalid field."""
    config, errors = board_settings(values)
    return config, {name: translate(message) for name, message in errors.items()}


async def create_board(db: Any, session_id: int, org_id: int, config: dict[str, Any]) -> int:
    async with db.transaction() as conn:
        return await board_store.create_board(conn, session_id=session_id, org_id=org_id, **config)


# facilitators list and run the boards of their organization's sessions; only those who may change
# the session create boards (the POST below keeps the router's `managed_session`)
@get("/organize/sessions/{session_id:int}/boards", include_in_schema=False,
     dependencies={"session": Provide(seen_session)})
async def boards_page(request: Request, session_id: FromPath[int], session: NamedDependency[Session], db: Db,
                      account: CurrentAccount) -> Template:
    values: dict[str, Any] = {"prompts": "地域の良いところ\n困っていること\nやってみたいこと", "vote_budget": "5",
                              "max_votes_per_note": "3", "colors": list(COLORS)}
    template_id = request.query_params.get("template")
    for row in await board_store.templates(db, session.org.id):
        if str(row["id"]) == template_id:
            config = json.loads(row["config"])
            values = {**config, "prompts": "\n".join(config["prompts"]), "anonymous": "1" if config["anonymous"] else "",
                      "private_writing": "1" if config["private_writing"] else ""}
    context = await _boards_context(request, session, values, {})
    context["can_manage"] = account.can_manage(session.org.id)
    return Template("pages/organize/boards.html", context=context)


async def _boards_context(request: Request, session: Any, values: dict[str, Any], errors: dict[str, str]) -> dict:
    db = request.app.state.db
    return {"session": session, "boards": await board_store.session_boards(db, session.id), "values": values,
            "errors": errors, "templates": await board_store.templates(db, session.org.id), "colors": COLORS,
            "color_names": {c: _(COLOR_NAMES[c]) for c in COLORS}, "can_manage": True}


@post("/organize/sessions/{session_id:int}/boards", include_in_schema=False)
async def create_board_page(request: Request, session_id: FromPath[int], session: NamedDependency[Session], db: Db) -> Template | Redirect:
    values = form_values(await request.form())
    config, errors = board_errors(values)
    template_name = str(values.get("template_name", "")).strip()
    if values.get("save_template") and not template_name:
        errors["template_name"] = _("Name the template.")
    if errors:
        return form_with_errors(request, "pages/organize/boards.html",
                                await _boards_context(request, session, values, errors))
    board_id = await create_board(db, session.id, session.org.id, config)
    if values.get("save_template"):
        async with db.transaction() as conn:
            await board_store.save_template(conn, session.org.id, template_name[:100], config)
    return Redirect(path=f"/boards/{board_id}/facilitate", status_code=303)


ROUTES = [boards_page, create_board_page]
