"""The mail outbox: a message that cannot go fails alone and visibly; registrant links are filled in
only when a message is sent; the server secret lives beside the database, never in it.

Mail goes to a real SMTP server (aiosmtpd on loopback).
"""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar
from icalendar.parser import Contentline, Contentlines
from litestar.testing import AsyncTestClient

from server.app import create_app
from server.core import mail
from server.settings import Settings
from tests import test_attack_mail_tokens
from tests.conftest import html, login, make_account, make_session, read_db
from tests.test_attack_boards import online_session
from tests.test_attack_mail_tokens import register

BASE = "http://testserver.local"
SECRET = "outbox-test-secret-" + "x" * 20
SENDER = "Taiwa <no-reply@testserver.local>"
smtp = test_attack_mail_tokens.smtp  # a real SMTP server on loopback: (port, inbox)


@pytest.fixture
async def quiet_app(tmp_path: Path) -> AsyncIterator[tuple[AsyncTestClient, Any]]:
    """The app without its background loop: each test delivers when it chooses; (client, database)."""
    app = create_app(Settings(db_path=tmp_path / "taiwa.sqlite3", secret=SECRET, base_url=BASE, background=False))
    async with AsyncTestClient(app=app, base_url=BASE) as client:
        yield client, app.litestar.state.db


async def two_registrants(client: AsyncTestClient, db: Any) -> list[str]:
    """Two registrations, each with its confirmation mail queued; their tokens."""
    account = await make_account(db, "organizer@kanazawa.example")
    session_id = await make_session(db, account.org_id, **online_session(title="駅前の対話"))
    return [(await register(client, session_id, "山田 花子", address))["token"]
            for address in ("first@example.jp", "second@example.jp")]


async def status_on_the_admin_page(client: AsyncTestClient, db: Any, address: str) -> str:
    if not client.cookies:
        await make_account(db, "admin@kanazawa.example", role="admin")
        await login(client, "admin@kanazawa.example")
    page = await client.get("/organize/admin/outbox")
    assert page.status_code == 200
    row = next(r for r in html(page).select("tbody tr") if r.select("td")[1].get_text().startswith(address))
    return row.select("td")[-1].get_text(" ", strip=True)


async def test_a_message_that_cannot_be_sent_fails_alone_visibly_and_is_given_up_in_the_end(quiet_app, smtp, tmp_path):
    client, db = quiet_app
    port, inbox = smtp
    smtp_url = f"smtp://127.0.0.1:{port}"
    await two_registrants(client, db)
    with sqlite3.connect(tmp_path / "taiwa.sqlite3") as conn:  # as a row written before addresses were checked
        conn.execute("update outbox set to_address = to_address || char(10) || 'Bcc: victim@attacker.example' "
                     "where to_address = 'first@example.jp'")
    conn.close()

    assert await mail.deliver_due(db, smtp_url, SENDER, secret=SECRET) == 1
    assert [e.rcpt_tos for e in inbox.envelopes] == [["second@example.jp"]]
    failed = read_db(tmp_path / "taiwa.sqlite3", "select * from outbox where to_address like 'first@%'")[0]
    assert failed["attempts"] == 1 and failed["sent_at"] is None and failed["last_error"]
    shown = await status_on_the_admin_page(client, db, "first@example.jp")
    assert "送信失敗1回（次回の再送：" in shown and failed["last_error"] in shown

    with sqlite3.connect(tmp_path / "taiwa.sqlite3") as conn:  # the last try is due
        conn.execute("update outbox set attempts = ?, next_attempt_at = '2000-01-01T00:00:00Z' "
                     "where to_address like 'first@%'", (mail.MAX_ATTEMPTS - 1,))
    conn.close()
    assert await mail.deliver_due(db, smtp_url, SENDER, secret=SECRET) == 0
    with sqlite3.connect(tmp_path / "taiwa.sqlite3") as conn:
        conn.execute("update outbox set next_attempt_at = '2000-01-01T00:00:00Z'")
    conn.close()
    assert await mail.deliver_due(db, smtp_url, SENDER, secret=SECRET) == 0
    attempts = read_db(tmp_path / "taiwa.sqlite3", "select attempts from outbox where to_address like 'first@%'")
    assert attempts[0][0] == mail.MAX_ATTEMPTS, "a message given up is not tried again"
    shown = await status_on_the_admin_page(client, db, "first@example.jp")
    assert f"送信失敗{mail.MAX_ATTEMPTS}回（再送を打ち切りました）" in shown and failed["last_error"] in shown
    assert len(inbox.envelopes) == 1


