"""Captions for a session (/organize/sessions/{id}/captions): switch them on, hand out and revoke
captioner links, correct the transcript after the session, publish it with the outcome, download it.

The JSON API (server/api/captions.py) does the same through the functions at the top.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from realtime import caption_store
from realtime.caption_namespace import stream_room
from realtime.caption_service import now_iso
from realtime.caption_store import Stream
from realtime.captions import DEFAULT_SPEAKERS, Captioner
from realtime.commands import without_controls
from realtime.transcript import plain_text, webvtt
from server.auth.accounts import Account
from server.auth.caption_access import organizer_sender
from server.auth.guards import CurrentAccount, Db
from server.core.forms import form_values
from server.core.i18n import gettext as _, translate
from server.organize.flash import redirect_with_flash
from sessions.models import Session

LABEL_MAX = 40


# ---------------------------------------------------------------- what the pages and the API share

def captioner_label(value: Any) -> str:
    """A captioner link's label as kept: one line of printable text, at most LABEL_MAX characters."""
    text = " ".join(without_controls(str(value or "")).split())[:LABEL_MAX]
    return text.encode("utf-8", "ignore").decode("utf-8")  # a lone surrogate cannot be stored


async def switch_on(db: Any, session: Session, label: str = "") -> tuple[Stream, int, str]:
    """The session's stream (made on first use) and a new captioner link: (stream, captioner id, token)."""
    async with db.transaction() as conn:
        stream = await caption_store.create_stream(conn, session.id, now_iso())
        captioner_id, token = await caption_store.add_captioner(conn, stream.id, captioner_label(label), now_iso())
    return stream, captioner_id, token


async def revoke(request: Request, stream: Stream, captioner_id: int) -> bool:
    """Revoke a captioner link and disconnect it at once; False when there is no such active link."""
    async with request.app.state.db.transaction() as conn:
        done = await caption_store.revoke_captioner(conn, stream.id, captioner_id, now_iso())
    await request.app.state.caption_namespace.drop_captioner(captioner_id)
    return done


async def correct(request: Request, stream: Stream, account: Account, line: int, text: Any,
                  speaker: Any = None, op: Any = None) -> dict[str, Any]:
    """The organizer's correction of a line, through the same service as a captioner's (so it reaches
    every screen); returns the service's answer."""
    namespace = request.app.state.caption_namespace
    data: dict[str, Any] = {"line": line, "text": text}
    if speaker is not None:
        data["speaker"] = speaker
    sender: Captioner = organizer_sender(account)
    return await request.app.state.caption_service.handle(
        stream, "caption:edit", data, sender, op or f"http-{now_iso()}-{line}",
        send=lambda message: namespace.emit("caption", message, room=stream_room(stream.id)))


async def publish(db: Any, stream: Stream, published: bool) -> None:
    async with db.transaction() as conn:
        await caption_store.set_published(conn, stream.id, published)


async def transcript(db: Any, session: Session, stream: Stream, fmt: str) -> Response[bytes]:
    """The transcript as a download: WebVTT or UTF-8 text."""
    lines = await caption_store.all_lines(db, stream.id)
    if fmt == "vtt":
        body, media = webvtt(lines, session.starts_at, session.title), "text/vtt"
    else:
        body, media = plain_text(lines, session.timezone, session.title), "text/plain"
    return Response(body.encode("utf-8"), media_type=media, headers={
        "Content-Disposition": f'attachment; filename="captions-{session.id}.{fmt}"', "Cache-Control": "no-store"})


# ---------------------------------------------------------------- pages

async def _context(request: Request, session: Session, **extra: Any) -> dict[str, Any]:
    db = request.app.state.db
    stream = await caption_store.stream_of_session(db, session.id)
    base = request.app.state.settings.base_url
    return {"session": session, "stream": stream, "base_url": base, "speakers": DEFAULT_SPEAKERS,
            "captioners": await caption_store.captioners(db, stream.id) if stream else [],
            "lines": await caption_store.all_lines(db, stream.id) if stream else [],
            "message": request.query_params.get("msg", "")[:200], "new_link": "", **extra}


async def _stream_or_404(db: Any, session: Session) -> Stream:
    stream = await caption_store.stream_of_session(db, session.id)
    if stream is None:
        raise NotFoundException(detail=_("Captions are not switched on for this session."))
    return stream


@get("/organize/sessions/{session_id:int}/captions", include_in_schema=False)
async def captions_page(request: Request, session_id: FromPath[int], session: NamedDependency[Session]) -> Template:
    return Template("pages/organize/captions.html", context=await _context(request, session))


@post("/organize/sessions/{session_id:int}/captions", include_in_schema=False)
async def new_link(request: Request, session_id: FromPath[int], session: NamedDependency[Session],
                   db: Db) -> Template:
    """Switch captions on (first time) and hand out a new captioner link, shown on this answer only."""
    values = form_values(await request.form())
    stream, _captioner, token = await switch_on(db, session, str(values.get("label", "")))
    link = f"{request.app.state.settings.base_url}/c/{stream.code}/captioner/{token}"
    return Template("pages/organize/captions.html", context=await _context(request, session, new_link=link))


@post("/organize/sessions/{session_id:int}/captions/captioners/{captioner_id:int}/revoke", include_in_schema=False)
async def revoke_link(request: Request, session_id: FromPath[int], captioner_id: FromPath[int],
                      session: NamedDependency[Session], db: Db) -> Redirect:
    stream = await _stream_or_404(db, session)
    if not await revoke(request, stream, captioner_id):
        raise NotFoundException(detail=_("There is no such captioner link."))
    return redirect_with_flash(request, f"/organize/sessions/{session.id}/captions", "saved")


@post("/organize/sessions/{session_id:int}/captions/lines/{line:int}", include_in_schema=False)
async def correct_line(request: Request, session_id: FromPath[int], line: FromPath[int],
                       session: NamedDependency[Session], account: CurrentAccount, db: Db) -> Redirect:
    stream = await _stream_or_404(db, session)
    values = form_values(await request.form())
    answer = await correct(request, stream, account, line, values.get("text", ""), values.get("speaker", ""),
                           values.get("op"))
    if answer.get("ok"):
        return redirect_with_flash(request, f"/organize/sessions/{session.id}/captions#line-{line}", "saved")
    error = answer["error"]
    return Redirect(path=f"/organize/sessions/{session.id}/captions",
                    query_params={"msg": translate(error["message"], error.get("params"))}, status_code=303)


@post("/organize/sessions/{session_id:int}/captions/publish", include_in_schema=False)
async def publish_page(request: Request, session_id: FromPath[int], session: NamedDependency[Session],
                       db: Db) -> Redirect:
    stream = await _stream_or_404(db, session)
    await publish(db, stream, form_values(await request.form()).get("publish") == "1")
    return redirect_with_flash(request, f"/organize/sessions/{session.id}/captions", "saved")


@get(["/organize/sessions/{session_id:int}/captions.vtt", "/organize/sessions/{session_id:int}/captions.txt"],
     include_in_schema=False)
async def download(request: Request, session_id: FromPath[int], session: NamedDependency[Session],
                   db: Db) -> Response[bytes]:
    stream = await _stream_or_404(db, session)
    return await transcript(db, session, stream, request.url.path.rsplit(".", 1)[-1])


ROUTES = [captions_page, new_link, revoke_link, correct_line, publish_page, download]
