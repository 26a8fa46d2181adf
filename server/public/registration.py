"""Residents register, and manage their registration from their own page /r/{token}."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from ledger import store as ledger_store
from realtime import store as board_store
from server.auth import antibot
from server.auth.limits import client_key
from server.core.errors import TooManyRequests, check_limit, field_messages, form_with_errors
from server.core.forms import (MAX_CHILD_BLOCKS, change_child_blocks, children_shown, form_values,
                               registration_input_from_form)
from server.core.i18n import gettext as _, translate
from server.public.sessions import visible_session
from sessions import evaluation_store, registration, store
from sessions.evaluation import open_problem
from sessions import registration_store as rstore
from sessions.models import Session
from sessions.registration_models import Registration, RegistrationInput
from sessions.validation import InvalidInput

# the online link appears on the registrant's page from this long before the start
ONLINE_LINK_BEFORE = timedelta(hours=24)
SUBMISSION_FIELD = "idempotency_key"
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,60}")


async def check_rate(request: Request) -> None:
    """Registrations per client are limited, for all processes together (TAIWA_RATE_LIMITS=off turns
    it off for load tests)."""
    settings = request.app.state.settings
    if not settings.rate_limits:
        return
    if (await request.app.state.shared_limits.take(("registration", client_key(request)))).wait:
        raise TooManyRequests(detail=_("Too many registrations from this connection. Please wait a few minutes."))


def submission_key(values: dict[str, Any]) -> str | None:
    """The form's one-time key (a hidden random field), if it looks like one."""
    key = str(values.get(SUBMISSION_FIELD) or "")
    return key if IDEMPOTENCY_KEY.fullmatch(key) else None


def idempotency_key(values: dict[str, Any], data: RegistrationInput) -> str | None:
    """The form's key and what it says: sent again as it was, the form gets its first registration
    back; sent again changed (back, edited: another person), it registers anew."""
    key = submission_key(values)
    return f"{key}:{hashlib.sha256(msgspec.json.encode(data)).hexdigest()[:32]}" if key else None


