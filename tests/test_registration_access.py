"""Registration: who may see and change registrations (pages and API, with nothing changed by a refusal),
and what stays private (children's and support notes, other registrants)."""

from __future__ import annotations

from typing import Any

import pytest

from sessions.models import AccommodationOffer
from tests.harness import html, login, make_account
from tests.registration_helpers import (
    CHILD_NOTE, SUPPORT_NOTE, childcare, count, form_data, ja, list_items, organizer, person, registered, row_id,
    status_on, text_of, token_for, upcoming,
)
from tests.registration_helpers import settings  # noqa: F401 - fixtures, used by name


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
