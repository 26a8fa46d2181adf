"""Registrants' calendars follow the organizer: a moved or cancelled session mails every registrant still
coming an updated .ics (iTIP REQUEST / CANCEL, the same UID, a higher SEQUENCE) in their language, and a
registrant who cancels gets a cancelling .ics. Mail goes through the outbox to a real SMTP server
(aiosmtpd on loopback); the attachments are read with a second parser (vobject)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from server.app import create_app
from server.core import mail
from server.settings import Settings
from sessions import scheduling, store
from tests import test_attack_mail_tokens
from tests.calendar_helpers import independent_event, local, read_independently
from tests.harness import login, make_account, make_session, next_saturday, post_form
from tests.test_attack_boards import online_session
from tests.test_attack_mail_tokens import register

BASE = "http://testserver.local"
SECRET = "calendar-mail-secret-" + "x" * 20
SENDER = "Taiwa <no-reply@testserver.local>"
ORGANIZER = "organizer@kanazawa.example"
smtp = test_attack_mail_tokens.smtp  # a real SMTP server on loopback: (port, inbox)


@pytest.fixture
async def quiet_app(tmp_path: Path) -> AsyncIterator[tuple[AsyncTestClient, Any, Any]]:
    """The app without its background loop: each test delivers when it chooses; (client, database, notify)."""
    app = create_app(Settings(db_path=tmp_path / "taiwa.sqlite3", secret=SECRET, base_url=BASE, background=False))
    async with AsyncTestClient(app=app, base_url=BASE) as client:
        yield client, app.litestar.state.db, app.litestar.state.notify


async def deliver(db: Any, smtp: tuple[int, Any]) -> None:
    port, _inbox = smtp
    await mail.deliver_due(db, f"smtp://127.0.0.1:{port}", SENDER, secret=SECRET)


def calendar_of(message: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A mail's one calendar attachment: its Content-Type method, the calendar's and the event's properties."""
    [part] = [part for part in message.iter_attachments() if part.get_content_type() == "text/calendar"]
    content = part.get_content().encode()
    head, _events = read_independently(content)
    return str(part.get_param("method")), head, independent_event(content)


def last_to(inbox: Any, address: str) -> Any:
    messages = inbox.to(address)
    assert messages, f"no mail to {address}"
    return messages[-1]


async def a_session_with_registrants(client: AsyncTestClient, db: Any) -> tuple[int, dict[str, str]]:
    """An online session with a Japanese and an English registrant, and one who cancelled; (id, tokens)."""
    account = await make_account(db, ORGANIZER)
    session_id = await make_session(db, account.org_id, **online_session(
        title="駅前の対話", title_en="Station square dialogue", starts_at=next_saturday(weeks=2, hour=14)))
    tokens = {address: (await register(client, session_id, name, address, lang=lang))["token"]
              for name, address, lang in (("山田 花子", "hanako@example.jp", "ja"),
                                          ("Alex Smith", "alex@example.com", "en"),
                                          ("佐藤 一郎", "ichiro@example.jp", "ja"))}
    assert (await client.delete(f"/api/registrations/{tokens['ichiro@example.jp']}")).status_code in (200, 204)
    return session_id, tokens


async def test_a_moved_then_cancelled_session_updates_each_registrants_calendar_by_mail(quiet_app, smtp):
    client, db, _notify = quiet_app
    _port, inbox = smtp
    session_id, _tokens = await a_session_with_registrants(client, db)
    await deliver(db, smtp)
    confirmed = {address: calendar_of(last_to(inbox, address)) for address in ("hanako@example.jp", "alex@example.com")}
    public_uid = independent_event((await client.get(f"/sessions/{session_id}.ics")).content)["uid"]
    mails_to_ichiro = len(inbox.to("ichiro@example.jp"))
    await login(client, ORGANIZER)

    day = next_saturday(weeks=2).date() + timedelta(days=1)
    moved = await post_form(client, f"/organize/sessions/{session_id}/move", None,
                            {"date": day.isoformat(), "start_time": "10:00", "end_time": "12:00"})
    assert moved.status_code in (200, 303), moved.text
    await deliver(db, smtp)
    updates = {address: calendar_of(last_to(inbox, address)) for address in confirmed}

    for address, (method, head, event) in updates.items():
        assert method == "REQUEST" and head["method"] == "REQUEST", address
        assert event["uid"] == confirmed[address][2]["uid"] == public_uid, address
        assert event["sequence"] > confirmed[address][2]["sequence"], address
        assert local(event["dtstart"]) == datetime.combine(day, time(10)), address
        assert event["status"] == "CONFIRMED"
        assert event["organizer"].lower().startswith("mailto:") and event["attendee"] == f"mailto:{address}"
    assert updates["alex@example.com"][2]["summary"] == "Station square dialogue"
    assert updates["hanako@example.jp"][2]["summary"] == "駅前の対話"
    assert "Changed" in last_to(inbox, "alex@example.com")["Subject"]
    assert "変更" in last_to(inbox, "hanako@example.jp")["Subject"]

    cancelled = await post_form(client, f"/organize/sessions/{session_id}/cancel", None, {"reason": "台風接近のため"})
    assert cancelled.status_code in (200, 303), cancelled.text
    await deliver(db, smtp)

    for address, (_method, _head, update) in updates.items():
        method, head, event = calendar_of(last_to(inbox, address))
        assert method == "CANCEL" and head["method"] == "CANCEL", address
        assert event["status"] == "CANCELLED", address
        assert event["uid"] == update["uid"] and event["sequence"] > update["sequence"], address
    assert "台風接近のため" in last_to(inbox, "hanako@example.jp").get_body(preferencelist=("plain",)).get_content()
    assert len(inbox.to("ichiro@example.jp")) == mails_to_ichiro, "a cancelled registration gets no more mail"


async def test_a_change_that_neither_moves_nor_cancels_sends_no_mail(quiet_app, smtp):
    client, db, notify = quiet_app
    _port, inbox = smtp
    session_id, _tokens = await a_session_with_registrants(client, db)
    await deliver(db, smtp)
    before = len(inbox.envelopes)

    session = await store.get_session(db, session_id)
    await scheduling.change_session(db, session, msgspec.structs.replace(session.as_input(), description="持ち物なし"),
                                    notify=notify)
    await deliver(db, smtp)

    assert len(inbox.envelopes) == before


async def test_a_registrant_who_cancels_gets_a_cancelling_calendar_file(quiet_app, smtp):
    client, db, _notify = quiet_app
    _port, inbox = smtp
    _session_id, tokens = await a_session_with_registrants(client, db)
    await deliver(db, smtp)
    _method, _head, confirmation = calendar_of(inbox.to("alex@example.com")[0])

    assert (await client.delete(f"/api/registrations/{tokens['alex@example.com']}")).status_code in (200, 204)
    await deliver(db, smtp)

    method, head, event = calendar_of(last_to(inbox, "alex@example.com"))
    assert method == "CANCEL" and head["method"] == "CANCEL"
    assert event["status"] == "CANCELLED"
    assert event["uid"] == confirmation["uid"] and event["sequence"] > confirmation["sequence"]
    assert event["summary"] == "Station square dialogue"
