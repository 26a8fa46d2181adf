"""SQL of evaluations: questions, answers (never with a registrant's id), the "has answered" mark,
invitations and reminders, publishing, trends and the purge."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from sessions.evaluation import (
    TREND_KEYS, AlreadyAnswered, Answer, AnswerRow, Evaluation, NewQuestion, Option, Question, ResponseRow,
    random_id,
)
from sessions.store import Reader
from sessions.timestamps import from_db, to_db


async def _questions(db: Reader, evaluation_id: int) -> tuple[Question, ...]:
    rows = await db.fetch_all("select * from evaluation_questions where evaluation_id = ? order by position, id",
                              (evaluation_id,))
    options: dict[int, list[Option]] = {row["id"]: [] for row in rows}
    for row in await db.fetch_all(
            "select o.* from evaluation_options o join evaluation_questions q on q.id = o.question_id "
            "where q.evaluation_id = ? order by o.position, o.id", (evaluation_id,)):
        options[row["question_id"]].append(Option(id=row["id"], label=row["label"], label_en=row["label_en"]))
    return tuple(Question(id=row["id"], kind=row["kind"], text=row["text"], text_en=row["text_en"],
                          bank_key=row["bank_key"], audience=row["audience"], options=tuple(options[row["id"]]))
                 for row in rows)


async def _evaluation(db: Reader, row: sqlite3.Row | None) -> Evaluation | None:
    if row is None:
        return None
    return Evaluation(id=row["id"], session_id=row["session_id"], code=row["code"],
                      opens_at=from_db(row["opens_at"]), closes_at=from_db(row["closes_at"]),  # type: ignore[arg-type]
                      created_at=from_db(row["created_at"]), mailed_at=from_db(row["mailed_at"]),  # type: ignore[arg-type]
                      results_published=bool(row["results_published"]), summary=row["summary"],
                      purged_at=from_db(row["purged_at"]), questions=await _questions(db, row["id"]))


async def get_evaluation(db: Reader, evaluation_id: int) -> Evaluation | None:
    return await _evaluation(db, await db.fetch_one("select * from evaluations where id = ?", (evaluation_id,)))


async def evaluation_for_session(db: Reader, session_id: int) -> Evaluation | None:
    return await _evaluation(db, await db.fetch_one("select * from evaluations where session_id = ?", (session_id,)))


async def evaluation_by_code(db: Reader, code: str) -> Evaluation | None:
    return await _evaluation(db, await db.fetch_one("select * from evaluations where code = ?", (code,)))


async def org_of_evaluation(db: Reader, evaluation_id: int) -> tuple[int, int] | None:
    """(organization id, session id) of an evaluation, for the access check."""
    row = await db.fetch_one("select s.org_id, s.id from evaluations e join sessions s on s.id = e.session_id "
                             "where e.id = ?", (evaluation_id,))
    return (row[0], row[1]) if row else None


async def insert_evaluation(conn: Any, session_id: int, *, code: str, opens_at: datetime,
                            closes_at: datetime | None, now: datetime) -> int:
    cursor = await conn.execute(
        "insert into evaluations (session_id, code, opens_at, closes_at, created_at) values (?, ?, ?, ?, ?)",
        (session_id, code, to_db(opens_at), to_db(closes_at), to_db(now)))
    return int(cursor.lastrowid)


async def insert_question(conn: Any, evaluation_id: int, question: NewQuestion) -> int:
    row = await conn.fetch_one("select coalesce(max(position), 0) + 1 from evaluation_questions "
                               "where evaluation_id = ?", (evaluation_id,))
    cursor = await conn.execute(
        "insert into evaluation_questions (evaluation_id, position, kind, bank_key, text, text_en, audience) "
        "values (?, ?, ?, ?, ?, ?, ?)",
        (evaluation_id, row[0], question.kind, question.bank_key, question.text, question.text_en, question.audience))
    question_id = int(cursor.lastrowid)
    for position, (label, label_en) in enumerate(question.options, start=1):
        await conn.execute("insert into evaluation_options (question_id, position, label, label_en) "
                           "values (?, ?, ?, ?)", (question_id, position, label, label_en))
    return question_id


async def delete_question(conn: Any, evaluation_id: int, question_id: int) -> bool:
    await conn.execute("delete from evaluation_options where question_id in "
                       "(select id from evaluation_questions where id = ? and evaluation_id = ?)",
                       (question_id, evaluation_id))
    cursor = await conn.execute("delete from evaluation_questions where id = ? and evaluation_id = ?",
                                (question_id, evaluation_id))
    return cursor.rowcount > 0


async def set_closes_at(conn: Any, evaluation_id: int, closes_at: datetime | None) -> None:
    await conn.execute("update evaluations set closes_at = ? where id = ?", (to_db(closes_at), evaluation_id))


async def response_count(db: Reader, evaluation_id: int) -> int:
    row = await db.fetch_one("select count(*) from evaluation_responses where evaluation_id = ?", (evaluation_id,))
    return row[0] if row else 0


async def has_answered(db: Reader, evaluation_id: int, registration_id: int) -> bool:
    row = await db.fetch_one("select 1 from evaluation_answered where evaluation_id = ? and registration_id = ?",
                             (evaluation_id, registration_id))
    return row is not None


async def save_response(conn: Any, evaluation_id: int, answers: list[Answer], *, source: str,
                        used_accommodation: bool, used_childcare: bool, registration_id: int | None) -> None:
    """One response and its answers; a registrant's is marked as answered (apart from the answers), and
    a second one raises AlreadyAnswered before anything is written."""
    if registration_id is not None:
        if await has_answered(conn, evaluation_id, registration_id):
            raise AlreadyAnswered()
        await conn.execute("insert into evaluation_answered (evaluation_id, registration_id) values (?, ?)",
                           (evaluation_id, registration_id))
    response_id = random_id()
    await conn.execute("insert into evaluation_responses (id, evaluation_id, source, used_accommodation, "
                       "used_childcare) values (?, ?, ?, ?, ?)",
                       (response_id, evaluation_id, source, int(used_accommodation), int(used_childcare)))
    rows: list[tuple[Any, ...]] = []
    for answer in answers:
        if answer.option_ids:
            rows += [(random_id(), response_id, answer.question_id, None, option, None) for option in answer.option_ids]
        else:
            rows.append((random_id(), response_id, answer.question_id, answer.value, None, answer.text))
    await conn.executemany("insert into evaluation_answers (id, response_id, question_id, value, option_id, text) "
                           "values (?, ?, ?, ?, ?, ?)", rows)


async def responses(db: Reader, evaluation_id: int) -> list[ResponseRow]:
    rows = await db.fetch_all("select id, used_accommodation, used_childcare from evaluation_responses "
                              "where evaluation_id = ?", (evaluation_id,))
    return [ResponseRow(row[0], bool(row[1]), bool(row[2])) for row in rows]


async def answers(db: Reader, evaluation_id: int) -> list[AnswerRow]:
    rows = await db.fetch_all(
        "select a.id, a.response_id, a.question_id, a.value, a.option_id, a.text, a.published "
        "from evaluation_answers a join evaluation_responses r on r.id = a.response_id where r.evaluation_id = ?",
        (evaluation_id,))
    return [AnswerRow(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6])) for row in rows]


async def publish(conn: Any, evaluation_id: int, results: bool, text_ids: list[int]) -> None:
    """Publish the results (or withdraw them), with exactly these free-text answers."""
    await conn.execute("update evaluations set results_published = ? where id = ?", (int(results), evaluation_id))
    await conn.execute("update evaluation_answers set published = 0 where response_id in "
                       "(select id from evaluation_responses where evaluation_id = ?)", (evaluation_id,))
    for start in range(0, len(text_ids), 500):
        chunk = text_ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        await conn.execute(f"update evaluation_answers set published = 1 where text is not null and id in ({marks}) "
                           "and response_id in (select id from evaluation_responses where evaluation_id = ?)",
                           [*chunk, evaluation_id])


async def attendance(db: Reader, session_id: int) -> tuple[int, int, bool]:
    """(registered, attended, whether check-in was taken): attended counts those checked in, or the
    confirmed registrants when nobody was checked in."""
    row = await db.fetch_one(
        "select count(*), sum(case when checked_in_at is not null or status = 'attended' then 1 else 0 end) "
        "from registrations where session_id = ? and status in ('confirmed', 'attended')", (session_id,))
    registered, checked = (row[0] or 0, row[1] or 0) if row else (0, 0)
    return registered, (checked or registered), bool(checked)


async def registrant_flags(db: Reader, registration_id: int) -> tuple[bool, bool]:
    """(requested an accommodation, used childcare) for the conditional questions."""
    requested = await db.fetch_one("select 1 from accommodation_requests where registration_id = ? "
                                   "and status != 'cancelled'", (registration_id,))
    childcare = await db.fetch_one("select 1 from registration_children where registration_id = ? "
                                   "and status = 'confirmed'", (registration_id,))
    return requested is not None, childcare is not None


# ---------------------------------------------------------------- mail after the session

async def due_invitations(db: Reader, now: datetime) -> list[int]:
    """Evaluations of sessions that have ended, still open, whose mail has not gone."""
    rows = await db.fetch_all(
        "select e.id from evaluations e join sessions s on s.id = e.session_id where e.mailed_at is null "
        "and e.purged_at is null and s.status != 'cancelled' and s.ends_at <= ? and e.opens_at <= ? "
        "and (e.closes_at is null or e.closes_at > ?)", (to_db(now), to_db(now), to_db(now)))
    return [row[0] for row in rows]


async def invitation_recipients(db: Reader, evaluation_id: int, session_id: int) -> list[int]:
    """Those who came (checked in), or every confirmed registrant when nobody was checked in; with an
    email address, and not answered yet."""
    _registered, _attended, checked = await attendance(db, session_id)
    came = "(checked_in_at is not null or status = 'attended')" if checked else "status in ('confirmed', 'attended')"
    rows = await db.fetch_all(
        f"select id from registrations where session_id = ? and {came} and status != 'cancelled' and email != '' "
        "and id not in (select registration_id from evaluation_answered where evaluation_id = ?) order by id",
        (session_id, evaluation_id))
    return [row[0] for row in rows]


async def record_invitation(conn: Any, evaluation_id: int, registration_id: int, now: datetime) -> None:
    await conn.execute("insert into evaluation_invitations (evaluation_id, registration_id, invited_at) "
                       "values (?, ?, ?) on conflict do nothing", (evaluation_id, registration_id, to_db(now)))


async def mark_mailed(conn: Any, evaluation_id: int, now: datetime) -> None:
    await conn.execute("update evaluations set mailed_at = ? where id = ?", (to_db(now), evaluation_id))


async def due_reminders(db: Reader, invited_before: datetime, now: datetime) -> list[tuple[int, int]]:
    """(evaluation id, registration id) of invitations older than the cut-off, not reminded, not
    answered, of evaluations still open."""
    rows = await db.fetch_all(
        "select i.evaluation_id, i.registration_id from evaluation_invitations i "
        "join evaluations e on e.id = i.evaluation_id join registrations r on r.id = i.registration_id "
        "where i.reminded_at is null and i.invited_at <= ? and e.purged_at is null "
        "and (e.closes_at is null or e.closes_at > ?) and r.status != 'cancelled' and r.email != '' "
        "and not exists (select 1 from evaluation_answered a where a.evaluation_id = i.evaluation_id "
        "and a.registration_id = i.registration_id)", (to_db(invited_before), to_db(now)))
    return [(row[0], row[1]) for row in rows]


async def mark_reminded(conn: Any, evaluation_id: int, registration_id: int, now: datetime) -> None:
    await conn.execute("update evaluation_invitations set reminded_at = ? where evaluation_id = ? "
                       "and registration_id = ?", (to_db(now), evaluation_id, registration_id))


# ---------------------------------------------------------------- trends and the purge

async def series_sessions(db: Reader, series_id: int) -> list[sqlite3.Row]:
    """The sessions of a series that have an evaluation, in date order."""
    return await db.fetch_all(
        "select s.id as session_id, s.title, s.title_en, s.starts_at, s.timezone, e.id as evaluation_id "
        "from sessions s join evaluations e on e.session_id = s.id where s.series_id = ? order by s.starts_at",
        (series_id,))


async def bank_means(db: Reader, evaluation_id: int) -> dict[str, tuple[float | None, int]]:
    """(mean, answers) per standard scale question of one evaluation."""
    marks = ",".join("?" * len(TREND_KEYS))
    rows = await db.fetch_all(
        "select q.bank_key, avg(a.value), count(a.value) from evaluation_questions q "
        "left join evaluation_answers a on a.question_id = q.id "
        f"where q.evaluation_id = ? and q.bank_key in ({marks}) group by q.bank_key",
        (evaluation_id, *TREND_KEYS))
    return {row[0]: (round(row[1], 2) if row[1] is not None else None, row[2]) for row in rows}


async def evaluations_to_purge(db: Reader, ended_before: datetime, now: datetime) -> list[int]:
    rows = await db.fetch_all(
        "select e.id from evaluations e join sessions s on s.id = e.session_id where e.purged_at is null "
        "and s.ends_at < ? and (e.closes_at is null or e.closes_at <= ?)", (to_db(ended_before), to_db(now)))
    return [row[0] for row in rows]


async def purge_evaluation(conn: Any, evaluation_id: int, summary: str, now: datetime) -> int:
    """Keep the aggregated results (`summary`, JSON), delete the answers and who answered; returns
    how many answers went."""
    await conn.execute("pragma secure_delete = on")
    await conn.execute("update evaluations set summary = ?, purged_at = ? where id = ?",
                       (summary, to_db(now), evaluation_id))
    cursor = await conn.execute("delete from evaluation_answers where response_id in "
                                "(select id from evaluation_responses where evaluation_id = ?)", (evaluation_id,))
    removed = cursor.rowcount
    await conn.execute("delete from evaluation_responses where evaluation_id = ?", (evaluation_id,))
    await conn.execute("delete from evaluation_answered where evaluation_id = ?", (evaluation_id,))
    await conn.execute("delete from evaluation_invitations where evaluation_id = ?", (evaluation_id,))
    return removed
