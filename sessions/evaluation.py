"""Evaluation (評価) of a session by its participants: the standard item bank, the rules for
questions and answers, and the results (counts, means, free text, breakdowns).

Pure rules, no SQL (sessions/evaluation_store.py) and no web (server/). Messages are English ids
marked with N_, translated by the web shell.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sessions.catalog import N_
from sessions.text import without_controls
from sessions.validation import FieldError, InvalidInput

KINDS = ("scale", "single_choice", "multiple_choice", "text")
SCALE = range(1, 6)
MAX_TEXT = 2000            # characters in one free-text answer
MAX_QUESTION_TEXT = 300
MAX_OPTIONS = 20
MAX_QUESTIONS = 40
SMALL_GROUP = 5            # breakdowns of fewer respondents are not shown
DEFAULT_OPEN_DAYS = 14     # without a closing date, answers are taken this long after the session ends
REMIND_AFTER = timedelta(hours=48)
CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: read off a projector


@dataclass(frozen=True)
class BankItem:
    key: str
    kind: str
    text: str
    text_en: str
    audience: str = "all"
    options: tuple[tuple[str, str], ...] = ()


# The standard item bank, in Japanese and English (the wording of 参加者アンケート in municipal plans).
STANDARD_BANK: tuple[BankItem, ...] = (
    BankItem("satisfaction", "scale", "全体として、今日の対話の場に満足した",
             "Overall, I was satisfied with today's session."),
    BankItem("understanding", "scale", "テーマや話し合いの内容がよく理解できた",
             "I understood the topic and the discussion well."),
    BankItem("ease_of_speaking", "scale", "自分の意見を発言しやすかった",
             "It was easy for me to say what I think."),
    BankItem("accommodation", "scale", "申し込んだ配慮（手話通訳・要約筆記など）は十分だった",
             "The support I asked for (sign language, captioning, ...) was adequate.", "accommodation"),
    BankItem("childcare", "scale", "託児を安心して利用できた",
             "The childcare let me take part without worry.", "childcare"),
    BankItem("join_again", "single_choice", "また参加したいと思いますか",
             "Would you take part again?", "all", (("はい", "Yes"), ("たぶん", "Maybe"), ("いいえ", "No"))),
    BankItem("good_points", "text", "良かった点を教えてください", "What was good?"),
    BankItem("improvements", "text", "改善してほしい点を教えてください", "What should we improve?"),
)
# the scale questions whose means are compared across the sessions of a series
TREND_KEYS = ("satisfaction", "understanding", "ease_of_speaking")


@dataclass(frozen=True)
class Option:
    id: int
    label: str
    label_en: str = ""

    def text_in(self, locale: str) -> str:
        return self.label_en if locale == "en" and self.label_en else self.label


@dataclass(frozen=True)
class Question:
    id: int
    kind: str
    text: str
    text_en: str = ""
    bank_key: str = ""
    audience: str = "all"
    options: tuple[Option, ...] = ()

    def text_in(self, locale: str) -> str:
        return self.text_en if locale == "en" and self.text_en else self.text


@dataclass(frozen=True)
class Evaluation:
    id: int
    session_id: int
    code: str
    opens_at: datetime
    closes_at: datetime | None
    created_at: datetime
    mailed_at: datetime | None = None
    results_published: bool = False
    summary: str | None = None
    purged_at: datetime | None = None
    questions: tuple[Question, ...] = ()


@dataclass(frozen=True)
class NewQuestion:
    kind: str
    text: str
    text_en: str = ""
    bank_key: str = ""
    audience: str = "all"
    options: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Answer:
    """One checked answer: a scale value, chosen options or a text."""

    question_id: int
    value: int | None = None
    option_ids: tuple[int, ...] = ()
    text: str | None = None


@dataclass(frozen=True)
class Respondent:
    """Which conditional questions a respondent is asked: None means all (a room or paper answer)."""

    requested_accommodation: bool | None = None
    used_childcare: bool | None = None

    def asked(self, question: Question) -> bool:
        if question.audience == "accommodation":
            return self.requested_accommodation is not False
        if question.audience == "childcare":
            return self.used_childcare is not False
        return True


class EvaluationClosed(Exception):
    """Answers are not taken now; `message` is a message id."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AlreadyAnswered(Exception):
    """This registration has answered this evaluation already."""


