"""What the registration tests share: app settings with no minimum fill-in time and no background loop (a
module that imports `settings` gets them), the registration form as a browser sends it, organizers,
sessions and registrants, and what the registrant's page and the outbox show."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from bs4 import Tag

from server.auth import accounts
from server.core.i18n import translations
from server.settings import Settings
from sessions.models import ChildcareOffer
from tests.harness import html, login, make_account, make_session, make_venue, next_saturday


CHILD_NOTE = "卵アレルギーがあります"
SUPPORT_NOTE = "右耳が聞こえにくいので前の席を希望"


@pytest.fixture
def settings(db_target: Path | str, request: pytest.FixtureRequest) -> Settings:
    """No minimum fill-in time and no background loop (tests drive mail, reminders and purge themselves).

    A test may change more by indirect parametrization:
    `@pytest.mark.parametrize("settings", [{...}], indirect=True)`.
    """
    overrides = getattr(request, "param", {})
    values: dict[str, Any] = dict(db_path=db_target, secret="test-secret-" + "x" * 20,
                                  base_url="http://testserver.local", form_min_seconds=0, background=False)
    return Settings(**{**values, **overrides})


# ---------------------------------------------------------------- helpers

def ja(message: str, **params: Any) -> str:
    """What a Japanese reader sees for one of the app's messages."""
    text = translations("ja").gettext(message)
    return text % params if params else text


def ja_plural(singular: str, plural: str, n: int) -> str:
    return translations("ja").ngettext(singular, plural, n) % {"num": n}


def error_messages(page: Any) -> list[str]:
    """Every message next to a field and in the error summary."""
    return [text_of(node) for node in html(page).select(".field-error, .error-summary li")]


def text_of(node: Tag | None) -> str:
    assert node is not None, "the element is missing"
    return re.sub(r"\s+", " ", node.get_text(" ", strip=True))


def form_data(form: Tag) -> dict[str, Any]:
    """What a browser sends for a form as shown: hidden and filled fields, checked boxes, selected options."""
    data: dict[str, Any] = {}

    def add(name: str, value: str) -> None:
        if name in data:
            previous = data[name]
            data[name] = (previous if isinstance(previous, list) else [previous]) + [value]
        else:
            data[name] = value

    for field in form.select("input, select, textarea"):
        name = field.get("name")
        if not name or field.has_attr("disabled"):
            continue
        if field.name == "select":
            chosen = field.select_one("option[selected]") or field.select_one("option")
            if chosen is not None:
                add(name, str(chosen.get("value", chosen.get_text())))
        elif field.name == "textarea":
            add(name, field.get_text())
        elif field.get("type") in ("checkbox", "radio"):
            if field.has_attr("checked"):
                add(name, str(field.get("value", "on")))
        elif field.get("type") not in ("submit", "button"):
            add(name, str(field.get("value", "")))
    return data


def person(n: int, **more: Any) -> dict[str, Any]:
    return {"name": f"参加者{n}", "email": f"person{n}@example.jp", **more}


async def organizer(client: Any, db: Any, email: str = "staff@kanazawa.example", org: str = "kanazawa",
                    signed_in: bool = True) -> tuple[accounts.Account, int]:
    """An organizer with a venue of their organization, signed in on the client unless told otherwise."""
    account = await make_account(db, email, org=org)
    venue_id = await make_venue(db, account.org_id, name=f"{org} 市民交流センター")
    if signed_in:
        answer = await login(client, email)
        assert answer.status_code == 200 and answer.url.path == "/organize"
    return account, venue_id


async def upcoming(db: Any, org_id: int, venue_id: int | None, **values: Any) -> int:
    """A published session three weeks ahead (so default request deadlines are still open)."""
    values.setdefault("starts_at", next_saturday(weeks=3))
    return await make_session(db, org_id, venue_id, **values)


async def token_for(db: Any, account: accounts.Account) -> str:
    async with db.transaction() as conn:
        return await accounts.create_api_token(conn, account.id)


async def open_form(client: Any, session_id: int) -> dict[str, Any]:
    """The registration form as a browser would send it untouched."""
    page = await client.get(f"/sessions/{session_id}/register")
    assert page.status_code == 200, page.text
    form = html(page).select_one("form.register-form")
    assert form is not None, "the registration form is not shown"
    return form_data(form)


async def register_form(client: Any, session_id: int, **fields: Any) -> Any:
    """Fill in and send the registration form (name and email of a first person unless given)."""
    data = {**await open_form(client, session_id), **person(1), **fields}
    return await client.post(f"/sessions/{session_id}/register", data=data)


def token_of(response: Any) -> str:
    """The registrant's token from the page the form sent them to (/r/{token}?new=1)."""
    assert response.status_code == 200 and response.url.path.startswith("/r/"), (response.status_code,
                                                                                  response.url, response.text[:500])
    return response.url.path.removeprefix("/r/")


async def api_register(client: Any, session_id: int, **body: Any) -> Any:
    return await client.post(f"/api/sessions/{session_id}/registrations", json=body)


async def registered(client: Any, session_id: int, **body: Any) -> dict[str, Any]:
    answer = await api_register(client, session_id, **body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def status_on(page: Any) -> tuple[str, str]:
    """The registration status as the registrant's page shows it: (kind, visible label)."""
    badge = html(page).select_one(".key-facts .status")
    assert badge is not None, "the page shows no status"
    kind = next(c.removeprefix("status--") for c in badge["class"] if c.startswith("status--"))
    return kind, text_of(badge)


def waitlist_number(page: Any) -> list[int]:
    """The numbers in the status box (the waitlist position when waitlisted)."""
    status_box = html(page).select_one(".key-facts .status").find_parent("dd")
    return [int(n) for n in re.findall(r"\d+", text_of(status_box))]


def list_items(page: Any, heading: str) -> list[str]:
    """The entries under a heading (dt) of the registrant's key facts."""
    for term in html(page).select(".key-facts dt"):
        if text_of(term) == heading:
            return [text_of(li) for li in term.find_next_sibling("dd").select("li")]
    return []


async def row_id(db: Any, email: str) -> int:
    row = await db.fetch_one("select id from registrations where email = ?", (email,))
    assert row is not None
    return int(row[0])


async def count(db: Any, table: str) -> int:
    return (await db.fetch_one(f"select count(*) from {table}"))[0]  # noqa: S608 - a fixed table name


async def outbox(db: Any, kind: str | None = None) -> list[Any]:
    rows = await db.fetch_all("select kind, registration_id, to_address from outbox order by id")
    return [row for row in rows if kind is None or row["kind"] == kind]


def childcare(places: int = 5, **values: Any) -> ChildcareOffer:
    return ChildcareOffer(places=places, min_age_months=values.pop("min_age_months", 6),
                          max_age_months=values.pop("max_age_months", 72), **values)


def past(days: int = 1) -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=days)
