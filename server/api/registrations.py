"""The JSON API for registrations: residents register and cancel; organizers read rosters and answer requests."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar import Request, delete, get, patch, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, HeaderParameter, JSONBody
from litestar.status_codes import HTTP_201_CREATED

from server.api.sessions import ORGANIZER, ORGANIZER_ERRORS, PUBLIC, PUBLIC_ERRORS
from server.core.errors import Conflict, error_responses
from server.core.i18n import gettext as _, translate
from server.public.registration import check_rate, send_link_once_in_a_while
from server.auth.guards import Db, CurrentAccount
from sessions import registration, store
from sessions import registration_store as rstore
from sessions.registration_models import Registration, RegistrationInput


class ChildOut(msgspec.Struct):
    age_months: int
    status: str
    notes: str | msgspec.UnsetType = msgspec.UNSET


class RequestOut(msgspec.Struct):
    id: int
    code: str
    status: str
    message: str
    note: str | msgspec.UnsetType = msgspec.UNSET


class RegistrationOut(msgspec.Struct, omit_defaults=True):
    status: str
    mode: str
    session_id: int
    position: int | None = None
    childcare_status: str | None = None
    children: list[ChildOut] = msgspec.field(default_factory=list)
    accommodations: list[RequestOut] = msgspec.field(default_factory=list)
    token: str | msgspec.UnsetType = msgspec.UNSET
    url: str | msgspec.UnsetType = msgspec.UNSET
    id: int | msgspec.UnsetType = msgspec.UNSET
    name: str | msgspec.UnsetType = msgspec.UNSET
    email: str | msgspec.UnsetType = msgspec.UNSET
    phone: str | msgspec.UnsetType = msgspec.UNSET
    staff_entered: bool | msgspec.UnsetType = msgspec.UNSET
    checked_in_at: datetime | None | msgspec.UnsetType = msgspec.UNSET
    created_at: datetime | None = None


class RequestUpdate(msgspec.Struct):
    status: Literal["requested", "confirmed", "unavailable"]
    message: str = ""


def registration_out(entry: Registration, *, token: str | None = None, base_url: str = "",
                     roster: bool = False) -> RegistrationOut:
    """The contract's Registration shape; details only for the registrant (own token) or the organizer."""
    return RegistrationOut(
        status=entry.status, mode=entry.mode, session_id=entry.session_id, position=entry.position,
        childcare_status=entry.childcare_status, created_at=entry.created_at,
        children=[ChildOut(age_months=c.age_months, status=c.status, notes=c.notes if roster else msgspec.UNSET)
                  for c in entry.children],
        accommodations=[RequestOut(id=r.id, code=r.code, status=r.status, message=r.message,
                                   note=r.note if roster else msgspec.UNSET) for r in entry.requests],
        token=token if token else msgspec.UNSET, url=f"{base_url}/r/{token}" if token else msgspec.UNSET,
        id=entry.id if roster else msgspec.UNSET, name=entry.name if roster else msgspec.UNSET,
        email=entry.email if roster else msgspec.UNSET, phone=entry.phone if roster else msgspec.UNSET,
        staff_entered=entry.staff_entered if roster else msgspec.UNSET,
        checked_in_at=entry.checked_in_at if roster else msgspec.UNSET,
    )


@post("/api/sessions/{session_id:int}/registrations", summary="Register for a session", tags=["registrations"], **PUBLIC,
      status_code=HTTP_201_CREATED, responses=error_responses(400, 404, 409, 422, 429))
