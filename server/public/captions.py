"""Captions for everyone (/c): the viewer page of a caption stream, its transcript fragment (for
htmx polling and pages without JavaScript), and the captioner's page reached by a captioner link.

No account is needed. Viewers know only the code; the captioner's token is in the captioner's own
link and page, never in anything a viewer is served.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from litestar.response import Redirect, Template

from realtime import caption_store
from realtime.caption_namespace import stream_room
from realtime.caption_store import Stream
from realtime.captions import DEFAULT_SPEAKERS, Line
from server.auth.caption_access import captioner_link, captioner_sender, viewable, viewed_stream
from server.auth.guards import Db
from server.core.forms import form_values
from server.core.i18n import translate
from sessions import store

SIZES = ("m", "l", "xl", "xxl")
THEMES = ("dark", "light", "yellow")
LINE_CHOICES = (2, 3, 5, 10, 0)  # 0: the whole transcript
BAND_LINES = 3


def display_settings(query: Any) -> dict[str, Any]:
    """A viewer's choices from the page's settings form (the same names the script remembers)."""
    size = query.get("size") if query.get("size") in SIZES else "l"
    theme = query.get("theme") if query.get("theme") in THEMES else "dark"
    try:
        lines = int(query.get("lines", "0"))
    except ValueError:
        lines = 0
    return {"size": size, "theme": theme, "lines": lines if lines in LINE_CHOICES else 0,
            "announce": query.get("announce") != "0", "auto": query.get("auto") != "0"}


def shown(lines: list[Line], count: int) -> list[Line]:
    return lines[-count:] if count else lines


async def captions_band(db: Any, session_id: int) -> dict[str, Any] | None:
    """What the captions band of a board page needs: the code and the latest lines, or None when the
    session has no captions anyone may follow now."""
    stream = await caption_store.stream_of_session(db, session_id)
    if stream is None or await viewable(db, stream) is None:
        return None
    return {"code": stream.code, "seq": stream.seq, "lines": await caption_store.last_lines(db, stream.id, BAND_LINES)}


@get("/c", include_in_schema=False)
async def code_form(request: Request) -> Template | Redirect:
    code = (request.query_params.get("code") or "").strip().replace(" ", "")[:20]
    if code:
        return Redirect(path=f"/c/{code}", status_code=303)
    return Template("pages/captions_code.html", context={})


@get("/c/{code:str}", include_in_schema=False, dependencies={"stream": Provide(viewed_stream)})
async def viewer(request: Request, code: FromPath[str], stream: NamedDependency[Stream], db: Db) -> Template:
    """The captions full screen, with the viewer's text size, colours and number of lines; the whole
    page is also the no-JavaScript fallback (it refreshes itself) and the htmx fragment."""
    settings = display_settings(request.query_params)
    lines = await caption_store.all_lines(db, stream.id)
    session = await store.get_session(db, stream.session_id)
    context = {"stream": stream, "session": session, "lines": shown(lines, settings["lines"]), "settings": settings,
               "size_choices": SIZES, "theme_choices": THEMES, "line_choices": LINE_CHOICES}
    if request.htmx:
        return Template("partials/_caption_lines.html", context=context)
    return Template("pages/captions.html", context=context)


def _captioner_context(row: Any, stream: Stream, lines: list[Line], session: Any, message: str = "") -> dict[str, Any]:
    return {"captioner": row, "stream": stream, "lines": lines, "session": session, "speakers": DEFAULT_SPEAKERS,
            "message": message, "new_op": lambda: uuid.uuid4().hex}


CAPTIONER = {"captioner": Provide(captioner_link)}


@get("/c/{code:str}/captioner/{token:str}", include_in_schema=False, dependencies=CAPTIONER)
async def captioner_page(request: Request, code: FromPath[str], token: FromPath[str], captioner: NamedDependency[Any],
                         db: Db) -> Template:
    """The captioner's page: type, Enter commits; speakers one key away; committed lines editable."""
    stream = await caption_store.get_stream(db, captioner["stream_id"])
    assert stream is not None
    session = await store.get_session(db, stream.session_id)
    lines = await caption_store.all_lines(db, stream.id)
    return Template("pages/captioner.html", context={
        **_captioner_context(captioner, stream, lines, session, request.query_params.get("msg", "")[:200]),
        "token": token}, headers={"Cache-Control": "no-store"})  # the page holds the link's secret token


@post(["/c/{code:str}/captioner/{token:str}/lines", "/c/{code:str}/captioner/{token:str}/lines/{line:int}"],
      include_in_schema=False, dependencies=CAPTIONER)
async def captioner_form(request: Request, code: FromPath[str], token: FromPath[str], captioner: NamedDependency[Any],
                         db: Db) -> Redirect:
    """Without JavaScript: commit a line, or correct one, by a plain form (the same service as the socket)."""
    stream = await caption_store.get_stream(db, captioner["stream_id"])
    assert stream is not None
    values = form_values(await request.form())
    line = request.path_params.get("line")
    data: dict[str, Any] = {"text": values.get("text", ""), "speaker": values.get("speaker", "")}
    if line is not None:
        data["line"] = line
    namespace = request.app.state.caption_namespace
    answer = await request.app.state.caption_service.handle(
        stream, "caption:edit" if line is not None else "caption:line", data, captioner_sender(captioner["id"]),
        values.get("op"), send=lambda message: namespace.emit("caption", message, room=stream_room(stream.id)))
    query = {}
    if not answer.get("ok"):
        error = answer["error"]
        query["msg"] = translate(error["message"], error.get("params"))
    return Redirect(path=f"/c/{code}/captioner/{token}", query_params=query, status_code=303)


ROUTES = [code_form, viewer, captioner_page, captioner_form]
