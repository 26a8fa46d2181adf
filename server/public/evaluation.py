"""Answering an evaluation (評価) without an account: anyone in the room at /e/{code} (the QR code on
the projector), a registrant from their own link /r/{token}/evaluation (the mail after the session),
and the published results at /sessions/{id}/evaluation.
"""

from __future__ import annotations

import io
from typing import Any

import segno

from litestar import Request, get, post
from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from markupsafe import Markup

from server.auth.limits import client_key
from server.core.errors import Conflict, check_limit, field_messages
from server.core.i18n import gettext as _, translate
from server.public.registration import own_registration
from server.public.sessions import visible_session
from sessions import evaluation_actions, registration
from sessions.catalog import N_
from sessions import evaluation_store as estore
from sessions import registration_store as rstore
from sessions.evaluation import AlreadyAnswered, Evaluation, EvaluationClosed, Respondent, open_problem
from sessions.text import without_controls
from sessions.timestamps import now_utc
from sessions.validation import InvalidInput

SCALE_LABELS = (N_("Strongly disagree"), N_("Disagree"), N_("Neither agree nor disagree"), N_("Agree"),
                N_("Strongly agree"))


async def registrant_for(db: Any, evaluation: Evaluation, token: str) -> tuple[int, Respondent]:
    """The registration behind a token, if it may answer this evaluation (it came to this session)."""
    found = await rstore.registration_by_token_hash(db, registration.token_hash(token)) if len(token) <= 100 else None
    if found is None or found.session_id != evaluation.session_id or found.status not in ("confirmed", "attended"):
        raise PermissionDeniedException(detail=_("This link cannot answer this evaluation."))
    accommodation, childcare = await estore.registrant_flags(db, found.id)
    return found.id, Respondent(requested_accommodation=accommodation, used_childcare=childcare)


async def take_answer(request: Request, evaluation: Evaluation, answers: Any, *, registration_id: int | None,
                      respondent: Respondent | None, source: str, used_accommodation: bool = False,
                      used_childcare: bool = False) -> None:
    """Store one response: 409 when closed or answered already, 422 for bad values, 429 for a flood
    of room answers from one client."""
    if source == "room":
        await check_limit(request, "evaluation", client_key(request), _(
            "Many answers came from this connection. Please wait {wait} and send again."))
    try:
        await evaluation_actions.answer(request.app.state.db, evaluation, answers, now=now_utc(), source=source,
                                        registration_id=registration_id, respondent=respondent,
                                        used_accommodation=used_accommodation, used_childcare=used_childcare)
    except EvaluationClosed as closed:
        raise Conflict(detail=translate(closed.message)) from None
    except AlreadyAnswered:
        raise Conflict(detail=_("You have already answered this evaluation. Thank you.")) from None


def answers_from_form(form: Any, evaluation: Evaluation) -> dict[str, Any]:
    """{question id: value} from the form's fields q{id} (several values for a multiple choice)."""
    answers: dict[str, Any] = {}
    for question in evaluation.questions:
        values = [without_controls(v) for v in form.getall(f"q{question.id}", []) if isinstance(v, str)]
        if question.kind == "multiple_choice":
            answers[str(question.id)] = values
        else:
            answers[str(question.id)] = values[-1] if values else ""
    return answers


def form_context(evaluation: Evaluation, session: Any, respondent: Respondent, *, action: str,
                 values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                 closed: str | None = None, answered: bool = False, staff: bool = False) -> dict[str, Any]:
    return {"evaluation": evaluation, "session": session, "action": action, "values": values or {},
            "errors": errors or {}, "closed": closed, "answered": answered, "staff": staff,
            "questions": [q for q in evaluation.questions if respondent.asked(q)],
            "room": respondent.requested_accommodation is None, "scale_labels": SCALE_LABELS}


async def _by_code(request: Request, code: str) -> tuple[Evaluation, Any]:
    if len(code) > 20 or not code.isascii():
        raise NotFoundException()
    evaluation = await estore.evaluation_by_code(request.app.state.db, code.lower())
    if evaluation is None:
        raise NotFoundException()
    return evaluation, await visible_session(request, evaluation.session_id)


async def _answer_page(request: Request, evaluation: Evaluation, session: Any, respondent: Respondent,
                       action: str, **save: Any) -> Template | Redirect:
    """Take the form: the thanks page (303) or the form again with its messages (422) or why not (409)."""
    form = await request.form()
    values = answers_from_form(form, evaluation)
    try:
        await take_answer(request, evaluation, values, respondent=respondent, **save)
    except InvalidInput as invalid:
        errors = {key.removeprefix("answers."): message for key, message in field_messages(invalid.errors).items()}
        return Template("pages/evaluation_form.html", status_code=422, context=form_context(
            evaluation, session, respondent, action=action, values=values, errors=errors))
    except HTTPException as refused:
        if refused.status_code != 409:
            raise
        return Template("pages/evaluation_form.html", status_code=409, context=form_context(
            evaluation, session, respondent, action=action, closed=str(refused.detail)))
    return Redirect(path=f"{action}/thanks", status_code=303)


