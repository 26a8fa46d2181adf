"""Evaluation (評価) through the JSON API: attaching the standard item bank with custom questions,
answering (once per registrant, room answers limited per client), the closing date, every kind of
bad value answered with a 4xx and `fields`, results with means and hidden small breakdowns, and
answers stored without any registrant id."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from tests.evaluation_helpers import JSON_HEADERS, answer, ended_session, now, set_evaluation_times
from tests.registration_helpers import settings  # noqa: F401 - fixture: no background loop, no form timing


async def test_one_click_evaluation_has_the_standard_items_in_both_languages_and_custom_questions(client, db):
    world = await ended_session(client, db)
    data = world.evaluation
    keys = [q.get("bank_key") for q in data["questions"]]
    assert keys == ["satisfaction", "understanding", "ease_of_speaking", "accommodation", "childcare",
                    "join_again", "good_points", "improvements", None]
    assert world.question("satisfaction")["type"] == "scale" and world.question("good_points")["type"] == "text"
    assert [o["label"] for o in world.question("何で知りましたか")["options"]] == ["広報誌", "SNS", "町内会"]
    assert data["url"].endswith(f"/e/{data['code']}")
    english = await client.get(f"/api/evaluations/{data['id']}/results",
                               headers={**world.auth, "Accept-Language": "en"})
    texts = {q["text"] for q in english.json()["questions"]}
    assert "Overall, I was satisfied with today's session." in texts and "What should we improve?" in texts
    again = await client.post(f"/api/sessions/{world.session_id}/evaluation", headers=world.auth, json={})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


@pytest.mark.parametrize("body, field", [
    ({"standard": False}, "questions"),
    ({"questions": [{"type": "ranking", "text": "順位"}]}, "questions[0].type"),
    ({"questions": [{"type": "single_choice", "text": "色", "options": ["赤"]}]}, "questions[0].options"),
    ({"questions": [{"type": "single_choice", "text": "色", "options": ["赤", "赤"]}]}, "questions[0].options"),
    ({"questions": [{"type": "text", "text": " \u200b\x00 "}]}, "questions[0].text"),
    ({"questions": [{"type": "text", "text": "あ" * 301}]}, "questions[0].text"),
])
async def test_bad_questions_are_refused_with_the_field_named(client, db, body, field):
    world = await ended_session(client, db, attach=False, people=0)
    answer_ = await client.post(f"/api/sessions/{world.session_id}/evaluation", headers=world.auth, json=body)
    assert answer_.status_code == 422, answer_.text
    assert field in answer_.json()["error"]["fields"]
    assert (await db.fetch_one("select count(*) from evaluations"))[0] == 0


@pytest.mark.parametrize("times, field", [
    ({"opens_at": "0001-01-01T00:00:00+09:00"}, "opens_at"),
    ({"closes_at": "9999-12-31T23:00:00-05:00"}, "closes_at"),
    ({"opens_at": "2030-01-02T10:00:00+09:00", "closes_at": "2030-01-01T10:00:00+09:00"}, "closes_at"),
])
async def test_opening_and_closing_times_must_make_sense(client, db, times, field):
    world = await ended_session(client, db, attach=False, people=0)
    refused = await client.post(f"/api/sessions/{world.session_id}/evaluation", headers=world.auth, json=times)
    assert refused.status_code == 422 and field in refused.json()["error"]["fields"], refused.text
    naive = await client.post(f"/api/sessions/{world.session_id}/evaluation", headers=world.auth,
                              json={"closes_at": "2030-01-01T17:00:00"})
    assert naive.json()["closes_at"] == "2030-01-01T08:00:00Z"  # a time without offset is the session's (Tokyo)


async def test_a_registrant_answers_once_and_a_second_answer_is_409(client, db):
    world = await ended_session(client, db)
    token = world.tokens["person2@example.jp"]
    first = await answer(client, world, {world.qid("satisfaction"): 4, world.qid("good_points"): "話しやすかった"}, token)
    assert first.status_code == 201, first.text
    second = await answer(client, world, {world.qid("satisfaction"): 1}, token)
    assert second.status_code == 409
    assert second.json()["error"]["message"] == "このアンケートには回答済みです。ありがとうございました。"
    results = (await client.get(f"/api/evaluations/{world.evaluation['id']}/results", headers=world.auth)).json()
    assert results["responses"] == 1 and world.question("satisfaction")["id"] == results["questions"][0]["id"]
    assert results["questions"][0]["counts"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}


async def test_answers_hold_no_registrant_id_only_a_separate_mark_does(client, db):
    world = await ended_session(client, db)
    for email, value in (("person0@example.jp", 5), ("person2@example.jp", 3)):
        assert (await answer(client, world, {world.qid("satisfaction"): value}, world.tokens[email])).status_code == 201
    for table in ("evaluation_responses", "evaluation_answers"):
        columns = {row[1] for row in await db.fetch_all(f"pragma table_info({table})")}
        assert not {c for c in columns if "registration" in c or "token" in c or c.endswith("_at")}, columns
        references = {row[2] for row in await db.fetch_all(f"pragma foreign_key_list({table})")}
        assert "registrations" not in references
    ids = [row[0] for row in await db.fetch_all("select id from evaluation_responses")]
    marks = await db.fetch_all("select registration_id from evaluation_answered")
    assert len(ids) == 2 and len(marks) == 2 and not set(ids) & {m[0] for m in marks}
    assert max(ids) > 10**6  # random ids: their order says nothing about who answered first


async def test_another_sessions_or_a_cancelled_registrants_token_cannot_answer(client, db):
    world = await ended_session(client, db)
    other = await ended_session(client, db, email="staff@toyama.example", org="toyama", people=1, attach=False)
    stranger = await answer(client, world, {world.qid("satisfaction"): 5}, other.tokens["person0@example.jp"])
    assert stranger.status_code == 403
    made_up = await answer(client, world, {world.qid("satisfaction"): 5}, "x" * 43)
    assert made_up.status_code == 403
    cancelled = world.tokens["person2@example.jp"]
    async with db.transaction() as conn:
        await conn.execute("update registrations set status = 'cancelled' where email = 'person2@example.jp' "
                           "and session_id = ?", (world.session_id,))
    assert (await answer(client, world, {world.qid("satisfaction"): 5}, cancelled)).status_code == 403
    assert (await db.fetch_one("select count(*) from evaluation_responses"))[0] == 0


async def test_conditional_questions_are_only_for_those_who_used_the_support(client, db):
    world = await ended_session(client, db)
    plain = world.tokens["person2@example.jp"]
    refused = await answer(client, world, {world.qid("accommodation"): 5}, plain)
    assert refused.status_code == 422 and f"answers.{world.qid('accommodation')}" in refused.json()["error"]["fields"]
    signer = world.tokens["person0@example.jp"]
    assert (await answer(client, world, {world.qid("accommodation"): 2}, signer)).status_code == 201
    parent = world.tokens["person1@example.jp"]
    assert (await answer(client, world, {world.qid("childcare"): 5, world.qid("accommodation"): 3}, parent)).status_code == 422
    assert (await answer(client, world, {world.qid("childcare"): 5}, parent)).status_code == 201
    flags = await db.fetch_all("select used_accommodation, used_childcare from evaluation_responses")
    assert sorted(tuple(row) for row in flags) == [(0, 1), (1, 0)]


ODD_VALUES = [
    ("satisfaction", 0), ("satisfaction", 6), ("satisfaction", -1), ("satisfaction", 3.5), ("satisfaction", True),
    ("satisfaction", "五"), ("satisfaction", [3]), ("satisfaction", {"v": 3}), ("satisfaction", 10**30),
    ("join_again", 999), ("join_again", "はい"), ("join_again", [1]),
    ("何で知りましたか", [1]), ("何で知りましたか", [999999]), ("何で知りましたか", "広報誌"),
    ("good_points", "あ" * 2001), ("good_points", 42), ("good_points", ["a"]),
]


async def test_bad_values_are_422_with_the_question_named(client, db):
    world = await ended_session(client, db, people=0)
    for key, value in ODD_VALUES:
        other = world.qid("understanding")  # a good answer beside the bad one: nothing is kept
        response = await answer(client, world, {world.qid(key): value, other: 4})
        assert response.status_code == 422, (key, value, response.text)
        assert list(response.json()["error"]["fields"]) == [f"answers.{world.qid(key)}"], (key, value)
    assert (await db.fetch_one("select count(*) from evaluation_responses"))[0] == 0


MALFORMED = [
    b'{"answers": {"1": "\\ud800"}}', b'{"answers": {"1": 3}', b'{"answers": []}', b'{"answers": "5"}',
    b'{"answers": {"99999": 3}}', b'{"answers": {"-1": 3}}', b'{"answers": {"\\u0661": 3}}', b'{"answers": {}}',
    b'{"answers": {"1": null}}', b'{"answers": {"1": 3}, "token": 5}', b'[]', b'\xff\xfe', b'{"answers": ' + b'[' * 3000,
]


async def test_malformed_bodies_and_odd_unicode_are_4xx_never_500(client, db):
    world = await ended_session(client, db, people=0)
    for raw in MALFORMED:
        response = await client.post(f"/api/evaluations/{world.evaluation['id']}/responses", content=raw,
                                     headers=JSON_HEADERS)
        assert 400 <= response.status_code < 500, (raw[:40], response.status_code, response.text[:200])
        assert response.json()["error"]["code"] in ("bad_request", "invalid")
    assert (await db.fetch_one("select count(*) from evaluation_responses"))[0] == 0


async def test_free_text_is_kept_as_typed_without_control_characters(client, db):
    world = await ended_session(client, db, people=0)
    text = "駐車場が\u0000少ない\x1b[31m\n次回は\u2028託児も 👶🏽 ｶﾀｶﾅ"
    assert (await answer(client, world, {world.qid("improvements"): text})).status_code == 201
    stored = (await db.fetch_one("select text from evaluation_answers"))[0]
    assert "\x00" not in stored and "\x1b" not in stored and "👶🏽" in stored and stored.startswith("駐車場が少ない")


async def test_a_closed_or_not_yet_open_evaluation_answers_409_with_a_clear_message(client, db):
    world = await ended_session(client, db, people=0)
    await set_evaluation_times(db, world.evaluation["id"], closes_at=now() - timedelta(minutes=1))
    closed = await answer(client, world, {world.qid("satisfaction"): 5}, **{"Accept-Language": "en"})
    assert closed.status_code == 409
    assert closed.json()["error"]["message"] == "This evaluation has closed. Thank you for your interest."
    await set_evaluation_times(db, world.evaluation["id"], opens_at=now() + timedelta(days=1),
                               closes_at=now() + timedelta(days=3))
    early = await answer(client, world, {world.qid("satisfaction"): 5})
    assert early.status_code == 409 and "まだ受付前" in early.json()["error"]["message"]


async def test_an_unknown_evaluation_is_404(client, db):
    assert (await client.post("/api/evaluations/99999/responses", json={"answers": {"1": 3}})).status_code == 404


async def test_room_answers_without_a_token_are_limited_per_client(client, db):
    world = await ended_session(client, db, people=0)
    statuses = [(await answer(client, world, {world.qid("satisfaction"): 4})).status_code for _ in range(32)]
    assert statuses[:30] == [201] * 30 and statuses[30:] == [429, 429]
    refused = await answer(client, world, {world.qid("satisfaction"): 4})
    assert "Retry-After" in refused.headers and "待って" in refused.json()["error"]["message"]


@pytest.mark.parametrize("settings", [{"rate_limits": False}], indirect=True)
async def test_200_answers_at_once_give_exact_counts(client, db):
    world = await ended_session(client, db, people=0)
    sat, again = world.qid("satisfaction"), world.qid("join_again")
    yes, no = world.option("join_again", "はい"), world.option("join_again", "いいえ")
    results = await asyncio.gather(*(answer(client, world, {sat: 1 + n % 5, again: yes if n % 4 else no})
                                     for n in range(200)))
    assert [r.status_code for r in results] == [201] * 200
    data = (await client.get(f"/api/evaluations/{world.evaluation['id']}/results", headers=world.auth)).json()
    assert data["responses"] == 200
    question = next(q for q in data["questions"] if q["id"] == int(sat))
    assert question["counts"] == {str(n): 40 for n in range(1, 6)} and question["mean"] == 3.0
    choice = next(q for q in data["questions"] if q["id"] == int(again))
    assert choice["counts"][str(yes)] == 150 and choice["counts"][str(no)] == 50


async def test_results_give_rate_means_texts_and_hide_breakdowns_below_five(client, db):
    world = await ended_session(client, db, people=6)
    sat, acc = world.qid("satisfaction"), world.qid("accommodation")
    await answer(client, world, {sat: 5, acc: 2}, world.tokens["person0@example.jp"])
    await answer(client, world, {sat: 3, world.qid("good_points"): "資料が分かりやすい"}, world.tokens["person2@example.jp"])
    data = (await client.get(f"/api/evaluations/{world.evaluation['id']}/results", headers=world.auth)).json()
    assert (data["responses"], data["attended"], data["registered"]) == (2, 6, 6)
    assert data["response_rate"] == pytest.approx(2 / 6, abs=0.001) and data["checked_in"] is False
    assert next(q for q in data["questions"] if q["id"] == int(sat))["mean"] == 4.0
    assert next(q for q in data["questions"] if q["id"] == int(world.qid("good_points")))["texts"] == ["資料が分かりやすい"]
    assert data["breakdowns"]["accommodation"] == {"hidden": True, "responses": None, "questions": []}
    # room answers that use the accommodation question count in its group: five make it visible
    for value in (4, 4, 5, 5):
        await answer(client, world, {sat: value, acc: 4})
    shown = (await client.get(f"/api/evaluations/{world.evaluation['id']}/results", headers=world.auth)).json()
    group = shown["breakdowns"]["accommodation"]
    assert group["hidden"] is False and group["responses"] == 5
    assert next(q for q in group["questions"] if q["id"] == int(acc))["mean"] == pytest.approx(3.6)
    assert shown["breakdowns"]["childcare"]["hidden"] is True


async def test_results_are_only_for_the_sessions_organizers(client, db):
    world = await ended_session(client, db, people=0)
    other = await ended_session(client, db, email="staff@toyama.example", org="toyama", people=0, attach=False)
    url = f"/api/evaluations/{world.evaluation['id']}/results"
    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers=other.auth)).status_code == 404
    assert (await client.post(f"/api/sessions/{world.session_id}/evaluation", headers=other.auth, json={})).status_code == 404
    assert json.loads((await client.get(url, headers=world.auth)).text)["responses"] == 0
