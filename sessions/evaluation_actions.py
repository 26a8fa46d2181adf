"""What happens to an evaluation: attach it to a session, take an answer, read the results, mail
attendees after the session and remind them once, and purge the answers with the retention purge."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any, Awaitable, Callable

from sessions import evaluation_store as estore
from sessions.catalog import N_
from sessions.evaluation import (
    REMIND_AFTER, AlreadyAnswered, Evaluation, EvaluationClosed, NewQuestion, QuestionResult, Respondent,
    breakdown, check_answers, default_closes_at, new_code, open_problem, response_rate, tally,
)
from sessions.validation import FieldError, InvalidInput

# (connection, kind "evaluation" | "evaluation_reminder", registration id, evaluation) inside a transaction
EvaluationMail = Callable[[Any, str, int, Evaluation], Awaitable[None]]


class EvaluationExists(Exception):
    """The session has an evaluation already."""


async def attach(db: Any, session_id: int, session_ends_at: datetime, questions: list[NewQuestion], *,
                 opens_at: datetime, closes_at: datetime | None, now: datetime) -> Evaluation:
    """Create the session's evaluation with these questions (the standard ones first, when chosen)."""
    closes_at = closes_at or default_closes_at(session_ends_at)
    if closes_at <= opens_at:
        raise InvalidInput([FieldError("closes_at", N_("The closing date must be after the opening."))])
    async with db.transaction() as conn:
        if await estore.evaluation_for_session(conn, session_id) is not None:
            raise EvaluationExists()
        evaluation_id = await estore.insert_evaluation(conn, session_id, code=new_code(), opens_at=opens_at,
                                                       closes_at=closes_at, now=now)
        for question in questions:
            await estore.insert_question(conn, evaluation_id, question)
    evaluation = await estore.get_evaluation(db, evaluation_id)
    assert evaluation is not None
    return evaluation


async def answer(db: Any, evaluation: Evaluation, raw: Any, *, now: datetime, source: str,
                 registration_id: int | None = None, respondent: Respondent | None = None,
                 used_accommodation: bool = False, used_childcare: bool = False) -> None:
    """Check and store one response. Raises EvaluationClosed, InvalidInput or AlreadyAnswered.

    A registrant's flags (accommodation requested, childcare used) come from the registration; a room or
    paper response counts as having used them when it answers their questions (or staff tick them).
    """
    problem = open_problem(evaluation, now)
    if problem and source != "paper":
        raise EvaluationClosed(problem)
    if evaluation.purged_at is not None:
        raise EvaluationClosed(N_("This evaluation has closed. Thank you for your interest."))
    respondent = respondent or Respondent()
    checked = check_answers(evaluation, raw, respondent)
    audiences = {q.id: q.audience for q in evaluation.questions}
    answered = {audiences[a.question_id] for a in checked}
    if respondent.requested_accommodation is not None:
        used_accommodation = respondent.requested_accommodation
        used_childcare = bool(respondent.used_childcare)
    else:
        used_accommodation = used_accommodation or "accommodation" in answered
        used_childcare = used_childcare or "childcare" in answered
    async with db.transaction() as conn:
        await estore.save_response(conn, evaluation.id, checked, source=source, used_accommodation=used_accommodation,
                                   used_childcare=used_childcare, registration_id=registration_id)


async def results(db: Any, evaluation: Evaluation, session_id: int, locale: str) -> dict[str, Any]:
    """Everything the organizer's results show: counts, rate, each question, the breakdowns."""
    registered, attended, checked = await estore.attendance(db, session_id)
    if evaluation.purged_at is not None and evaluation.summary:
        kept = json.loads(evaluation.summary)
        questions = _from_summary(evaluation, kept["questions"], locale)
        groups = {name: {**group, "questions": _from_summary(evaluation, group.get("questions", {}), locale)}
                  for name, group in kept["breakdowns"].items()}
        count = kept["responses"]
        registered, attended = kept.get("registered", registered), kept.get("attended", attended)
    else:
        responses = await estore.responses(db, evaluation.id)
        answers = await estore.answers(db, evaluation.id)
        questions = tally(evaluation.questions, responses, answers, locale)
        groups = breakdown(evaluation.questions, responses, answers, locale)
        count = len(responses)
    return {"responses": count, "registered": registered, "attended": attended, "checked_in": checked,
            "response_rate": response_rate(count, attended), "questions": questions, "breakdowns": groups,
            "purged": evaluation.purged_at is not None}


