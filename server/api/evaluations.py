"""The JSON API of evaluations (評価): attach one to a session, answer it, read its results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED

from server.api.sessions import ORGANIZER, ORGANIZER_ERRORS, PUBLIC
from server.organize.evaluation import attach_evaluation
from server.public.evaluation import registrant_for, take_answer
from server.auth.guards import Db
from server.core.errors import error_responses
from server.core.i18n import current_locale, gettext as _
from sessions import evaluation_actions
from sessions import evaluation_store as estore
from sessions.evaluation import (
    Evaluation, Respondent,
)
from sessions.models import Session


class QuestionIn(msgspec.Struct):
    type: str
    text: str
    options: list[str] | None = None


class EvaluationCreate(msgspec.Struct):
    standard: bool = True
    questions: list[QuestionIn] = msgspec.field(default_factory=list)
    opens_at: datetime | None = None
    closes_at: datetime | None = None


class ResponseCreate(msgspec.Struct):
    answers: dict[str, Any]
    token: str | None = None


def question_out(question: Any, locale: str) -> dict[str, Any]:
    out: dict[str, Any] = {"id": question.id, "type": question.kind, "text": question.text_in(locale),
                           "bank_key": question.bank_key or None, "audience": question.audience}
    if question.options:
        out["options"] = [{"id": o.id, "label": o.text_in(locale)} for o in question.options]
    return out


def evaluation_out(evaluation: Evaluation, base_url: str) -> dict[str, Any]:
    locale = current_locale.get()
    return {"id": evaluation.id, "session_id": evaluation.session_id, "code": evaluation.code,
            "url": f"{base_url}/e/{evaluation.code}", "opens_at": evaluation.opens_at,
            "closes_at": evaluation.closes_at, "questions": [question_out(q, locale) for q in evaluation.questions]}


@post("/api/sessions/{session_id:int}/evaluation", summary="Attach an evaluation to a session", tags=["evaluations"],
      status_code=HTTP_201_CREATED, **ORGANIZER, responses={**ORGANIZER_ERRORS, **error_responses(409)})
async def create(request: Request, session_id: FromPath[int], data: JSONBody[EvaluationCreate],
                 session: NamedDependency[Session], db: Db) -> dict[str, Any]:
    """The standard item bank (unless `standard` is false) plus custom questions; one per session."""
    evaluation = await attach_evaluation(db, session, data.standard,
                                         [(q.type, q.text, q.options) for q in data.questions],
                                         data.opens_at, data.closes_at)
    return evaluation_out(evaluation, request.app.state.settings.base_url)


@post("/api/evaluations/{evaluation_id:int}/responses", summary="Answer an evaluation", tags=["evaluations"],
      status_code=HTTP_201_CREATED, responses=error_responses(400, 403, 404, 409, 422, 429), **PUBLIC)
async def respond(request: Request, evaluation_id: FromPath[int], data: JSONBody[ResponseCreate],
                  db: Db) -> dict[str, Any]:
    """`answers`: {question id: value} (scale 1–5, an option id, a list of option ids, a text). With a
    registrant's `token`: once per registration. Without: a room answer, limited per client."""
    evaluation = await estore.get_evaluation(db, evaluation_id)
    if evaluation is None:
        raise NotFoundException(detail=_("There is no such evaluation."))
    registration_id: int | None = None
    respondent: Respondent | None = None
    if data.token is not None:
        registration_id, respondent = await registrant_for(db, evaluation, data.token)
    await take_answer(request, evaluation, data.answers, registration_id=registration_id, respondent=respondent,
                      source="registrant" if registration_id else "room")
    return {"ok": True}


def question_json(item: Any, *, organizer: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"id": item.id, "type": item.type, "text": item.text, "answered": item.answered}
    if item.bank_key:
        out["bank_key"] = item.bank_key
    if item.counts is not None:
        out["counts"] = item.counts
    if item.type == "scale":
        out["mean"] = item.mean
    if item.options:
        out["options"] = item.options
    if item.type == "text":
        out["texts"] = [t["text"] for t in item.texts]
        if organizer:
            out["text_items"] = item.texts
    return out


def results_json(found: dict[str, Any], *, organizer: bool = True) -> dict[str, Any]:
    out = {key: found[key] for key in ("responses", "registered", "attended", "checked_in", "response_rate", "purged")}
    out["questions"] = [question_json(q, organizer=organizer) for q in found["questions"]]
    if organizer:
        out["breakdowns"] = {name: {"hidden": group["hidden"], "responses": group.get("responses"),
                                    "questions": [question_json(q, organizer=True) for q in group["questions"]]}
                             for name, group in found["breakdowns"].items()}
    return out


@get("/api/evaluations/{evaluation_id:int}/results", summary="Results of an evaluation", tags=["evaluations"],
     **ORGANIZER, responses=ORGANIZER_ERRORS)
async def results(evaluation_id: FromPath[int], evaluation: NamedDependency[Evaluation], db: Db) -> dict[str, Any]:
    """For the session's organizers: response rate, counts and means per question, free text, and the
    breakdowns for respondents who used accommodations or childcare (hidden below 5 respondents)."""
    found = await evaluation_actions.results(db, evaluation, evaluation.session_id, current_locale.get())
    return results_json(found)


ROUTES = [create, respond, results]
