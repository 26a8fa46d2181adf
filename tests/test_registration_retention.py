"""Registration data over time: the purge removes sensitive details and keeps the totals, a registrant
deletes their own details, and neither leaves support needs or names in stored or delivered mail."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiosmtpd.controller import Controller

from server.core import mail
from server.core.background import purge_sensitive
from sessions import registration
from sessions.catalog import ACCOMMODATIONS
from sessions.models import AccommodationOffer
from sessions.registration_models import AccommodationRequestInput, ChildInput, RegistrationInput
from tests.harness import TOKYO, free_port, html, make_session
from tests.registration_helpers import (
    CHILD_NOTE, SUPPORT_NOTE, childcare, count, form_data, ja, ja_plural, organizer, past, person, registered, text_of,
    upcoming,
)
from tests.registration_helpers import settings  # noqa: F401 - fixtures, used by name


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


# ---------------------------------------------------------------- sensitive details in stored mail

class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(envelope)
        return "250 OK"


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
