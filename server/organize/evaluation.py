"""The organizer's evaluation pages of a session: attach the standard evaluation with one click, add
custom questions, set the closing date, enter paper questionnaires, read the results (charts,
breakdowns, free text, trends across a series), choose what to publish, send the ticked free text to
the session's theme (論点整理) as opinions, download CSV, and show the QR code and the live results on
the projector.

Answers and breakdowns are for the session's organizers only: the `session` dependency of the
organize router refuses other organizations (404) and facilitators (403).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from ledger import store as ledger_store
from ledger import themes as ledger_themes
from ledger.models import Theme
from server.auth.guards import Db
from server.core.errors import Conflict, field_messages
from server.core.forms import form_values
from server.core.i18n import current_locale, gettext as _
from server.core.spreadsheet import csv_bytes
from server.organize.flash import redirect_with_flash
from server.public.evaluation import SCALE_LABELS, answers_from_form, evaluation_qr, form_context, qr_for, take_answer
from sessions import evaluation_actions
from sessions.catalog import N_
from sessions import evaluation_store as estore
from sessions.evaluation import (
    MAX_QUESTIONS, TREND_KEYS, Evaluation, NewQuestion, Respondent, custom_question, open_problem, standard_questions,
)
from sessions.models import Session
from sessions.timestamps import now_utc
from sessions.validation import (
    RANGE_MESSAGE, RANGE_PARAMS, FieldError, InvalidInput, as_utc, in_year_range,
)

CHOICE_KINDS = (("scale", N_("Scale 1–5")), ("single_choice", N_("Single choice")),
                ("multiple_choice", N_("Multiple choice")), ("text", N_("Free text")))


def new_questions(standard: bool, custom: list[tuple[Any, Any, Any]]) -> list[NewQuestion]:
    """The standard item bank (when chosen) and the custom questions, or InvalidInput naming them."""
    questions = standard_questions() if standard else []
    errors: list[FieldError] = []
    if len(custom) > MAX_QUESTIONS:
        raise InvalidInput([FieldError("questions", N_("Up to {max} questions."), {"max": MAX_QUESTIONS})])
    for index, (kind, text, options) in enumerate(custom):
        question, problems = custom_question(kind, text, options, prefix=f"questions[{index}].")
        errors += problems
        if question:
            questions.append(question)
    if errors:
        raise InvalidInput(errors)
    if not questions:
        raise InvalidInput([FieldError("questions", N_("Add at least one question, or the standard ones."))])
    return questions


async def attach_evaluation(db: Any, session: Session, standard: bool, custom: list[tuple[Any, Any, Any]],
                            opens_at: datetime | None = None, closes_at: datetime | None = None) -> Evaluation:
    """Attach the session's evaluation; a second one is 409."""
    questions = new_questions(standard, custom)
    far = [FieldError(name, RANGE_MESSAGE, RANGE_PARAMS)
           for name, value in (("opens_at", opens_at), ("closes_at", closes_at)) if value is not None and not in_year_range(value)]
    if far:
        raise InvalidInput(far)
    now = now_utc()
    try:
        return await evaluation_actions.attach(
            db, session.id, session.ends_at, questions, now=now,
            opens_at=as_utc(opens_at, session.timezone) if opens_at else now,
            closes_at=as_utc(closes_at, session.timezone) if closes_at else None)
    except evaluation_actions.EvaluationExists:
        raise Conflict(detail=_("This session has an evaluation already.")) from None


async def _evaluation(db: Any, session: Session) -> Evaluation:
    evaluation = await estore.evaluation_for_session(db, session.id)
    if evaluation is None:
        raise NotFoundException(detail=_("This session has no evaluation yet."))
    return evaluation


def _page(session: Session) -> str:
    return f"/organize/sessions/{session.id}/evaluation"


