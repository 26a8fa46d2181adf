"""Evaluation mail through a real SMTP server (aiosmtpd): when the session ends, those who came get a
mail in their own language with their personal link; 48 hours later one reminder goes only to those
who have not answered; nothing goes after the closing date. The retention purge removes the answers
and keeps the aggregated results."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from server.core import mail
from server.core.background import purge_sensitive, queue_evaluation_mail
from tests.evaluation_helpers import (
    answer, backdate_invitations, check_in, ended_session, move_session, now, set_evaluation_times,
)
from tests.registration_helpers import settings  # noqa: F401 - fixture: no background loop
from tests.test_attack_mail_tokens import smtp  # noqa: F401 - fixture: a real SMTP server on loopback

LINK = re.compile(r"http://testserver\.local/(r/([A-Za-z0-9_-]{43})/evaluation\?lang=en)")


async def deliver(app: Any, db: Any, port: int) -> int:
    app_settings = app.litestar.state.settings
    return await mail.deliver_due(db, f"smtp://127.0.0.1:{port}", mail.sender_address(app_settings),
                                  secret=app.litestar.state.secret)


def received(inbox: Any, address: str) -> list[Any]:
    """The evaluation mails (not the registration confirmations) one address received."""
    return [m for m in inbox.to(address) if "アンケート" in m["Subject"] or "valuation" in m["Subject"]]


async def evaluation_mail(db: Any) -> list[Any]:
    return await db.fetch_all("select kind, to_address from outbox where kind like 'evaluation%' order by id")


async def test_mail_goes_to_those_checked_in_in_their_language_with_a_link_that_answers(app, client, db, smtp):
    port, inbox = smtp
    world = await ended_session(client, db, people=3)
    # person1 reads English (as if registered on the English pages)
    async with db.transaction() as conn:
        await conn.execute("update registrations set locale = 'en' where email = 'person1@example.jp'")
    await check_in(db, world.session_id, "person0@example.jp")
    await check_in(db, world.session_id, "person1@example.jp")
    app_settings = app.litestar.state.settings
    assert await queue_evaluation_mail(db, app_settings) == (2, 0)
    assert await queue_evaluation_mail(db, app_settings) == (0, 0)  # once
    await deliver(app, db, port)
    assert received(inbox, "person2@example.jp") == []  # registered but did not come
    japanese, = received(inbox, "person0@example.jp")
    assert japanese["Subject"] == "【アンケートのお願い】対話の場" and "約2分" in japanese.get_content()
    english_mail, = received(inbox, "person1@example.jp")
    assert english_mail["Subject"] == "How was it? Evaluation of 対話の場"
    body = english_mail.get_content()
    assert "two minutes" in body and "stored without your name" in body
    path, token = LINK.search(body).groups()
    assert token == world.tokens["person1@example.jp"]  # the personal link, filled in only when sent
    stored = (await db.fetch_one("select body from outbox where to_address = 'person1@example.jp' "
                                 "and kind = 'evaluation'"))[0]
    assert "/r/{token}/evaluation" in stored and token not in stored
    form = await client.get(f"/{path}")
    assert form.status_code == 200 and "The childcare let me take part without worry." in form.text
    assert "Overall, I was satisfied" in form.text and "The support I asked for" not in form.text


async def test_without_check_in_every_confirmed_registrant_is_mailed_and_one_reminder_skips_those_who_answered(
        app, client, db, smtp):
    port, inbox = smtp
    world = await ended_session(client, db, people=3)
    async with db.transaction() as conn:  # a waitlisted or cancelled registrant did not take part
        await conn.execute("update registrations set status = 'cancelled' where email = 'person2@example.jp'")
    app_settings = app.litestar.state.settings
    assert await queue_evaluation_mail(db, app_settings) == (2, 0)
    answered = await answer(client, world, {world.qid("satisfaction"): 4}, world.tokens["person0@example.jp"])
    assert answered.status_code == 201
    assert await queue_evaluation_mail(db, app_settings) == (0, 0)  # not before 48 hours
    await backdate_invitations(db, hours=49)
    assert await queue_evaluation_mail(db, app_settings) == (0, 1)
    assert await queue_evaluation_mail(db, app_settings) == (0, 0)  # one reminder only
    await deliver(app, db, port)
    assert [m["Subject"] for m in received(inbox, "person0@example.jp")] == ["【アンケートのお願い】対話の場"]
    assert [m["Subject"] for m in received(inbox, "person1@example.jp")] == [
        "【アンケートのお願い】対話の場", "【再送】アンケートのお願い：対話の場"]
    assert received(inbox, "person2@example.jp") == []


async def test_nothing_is_sent_after_the_closing_date(app, client, db):
    world = await ended_session(client, db, people=2)
    app_settings = app.litestar.state.settings
    await set_evaluation_times(db, world.evaluation["id"], closes_at=now() - timedelta(minutes=5))
    assert await queue_evaluation_mail(db, app_settings) == (0, 0)
    await set_evaluation_times(db, world.evaluation["id"], closes_at=now() + timedelta(days=1))
    assert await queue_evaluation_mail(db, app_settings) == (2, 0)
    await backdate_invitations(db, hours=72)
    await set_evaluation_times(db, world.evaluation["id"], closes_at=now() - timedelta(minutes=5))
    assert await queue_evaluation_mail(db, app_settings) == (0, 0)
    assert [row["kind"] for row in await evaluation_mail(db)] == ["evaluation", "evaluation"]


async def test_no_mail_before_the_session_ends(app, client, db):
    world = await ended_session(client, db, people=2)
    await move_session(db, world.session_id, ended_hours_ago=-2)  # still running
    assert await queue_evaluation_mail(db, app.litestar.state.settings) == (0, 0)


async def test_the_retention_purge_removes_answers_and_keeps_the_results(app, client, db):
    world = await ended_session(client, db, people=2)
    await answer(client, world, {world.qid("satisfaction"): 5, world.qid("improvements"): "駐輪場がほしい"},
                 world.tokens["person0@example.jp"])
    await answer(client, world, {world.qid("satisfaction"): 2, world.qid("improvements"): "田中さんの発言が長い"})
    results_url = f"/api/evaluations/{world.evaluation['id']}/results"
    before = (await client.get(results_url, headers=world.auth)).json()
    kept_text = next(t for q in before["questions"] for t in q.get("text_items", []) if t["text"] == "駐輪場がほしい")
    async with db.transaction() as conn:
        await conn.execute("update evaluation_answers set published = 1 where id = ?", (kept_text["id"],))
    await move_session(db, world.session_id, ended_hours_ago=24 * 40)
    await set_evaluation_times(db, world.evaluation["id"], closes_at=now() - timedelta(days=20))
    await purge_sensitive(db, 30)
    for table in ("evaluation_answers", "evaluation_responses", "evaluation_answered"):
        assert (await db.fetch_one(f"select count(*) from {table}"))[0] == 0, table
    after = (await client.get(results_url, headers=world.auth)).json()
    assert after["purged"] is True and after["responses"] == 2
    satisfaction = next(q for q in after["questions"] if q["id"] == int(world.qid("satisfaction")))
    assert satisfaction["mean"] == 3.5 and satisfaction["counts"]["5"] == 1
    improvements = next(q for q in after["questions"] if q["id"] == int(world.qid("improvements")))
    assert improvements["texts"] == ["駐輪場がほしい"]  # the unpublished text went with the answers
    assert (await answer(client, world, {world.qid("satisfaction"): 5})).status_code == 409