def new_code() -> str:
    """The code of /e/{code}: 8 characters, easy to read off a projector (~40 bits)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


def random_id() -> int:
    """An id for an answer row that says nothing about when it was written (below 2**53, so JSON
    readers in JavaScript keep it exact; a clash is as likely as guessing a 53-bit number)."""
    return secrets.randbelow(2**53 - 1) + 1


def standard_questions() -> list[NewQuestion]:
    return [NewQuestion(kind=item.kind, text=item.text, text_en=item.text_en, bank_key=item.key,
                        audience=item.audience, options=item.options) for item in STANDARD_BANK]


# direction overrides could make a text read otherwise on the organizer's page; zero-width characters
# alone would make an empty answer look written
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
EDGE_SPACE = " \t\r\n\u3000\u200b\u200c\u200d\u2060\ufeff"


def clean_text(value: str) -> str:
    """Typed text as stored: NFC, without control characters or direction overrides, trimmed."""
    text = BIDI_CONTROLS.sub("", unicodedata.normalize("NFC", without_controls(value)))
    return text.strip().strip(EDGE_SPACE).strip()


def _storable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (\ud800) from JSON
        return False
    return True


def custom_question(kind: Any, text: Any, options: Any, *, prefix: str = "") -> tuple[NewQuestion | None, list[FieldError]]:
    """A custom question from what an organizer sent; errors name `{prefix}type`, `text`, `options`."""
    errors: list[FieldError] = []
    if kind not in KINDS:
        errors.append(FieldError(f"{prefix}type", N_("Choose scale, single choice, multiple choice or text.")))
    if not isinstance(text, str) or not _storable(text) or not clean_text(text):
        errors.append(FieldError(f"{prefix}text", N_("Write the question.")))
    elif len(clean_text(text)) > MAX_QUESTION_TEXT:
        errors.append(FieldError(f"{prefix}text", N_("Keep the question under {max} characters."),
                                 {"max": MAX_QUESTION_TEXT}))
    labels: list[str] = []
    if kind in ("single_choice", "multiple_choice"):
        if not isinstance(options, list) or not all(isinstance(o, str) and _storable(o) for o in options):
            errors.append(FieldError(f"{prefix}options", N_("Give the options as a list of texts.")))
        else:
            labels = [clean_text(o) for o in options if clean_text(o)]
            if not 2 <= len(labels) <= MAX_OPTIONS or len(set(labels)) != len(labels):
                errors.append(FieldError(f"{prefix}options", N_("Give 2 to {max} different options."),
                                         {"max": MAX_OPTIONS}))
            elif any(len(label) > 200 for label in labels):
                errors.append(FieldError(f"{prefix}options", N_("Keep each option under 200 characters.")))
    if errors:
        return None, errors
    return NewQuestion(kind=kind, text=clean_text(text), options=tuple((label, "") for label in labels)), []


def open_problem(evaluation: Evaluation, now: datetime) -> str | None:
    """Why answers are not taken now (a message id), or None when they are."""
    if evaluation.purged_at is not None or (evaluation.closes_at is not None and now >= evaluation.closes_at):
        return N_("This evaluation has closed. Thank you for your interest.")
    if now < evaluation.opens_at:
        return N_("This evaluation is not open yet.")
    return None


def default_closes_at(session_ends_at: datetime) -> datetime:
    return session_ends_at + timedelta(days=DEFAULT_OPEN_DAYS)


def check_answers(evaluation: Evaluation, raw: Any, respondent: Respondent) -> list[Answer]:
    """Turn submitted answers ({question id: value}) into checked answers, or raise InvalidInput.

    Values: scale 1–5 (an integer), single_choice an option id, multiple_choice a list of option
    ids, text a string. Unanswered questions may be left out; at least one answer is needed.
    """
    if not isinstance(raw, dict):
        raise InvalidInput([FieldError("answers", N_("Send the answers as {question id: value}."))])
    questions = {q.id: q for q in evaluation.questions}
    errors: list[FieldError] = []
    answers: list[Answer] = []
    if len(raw) > len(questions) + 5:
        raise InvalidInput([FieldError("answers", N_("There are more answers than questions."))])
    for key, value in raw.items():
        name = f"answers.{key}"[:60]
        question = questions.get(int(key)) if isinstance(key, str) and key.isascii() and key.isdigit() and len(key) < 19 else None
        if question is None:
            errors.append(FieldError(name, N_("There is no such question in this evaluation.")))
            continue
        if value is None or value == "" or value == []:
            continue  # left unanswered
        if not respondent.asked(question):
            errors.append(FieldError(name, N_("This question is not asked of you.")))
            continue
        answer, problem = _check_one(question, value)
        if problem:
            errors.append(FieldError(name, problem, {"max": MAX_TEXT}))
        elif answer is not None:
            answers.append(answer)
    if errors:
        raise InvalidInput(errors)
    if not answers:
        raise InvalidInput([FieldError("answers", N_("Answer at least one question."))])
    return answers


def _check_one(question: Question, value: Any) -> tuple[Answer | None, str | None]:
    option_ids = {option.id for option in question.options}
    if question.kind == "scale":
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) == 1:
            value = int(value)  # from a form
        if type(value) is not int or value not in SCALE:
            return None, N_("Choose a value from 1 to 5.")
        return Answer(question.id, value=value), None
    if question.kind == "single_choice":
        chosen = _option_id(value)
        if chosen not in option_ids:
            return None, N_("Choose one of the options.")
        return Answer(question.id, option_ids=(chosen,)), None  # type: ignore[arg-type]
    if question.kind == "multiple_choice":
        values = value if isinstance(value, list) else [value]
        chosen_ids = [_option_id(item) for item in values]
        if len(values) > len(option_ids) or not all(c in option_ids for c in chosen_ids):
            return None, N_("Choose among the options.")
        return Answer(question.id, option_ids=tuple(sorted(set(chosen_ids)))), None  # type: ignore[arg-type]
    if not isinstance(value, str) or not _storable(value):
        return None, N_("Write your answer as text.")
    text = clean_text(value)
    if len(text) > MAX_TEXT:
        return None, N_("Keep your answer under {max} characters.")
    return (Answer(question.id, text=text), None) if text else (None, None)


def _option_id(value: Any) -> int | None:
    if type(value) is int:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    return None


# ---------------------------------------------------------------- results

@dataclass
class ResponseRow:
    id: int
    used_accommodation: bool
    used_childcare: bool


@dataclass
class AnswerRow:
    id: int
    response_id: int
    question_id: int
    value: int | None
    option_id: int | None
    text: str | None
    published: bool = False


@dataclass
class QuestionResult:
    id: int
    type: str
    text: str
    bank_key: str
    answered: int = 0
    counts: dict[str, int] | None = None
    mean: float | None = None
    texts: list[dict[str, Any]] = field(default_factory=list)
    options: list[dict[str, Any]] = field(default_factory=list)


def tally(questions: tuple[Question, ...], responses: list[ResponseRow], answers: list[AnswerRow],
          locale: str, *, texts: bool = True) -> list[QuestionResult]:
    """Counts, means and free text per question, over the given responses only."""
    included = {response.id for response in responses}
    results = []
    for question in questions:
        rows = [row for row in answers if row.question_id == question.id and row.response_id in included]
        result = QuestionResult(id=question.id, type=question.kind, text=question.text_in(locale),
                                bank_key=question.bank_key,
                                options=[{"id": o.id, "label": o.text_in(locale)} for o in question.options])
        result.answered = len({row.response_id for row in rows})
        if question.kind == "scale":
            values = [row.value for row in rows if row.value is not None]
            result.counts = {str(n): values.count(n) for n in SCALE}
            result.mean = round(sum(values) / len(values), 2) if values else None
        elif question.kind in ("single_choice", "multiple_choice"):
            chosen = [row.option_id for row in rows]
            result.counts = {str(o.id): chosen.count(o.id) for o in question.options}
        elif texts:
            result.texts = [{"id": row.id, "text": row.text, "published": row.published}
                            for row in sorted(rows, key=lambda r: r.id) if row.text]
        results.append(result)
    return results


def breakdown(questions: tuple[Question, ...], responses: list[ResponseRow], answers: list[AnswerRow],
              locale: str) -> dict[str, dict[str, Any]]:
    """Results of respondents who used accommodations, and of those who used childcare; a group of
    fewer than SMALL_GROUP respondents is hidden (only that it is small is said)."""
    groups = {"accommodation": [r for r in responses if r.used_accommodation],
              "childcare": [r for r in responses if r.used_childcare]}
    out: dict[str, dict[str, Any]] = {}
    for name, members in groups.items():
        if len(members) < SMALL_GROUP:
            out[name] = {"hidden": True, "questions": []}
        else:
            out[name] = {"hidden": False, "responses": len(members),
                         "questions": [q for q in tally(questions, members, answers, locale, texts=False)
                                       if q.type != "text"]}
    return out


def response_rate(responses: int, attended: int) -> float | None:
    """Answers per person who came, at most 1 (room answers from people who had not registered can
    outnumber those counted as attending)."""
    return min(1.0, round(responses / attended, 3)) if attended else None
