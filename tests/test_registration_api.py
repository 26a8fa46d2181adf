"""Registration through the JSON API: confirmed then waitlisted with a position, cancelling promotes,
invalid registrations name the field, drafts are not found."""

from __future__ import annotations

import pytest

from tests.registration_helpers import api_register, childcare, count, organizer, outbox, person, registered, upcoming
from tests.registration_helpers import settings  # noqa: F401 - fixtures, used by name


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
