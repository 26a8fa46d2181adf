"""Registration through a real server process: a burst of 200 registrants, childcare places under a burst,
mail over real SMTP (aiosmtpd on loopback), an SMTP outage, and a resident on a phone in Debian Chromium.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from icalendar import Calendar
from playwright.async_api import Browser, Page, expect

from sessions.models import AccommodationOffer, ChildcareOffer
from sessions.registration import token_hash
from tests.harness import (
    TOKYO, ServerProcess, axe_violations, everything, free_port, make_account, make_session, make_venue, new_page,
    next_saturday, open_database, read_db,
)
from tests.harness import chromium as debian_chromium

SECRET = "live-registration-secret-0123456789"


# --- a real server process, a real SMTP server, and reading its database file -------------------------------

@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start `taiwa serve` on a database file (with extra TAIWA_* variables); every process is stopped after."""
    servers: list[ServerProcess] = []

    def start(db_path: Path, **env: str) -> str:
        port = free_port()
        server = ServerProcess(db_path, tmp_path / f"server-{port}.log", port=port, secret=SECRET, env=env,
                               inherit=everything)
        servers.append(server)
        return server.start().base

    yield start
    for server in servers:
        server.stop()


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


@pytest.fixture
def smtp() -> Iterator[Callable[[int], Inbox]]:
    """Start a real SMTP server on a loopback port; stopped after the test."""
    controllers: list[Controller] = []

    def start(port: int) -> Inbox:
        inbox = Inbox()
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)
        return inbox

    yield start
    for controller in controllers:
        controller.stop()


async def seed_session(db_path: Path, **values: Any) -> int:
    """A published session (with a venue) written to the file before the server opens it."""
    async with open_database(db_path) as db:
        account = await make_account(db, "organizer@kanazawa.example")
        venue = await make_venue(db, account.org_id, address="石川県金沢市広坂1-1-1")
        return await make_session(db, account.org_id, venue, **values)