def in_clear(ics: str, token: str) -> str:
    """A calendar file as earlier versions stored it: the link in clear, folded where it falls."""
    lines = Contentlines.from_ical(ics)
    return Contentlines(Contentline(line.replace(f"/r/{mail.TOKEN}", f"/r/{token}")) for line in lines).to_ical().decode()


async def test_mail_stored_by_earlier_versions_loses_its_links_at_rest_and_still_carries_them_when_sent(
        quiet_app, smtp, tmp_path):
    client, db = quiet_app
    port, inbox = smtp
    smtp_url = f"smtp://127.0.0.1:{port}"
    db_path = tmp_path / "taiwa.sqlite3"
    tokens = await two_registrants(client, db)
    for (message_id, body, ics), token in zip(read_db(db_path, "select id, body, ics from outbox order by id"), tokens):
        assert f"/r/{mail.TOKEN}" in body and token not in body + ics
        with sqlite3.connect(db_path) as conn:
            conn.execute("update outbox set body = ?, ics = ? where id = ?",
                         (body.replace(f"/r/{mail.TOKEN}", f"/r/{token}"), in_clear(ics, token), message_id))
        conn.close()
    assert all(token in read_db(db_path, "select group_concat(body || ics) from outbox")[0][0] for token in tokens)

    assert await mail.forget_links_in_clear(db) == 2
    assert await mail.forget_links_in_clear(db) == 0
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("taiwa.sqlite3"))
    assert not [token for token in tokens if token.encode() in stored]

    assert await mail.deliver_due(db, smtp_url, SENDER, secret=SECRET) == 2
    for address, token in zip(("first@example.jp", "second@example.jp"), tokens):
        [message] = inbox.to(address)
        assert f"{BASE}/r/{token}" in message.get_body(preferencelist=("plain",)).get_content()
        [attachment] = [part for part in message.iter_attachments() if part.get_content_type() == "text/calendar"]
        [event] = Calendar.from_ical(attachment.get_content()).walk("VEVENT")
        assert f"{BASE}/r/{token}" in str(event["description"])
        assert (await client.get(f"/r/{token}")).status_code == 200


async def test_a_secret_kept_in_the_database_moves_beside_it_and_the_links_made_with_it_keep_working(tmp_path):
    db_path = tmp_path / "taiwa.sqlite3"
    earlier = "secret-of-an-earlier-version-" + "y" * 16
    app = create_app(Settings(db_path=db_path, secret=earlier, base_url=BASE, background=False))
    async with AsyncTestClient(app=app, base_url=BASE) as client:
        db = app.litestar.state.db
        account = await make_account(db, "organizer@kanazawa.example")
        token = (await register(client, await make_session(db, account.org_id, **online_session()), "山田 花子",
                                "hanako@example.jp"))["token"]
    with sqlite3.connect(db_path) as conn:  # where earlier versions kept the secret they made
        conn.execute("insert into meta (key, value) values ('secret', ?)", (earlier,))
    conn.close()

    app = create_app(Settings(db_path=db_path, secret=None, base_url=BASE, background=False))
    async with AsyncTestClient(app=app, base_url=BASE) as client:
        assert (await client.get(f"/r/{token}")).status_code == 200
    kept = tmp_path / "taiwa.sqlite3.secret"
    assert kept.read_text() == earlier and stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert read_db(db_path, "select count(*) from meta")[0][0] == 0
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("taiwa.sqlite3")
                      and p != kept)
    assert earlier.encode() not in stored, "the secret is still readable in the database files"

    app = create_app(Settings(db_path=db_path, secret=None, base_url=BASE, background=False))
    async with AsyncTestClient(app=app, base_url=BASE) as client:  # and the next start reads the file
        assert (await client.get(f"/r/{token}")).status_code == 200


def test_header_text_is_one_line_whatever_kind_of_line_break_the_title_holds():
    title = "防災\r\nBcc: a@example.jp\u2028子育て\u2029ひろば\x85夕べ\x0b交流\x0c会\x00"
    assert mail.header_text(title) == "防災 Bcc: a@example.jp 子育て ひろば 夕べ 交流 会"
