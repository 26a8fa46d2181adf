"""Registration through the form: consent for children's and support details, childcare ages, request
deadlines, registration that closed or a cancelled session, unknown tokens, automated forms and the limit
per client."""

from __future__ import annotations

import pytest

from server.core.i18n import format_date_only
from sessions import scheduling, store
from sessions.models import AccommodationOffer, SessionUpdate
from tests.harness import html
from tests.registration_helpers import (
    CHILD_NOTE, SUPPORT_NOTE, api_register, childcare, count, error_messages, ja, list_items, open_form, organizer,
    past, person, register_form, registered, text_of, token_of, upcoming,
)
from tests.registration_helpers import settings  # noqa: F401 - fixtures, used by name


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
    # said in years and months, as parents say ages (not "6 to 72 months")
    assert ja("Childcare here is for children aged {min} to {max}.").format(min="6か月", max="6歳") in text_of(message)
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

    assert ja("Childcare is only for people taking part in person. Choose \"In person\", or leave the children out "
              "to take part online.") in error_messages(page)
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