def _from_summary(evaluation: Evaluation, kept: dict[str, Any], locale: str) -> list[QuestionResult]:
    out = []
    for question in evaluation.questions:
        item = kept.get(str(question.id))
        if item is None:
            continue
        out.append(QuestionResult(id=question.id, type=question.kind, text=question.text_in(locale),
                                  bank_key=question.bank_key, answered=item["answered"], counts=item["counts"],
                                  mean=item["mean"], texts=item["texts"],
                                  options=[{"id": o.id, "label": o.text_in(locale)} for o in question.options]))
    return out


def _summary_of(items: list[QuestionResult]) -> dict[str, Any]:
    return {str(q.id): {"answered": q.answered, "counts": q.counts, "mean": q.mean,
                        "texts": [t for t in q.texts if t["published"]]} for q in items}


def public_results(found: dict[str, Any]) -> dict[str, Any]:
    """What the published outcome shows: no breakdowns, only the free text the organizer chose."""
    questions = [QuestionResult(**{**asdict(q), "texts": [t for t in q.texts if t["published"]]})
                 for q in found["questions"]]
    return {**{k: v for k, v in found.items() if k != "breakdowns"}, "questions": questions}


# ---------------------------------------------------------------- mail after the session

async def mail_attendees(db: Any, send: EvaluationMail, now: datetime) -> int:
    """Once a session has ended: mail its evaluation link to those who came. Returns how many mails."""
    sent = 0
    for evaluation_id in await estore.due_invitations(db, now):
        evaluation = await estore.get_evaluation(db, evaluation_id)
        assert evaluation is not None
        async with db.transaction() as conn:
            for registration_id in await estore.invitation_recipients(conn, evaluation.id, evaluation.session_id):
                await send(conn, "evaluation", registration_id, evaluation)
                await estore.record_invitation(conn, evaluation.id, registration_id, now)
                sent += 1
            await estore.mark_mailed(conn, evaluation.id, now)
    return sent


async def remind_once(db: Any, send: EvaluationMail, now: datetime) -> int:
    """48 hours after the mail, one reminder to those who have not answered (nothing once closed)."""
    due = await estore.due_reminders(db, now - REMIND_AFTER, now)
    cache: dict[int, Evaluation] = {}
    for evaluation_id, registration_id in due:
        evaluation = cache.get(evaluation_id) or await estore.get_evaluation(db, evaluation_id)
        assert evaluation is not None
        cache[evaluation_id] = evaluation
        async with db.transaction() as conn:
            await send(conn, "evaluation_reminder", registration_id, evaluation)
            await estore.mark_reminded(conn, evaluation_id, registration_id, now)
    return len(due)


async def purge(db: Any, ended_before: datetime, now: datetime) -> int:
    """Replace the answers of evaluations of sessions that ended before the cut-off (and are closed) by
    their aggregated results; returns how many evaluations were purged."""
    purged = 0
    for evaluation_id in await estore.evaluations_to_purge(db, ended_before, now):
        evaluation = await estore.get_evaluation(db, evaluation_id)
        assert evaluation is not None
        found = await results(db, evaluation, evaluation.session_id, "ja")
        summary = {"responses": found["responses"], "registered": found["registered"],
                   "attended": found["attended"], "questions": _summary_of(found["questions"]),
                   "breakdowns": {name: {"hidden": group["hidden"], "responses": group.get("responses", 0),
                                         "questions": _summary_of(group["questions"])}
                                  for name, group in found["breakdowns"].items()}}
        async with db.transaction() as conn:
            await estore.purge_evaluation(conn, evaluation_id, json.dumps(summary, ensure_ascii=False), now)
        purged += 1
    return purged


async def series_trend(db: Any, series_id: int) -> list[dict[str, Any]]:
    """Means of the standard scale questions per session of a series, in date order."""
    rows = []
    for row in await estore.series_sessions(db, series_id):
        evaluation = await estore.get_evaluation(db, row["evaluation_id"])
        assert evaluation is not None
        if evaluation.purged_at is not None and evaluation.summary:
            summary = json.loads(evaluation.summary)
            kept, count = summary["questions"], summary["responses"]
            means = {q.bank_key: (kept.get(str(q.id), {}).get("mean"), kept.get(str(q.id), {}).get("answered", 0))
                     for q in evaluation.questions if q.bank_key}
        else:
            means = await estore.bank_means(db, evaluation.id)
            count = await estore.response_count(db, evaluation.id)
        rows.append({"session_id": row["session_id"], "title": row["title"], "title_en": row["title_en"],
                     "starts_at": row["starts_at"], "timezone": row["timezone"],
                     "responses": count, "means": means})
    return rows


__all__ = ["AlreadyAnswered", "EvaluationClosed", "EvaluationExists", "answer", "attach", "mail_attendees",
           "public_results", "purge", "remind_once", "results", "series_trend"]
