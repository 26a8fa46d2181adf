"""Registration: reminders queued once per confirmed registrant, and the online link shown only to
confirmed online registrants near the start."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from server.core.background import queue_reminders
from tests.harness import TOKYO, html, make_session
from tests.registration_helpers import organizer, outbox, person, registered, upcoming
from tests.registration_helpers import settings  # noqa: F401 - fixtures, used by name


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
