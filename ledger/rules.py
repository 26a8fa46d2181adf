"""The ledger's rules: what a theme, an opinion, an issue and a response must hold, an issue's
status, the counts per status, the public timeline, and which issues are due before the next session."""

from __future__ import annotations

import re
import secrets
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import msgspec

from ledger.models import (
    SOURCES,
    STATUSES,
    UNANSWERED,
    Issue,
    IssueInput,
    OpinionInput,
    ResponseInput,
    ThemeInput,
)
from sessions.catalog import N_
from sessions.text import without_controls
from sessions.validation import FieldError, InvalidInput

MAX_TITLE = 200
MAX_DESCRIPTION = 5000
MAX_OPINION = 4000
MAX_BODY = 10000
MAX_DEPARTMENT = 100
MAX_OPINIONS_PER_ISSUE = 500
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
# lone surrogates and the two non-characters cannot be written as UTF-8 or XML (the Atom feed)
_UNWRITABLE = re.compile("[\ud800-\udfff\ufffe\uffff]")


def clean(value: str) -> str:
    """Typed text as kept: without control characters or characters that no file format can carry."""
    return _UNWRITABLE.sub("", without_controls(value))


def _text(errors: list[FieldError], name: str, value: str, limit: int, *, required: bool) -> str:
    value = clean(value).strip()
    if required and not value:
        errors.append(FieldError(name, N_("Fill in this field.")))
    elif len(value) > limit:
        errors.append(FieldError(name, N_("Keep this under {max} characters."), {"max": limit}))
    return value


def new_slug() -> str:
    """A slug for a theme that was not given one (Japanese titles make no readable slug)."""
    return "theme-" + secrets.token_hex(4)


def checked_theme(data: ThemeInput) -> ThemeInput:
    """The theme with its text cleaned and a slug, or InvalidInput naming every wrong field."""
    errors: list[FieldError] = []
    title = _text(errors, "title", data.title, MAX_TITLE, required=True)
    description = _text(errors, "description", data.description, MAX_DESCRIPTION, required=False)
    slug = (data.slug or "").strip().lower() or new_slug()
    if not SLUG.match(slug) or slug.isdigit():
        errors.append(FieldError("slug", N_("Use lowercase letters, digits and hyphens (not only digits), up to 64.")))
    if errors:
        raise InvalidInput(errors)
    return msgspec.structs.replace(data, title=title, description=description, slug=slug)


def checked_theme_text(errors: list[FieldError], title: str | None,
                       description: str | None) -> tuple[str | None, str | None]:
    """A changed title or description, cleaned (None: unchanged)."""
    return (None if title is None else _text(errors, "title", title, MAX_TITLE, required=True),
            None if description is None else _text(errors, "description", description, MAX_DESCRIPTION, required=False))


def checked_opinion(data: OpinionInput, *, today: date, session_ids: Iterable[int]) -> OpinionInput:
    """An opinion as it will be kept: text cleaned, a known source, a session of the organization, a
    date not in the future (default today)."""
    errors: list[FieldError] = []
    text = _text(errors, "text", data.text, MAX_OPINION, required=True)
    if data.source not in SOURCES:
        errors.append(FieldError("source", N_("Choose one of the listed values.")))
    if data.session_id is not None and data.session_id not in set(session_ids):
        errors.append(FieldError("session_id", N_("Choose a session of your organization.")))
    received = data.received_on or today
    if received > today:
        errors.append(FieldError("received_on", N_("The date cannot be in the future.")))
    elif received.year < 1900:
        errors.append(FieldError("received_on", N_("Enter a valid date.")))
    if errors:
        raise InvalidInput(errors)
    return msgspec.structs.replace(data, text=text, received_on=received)


def checked_issue(data: IssueInput, *, theme_opinions: Iterable[int]) -> IssueInput:
    """An issue: a title and opinions of the same theme (each once)."""
    errors: list[FieldError] = []
    title = _text(errors, "title", data.title, MAX_TITLE, required=True)
    ids = list(dict.fromkeys(data.opinion_ids))
    known = set(theme_opinions)
    if len(ids) > MAX_OPINIONS_PER_ISSUE:
        errors.append(FieldError("opinion_ids", N_("Choose at most {max}."), {"max": MAX_OPINIONS_PER_ISSUE}))
    elif any(i not in known for i in ids):
        errors.append(FieldError("opinion_ids", N_("Choose opinions of this theme.")))
    if errors:
        raise InvalidInput(errors)
    return msgspec.structs.replace(data, title=title, opinion_ids=ids)


def checked_response(data: ResponseInput, *, theme_sessions: Iterable[int]) -> ResponseInput:
    """A response: its text, a status, the responsible section, and a session of the theme where it
    was explained (if any)."""
    errors: list[FieldError] = []
    body = _text(errors, "body", data.body, MAX_BODY, required=True)
    department = _text(errors, "department", data.department, MAX_DEPARTMENT, required=False)
    if data.status not in STATUSES:
        errors.append(FieldError("status", N_("Choose one of the listed values.")))
    if data.session_id is not None and data.session_id not in set(theme_sessions):
        errors.append(FieldError("session_id", N_("Choose a session of this theme.")))
    if errors:
        raise InvalidInput(errors)
    return msgspec.structs.replace(data, body=body, department=department)


def status_counts(issues: Sequence[Issue]) -> dict[str, int]:
    """How many issues stand at each status (those without a published response as UNANSWERED),
    every status present, in the vocabulary's order."""
    counted = Counter(issue.status or UNANSWERED for issue in issues)
    return {code: counted.get(code, 0) for code in (*STATUSES, UNANSWERED)}


def with_status(issues: Sequence[Issue], status: str | None) -> list[Issue]:
    """The issues at one status (UNANSWERED: none published yet); all of them for None or an unknown status."""
    if status not in (*STATUSES, UNANSWERED):
        return list(issues)
    return [issue for issue in issues if (issue.status or UNANSWERED) == status]


@dataclass(frozen=True)
class Moment:
    """One line of the public timeline: a session held, or a response published."""

    at: datetime
    kind: str  # "session" or "response"
    item: object
    issue: Issue | None = None


def timeline(sessions: Sequence[dict], issues: Sequence[Issue]) -> list[Moment]:
    """Sessions (each a dict with `starts_at`) and published responses in one time order."""
    moments = [Moment(at=s["starts_at"], kind="session", item=s) for s in sessions]
    moments += [Moment(at=r.published_at, kind="response", item=r, issue=issue)  # type: ignore[arg-type]
                for issue in issues for r in issue.published_responses]
    return sorted(moments, key=lambda m: (m.at, m.kind != "session"))


def unanswered(issues: Sequence[Issue]) -> list[Issue]:
    """Issues without any response, draft or published."""
    return [issue for issue in issues if not issue.responses]


def due_before(issues: Sequence[Issue], *, next_session_id: int | None,
               last_session_start: datetime | None) -> list[Issue]:
    """Issues with responses whose latest response is older than the last session held (nothing new
    since we last met) and is not already the answer for the next session: what to answer before
    meeting again. Without a next session nothing is due."""
    if next_session_id is None:
        return []
    due = []
    for issue in issues:
        if not issue.responses:
            continue
        latest = max(issue.responses, key=lambda r: (r.created_at, r.id))
        if latest.session_id == next_session_id:
            continue
        if last_session_start is None or latest.created_at < last_session_start:
            due.append(issue)
    return due