async def _setup_context(request: Request, db: Any, session: Session, **extra: Any) -> dict[str, Any]:
    evaluation = await estore.evaluation_for_session(db, session.id)
    context: dict[str, Any] = {"session": session, "evaluation": evaluation, "kinds": CHOICE_KINDS,
                               "values": {}, "errors": {}, "closing_errors": {}, "responses": 0, "open": None}
    if evaluation:
        context.update(responses=await estore.response_count(db, evaluation.id),
                       problem=open_problem(evaluation, now_utc()),
                       url=f"{request.app.state.settings.base_url}/e/{evaluation.code}",
                       closes_local=evaluation.closes_at.astimezone(_zone(session)).strftime("%Y-%m-%dT%H:%M")
                       if evaluation.closes_at else "")
    context.update(extra)
    return context


def _zone(session: Session) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(session.timezone)


@get("/organize/sessions/{session_id:int}/evaluation", include_in_schema=False)
async def setup(request: Request, session_id: FromPath[int], session: NamedDependency[Session], db: Db) -> Template:
    return Template("pages/organize/evaluation.html", context=await _setup_context(request, db, session))


@post("/organize/sessions/{session_id:int}/evaluation", include_in_schema=False)
async def attach(request: Request, session_id: FromPath[int], session: NamedDependency[Session], db: Db) -> Redirect:
    """One click: the standard item bank, open now, closing two weeks after the session."""
    await attach_evaluation(db, session, True, [])
    return redirect_with_flash(request, _page(session), "saved")


@post("/organize/sessions/{session_id:int}/evaluation/questions", include_in_schema=False)
async def add_question(request: Request, session_id: FromPath[int], session: NamedDependency[Session],
                       db: Db) -> Template | Redirect:
    evaluation = await _evaluation(db, session)
    values = form_values(await request.form())
    options = [line for line in str(values.get("options", "")).splitlines() if line.strip()]
    question, errors = custom_question(values.get("type"), values.get("text", ""), options)
    if question is None:
        return Template("pages/organize/evaluation.html", status_code=422, context=await _setup_context(
            request, db, session, values=values,
            errors={key: message for key, message in field_messages(errors).items()}))
    async with db.transaction() as conn:
        await estore.insert_question(conn, evaluation.id, question)
    return redirect_with_flash(request, _page(session), "saved")


@post("/organize/sessions/{session_id:int}/evaluation/questions/{question_id:int}/delete", include_in_schema=False)
async def delete_question(request: Request, session_id: FromPath[int], question_id: FromPath[int],
                          session: NamedDependency[Session], db: Db) -> Redirect:
    """Only before anyone has answered: the answers would lose their question."""
    evaluation = await _evaluation(db, session)
    async with db.transaction() as conn:
        if await estore.response_count(conn, evaluation.id):
            raise Conflict(detail=_("Questions cannot be removed once people have answered."))
        if not await estore.delete_question(conn, evaluation.id, question_id):
            raise NotFoundException()
    return redirect_with_flash(request, _page(session), "saved")


@post("/organize/sessions/{session_id:int}/evaluation/closing", include_in_schema=False)
async def set_closing(request: Request, session_id: FromPath[int], session: NamedDependency[Session],
                      db: Db) -> Template | Redirect:
    evaluation = await _evaluation(db, session)
    text = str(form_values(await request.form()).get("closes_at", "")).strip()
    try:
        # a time already past closes the evaluation at once
        typed = datetime.fromisoformat(text)
        if not in_year_range(typed):
            raise ValueError
        closes_at = as_utc(typed, session.timezone)
    except (ValueError, OverflowError):
        return Template("pages/organize/evaluation.html", status_code=422, context=await _setup_context(
            request, db, session, closing_errors={"closes_at": _("Give a date and time, e.g. 2026-12-20 17:00.")}))
    async with db.transaction() as conn:
        await estore.set_closes_at(conn, evaluation.id, closes_at)
    return redirect_with_flash(request, _page(session), "saved")


# ---------------------------------------------------------------- paper questionnaires

@get("/organize/sessions/{session_id:int}/evaluation/paper", include_in_schema=False)
async def paper_form(request: Request, session_id: FromPath[int], session: NamedDependency[Session], db: Db) -> Template:
    evaluation = await _evaluation(db, session)
    return Template("pages/organize/evaluation_paper.html", context={
        **form_context(evaluation, session, Respondent(), action=f"{_page(session)}/paper", staff=True),
        "saved": request.query_params.get("saved") == "1",
        "responses": await estore.response_count(db, evaluation.id)})


