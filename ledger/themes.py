"""Keeping the ledger: themes, opinions, issues and responses, each change in one transaction.

`db` is the app's database (`transaction()`, `fetch_all`, `fetch_one`). Followers are told of a
published response through `tell(conn, follower, response)`, called inside the transaction that
publishes it (the web shell queues the mail in the outbox), so nobody hears of an unsaved response.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from ledger import rules, store
from ledger.models import (
    IssueInput,
    OpinionInput,
    ResponseInput,
    Theme,
    ThemeInput,
    ThemeUpdate,
)
from sessions.catalog import N_
from sessions.timestamps import now_utc
from sessions.validation import FieldError, InvalidInput

Tell = Callable[[Any, Any, Any], Awaitable[None]]  # (conn, follower row, response row)
TOKYO = ZoneInfo("Asia/Tokyo")


class SlugTaken(Exception):
    """Another theme already has this slug (a 409)."""


def today() -> date:
    """Today where the cities are (dates of opinions are Japanese dates)."""
    return now_utc().astimezone(TOKYO).date()


async def create_theme(db: Any, org_id: int, data: ThemeInput) -> Theme:
    data = rules.checked_theme(data)
    async with db.transaction() as conn:
        if await store.slug_taken(conn, data.slug):  # type: ignore[arg-type]
            raise SlugTaken(data.slug)
        theme_id = await store.create_theme(conn, org_id, slug=data.slug, title=data.title,  # type: ignore[arg-type]
                                            description=data.description, published=data.published, now=now_utc())
    return await store.get_theme(db, theme_id)  # type: ignore[return-value]


async def change_theme(db: Any, theme: Theme, data: ThemeUpdate) -> Theme:
    """Change a theme's title, description or visibility (fields not sent stay)."""
    errors: list[FieldError] = []
    title, description = rules.checked_theme_text(
        errors, None if data.title is msgspec.UNSET else data.title,
        None if data.description is msgspec.UNSET else data.description)
    if errors:
        raise InvalidInput(errors)
    async with db.transaction() as conn:
        await store.update_theme(conn, theme.id, title=title if title is not None else theme.title,
                                 description=description if description is not None else theme.description,
                                 published=theme.published if data.published is msgspec.UNSET else data.published)
    return await store.get_theme(db, theme.id)  # type: ignore[return-value]


async def attach_session(db: Any, theme: Theme | None, session_id: int) -> None:
    """Put a session under a theme (None: under none). The caller has checked both are the organization's."""
    async with db.transaction() as conn:
        await store.set_session_theme(conn, session_id, theme.id if theme else None)


async def _org_session_ids(db: Any, org_id: int) -> list[int]:
    return [row["id"] for row in await store.org_sessions(db, org_id)]


async def add_opinion(db: Any, theme: Theme, data: OpinionInput) -> int:
    """Keep one opinion (typed by staff from paper, mail, phone, or sent by an integration)."""
    data = rules.checked_opinion(data, today=today(), session_ids=await _org_session_ids(db, theme.org_id))
    async with db.transaction() as conn:
        return await store.add_opinion(conn, theme.id, data, origin=None, now=now_utc())


async def add_collected(db: Any, theme: Theme, items: Iterable[tuple[str, str, str]], *, session_id: int | None,
                        received_on: date | None = None) -> int:
    """Keep opinions collected from elsewhere, each `(origin, source, text)`; an origin already sent to
    the theme is skipped, so sending twice keeps one copy. Returns how many were added."""
    day = received_on or today()
    added = 0
    async with db.transaction() as conn:
        for origin, source, text in items:
            typed = OpinionInput(text=text[:rules.MAX_OPINION], source=source, session_id=session_id,
                                 received_on=min(day, today()))
            data = rules.checked_opinion(typed, today=today(), session_ids=[session_id] if session_id else [])
            if await store.origin_known(conn, theme.id, origin):
                continue
            await store.add_opinion(conn, theme.id, data, origin=origin, now=now_utc())
            added += 1
    return added


async def add_evaluation_texts(db: Any, theme: Theme, evaluation_id: int, texts: Iterable[tuple[str, str]], *,
                               session_id: int | None, received_on: date | None = None) -> int:
    """Evaluation free text the organizer chose to publish, as opinions with source "evaluation":
    `texts` are `(answer key, text)` pairs, the key unique within the evaluation (never a person's id).
    For the evaluation's publish step; returns how many were added."""
    return await add_collected(db, theme, ((f"evaluation:{evaluation_id}:{key}", "evaluation", text)
                                           for key, text in texts), session_id=session_id, received_on=received_on)


async def raise_issue(db: Any, theme: Theme, data: IssueInput) -> int:
    """Group opinions of the theme under one question."""
    data = rules.checked_issue(data, theme_opinions=[o.id for o in await store.theme_opinions(db, theme.id)])
    async with db.transaction() as conn:
        issue_id = await store.create_issue(conn, theme.id, data.title, now=now_utc())
        await store.link_opinions(conn, issue_id, data.opinion_ids)
    return issue_id


async def add_to_issue(db: Any, issue: Any, opinion_ids: list[int]) -> None:
    """Put more opinions of the theme under an issue (one opinion may feed several issues)."""
    known = [o.id for o in await store.theme_opinions(db, issue["theme_id"])]
    if not opinion_ids or any(i not in known for i in opinion_ids):
        raise InvalidInput([FieldError("opinion_ids", N_("Choose opinions of this theme."))])
    async with db.transaction() as conn:
        await store.link_opinions(conn, issue["id"], list(dict.fromkeys(opinion_ids)))


async def _tell_followers(conn: Any, response_id: int, tell: Tell | None) -> None:
    response = await store.response_row(conn, response_id)
    if tell is None or response is None or not response["theme_published"] or response["published_at"] is None:
        return
    for follower in await store.confirmed_followers(conn, response["theme_id"]):
        await tell(conn, follower, response)


async def append_response(db: Any, issue: Any, data: ResponseInput, *, author_id: int | None,
                          tell: Tell | None = None) -> int:
    """Append the city's response to an issue (a draft unless `publish`); responses are never edited."""
    sessions = [row["id"] for row in await store.theme_sessions(db, issue["theme_id"], public=False)]
    data = rules.checked_response(data, theme_sessions=sessions)
    async with db.transaction() as conn:
        response_id = await store.add_response(conn, issue["id"], data, author_id=author_id, now=now_utc())
        if data.publish:
            await _tell_followers(conn, response_id, tell)
    return response_id


async def publish_response(db: Any, response_id: int, *, tell: Tell | None = None) -> bool:
    """Publish a draft response (and tell the followers); False when it was published already."""
    async with db.transaction() as conn:
        published = await store.publish_response(conn, response_id, now=now_utc())
        if published:
            await _tell_followers(conn, response_id, tell)
    return published