@get("/e/{code:str}", include_in_schema=False)
async def room_form(request: Request, code: FromPath[str]) -> Template:
    evaluation, session = await _by_code(request, code)
    problem = open_problem(evaluation, now_utc())
    return Template("pages/evaluation_form.html", context=form_context(
        evaluation, session, Respondent(), action=f"/e/{evaluation.code}", closed=translate(problem) if problem else None))


@post("/e/{code:str}", include_in_schema=False)
async def room_answer(request: Request, code: FromPath[str]) -> Template | Redirect:
    evaluation, session = await _by_code(request, code)
    return await _answer_page(request, evaluation, session, Respondent(), f"/e/{evaluation.code}",
                              registration_id=None, source="room")


@get("/e/{code:str}/thanks", include_in_schema=False)
async def room_thanks(request: Request, code: FromPath[str]) -> Template:
    evaluation, session = await _by_code(request, code)
    return Template("pages/evaluation_thanks.html", context={"session": session, "evaluation": evaluation})


async def _registrant(request: Request, token: str) -> tuple[Evaluation, Any, int, Respondent]:
    found, session = await own_registration(request, token)
    evaluation = await estore.evaluation_for_session(request.app.state.db, session.id)
    if evaluation is None:
        raise NotFoundException()
    registration_id, respondent = await registrant_for(request.app.state.db, evaluation, token)
    return evaluation, session, registration_id, respondent


@get("/r/{token:str}/evaluation", include_in_schema=False)
async def registrant_form(request: Request, token: FromPath[str]) -> Template:
    evaluation, session, registration_id, respondent = await _registrant(request, token)
    problem = open_problem(evaluation, now_utc())
    answered = await estore.has_answered(request.app.state.db, evaluation.id, registration_id)
    return Template("pages/evaluation_form.html", context=form_context(
        evaluation, session, respondent, action=f"/r/{token}/evaluation", answered=answered,
        closed=translate(problem) if problem else None))


@post("/r/{token:str}/evaluation", include_in_schema=False)
async def registrant_answer(request: Request, token: FromPath[str]) -> Template | Redirect:
    evaluation, session, registration_id, respondent = await _registrant(request, token)
    return await _answer_page(request, evaluation, session, respondent, f"/r/{token}/evaluation",
                              registration_id=registration_id, source="registrant")


@get("/r/{token:str}/evaluation/thanks", include_in_schema=False)
async def registrant_thanks(request: Request, token: FromPath[str]) -> Template:
    evaluation, session, _registration_id, _respondent = await _registrant(request, token)
    return Template("pages/evaluation_thanks.html", context={"session": session, "evaluation": evaluation,
                                                              "token": token})


@get("/sessions/{session_id:int}/evaluation", include_in_schema=False)
async def published_results(request: Request, session_id: FromPath[int]) -> Template:
    """The published outcome of the evaluation: charts, means, and the free text the organizer chose."""
    session = await visible_session(request, session_id)
    db = request.app.state.db
    evaluation = await estore.evaluation_for_session(db, session.id)
    if evaluation is None or not evaluation.results_published:
        raise NotFoundException()
    found = await evaluation_actions.results(db, evaluation, session.id, request.scope["state"].get("locale", "ja"))
    return Template("pages/evaluation_published.html", context={
        "session": session, "evaluation": evaluation, "results": evaluation_actions.public_results(found),
        "scale_labels": SCALE_LABELS})


async def evaluation_qr(db: Any, session_id: int, base_url: str) -> dict[str, Any] | None:
    """What partials/_evaluation_qr.html needs (for the projector's closing screen), or None when the
    session has no evaluation open now: {evaluation_url, evaluation_qr, evaluation_code}."""
    evaluation = await estore.evaluation_for_session(db, session_id)
    if evaluation is None or open_problem(evaluation, now_utc()):
        return None
    url = f"{base_url}/e/{evaluation.code}"
    return {"evaluation_url": url, "evaluation_code": evaluation.code, "evaluation_qr": qr_for(url)}


def qr_for(url: str) -> Markup:
    """The evaluation's QR code as inline SVG (segno), titled for screen readers."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=8, border=2, xmldecl=False, svgns=True,
                                    title=_("QR code to the evaluation"), svgclass="qr", lineclass=None, omitsize=True)
    return Markup(buffer.getvalue().decode())


ROUTES = [room_form, room_answer, room_thanks, registrant_form, registrant_answer, registrant_thanks,
          published_results]