@post("/organize/sessions/{session_id:int}/evaluation/paper", include_in_schema=False)
async def paper_answer(request: Request, session_id: FromPath[int], session: NamedDependency[Session],
                       db: Db) -> Template | Redirect:
    """Staff type in a paper questionnaire (also after the closing date, for forms handed in on time)."""
    evaluation = await _evaluation(db, session)
    form = await request.form()
    values = answers_from_form(form, evaluation)
    action = f"{_page(session)}/paper"
    try:
        await take_answer(request, evaluation, values, registration_id=None, respondent=Respondent(), source="paper",
                          used_accommodation=form.get("used_accommodation") == "1",
                          used_childcare=form.get("used_childcare") == "1")
    except InvalidInput as invalid:
        errors = {key.removeprefix("answers."): message for key, message in field_messages(invalid.errors).items()}
        return Template("pages/organize/evaluation_paper.html", status_code=422, context={
            **form_context(evaluation, session, Respondent(), action=action, values=values, errors=errors, staff=True),
            "responses": await estore.response_count(db, evaluation.id)})
    return Redirect(path=action, query_params={"saved": "1"}, status_code=303)


# ---------------------------------------------------------------- results, publishing, CSV, trends

async def _results(db: Any, evaluation: Evaluation, session: Session) -> dict[str, Any]:
    return await evaluation_actions.results(db, evaluation, session.id, current_locale.get())


async def _trend(db: Any, session: Session) -> list[dict[str, Any]]:
    return await evaluation_actions.series_trend(db, session.series_id) if session.series_id else []


async def _theme(db: Any, session: Session) -> Theme | None:
    """The ledger theme (論点整理) the session belongs to, if it is the session's organization's."""
    theme = await ledger_store.get_theme(db, session.theme_id) if session.theme_id else None
    return theme if theme is not None and theme.org_id == session.org.id else None


@get("/organize/sessions/{session_id:int}/evaluation/results", include_in_schema=False)
async def results(request: Request, session_id: FromPath[int], session: NamedDependency[Session], db: Db) -> Template:
    evaluation = await _evaluation(db, session)
    return Template("pages/organize/evaluation_results.html", context={
        "session": session, "evaluation": evaluation, "results": await _results(db, evaluation, session),
        "theme": await _theme(db, session),
        "trend": await _trend(db, session), "trend_keys": TREND_KEYS, "scale_labels": SCALE_LABELS,
        "bank_texts": {q.bank_key: q.text_in(current_locale.get()) for q in evaluation.questions if q.bank_key}})


def _ticked(form: Any) -> list[int]:
    """The ticked free-text answers' ids (anything that is not an id is ignored)."""
    ids = [int(v) for v in form.getall("text", []) if isinstance(v, str) and v.isascii() and v.isdigit() and len(v) <= 19]
    return [i for i in ids if i < 2**63][:5000]  # answer ids are random numbers of up to 16 digits


@post("/organize/sessions/{session_id:int}/evaluation/publish", include_in_schema=False)
async def publish(request: Request, session_id: FromPath[int], session: NamedDependency[Session], db: Db) -> Redirect:
    """Publish the results with the free-text answers ticked after reading them (or withdraw them)."""
    evaluation = await _evaluation(db, session)
    form = await request.form()
    async with db.transaction() as conn:
        await estore.publish(conn, evaluation.id, form.get("publish") == "1", _ticked(form))
    return redirect_with_flash(request, f"{_page(session)}/results", "published" if form.get("publish") == "1" else "saved")


