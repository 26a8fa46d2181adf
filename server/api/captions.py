"""The JSON API for live captions: switch them on and hand out captioner links, revoke them, read,
correct and publish the transcript, and download it as WebVTT or text."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from realtime import caption_store
from realtime.caption_store import Stream
from server.api.sessions import ORGANIZER, ORGANIZER_ERRORS, PUBLIC
from server.auth.caption_access import readable_transcript
from server.auth.guards import CurrentAccount, Db
from server.core.errors import Conflict, error_responses
from server.core.i18n import gettext as _, translate
from server.organize.captions import correct, publish, revoke, switch_on, transcript
from sessions.models import Session
from sessions.validation import FieldError, InvalidInput


class CaptionsCreate(msgspec.Struct):
    label: str = ""


class CaptionsCreated(msgspec.Struct):
    code: str
    captioner_token: str
    captioner: int
    viewer_url: str
    captioner_url: str


class CaptionsUpdate(msgspec.Struct):
    published: bool


class LineUpdate(msgspec.Struct):
    text: str
    speaker: str | None = None
    op: str | None = None


async def _stream(db: Any, session: Session) -> Stream:
    stream = await caption_store.stream_of_session(db, session.id)
    if stream is None:
        raise NotFoundException(detail=_("Captions are not switched on for this session."))
    return stream


async def _described(request: Request, stream: Stream) -> dict[str, Any]:
    db = request.app.state.db
    stream = await caption_store.get_stream(db, stream.id) or stream
    return {"code": stream.code, "seq": stream.seq, "published": stream.published,
            "viewer_url": f"{request.app.state.settings.base_url}/c/{stream.code}",
            "lines": [line.wire() for line in await caption_store.all_lines(db, stream.id)],
            "captioners": [{"id": row["id"], "label": row["label"], "created_at": row["created_at"],
                            "revoked": row["revoked_at"] is not None}
                           for row in await caption_store.captioners(db, stream.id)]}


@post("/api/sessions/{session_id:int}/captions", summary="Switch captions on and make a captioner link",
      tags=["captions"], status_code=HTTP_201_CREATED, **ORGANIZER, responses=ORGANIZER_ERRORS)
async def create(request: Request, session_id: FromPath[int], session: NamedDependency[Session], db: Db,
                 data: JSONBody[CaptionsCreate | None] = None) -> CaptionsCreated:
    """Again: the same code, a new captioner token (each can be revoked on its own)."""
    stream, captioner, token = await switch_on(db, session, data.label if data else "")
    base = request.app.state.settings.base_url
    return CaptionsCreated(code=stream.code, captioner_token=token, captioner=captioner,
                           viewer_url=f"{base}/c/{stream.code}", captioner_url=f"{base}/c/{stream.code}/captioner/{token}")


@get("/api/sessions/{session_id:int}/captions", summary="The captions: code, lines, captioner links",
     tags=["captions"], **ORGANIZER, responses=ORGANIZER_ERRORS)
async def read(request: Request, session_id: FromPath[int], session: NamedDependency[Session], db: Db) -> dict[str, Any]:
    return await _described(request, await _stream(db, session))


@patch("/api/sessions/{session_id:int}/captions", summary="Publish the transcript with the outcome (or not)",
       tags=["captions"], **ORGANIZER, responses=ORGANIZER_ERRORS)
async def update(request: Request, session_id: FromPath[int], session: NamedDependency[Session], db: Db,
                 data: JSONBody[CaptionsUpdate]) -> dict[str, Any]:
    stream = await _stream(db, session)
    await publish(db, stream, data.published)
    return await _described(request, stream)


@delete("/api/sessions/{session_id:int}/captions/captioners/{captioner_id:int}", summary="Revoke a captioner link",
        tags=["captions"], status_code=HTTP_204_NO_CONTENT, **ORGANIZER, responses=ORGANIZER_ERRORS)
async def revoke_captioner(request: Request, session_id: FromPath[int], captioner_id: FromPath[int],
                           session: NamedDependency[Session], db: Db) -> None:
    """Its connections are closed at once; the token is refused from then on."""
    if not await revoke(request, await _stream(db, session), captioner_id):
        raise NotFoundException(detail=_("There is no such captioner link."))


@patch("/api/sessions/{session_id:int}/captions/lines/{line:int}", summary="Correct a caption line",
       tags=["captions"], **ORGANIZER, responses=error_responses(400, 401, 403, 404, 409, 422))
async def correct_line(request: Request, session_id: FromPath[int], line: FromPath[int],
                       session: NamedDependency[Session], account: CurrentAccount, db: Db,
                       data: JSONBody[LineUpdate]) -> dict[str, Any]:
    """The correction reaches every screen showing the captions, as a captioner's would."""
    stream = await _stream(db, session)
    answer = await correct(request, stream, account, line, data.text, data.speaker, data.op)
    if not answer.get("ok"):
        error = answer["error"]
        message = translate(error["message"], error.get("params"))
        if error["code"] == "not_found":
            raise NotFoundException(detail=message)
        if error["code"] == "revoked":
            raise Conflict(detail=message)
        raise InvalidInput([FieldError("text", message)])
    found = await caption_store.get_line(db, stream.id, line)
    assert found is not None
    return {**found.wire(), "seq": found.seq}


TRANSCRIPT = {"transcript": Provide(readable_transcript)}


@get("/api/sessions/{session_id:int}/captions.vtt", summary="The transcript as WebVTT", tags=["captions"],
     media_type="text/vtt", dependencies=TRANSCRIPT, responses=error_responses(404), **PUBLIC)
async def transcript_vtt(session_id: FromPath[int], transcript: NamedDependency[tuple[Session, Stream]],
                         db: Db) -> Response[bytes]:
    """Cues timed from the session's start (a line before the start at 0). Organizers always; anyone
    once the transcript is published with the outcome."""
    return await _download(db, transcript, "vtt")


@get("/api/sessions/{session_id:int}/captions.txt", summary="The transcript as text", tags=["captions"],
     media_type="text/plain", dependencies=TRANSCRIPT, responses=error_responses(404), **PUBLIC)
async def transcript_txt(session_id: FromPath[int], transcript: NamedDependency[tuple[Session, Stream]],
                         db: Db) -> Response[bytes]:
    """One line per caption with its local time and speaker. Same access as the WebVTT."""
    return await _download(db, transcript, "txt")


async def _download(db: Any, found: tuple[Session, Stream], fmt: str) -> Response[bytes]:
    answer = await transcript(db, *found, fmt)
    if isinstance(answer.media_type, str):
        answer.media_type = answer.media_type.split(";")[0]
    return answer


ROUTES = [create, read, update, revoke_captioner, correct_line, transcript_vtt, transcript_txt]
