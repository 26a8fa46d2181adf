"""Registration: seats and the waitlist (in arrival order, hybrid sessions, childcare apart, concurrency),
and cancelling with promotion of the first waitlisted (capacity or childcare places raised too)."""

from __future__ import annotations

import asyncio

import pytest

from sessions import registration, scheduling, store
from sessions.catalog import ACCOMMODATIONS
from sessions.models import AccommodationOffer, SessionUpdate
from tests.harness import html
from tests.registration_helpers import (
    CHILD_NOTE, api_register, childcare, form_data, ja, list_items, organizer, outbox, person, register_form,
    registered, row_id, status_on, text_of, token_of, upcoming, waitlist_number,
)
from tests.registration_helpers import settings  # noqa: F401 - fixtures, used by name


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


async def test_a_session_edited_after_the_form_was_read_is_decided_on_its_new_terms(client, db, app):
    """The web reads the session before the write and passes it on; the write trusts it only while the
    session's revision is the same (a lowered capacity, a closed registration must count)."""
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, capacity_in_person=3)
    state = app.litestar.state
    seen = await store.get_session(db, session_id)
    await registered(client, session_id, **person(1))  # a seat taken after the page was read: counted all the same
    await scheduling.patch_session(db, seen, SessionUpdate(capacity_in_person=1))

    result = await registration.register(db, session_id, registration.RegistrationInput(**person(2)),
                                         notify=state.notify, derive_token=state.derive_token, seen=seen)
    assert result.registration.status == "waitlisted" and result.registration.position == 1
    current = await store.get_session(db, session_id)
    again = await registration.register(db, session_id, registration.RegistrationInput(**person(3)),
                                        notify=state.notify, derive_token=state.derive_token, seen=current)
    assert again.registration.status == "waitlisted" and again.registration.position == 2
    with pytest.raises(registration.AlreadyRegistered):  # the address check holds on the short path too
        await registration.register(db, session_id, registration.RegistrationInput(**person(3)),
                                    notify=state.notify, derive_token=state.derive_token, seen=current)
    await scheduling.cancel_session(db, current, "台風のため")
    with pytest.raises(registration.RegistrationClosed):
        await registration.register(db, session_id, registration.RegistrationInput(**person(4)),
                                    notify=state.notify, derive_token=state.derive_token, seen=current)
    async with db.transaction():
        pass  # the refused write's rollback is through before the database closes
