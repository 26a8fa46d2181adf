"""Who may follow and who may write a caption stream: the socket handshake of /captions, and the
dependencies that hand caption routes only the stream their caller may see.

Anyone with the code follows the captions of a public session (while it runs, later only when the
transcript is published). A captioner writes with the token of a link the organizer handed out and
has not revoked; an organizer of the session's organization may correct with an API token.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from realtime import caption_store
from realtime.caption_namespace import CaptionJoined
from realtime.caption_store import Stream
from realtime.captions import Captioner, open_to_viewers
from server.auth import accounts
from server.auth.board_access import _environ_cookies
from server.auth.guards import Db
from server.core import i18n
from server.core.i18n import gettext as _
from server.core.middleware import LANG_COOKIE
from sessions import store
from sessions.models import Session

CODE_MAX = 20
TOKEN_MAX = 200


def organizer_sender(account: accounts.Account) -> Captioner:
    return Captioner(id=f"o{account.id}")


def captioner_sender(captioner_id: int) -> Captioner:
    return Captioner(id=f"c{captioner_id}", captioner_id=captioner_id)


async def viewable(db: Any, stream: Stream) -> Session | None:
    """The stream's session when anyone may follow its captions now, else None."""
    session = await store.get_session(db, stream.session_id)
    if session is None or not open_to_viewers(session.status, session.ends_at, stream.published, store.now_utc()):
        return None
    return session


def caption_authenticator(db: Any):  # noqa: ANN201 - returns the namespace's Authenticate callable
    """The /captions handshake: `code` names the stream; `token` (optional) makes a captioner (a link's
    token of that stream) or a corrector (an organizer's API token of the session's organization)."""

    async def authenticate(auth: dict[str, Any], environ: dict[str, Any]) -> CaptionJoined | None:
        cookies = _environ_cookies(environ)
        locale = auth.get("lang") if auth.get("lang") in i18n.LOCALES else i18n.pick_locale(
            cookies.get(LANG_COOKIE), None, environ.get("HTTP_ACCEPT_LANGUAGE"), api=True)
        code = auth.get("code")
        if not isinstance(code, str) or not code or len(code) > CODE_MAX:
            return None
        stream = await caption_store.stream_by_code(db, code)
        if stream is None:
            return None
        token = auth.get("token")
        if token is None or token == "":
            return CaptionJoined(stream.id, None, locale) if await viewable(db, stream) else None
        if not isinstance(token, str) or len(token) > TOKEN_MAX:
            return None
        if token.startswith(caption_store.TOKEN_PREFIX):
            row = await caption_store.captioner_by_token(db, token)
            if row is None or row["stream_id"] != stream.id:
                return None  # a revoked or another stream's link is refused, not downgraded to a viewer
            return CaptionJoined(stream.id, captioner_sender(row["id"]), locale)
        if token.startswith("tw_"):
            account = await accounts.account_for_api_token(db, token)
            session = await store.get_session(db, stream.session_id)
            if account is None or session is None or not account.can_manage(session.org.id):
                return None
            return CaptionJoined(stream.id, organizer_sender(account), locale)
        return None

    return authenticate


# ---------------------------------------------------------------- HTTP dependencies

async def viewed_stream(request: Request, db: Db, code: FromPath[str]) -> Stream:
    """The stream behind /c/{code}, when anyone may follow it now; else 404, naming nothing."""
    stream = await caption_store.stream_by_code(db, code[:CODE_MAX])
    if stream is None or await viewable(db, stream) is None:
        raise NotFoundException(detail=_("There are no captions with this code."))
    return stream


async def captioner_link(db: Db, code: FromPath[str], token: FromPath[str]) -> Any:
    """The captioner behind a link (its row, with the stream's code and session); revoked or wrong: 404."""
    row = await caption_store.captioner_by_token(db, token[:TOKEN_MAX])
    if row is None or row["code"] != code:
        raise NotFoundException(detail=_("This captioner link is not valid. Ask the organizer for a new one."))
    return row


async def readable_transcript(request: Request, db: Db, session_id: FromPath[int]) -> tuple[Session, Stream]:
    """A session's transcript for its organization's staff, and for anyone once published with the
    outcome (of a public session); anything else is 404, naming nothing."""
    session = await store.get_session(db, session_id)
    stream = await caption_store.stream_of_session(db, session_id) if session else None
    if session is None or stream is None:
        raise NotFoundException(detail=_("There is no transcript for this session."))
    account = request.scope["state"].get("account")
    staff = account is not None and account.can_see_drafts_of(session.org.id)
    if not staff and not (stream.published and session.status in ("published", "completed")):
        raise NotFoundException(detail=_("There is no transcript for this session."))
    return session, stream