async def eventually(check: Callable[[], Any], *, within: float, what: str) -> Any:
    """Poll until check() is truthy and return its value; fail with `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {within:.0f} s")
        await asyncio.sleep(0.25)


# --- capacity and waitlist under a burst --------------------------------------------------------------------

async def test_200_concurrent_registrations_confirm_10_and_queue_190_in_arrival_order(launch, tmp_path):
    db_path = tmp_path / "taiwa.sqlite3"
    session_id = await seed_session(db_path, title="10席の対話の場", capacity_in_person=10,
                                    starts_at=next_saturday(weeks=3))
    base = launch(db_path, TAIWA_RATE_LIMITS="off")

    async with httpx.AsyncClient(base_url=base, timeout=120,
                                 limits=httpx.Limits(max_connections=200, max_keepalive_connections=200)) as client:
        async def register(n: int) -> httpx.Response:
            return await client.post(f"/api/sessions/{session_id}/registrations",
                                     json={"name": f"参加者{n:03d}", "email": f"p{n:03d}@example.jp",
                                           "mode": "in_person"})

        started = time.perf_counter()
        answers = await asyncio.gather(*(register(n) for n in range(200)))
        elapsed = time.perf_counter() - started
        print(f"\nconcurrency: 200 registrations for 10 seats in {elapsed:.2f} s "
              f"({200 / elapsed:.0f} registrations/s) through a real server")

        assert [a.status_code for a in answers] == [201] * 200, [a.text for a in answers if a.status_code != 201][:3]
        bodies = [a.json() for a in answers]
        confirmed = [b for b in bodies if b["status"] == "confirmed"]
        waitlisted = [b for b in bodies if b["status"] == "waitlisted"]
        assert len(confirmed) == 10
        assert len(waitlisted) == 190
        assert all(b.get("position") is None for b in confirmed)
        assert sorted(b["position"] for b in waitlisted) == list(range(1, 191))

        # the database agrees, and the waitlist order is the order of arrival (the order rows were written)
        rows = read_db(db_path, "select id, token_hash, status from registrations where session_id = ? order by id",
                       (session_id,))
        assert [r["status"] for r in rows].count("confirmed") == 10
        assert [r["status"] for r in rows].count("waitlisted") == 190
        position_of = {token_hash(b["token"]): b["position"] for b in waitlisted}
        assert [position_of[r["token_hash"]] for r in rows if r["status"] == "waitlisted"] == list(range(1, 191))
        assert {r["token_hash"] for r in rows if r["status"] == "confirmed"} == {token_hash(b["token"]) for b in confirmed}

        # one confirmed registrant cancels: the first in line, and only they, get the seat; the rest move up
        cancelled = await client.delete(f"/api/registrations/{confirmed[0]['token']}")
        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "cancelled"
        by_position = {b["position"]: b["token"] for b in waitlisted}
        first = (await client.get(f"/api/registrations/{by_position[1]}")).json()
        assert first["status"] == "confirmed"
        assert first.get("position") is None
        rest = await asyncio.gather(*(client.get(f"/api/registrations/{by_position[p]}") for p in range(2, 191)))
        assert [(r.json()["status"], r.json()["position"]) for r in rest] == \
            [("waitlisted", p - 1) for p in range(2, 191)]
        still_confirmed = await asyncio.gather(*(client.get(f"/api/registrations/{b['token']}") for b in confirmed[1:]))
        assert {r.json()["status"] for r in still_confirmed} == {"confirmed"}
    statuses = [r["status"] for r in read_db(db_path, "select status from registrations where session_id = ?",
                                              (session_id,))]
    assert (statuses.count("confirmed"), statuses.count("waitlisted"), statuses.count("cancelled")) == (10, 189, 1)
    # the promoted registrant is told by mail (queued in the outbox; no SMTP server in this test)
    promoted_id = read_db(db_path, "select id from registrations where token_hash = ?",
                          (token_hash(by_position[1]),))[0]["id"]
    kinds = read_db(db_path, "select kind from outbox where registration_id = ? order by id", (promoted_id,))
    assert [r["kind"] for r in kinds] == ["waitlisted", "promoted"]


async def test_promotion_from_the_waitlist_carries_the_child_and_the_sign_language_request(launch, tmp_path):
    db_path = tmp_path / "taiwa.sqlite3"
    session_id = await seed_session(
        db_path, title="1席だけの対話の場", capacity_in_person=1, starts_at=next_saturday(weeks=3),
        childcare=ChildcareOffer(places=2, min_age_months=6, max_age_months=72),
        accommodations=[AccommodationOffer(code="sign_language", mode="on_request")])
    base = launch(db_path)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        first = (await client.post(f"/api/sessions/{session_id}/registrations",
                                   json={"name": "先に来た人", "phone": "076-000-0001"})).json()
        second = await client.post(f"/api/sessions/{session_id}/registrations",
                                   json={"name": "後から来た人", "phone": "076-000-0002",
                                         "children": [{"age_months": 36, "notes": "卵アレルギー"}],
                                         "accommodations": [{"code": "sign_language"}], "consent_sensitive": True})
        assert second.status_code == 201
        assert (second.json()["status"], second.json()["position"]) == ("waitlisted", 1)
        assert second.json()["childcare_status"] == "waitlisted"

        assert (await client.delete(f"/api/registrations/{first['token']}")).status_code == 200
        promoted = (await client.get(f"/api/registrations/{second.json()['token']}")).json()
    assert promoted["status"] == "confirmed"
    assert promoted["childcare_status"] == "confirmed"
    assert [(c["age_months"], c["status"]) for c in promoted["children"]] == [(36, "confirmed")]
    assert [(a["code"], a["status"]) for a in promoted["accommodations"]] == [("sign_language", "requested")]


async def test_childcare_places_are_never_exceeded_under_a_burst_while_seats_are_confirmed(launch, tmp_path):
    db_path = tmp_path / "taiwa.sqlite3"
    session_id = await seed_session(
        db_path, title="託児つきの対話の場", capacity_in_person=50, starts_at=next_saturday(weeks=3),
        childcare=ChildcareOffer(places=5, min_age_months=6, max_age_months=72))
    base = launch(db_path, TAIWA_RATE_LIMITS="off")

    async with httpx.AsyncClient(base_url=base, timeout=120, limits=httpx.Limits(max_connections=30)) as client:
        answers = await asyncio.gather(*(
            client.post(f"/api/sessions/{session_id}/registrations",
                        json={"name": f"保護者{n:02d}", "phone": f"076-000-{n:04d}", "mode": "in_person",
                              "children": [{"age_months": 24}], "consent_sensitive": True})
            for n in range(30)))
        assert [a.status_code for a in answers] == [201] * 30, [a.text for a in answers if a.status_code != 201][:3]
        bodies = [a.json() for a in answers]
        assert {b["status"] for b in bodies} == {"confirmed"}  # every seat is confirmed ...
        childcare = [b["childcare_status"] for b in bodies]
        assert childcare.count("confirmed") == 5  # ... but only five children have a childcare place
        assert childcare.count("waitlisted") == 25
        rows = read_db(db_path, "select status, count(*) as n from registration_children where session_id = ? "
                                "group by status", (session_id,))
        assert {r["status"]: r["n"] for r in rows} == {"confirmed": 5, "waitlisted": 25}

        # a parent with a childcare place cancels: the child who asked first among the waiting gets it
        holder = next(b for b in bodies if b["childcare_status"] == "confirmed")
        assert (await client.delete(f"/api/registrations/{holder['token']}")).status_code == 200
        waiting = {token_hash(b["token"]): b["token"] for b in bodies if b["childcare_status"] == "waitlisted"}
        first_waiting = next(r["token_hash"] for r in read_db(
            db_path, "select token_hash from registrations where session_id = ? order by id", (session_id,))
            if r["token_hash"] in waiting)
        promoted = (await client.get(f"/api/registrations/{waiting[first_waiting]}")).json()
        assert promoted["childcare_status"] == "confirmed"
    rows = read_db(db_path, "select status, count(*) as n from registration_children where session_id = ? "
                            "group by status", (session_id,))
    assert {r["status"]: r["n"] for r in rows} == {"confirmed": 5, "waitlisted": 24, "cancelled": 1}


# --- mail over real SMTP ------------------------------------------------------------------------------------

async def test_confirmation_mail_arrives_over_smtp_with_a_valid_ics_and_the_registrants_link(launch, smtp, tmp_path):
    port = free_port()
    inbox = smtp(port)
    db_path = tmp_path / "taiwa.sqlite3"
    start = next_saturday(weeks=3, hour=14)
    session_id = await seed_session(db_path, title="駅前広場の未来を語る会", starts_at=start,
                                    ends_at=start + timedelta(hours=2))
    base = launch(db_path, TAIWA_SMTP_URL=f"smtp://127.0.0.1:{port}")

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        answer = await client.post(f"/api/sessions/{session_id}/registrations",
                                   json={"name": "山田 花子", "email": "hanako@example.jp", "mode": "in_person"})
        assert answer.status_code == 201
        token = answer.json()["token"]
        await eventually(lambda: inbox.envelopes, within=20, what="the confirmation mail")

        envelope = inbox.envelopes[0]
        assert envelope.rcpt_tos == ["hanako@example.jp"]
        message = inbox.messages()[0]
        assert message["To"] == "hanako@example.jp"
        assert "駅前広場の未来を語る会" in message["Subject"]
        calendars = [part for part in message.iter_attachments() if part.get_content_type() == "text/calendar"]
        assert len(calendars) == 1
        calendar = Calendar.from_ical(calendars[0].get_content())
        events = calendar.walk("VEVENT")
        assert len(events) == 1
        dtstart = events[0].decoded("dtstart")
        assert dtstart.tzinfo is not None
        assert dtstart == start.replace(tzinfo=TOKYO)
        assert dtstart.utcoffset() == timedelta(hours=9)  # shown in Tokyo time, not UTC
        assert str(events[0]["uid"]).strip()

        body = message.get_body(preferencelist=("plain",)).get_content()
        link = f"{base}/r/{token}"
        assert link in body
        page = await client.get(link)
        assert page.status_code == 200
        assert "駅前広場の未来を語る会" in page.text
    assert len(inbox.envelopes) == 1


async def test_mail_waits_in_the_outbox_while_smtp_is_down_and_is_delivered_once_it_is_back(launch, smtp, tmp_path):
    port = free_port()  # nothing listens here yet
    db_path = tmp_path / "taiwa.sqlite3"
    session_id = await seed_session(db_path, title="停電の日の対話", starts_at=next_saturday(weeks=3))
    base = launch(db_path, TAIWA_SMTP_URL=f"smtp://127.0.0.1:{port}")

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        answer = await client.post(f"/api/sessions/{session_id}/registrations",
                                   json={"name": "佐藤 一郎", "email": "ichiro@example.jp", "mode": "in_person"})
    assert answer.status_code == 201
    registration_id = read_db(db_path, "select id from registrations where token_hash = ?",
                              (token_hash(answer.json()["token"]),))[0]["id"]

    def outbox() -> list[sqlite3.Row]:
        return read_db(db_path, "select * from outbox where registration_id = ?", (registration_id,))

    failed = await eventually(lambda: [r for r in outbox() if r["attempts"] >= 1], within=30,
                              what="a first delivery attempt")
    assert len(failed) == 1
    assert failed[0]["sent_at"] is None
    assert failed[0]["last_error"]
    assert failed[0]["kind"] == "confirmed"

    inbox = smtp(port)  # the SMTP server comes back; the retry (30 s backoff) delivers the kept message
    sent = await eventually(lambda: [r for r in outbox() if r["sent_at"]], within=120, what="delivery after the outage")
    assert len(sent) == 1
    assert len(outbox()) == 1
    assert [e.rcpt_tos for e in inbox.envelopes] == [["ichiro@example.jp"]]
    assert "停電の日の対話" in inbox.messages()[0]["Subject"]


# --- a resident on a phone, in Debian Chromium --------------------------------------------------------------

@pytest.fixture
async def chromium() -> Any:
    async with debian_chromium() as browser:
        yield browser


async def _fill_like_a_person(page: Page, form_shown: float) -> None:
    # the anti-bot check refuses a form sent back within 2 s of being shown (the server's default);
    # a person takes longer than that, so wait out whatever is left of it
    left = 2.5 - (time.monotonic() - form_shown)
    if left > 0:
        await page.wait_for_timeout(left * 1000)


@pytest.mark.browser
async def test_resident_on_a_phone_registers_with_a_child_and_sign_language_then_cancels(
        launch, chromium: Browser, tmp_path):
    db_path = tmp_path / "taiwa.sqlite3"
    session_id = await seed_session(
        db_path, title="子育て世代の対話の場", starts_at=next_saturday(weeks=3),
        childcare=ChildcareOffer(places=5, min_age_months=6, max_age_months=72),
        accommodations=[AccommodationOffer(code="sign_language", mode="on_request")])
    base = launch(db_path)
    page = await new_page(chromium, viewport={"width": 390, "height": 844}, locale="ja-JP")
    csp_errors: list[str] = []
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)

    await page.goto(f"{base}/sessions/{session_id}")
    assert await axe_violations(page) == []
    await page.get_by_role("link", name=re.compile("申し?込")).click()
    form_shown = time.monotonic()
    await expect(page).to_have_url(f"{base}/sessions/{session_id}/register")
    assert await axe_violations(page) == []

    await page.locator("#f-name").fill("山田 花子")
    await page.locator("#f-email").fill("hanako@example.jp")
    await page.locator("#f-child_1_years").select_option("2")
    await page.locator("#f-child_1_months").select_option("3")
    await page.locator("#f-acc_sign_language").check()
    # the last steps by keyboard: Space ticks the consent box, Tab reaches the submit button, Enter sends
    await page.locator("#f-consent_sensitive").focus()
    await page.keyboard.press("Space")
    await expect(page.locator("#f-consent_sensitive")).to_be_checked()
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.type") == "submit"
    action = await page.evaluate("document.activeElement.form.action")
    assert action.endswith(f"/sessions/{session_id}/register")
    await _fill_like_a_person(page, form_shown)
    await page.keyboard.press("Enter")

    await expect(page).to_have_url(re.compile(r"/r/[A-Za-z0-9_-]{22,}\?new=1$"))
    facts = page.locator(".key-facts")
    await expect(page.locator(".status--confirmed").first).to_have_text("確定")
    await expect(facts).to_contain_text("2歳3か月")
    await expect(facts).to_contain_text("手話通訳")
    assert await axe_violations(page) == []
    registrant_url = page.url.split("?")[0]

    await page.get_by_role("link", name=re.compile("キャンセル")).click()
    await expect(page).to_have_url(registrant_url + "/cancel")
    assert await axe_violations(page) == []
    await page.get_by_role("button", name=re.compile("キャンセル")).click()

    await expect(page).to_have_url(registrant_url)
    # the registration is cancelled (取消/キャンセル), which must not read as the event being called off (中止)
    await expect(page.locator(".key-facts .status--cancelled")).to_have_text(re.compile("取消|キャンセル"))
    await expect(page.locator(".status--confirmed")).to_have_count(0)
    await expect(page.get_by_role("link", name=re.compile("キャンセル"))).to_have_count(0)
    assert await axe_violations(page) == []
    assert csp_errors == []

