"""The ledger's vocabularies and shapes: what comes in (msgspec structs) and what is read back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import msgspec

from sessions.catalog import N_

SOURCES: dict[str, str] = {
    "board": N_("Workshop board"),
    "question": N_("Question"),
    "evaluation": N_("Evaluation"),
    "paper": N_("Paper"),
    "mail": N_("Mail"),
    "phone": N_("By phone"),
    "public_comment": N_("Public comment"),
    "other": N_("Other"),
}
# the sources staff type in by hand (the others are collected from boards and evaluations)
STAFF_SOURCES = ("paper", "mail", "phone", "public_comment", "other")

STATUSES: dict[str, str] = {
    "considering": N_("Under consideration"),
    "adopted": N_("Adopted"),
    "partly_adopted": N_("Partly adopted"),
    "not_feasible": N_("Not feasible"),
    "continuing": N_("Continuing"),
    "done": N_("Done"),
}
UNANSWERED = "unanswered"  # an issue without a published response (not a response status)
UNANSWERED_LABEL = N_("No response yet")


class ThemeInput(msgspec.Struct, kw_only=True):
    title: str
    description: str = ""
    slug: str | None = None
    published: bool = True


class ThemeUpdate(msgspec.Struct, kw_only=True):
    title: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET
    published: bool | msgspec.UnsetType = msgspec.UNSET


class OpinionInput(msgspec.Struct, kw_only=True):
    text: str
    source: str
    session_id: int | None = None
    received_on: date | None = None


class IssueInput(msgspec.Struct, kw_only=True):
    title: str
    opinion_ids: list[int] = msgspec.field(default_factory=list)


class ResponseInput(msgspec.Struct, kw_only=True):
    body: str
    status: str
    department: str = ""
    session_id: int | None = None
    publish: bool = True


@dataclass(frozen=True)
class Theme:
    id: int
    org_id: int
    slug: str
    title: str
    description: str
    published: bool
    created_at: datetime


@dataclass(frozen=True)
class Opinion:
    id: int
    theme_id: int
    text: str
    source: str
    session_id: int | None
    received_on: date
    created_at: datetime


@dataclass(frozen=True)
class Response:
    id: int
    issue_id: int
    body: str
    status: str
    department: str
    session_id: int | None
    created_at: datetime
    published_at: datetime | None

    @property
    def published(self) -> bool:
        return self.published_at is not None


@dataclass
class Issue:
    id: int
    theme_id: int
    title: str
    created_at: datetime
    opinions: list[Opinion] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)  # oldest first, drafts included when read for staff

    @property
    def published_responses(self) -> list[Response]:
        return [r for r in self.responses if r.published]

    @property
    def status(self) -> str | None:
        """The status of the latest published response; None while nothing is published."""
        published = sorted(self.published_responses, key=lambda r: (r.published_at, r.id))
        return published[-1].status if published else None
