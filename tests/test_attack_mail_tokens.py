"""Red-team findings on mail and secrets at rest (issue 20), as regression tests of the intended behaviour.

- Finding 4: one session title with a line break (or U+2028) stopped all mail: the Subject could not
  be built, and that outbox row blocked every later one.
- Finding 11: registrant tokens at rest: with TAIWA_SECRET unset the database held the secret; outbox
  bodies held working `/r/{token}` links; the database, its WAL and backups were world-readable.
- Low items: API tokens kept working after the account's password was reset; registrant change
  requests were unlimited (limit `change_request`).

Mail goes over a real SMTP server (aiosmtpd on loopback), delivered by the app's own background loop.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import re
import sqlite3
import stat
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from litestar.testing import AsyncTestClient

from server.app import create_app
from server.settings import Settings
from tests.conftest import csrf_from, free_port, html, login, make_account, make_session, post_form
from tests.test_attack_boards import online_session, taiwa, with_limits

ROOT = Path(__file__).resolve().parent.parent
BASE = "http://testserver.local"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x85\x0b\x0c]")


class Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(e.content, policy=email.policy.default)  # type: ignore[misc]
                for e in self.envelopes]

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for e, m in zip(self.envelopes, self.messages()) if address in e.rcpt_tos]


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    """A real SMTP server on a loopback port."""
    port = free_port()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, inbox
    controller.stop()


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most servers run with (022): files are private only if the app makes them so."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
async def mailing_app(tmp_path: Path, smtp: tuple[int, Inbox]) -> AsyncIterator[tuple[AsyncTestClient, Any, Inbox]]:
    """The app with its background loop delivering to the SMTP server; (client, database, inbox)."""
    port, inbox = smtp
    settings = Settings(db_path=tmp_path / "taiwa.sqlite3", secret="mail-test-secret-" + "x" * 20, base_url=BASE,
                        smtp_url=f"smtp://127.0.0.1:{port}")
    app = create_app(settings)
    async with AsyncTestClient(app=app, base_url=BASE) as client:
        yield client, app.litestar.state.db, inbox


async def register(client: AsyncTestClient, session_id: int, name: str, address: str, *, lang: str = "ja",
                   key: str | None = None) -> dict[str, Any]:
    headers = {"Accept-Language": lang, **({"Idempotency-Key": key} if key else {})}
    answer = await client.post(f"/api/sessions/{session_id}/registrations", headers=headers,
                               json={"name": name, "email": address, "mode": "online"})
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


async def eventually(check: Callable[[], Any], *, within: float) -> Any:
    deadline = time.monotonic() + within
    while not (result := check()) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    return result


def files_of(db_path: Path) -> list[Path]:
    """The database file and its companions (-wal, -shm, locks, a secret kept beside it, ...)."""
    return sorted(p for p in db_path.parent.iterdir() if p.is_file() and p.name.startswith(db_path.name.split(".")[0]))


def readable_by_others(path: Path) -> bool:
    return bool(stat.S_IMODE(path.stat().st_mode) & 0o077)


# ---------------------------------------------------------------- finding 4: one title stops all mail

async def session_titled(db: Any, org_id: int, db_path: Path, **titles: str) -> int:
    """A session with these titles as they may sit in the database: made through the domain if it
    takes them, otherwise (should validation refuse line breaks one day) written over a plain title,
    as data imported or created before that validation would be."""
    try:
        return await make_session(db, org_id, **online_session(**titles))
    except Exception:  # noqa: BLE001 - refused by validation: keep such a row the way older data is
        session_id = await make_session(db, org_id, **online_session(title="仮の題名"))
        conn = sqlite3.connect(db_path, timeout=30)
        with conn:
            for column, value in titles.items():
                conn.execute(f"update sessions set {column} = ? where id = ?", (value, session_id))
        conn.close()
        return session_id


async def test_a_title_with_a_line_break_never_stops_the_mail(mailing_app, tmp_path):
    """Finding 4: a session title with a line break or U+2028 (imported, or sent through the API)
    became a mail Subject; building the message raised, and that outbox row blocked every later
    mail. Intended: header text is cleaned (no line break in any Subject, no injected header), and
    every registrant gets their mail, including those of the other sessions queued after it."""
    client, db, inbox = mailing_app
    db_path = tmp_path / "taiwa.sqlite3"
    account = await make_account(db, "organizer@kanazawa.example")
    plain_before = await make_session(db, account.org_id, **online_session(title="駅前の対話"))
    with_newline = await session_titled(db, account.org_id, db_path, title="防災の集い\nBcc: victim@attacker.example")
    with_separator = await session_titled(db, account.org_id, db_path, title="子育て\u2028ひろば")
    english_crlf = await session_titled(db, account.org_id, db_path, title="国際交流の夕べ",
                                        title_en="Evening talk\r\nX-Injected: yes")
    plain_after = await make_session(db, account.org_id, **online_session(title="公園の使い方を考える会"))

    people = [(plain_before, "a@example.jp", "ja"), (with_newline, "b@example.jp", "ja"),
              (with_separator, "c@example.jp", "ja"), (english_crlf, "d@example.jp", "en"),
              (plain_after, "e@example.jp", "ja")]
    for session_id, address, lang in people:
        await register(client, session_id, "山田 花子", address, lang=lang)

    addresses = [address for _, address, _ in people]
    await eventually(lambda: all(inbox.to(a) for a in addresses), within=10)
    missing = [a for a in addresses if not inbox.to(a)]
    assert not missing, f"no mail reached {missing} (delivered: {[e.rcpt_tos for e in inbox.envelopes]})"

    for message in inbox.messages():
        assert not LINE_BREAKS.search(str(message["Subject"])), repr(message["Subject"])
        assert message["Bcc"] is None and message["X-Injected"] is None
    assert all("victim@attacker.example" not in e.rcpt_tos for e in inbox.envelopes)
    assert "防災の集い" in str(inbox.to("b@example.jp")[0]["Subject"])
    assert "Evening talk" in str(inbox.to("d@example.jp")[0]["Subject"])


# ---------------------------------------------------------------- finding 11: tokens and secrets at rest

async def test_the_outbox_keeps_no_working_registrant_link_at_rest_but_the_mail_has_it(mailing_app, tmp_path):
    """Finding 11: outbox bodies (and the attached .ics) held `/r/{token}` links in clear, so a copy
    of the database opened every registrant's page. Intended: the token appears nowhere in the
    database files (main file, WAL), while the mail actually sent still carries the working link."""
    client, db, inbox = mailing_app
    account = await make_account(db, "organizer@kanazawa.example")
    session_id = await make_session(db, account.org_id, **online_session(title="駅前広場の未来を語る会"))
    token = (await register(client, session_id, "佐藤 一郎", "ichiro@example.jp"))["token"]
    db_path = tmp_path / "taiwa.sqlite3"

    def at_rest() -> list[str]:
        return [p.name for p in files_of(db_path) if token.encode() in p.read_bytes()]

    queued = at_rest()
    await eventually(lambda: inbox.to("ichiro@example.jp"), within=15)
    assert inbox.to("ichiro@example.jp"), "the confirmation mail was not delivered"
    body = inbox.to("ichiro@example.jp")[0].get_body(preferencelist=("plain",)).get_content()
    assert f"{BASE}/r/{token}" in body, "the mail must still carry the registrant's link"
    assert (await client.get(f"/r/{token}")).status_code == 200
    sent = at_rest()
    assert not queued and not sent, (f"the registrant's token is stored in clear in {queued or sent} "
                                     f"(queued: {queued}, after sending: {sent})")


async def test_database_files_are_created_readable_by_the_server_only(tmp_path, usual_umask):
    """Finding 11: the database, its WAL and shared-memory files were created 0644 (readable by every
    local user) under the usual umask. Intended: 0600 for every file the app keeps beside it too."""
    db_path = tmp_path / "data" / "taiwa.sqlite3"
    app = create_app(Settings(db_path=db_path, secret=None, base_url=BASE, background=False))
    async with AsyncTestClient(app=app, base_url=BASE) as client:
        db = app.litestar.state.db
        account = await make_account(db, "organizer@kanazawa.example")
        session_id = await make_session(db, account.org_id, **online_session())
        await register(client, session_id, "山田 花子", "hanako@example.jp")
        present = {p.name for p in db_path.parent.iterdir()}
        assert {"taiwa.sqlite3", "taiwa.sqlite3-wal", "taiwa.sqlite3-shm"} <= present, present
        # every file the app keeps in its data folder: the database, WAL, shared memory, locks, a secret
        loose = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in db_path.parent.iterdir()
                 if p.is_file() and readable_by_others(p)}
    assert not loose, f"readable by other local users: {loose}"


async def test_taiwa_backup_writes_a_file_only_its_owner_can_read(tmp_path, usual_umask):
    """Finding 11: `taiwa backup PATH` wrote the copy (every registrant's details) as 0644.
    Intended: 0600."""
    db_path = tmp_path / "taiwa.sqlite3"
    with sqlite3.connect(db_path) as conn:  # any database file: the copy's mode is what is checked
        conn.execute("create table registrations (name text)")
        conn.execute("insert into registrations values ('山田 花子')")
    conn.close()
    copy = tmp_path / "backups" / "copy.sqlite3"
    copy.parent.mkdir()
    taiwa("backup", str(copy), db=db_path)
    assert copy.exists()
    assert not readable_by_others(copy), f"the backup is {oct(stat.S_IMODE(copy.stat().st_mode))}"


async def test_without_taiwa_secret_a_copy_of_the_database_cannot_mint_registrant_links(tmp_path):
    """Finding 11: with TAIWA_SECRET unset, the generated secret was stored in the database itself,
    so whoever copies the file (or a backup) can derive every registrant's `/r/{token}` from it.
    Intended: the secret lives outside the database file (e.g. a 0600 file beside it). Checked as
    an attacker would: the same registration retried (same Idempotency-Key) on a server started
    from a copy of the database file alone must not hand back the original working token."""
    original = tmp_path / "server" / "taiwa.sqlite3"
    app = create_app(Settings(db_path=original, secret=None, base_url=BASE, background=False))
    async with AsyncTestClient(app=app, base_url=BASE) as client:
        db = app.litestar.state.db
        account = await make_account(db, "organizer@kanazawa.example")
        session_id = await make_session(db, account.org_id, **online_session())
        first = await register(client, session_id, "山田 花子", "hanako@example.jp", key="retry-key-0001")
        assert (await client.get(f"/r/{first['token']}")).status_code == 200
        stolen = tmp_path / "attacker" / "taiwa.sqlite3"
        stolen.parent.mkdir()
        source, target = sqlite3.connect(original), sqlite3.connect(stolen)
        with target:
            source.backup(target)
        source.close()
        target.close()

    app = create_app(Settings(db_path=stolen, secret=None, base_url=BASE, background=False))
    async with AsyncTestClient(app=app, base_url=BASE) as client:
        again = await register(client, session_id, "山田 花子", "hanako@example.jp", key="retry-key-0001")
    assert again["token"] != first["token"], ("a copy of the database file alone reproduces the server secret: "
                                              "every registrant link can be derived from it")


# ---------------------------------------------------------------- low items

async def test_api_tokens_stop_working_when_the_password_is_reset(client, db, settings):
    """Low item: an organizer's API token kept working after an administrator reset their password
    (e.g. after a suspected compromise). Intended: a password change or reset ends the account's
    API tokens as it ends its logins (401)."""
    await make_account(db, "admin@kanazawa.example", role="admin")
    organizer = await make_account(db, "organizer@kanazawa.example")
    token = taiwa("create-token", "--email", "organizer@kanazawa.example", db=settings.db_path).splitlines()[-1]
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/venues", headers=bearer)).status_code == 200

    await login(client, "admin@kanazawa.example")
    saved = await post_form(client, f"/organize/admin/accounts/{organizer.id}/edit", None, {
        "role": "organizer", "active": "1", "display_name": "", "password": "a-brand-new-password-2"})
    assert saved.status_code == 200 and saved.url.path == "/organize/admin", saved.text[:300]
    client.cookies.clear()
    after = await client.get("/api/venues", headers=bearer)
    assert after.status_code == 401, f"the old API token still works after the password reset ({after.status_code})"


@pytest.fixture
def limited_settings(tmp_path: Path) -> Settings:
    return with_limits(Settings(db_path=tmp_path / "taiwa.sqlite3", secret="test-secret-" + "x" * 20, base_url=BASE,
                                background=False), change_request=(2, 60))


async def test_registrant_change_requests_are_limited_in_the_users_language(limited_settings):
    """Low item: the change-request form on `/r/{token}` took any number of messages (each one lands
    in the organizers' work list). Intended: limit `change_request` (here 2 per 60 s), then 429
    with a message in the registrant's language; the registrant's page itself still opens."""
    app = create_app(limited_settings)
    async with AsyncTestClient(app=app, base_url=BASE) as client:
        db = app.litestar.state.db
        account = await make_account(db, "organizer@kanazawa.example")
        session_id = await make_session(db, account.org_id, **online_session())
        token = (await register(client, session_id, "山田 花子", "hanako@example.jp"))["token"]
        csrf = csrf_from(await client.get(f"/r/{token}"))
        for n in range(2):
            sent = await client.post(f"/r/{token}/change", data={"_csrf_token": csrf, "message": f"変更のお願い{n}"})
            assert sent.status_code == 200, sent.text[:300]
        third = await client.post(f"/r/{token}/change", data={"_csrf_token": csrf, "message": "三通目"})
        assert third.status_code == 429, f"a 3rd change request within a minute answered {third.status_code}"
        assert JAPANESE.search(html(third).get_text())
        english = await client.post(f"/r/{token}/change?lang=en", data={"_csrf_token": csrf, "message": "fourth"})
        assert english.status_code == 429
        assert not JAPANESE.search(html(english).select_one("main").get_text() if html(english).select_one("main")
                                   else html(english).get_text())
        assert (await client.get(f"/r/{token}")).status_code == 200