@post("/organize/sessions/{session_id:int}/evaluation/to-theme", include_in_schema=False)
async def send_to_theme(request: Request, session_id: FromPath[int], session: NamedDependency[Session],
                        db: Db) -> Redirect:
    """Send the ticked free-text answers to the session's theme (論点整理) as opinions with source
    "evaluation": the words only (answers carry no personal data), keyed by answer, so an answer sent
    again is kept once. Without a theme the results page shows where to choose one."""
    evaluation = await _evaluation(db, session)
    page = f"{_page(session)}/results"
    theme = await _theme(db, session)
    if theme is None:
        return Redirect(path=page, status_code=303)
    ticked = set(_ticked(await request.form()))
    found = await _results(db, evaluation, session)
    chosen = [(str(t["id"]), t["text"]) for q in found["questions"] if q.type == "text"
              for t in q.texts if t["id"] in ticked and str(t["text"] or "").strip()]
    day = session.starts_at.astimezone(_zone(session)).date()
    added = await ledger_themes.add_evaluation_texts(db, theme, evaluation.id, chosen, session_id=session.id,
                                                     received_on=day) if chosen else 0
    return redirect_with_flash(request, page, "to_theme", added, len(chosen) - added)


@get("/organize/sessions/{session_id:int}/evaluation.csv", include_in_schema=False)
async def results_csv(request: Request, session_id: FromPath[int], session: NamedDependency[Session],
                      db: Db) -> Response[bytes]:
    """The results as CSV (UTF-8 with BOM, for Excel): a row per answer value, then the free text."""
    evaluation = await _evaluation(db, session)
    found = await _results(db, evaluation, session)
    header = [_("Question"), _("Type"), _("Answer"), _("Count"), "%", _("Mean")]
    rows: list[list[Any]] = [[_("Answers"), "", "", found["responses"], "", ""],
                             [_("Participants"), "", "", found["attended"], "", ""]]
    for q in found["questions"]:
        if q.type == "text":
            rows += [[q.text, q.type, t["text"], 1, "", ""] for t in q.texts]
            continue
        keys = [(str(n), f"{n} {_(SCALE_LABELS[n - 1])}") for n in range(1, 6)] if q.type == "scale" else \
            [(str(o["id"]), o["label"]) for o in q.options]
        total = sum(q.counts.values()) if q.counts else 0
        for key, text in keys:
            n = q.counts.get(key, 0) if q.counts else 0
            rows.append([q.text, q.type, text, n, round(n / total * 100, 1) if total else 0,
                         q.mean if q.type == "scale" and q.mean is not None else ""])
    return Response(csv_bytes(header, rows), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="evaluation-{session.id}.csv"', "Cache-Control": "no-store"})


# ---------------------------------------------------------------- the projector

@get("/organize/sessions/{session_id:int}/evaluation/live", include_in_schema=False)
async def live(request: Request, session_id: FromPath[int], session: NamedDependency[Session], db: Db) -> Template:
    """Live results for the projector in the closing minutes (1920×1080, large type, refreshed by htmx
    every 5 seconds); counts and means only, never free text."""
    evaluation = await _evaluation(db, session)
    context = {"session": session, "evaluation": evaluation, "results": await _results(db, evaluation, session),
               "scale_labels": SCALE_LABELS,
               **(await evaluation_qr(db, session.id, request.app.state.settings.base_url) or {})}
    if request.headers.get("hx-request") or request.query_params.get("fragment") == "1":
        return Template("partials/_evaluation_live.html", context=context)
    return Template("pages/organize/evaluation_live.html", context=context)


@get("/organize/sessions/{session_id:int}/evaluation/qr", include_in_schema=False)
async def qr_page(request: Request, session_id: FromPath[int], session: NamedDependency[Session], db: Db) -> Template:
    """The closing screen: the QR code to /e/{code}, full screen (the projector stage includes the same partial)."""
    evaluation = await _evaluation(db, session)
    url = f"{request.app.state.settings.base_url}/e/{evaluation.code}"
    return Template("pages/organize/evaluation_qr.html", context={
        "session": session, "evaluation_url": url, "evaluation_code": evaluation.code, "evaluation_qr": qr_for(url)})


ROUTES = [setup, attach, add_question, delete_question, set_closing, paper_form, paper_answer, results, publish,
          send_to_theme, results_csv, live, qr_page]