def _form_context(request: Request, session: Session, values: dict[str, Any], errors: dict[str, str],
                  closed: str | None) -> dict[str, Any]:
    # the same key comes back when the form is sent again (a reload, a retry after an error):
    # the registration it made, if any, is answered again instead of taking a second seat
    values = {**values, SUBMISSION_FIELD: submission_key(values) or secrets.token_urlsafe(18)}
    shown = children_shown(values)
    care = session.childcare
    years = range(care.min_age_months // 12, care.oldest_months // 12 + 1) if care else range(0)
    return {"session": session, "values": values, "errors": errors, "closed": closed,
            "child_fields": range(1, shown + 1), "children_shown": shown, "max_children": MAX_CHILD_BLOCKS,
            "age_years": years, "stamp": antibot.issue_stamp(request.app.state.secret), "now": store.now_utc()}


async def send_link_once_in_a_while(request: Request, registration_id: int) -> None:
    """Mail the existing registration's link to its own address, a few times a day at most (the
    answer on the page is the same either way, so nobody learns more by trying again)."""
    settings = request.app.state.settings
    if settings.rate_limits and (await request.app.state.shared_limits.take(
            ("link_resend", str(registration_id)))).wait:
        return
    await registration.send_link_again(request.app.state.db, registration_id, notify=request.app.state.notify)


@get("/sessions/{session_id:int}/register", include_in_schema=False)
async def registration_form(request: Request, session_id: FromPath[int]) -> Template:
    session = await visible_session(request, session_id)
    closed = registration.registration_open(session, store.now_utc())
    default_mode = "online" if session.format == "online" else "in_person"
    return Template("pages/register.html", context=_form_context(
        request, session, {"mode": default_mode}, {}, translate(closed) if closed else None))


@post("/sessions/{session_id:int}/register", include_in_schema=False)
async def register(request: Request, session_id: FromPath[int]) -> Template | Redirect:
    session = await visible_session(request, session_id)
    values = form_values(await request.form())
    settings = request.app.state.settings
    changed = change_child_blocks(values, str(values.get("form_action") or ""))
    if changed is not None:  # "add a child" / "remove": the same form again, nothing registered
        return Template("pages/register.html", context=_form_context(request, session, changed, {}, None))
    too_soon = antibot.sent_too_soon(values, request.app.state.secret, settings.form_min_seconds)
    if too_soon or antibot.looks_automated(values, request.app.state.secret, settings.form_min_seconds):
        context = _form_context(request, session, values, {}, None)
        context["errors"] = {"form": _(
            "This form was sent very quickly after it was opened (perhaps your browser filled it in). "
            "Your entries are kept below: please wait a few seconds, check them and press Register again.")
            if too_soon else _("We could not accept this form. Please check your entries and send it again.")}
        return Template("pages/register.html", context=context, status_code=400)
    await check_rate(request)
    locale = request.scope["state"].get("locale", "ja")
    data, unreadable = registration_input_from_form(values, session, locale)
    try:
        if unreadable:
            raise InvalidInput(unreadable)
        result = await registration.register(request.app.state.db, session.id, data, notify=request.app.state.notify,
                                             derive_token=request.app.state.derive_token,
                                             idempotency_key=idempotency_key(values, data), seen=session)
    except InvalidInput as invalid:
        return form_with_errors(request, "pages/register.html", _form_context(
            request, session, values, field_messages(invalid.errors), None))
    except registration.RegistrationClosed as closed:
        return Template("pages/register.html", context=_form_context(
            request, session, values, {}, translate(closed.message)), status_code=409)
    except registration.AlreadyRegistered as already:
        # the page says only what the person typing already knows (the address); the link itself
        # goes to that address, so a stranger typing someone's email learns nothing of their registration
        await send_link_once_in_a_while(request, already.registration_id)
        context = _form_context(request, session, values, {}, None)
        context["already_registered"] = True
        return Template("pages/register.html", context=context, status_code=409)
    return Redirect(path=f"/r/{result.token}", query_params={"new": "1"}, status_code=303)


async def own_registration(request: Request, token: str) -> tuple[Registration, Session]:
    """The registration behind a token; an unknown token is 404 (and says nothing more)."""
    if len(token) > 100:
        raise NotFoundException()
    found = await rstore.registration_by_token_hash(request.app.state.db, registration.token_hash(token))
    if found is None:
        raise NotFoundException()
    session = await store.get_session(request.app.state.db, found.session_id)
    assert session is not None
    return found, session


def _page_context(found: Registration, session: Session, token: str, **extra: Any) -> dict[str, Any]:
    now = store.now_utc()
    show_link = (found.mode == "online" and found.status in ("confirmed", "attended") and session.online_url
                 and session.starts_at - ONLINE_LINK_BEFORE <= now <= session.ends_at)
    return {"registration": found, "session": session, "token": token, "show_online_link": show_link,
            "link_from": session.starts_at - ONLINE_LINK_BEFORE, "errors": {}, "boards": [], **extra}


@get("/r/{token:str}", include_in_schema=False)
async def registrant_page(request: Request, token: FromPath[str]) -> Template:
    found, session = await own_registration(request, token)
    boards = []
    evaluation = None
    if found.status in ("confirmed", "attended"):
        boards = await board_store.session_boards(request.app.state.db, session.id)
        evaluation = await evaluation_store.evaluation_for_session(request.app.state.db, session.id)
        if evaluation and (open_problem(evaluation, store.now_utc()) or session.starts_at > store.now_utc()):
            evaluation = None  # the link appears once the session has begun, until the evaluation closes
    return Template("pages/registrant.html", context=_page_context(
        found, session, token, just_registered=request.query_params.get("new") == "1", boards=boards,
        evaluation=evaluation,
        theme=await ledger_store.public_theme_of_session(request.app.state.db, session.id)))


@get("/r/{token:str}/cancel", include_in_schema=False)
async def cancel_confirmation(request: Request, token: FromPath[str]) -> Template:
    found, session = await own_registration(request, token)
    return Template("pages/registrant_cancel.html", context=_page_context(found, session, token))


@post("/r/{token:str}/cancel", include_in_schema=False)
async def cancel(request: Request, token: FromPath[str]) -> Redirect:
    found, _session = await own_registration(request, token)
    await registration.cancel_registration(request.app.state.db, found, notify=request.app.state.notify)
    return Redirect(path=f"/r/{token}", status_code=303)


@post("/r/{token:str}/change", include_in_schema=False)
async def change_request(request: Request, token: FromPath[str]) -> Template | Redirect:
    found, session = await own_registration(request, token)
    message = form_values(await request.form()).get("message", "").strip()
    if not message or len(message) > 1000:
        errors = {"message": _("Write your request (up to 1000 characters).")}
        return form_with_errors(request, "pages/registrant.html", _page_context(found, session, token, errors=errors))
    await check_limit(request, "change_request", str(found.id), _(
        "You have sent several requests already. Please wait {wait} before sending another, or contact the "
        "organizer directly."))
    async with request.app.state.db.transaction() as conn:
        await rstore.add_change_request(conn, found.id, message)
    return Redirect(path=f"/r/{token}", query_params={"sent": "1"}, status_code=303)


@get("/r/{token:str}/erase", include_in_schema=False)
async def erase_confirmation(request: Request, token: FromPath[str]) -> Template:
    found, session = await own_registration(request, token)
    return Template("pages/registrant_erase.html", context=_page_context(found, session, token))


@post("/r/{token:str}/erase", include_in_schema=False)
async def erase(request: Request, token: FromPath[str]) -> Template:
    """Cancel if needed, then delete the registrant's personal and sensitive details."""
    found, session = await own_registration(request, token)
    db = request.app.state.db
    await registration.cancel_registration(db, found, notify=request.app.state.notify)
    async with db.transaction() as conn:
        await rstore.erase_registrant(conn, found.id)  # mail about them goes too, sent or not
    return Template("pages/registrant_erased.html", context={"session": session})


ROUTES = [registration_form, register, registrant_page, cancel_confirmation, cancel, change_request,
          erase_confirmation, erase]