async def create_registration(
    request: Request, session_id: FromPath[int], data: JSONBody[RegistrationInput], db: Db,
    idempotency_key: Annotated[str | None, HeaderParameter(
        name="Idempotency-Key", required=False, min_length=1, max_length=100, pattern=r"^[\x21-\x7e]+$",
        description="Any unique string (e.g. a UUID) chosen by the client: sending the same registration again "
                    "with the same key returns the first answer instead of taking a second seat.")] = None,
) -> RegistrationOut:
    """201 with status confirmed or waitlisted (and position); the token opens /r/{token} and is shown once.
    Sent again with the same Idempotency-Key, the same registration is answered as it stands, with its token."""
    session = await store.get_session(db, session_id)
    if session is None or session.status == "draft":
        raise NotFoundException(detail=_("There is no such session."))
    await check_rate(request)
    if data.locale is None:
        data = msgspec.structs.replace(data, locale=request.scope["state"].get("locale", "ja"))
    try:
        result = await registration.register(db, session_id, data, notify=request.app.state.notify,
                                             derive_token=request.app.state.derive_token,
                                             idempotency_key=idempotency_key, seen=session)
    except registration.RegistrationClosed as closed:
        raise Conflict(detail=translate(closed.message)) from None
    except registration.AlreadyRegistered as already:
        await send_link_once_in_a_while(request, already.registration_id)
        raise Conflict(detail=_("This email address is already registered for this session. We have sent the link "
                                "to that registration to the address.")) from None
    except registration.KeyReused:
        raise Conflict(detail=_("This Idempotency-Key was already used for a different registration.")) from None
    return registration_out(result.registration, token=result.token, base_url=request.app.state.settings.base_url)


async def _by_token(request: Request, token: str) -> Registration:
    found = await rstore.registration_by_token_hash(request.app.state.db, registration.token_hash(token[:100]))
    if found is None:
        raise NotFoundException(detail=_("There is no such registration."))
    return found


@get("/api/registrations/{token:str}", summary="A registration (by its token)", tags=["registrations"], **PUBLIC,
     responses=PUBLIC_ERRORS)
async def get_registration(request: Request, token: FromPath[str]) -> RegistrationOut:
    return registration_out(await _by_token(request, token))


@delete("/api/registrations/{token:str}", summary="Cancel a registration (by its token)", tags=["registrations"], **PUBLIC,
        status_code=200, responses=PUBLIC_ERRORS)
async def cancel_registration(request: Request, token: FromPath[str], db: Db) -> RegistrationOut:
    """Cancels; the first waitlisted registrant is promoted. Cancelling twice is harmless."""
    found = await _by_token(request, token)
    await registration.cancel_registration(db, found, notify=request.app.state.notify)
    return registration_out(await _by_token(request, token))


@get("/api/sessions/{session_id:int}/registrations", summary="The roster of a session", tags=["registrations"],
     **ORGANIZER, responses=ORGANIZER_ERRORS)
async def list_registrations(request: Request, session_id: FromPath[int], account: CurrentAccount, db: Db) -> list[RegistrationOut]:
    session = await store.get_session(db, session_id)
    if session is None or not account.can_see_drafts_of(session.org.id):
        raise NotFoundException(detail=_("There is no such session."))
    if not account.can_manage(session.org.id):
        raise PermissionDeniedException(detail=_("Your account cannot see this roster."))
    return [registration_out(entry, roster=True)
            for entry in await rstore.session_registrations(db, session_id)]


@patch("/api/accommodation-requests/{request_id:int}", summary="Answer an accommodation request",
       tags=["registrations"], **ORGANIZER, responses=ORGANIZER_ERRORS)
async def answer_request(request: Request, request_id: FromPath[int], data: JSONBody[RequestUpdate], account: CurrentAccount, db: Db) -> RequestOut:
    row = await rstore.request_with_session(db, request_id)
    if row is None or not account.can_see_drafts_of(row["org_id"]):
        raise NotFoundException(detail=_("There is no such request."))
    if not account.can_manage(row["org_id"]):
        raise PermissionDeniedException(detail=_("Your account cannot answer this request."))
    await registration.set_request_status(db, request_id, data.status, data.message, notify=request.app.state.notify)
    row = await rstore.request_with_session(db, request_id)
    return RequestOut(id=row["id"], code=row["code"], status=row["status"], message=row["message"], note=row["note"])


ROUTES = [create_registration, get_registration, cancel_registration, list_registrations, answer_request]
