"""The JSON API under /api/: listing and filters, sessions and series, permissions, venues, errors."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po

from server.auth import accounts
from sessions.models import AccommodationOffer, ChildcareOffer
from tests.harness import TOKYO, make_account, make_session, make_venue, next_saturday

JA_CATALOG = Path(__file__).resolve().parent.parent / "server" / "locale" / "ja" / "LC_MESSAGES" / "messages.po"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
ENGLISH = {"Accept-Language": "en"}
CONTRACT_FIELDS = {"id", "title", "description", "kind", "format", "starts_at", "ends_at", "timezone",
                   "capacity_in_person", "capacity_online", "status", "org", "venue_id", "series_id", "childcare",
                   "accommodations"}


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


async def token_for(db: Any, account: accounts.Account) -> str:
    async with db.transaction() as conn:
        return await accounts.create_api_token(conn, account.id)


async def organizer(db: Any, email: str = "staff@kanazawa.example", org: str = "kanazawa",
                    role: str = "organizer") -> tuple[accounts.Account, int, str]:
    """An account with a venue of its organization and an API token."""
    account = await make_account(db, email, role=role, org=org)
    venue_id = await make_venue(db, account.org_id, name=f"{org} 市民交流センター")
    return account, venue_id, await token_for(db, account)


def local(start: datetime) -> str:
    """A naive Tokyo wall time as the ISO 8601 text an integrator sends."""
    return start.replace(tzinfo=TOKYO).isoformat()


def session_body(venue: int | None, start: datetime | None = None, **changes: Any) -> dict[str, Any]:
    """A valid POST /api/sessions body: a published two-hour in-person dialogue."""
    start = start or next_saturday(weeks=3)
    body: dict[str, Any] = {
        "title": "子育て世代の対話の場", "description": "地域の子育てについて話し合います。", "kind": "dialogue",
        "format": "in_person", "starts_at": local(start), "ends_at": local(start + timedelta(hours=2)),
        "venue_id": venue, "capacity_in_person": 30, "status": "published",
    }
    body.update(changes)
    return body


def second_saturday(months_ahead: int = 2, hour: int = 10) -> datetime:
    """The 2nd Saturday (第2土曜日) of a month some months ahead, at a local hour (naive)."""
    today = datetime.now(TOKYO).date()
    month_index = today.year * 12 + today.month - 1 + months_ahead
    first = date(month_index // 12, month_index % 12 + 1, 1)
    day = first + timedelta(days=(5 - first.weekday()) % 7 + 7)
    return datetime(day.year, day.month, day.day, hour)


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The contract's error body {error: {code, message, fields?}}, without a stack trace."""
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    return error


async def titles(client: Any, query: str = "", headers: dict[str, str] | None = None) -> list[str]:
    response = await client.get(f"/api/sessions{query}", headers=headers or {})
    assert response.status_code == 200, response.text
    return [item["title"] for item in response.json()["items"]]


def translated_in_ja(*message_ids: str) -> bool:
    """Whether the Japanese catalog has a non-empty msgstr for every message id."""
    with JA_CATALOG.open("rb") as source:
        catalog = read_po(source, locale="ja")
    return all(catalog.get(message_id) is not None and catalog.get(message_id).string for message_id in message_ids)


# ---------------------------------------------------------------- listing

async def test_anonymous_list_shows_published_sessions_in_start_order_without_drafts(client, db):
    account = await make_account(db, "staff@kanazawa.example")
    venue = await make_venue(db, account.org_id)
    await make_session(db, account.org_id, venue, title="三週目の円卓会議", starts_at=next_saturday(weeks=3))
    await make_session(db, account.org_id, venue, title="一週目の対話", starts_at=next_saturday(weeks=1))
    await make_session(db, account.org_id, venue, title="下書きの意見交換会", starts_at=next_saturday(weeks=2),
                       status="draft")
    await make_session(db, account.org_id, venue, title="二週目のワークショップ", starts_at=next_saturday(weeks=2))

    response = await client.get("/api/sessions")

    assert response.status_code == 200
    page = response.json()
    assert set(page) >= {"items", "next"} and page["next"] is None
    assert [item["title"] for item in page["items"]] == ["一週目の対話", "二週目のワークショップ", "三週目の円卓会議"]


async def test_limit_and_cursor_page_through_every_session_exactly_once(client, db):
    account = await make_account(db, "staff@kanazawa.example")
    venue = await make_venue(db, account.org_id)
    created = []
    for week, hour in [(1, 10), (1, 10), (2, 14), (1, 10), (3, 9), (2, 14), (4, 10)]:  # ties in start time
        created.append(await make_session(db, account.org_id, venue, starts_at=next_saturday(weeks=week, hour=hour)))

    seen: list[int] = []
    starts: list[str] = []
    query = "?limit=2"
    pages = 0
    while True:
        response = await client.get(f"/api/sessions{query}")
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        starts += [item["starts_at"] for item in page["items"]]
        pages += 1
        if page["next"] is None:
            break
        query = f"?limit=2&cursor={page['next']}"
        assert pages < 10, "the cursor never ends"

    assert sorted(seen) == sorted(created) and len(seen) == len(set(seen))
    assert starts == sorted(starts, key=datetime.fromisoformat)
    assert pages == 4


@pytest.fixture
async def listed(db):
    """Four sessions in two organizations that each filter tells apart (one is a draft)."""
    kanazawa = await make_account(db, "staff@kanazawa.example")
    toyama = await make_account(db, "staff@toyama.example", org="toyama")
    hall = await make_venue(db, kanazawa.org_id)
    toyama_hall = await make_venue(db, toyama.org_id, name="富山市民プラザ")
    await make_session(db, kanazawa.org_id, hall, title="子育て世代と語る対話の場", kind="dialogue",
                       starts_at=next_saturday(weeks=1), childcare=ChildcareOffer(places=6))
    await make_session(db, kanazawa.org_id, None, title="防災の円卓会議", kind="round_table", format="online",
                       description="託児の相談も受け付けます。", online_url="https://meet.example.jp/bousai",
                       capacity_in_person=0, capacity_online=40, starts_at=next_saturday(weeks=2),
                       accommodations=[AccommodationOffer(code="sign_language")])
    await make_session(db, toyama.org_id, toyama_hall, title="公園の未来ワークショップ", kind="workshop",
                       format="hybrid", online_url="https://meet.example.jp/park", capacity_online=20,
                       starts_at=next_saturday(weeks=3))
    await make_session(db, kanazawa.org_id, hall, title="子育て世代の下書き", status="draft",
                       starts_at=next_saturday(weeks=2), childcare=ChildcareOffer(places=3))


@pytest.mark.parametrize("query, expected", [
    ("q=子育て世代", ["子育て世代と語る対話の場"]),  # three or more characters: the trigram index
    ("q=託児", ["防災の円卓会議"]),  # two characters: a plain substring match
    ("kind=workshop", ["公園の未来ワークショップ"]),
    ("format=online", ["防災の円卓会議"]),
    ("childcare=1", ["子育て世代と語る対話の場"]),
    ("accommodation=sign_language", ["防災の円卓会議"]),
    ("org=toyama", ["公園の未来ワークショップ"]),
], ids=["q-trigram", "q-two-characters", "kind", "format", "childcare", "accommodation", "org"])
async def test_list_filters_select_only_matching_published_sessions(client, listed, query, expected):
    assert await titles(client, f"?{query}") == expected


async def test_list_from_and_to_select_sessions_on_those_days(client, listed):
    week2 = next_saturday(weeks=2).date().isoformat()
    week3 = next_saturday(weeks=3).date().isoformat()
    assert await titles(client, f"?from={week2}&to={week2}") == ["防災の円卓会議"]
    assert await titles(client, f"?from={week2}") == ["防災の円卓会議", "公園の未来ワークショップ"]
    assert await titles(client, f"?to={week2}") == ["子育て世代と語る対話の場", "防災の円卓会議"]
    assert await titles(client, f"?from={week3}&to={week3}") == ["公園の未来ワークショップ"]


async def test_organizer_token_lists_own_drafts_but_not_other_organizations_drafts(client, db, listed):
    kanazawa = await accounts.get_account_by_email(db, "staff@kanazawa.example")
    toyama = await accounts.get_account_by_email(db, "staff@toyama.example")
    assert "子育て世代の下書き" in await titles(client, headers=bearer(await token_for(db, kanazawa)))
    assert "子育て世代の下書き" not in await titles(client, headers=bearer(await token_for(db, toyama)))


async def test_invalid_from_date_is_a_422_naming_the_field(client):
    response = await client.get("/api/sessions?from=2026-13-45", headers=ENGLISH)
    error = assert_error(response, 422, "invalid")
    assert "from" in error["fields"]


@pytest.mark.parametrize("limit", ["0", "500", "-3"])
async def test_out_of_range_limit_is_refused_with_a_4xx(client, limit):
    response = await client.get(f"/api/sessions?limit={limit}")
    assert 400 <= response.status_code < 500, response.text
    assert "Traceback" not in response.text
    assert response.json()["error"]["message"]


# ---------------------------------------------------------------- reading one session

async def test_online_url_is_only_shown_to_the_owning_organization(client, db):
    account, _venue, token = await organizer(db)
    _other, _other_venue, other_token = await organizer(db, "staff@toyama.example", org="toyama")
    session_id = await make_session(db, account.org_id, None, format="online", capacity_in_person=0,
                                    capacity_online=50, online_url="https://meet.example.jp/secret-room")

    anonymous = await client.get(f"/api/sessions/{session_id}")
    owner = await client.get(f"/api/sessions/{session_id}", headers=bearer(token))
    other = await client.get(f"/api/sessions/{session_id}", headers=bearer(other_token))

    assert anonymous.status_code == owner.status_code == other.status_code == 200
    assert "online_url" not in anonymous.json() and "secret-room" not in anonymous.text
    assert "secret-room" not in other.text
    assert owner.json()["online_url"] == "https://meet.example.jp/secret-room"


async def test_a_draft_is_not_found_for_residents_and_other_organizations(client, db):
    account, venue, token = await organizer(db)
    _other, _other_venue, other_token = await organizer(db, "staff@toyama.example", org="toyama")
    draft = await make_session(db, account.org_id, venue, status="draft", title="非公開の準備中")

    assert_error(await client.get(f"/api/sessions/{draft}"), 404, "not_found")
    assert_error(await client.get(f"/api/sessions/{draft}", headers=bearer(other_token)), 404, "not_found")
    assert (await client.get(f"/api/sessions/{draft}", headers=bearer(token))).json()["title"] == "非公開の準備中"


# ---------------------------------------------------------------- creating

async def test_creating_without_a_token_is_401_with_an_error_body(client, db):
    _account, venue, _token = await organizer(db)
    response = await client.post("/api/sessions", json=session_body(venue))
    assert_error(response, 401, "unauthorized")
    assert await titles(client) == []


async def test_a_request_without_a_token_is_401_even_when_its_body_is_incomplete(client, db):
    account, venue, _token = await organizer(db)
    session_id = await make_session(db, account.org_id, venue)
    assert_error(await client.post("/api/sessions", json={"title": "途中まで"}), 401, "unauthorized")
    assert_error(await client.patch(f"/api/sessions/{session_id}", json={"capacity_in_person": "many"}),
                 401, "unauthorized")


async def test_a_facilitator_token_cannot_create_sessions(client, db):
    _account, venue, token = await organizer(db, "facilitator@kanazawa.example", role="facilitator")
    response = await client.post("/api/sessions", json=session_body(venue), headers=bearer(token))
    assert_error(response, 403, "forbidden")


async def test_organizer_creates_a_session_and_gets_the_contract_shape(client, db):
    _account, venue, token = await organizer(db)
    start = next_saturday(weeks=4, hour=14)
    body = session_body(venue, start, kind="round_table", format="hybrid", capacity_online=50,
                        online_url="https://meet.example.jp/room-1",
                        childcare={"places": 8, "min_age_months": 6, "max_age_months": 72,
                                   "deadline": local(start - timedelta(days=3))},
                        accommodations=[{"code": "captioning", "mode": "always"},
                                        {"code": "sign_language", "mode": "on_request",
                                         "deadline": local(start - timedelta(days=10))}])

    response = await client.post("/api/sessions", json=body, headers=bearer(token))

    assert response.status_code == 201, response.text
    created = response.json()
    assert CONTRACT_FIELDS <= set(created)
    assert isinstance(created["id"], int)
    assert (created["title"], created["description"]) == (body["title"], body["description"])
    assert (created["kind"], created["format"], created["status"]) == ("round_table", "hybrid", "published")
    assert created["starts_at"] == start.strftime("%Y-%m-%dT%H:%M:%S+09:00")
    assert created["ends_at"] == (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+09:00")
    assert created["timezone"] == "Asia/Tokyo"
    assert (created["capacity_in_person"], created["capacity_online"]) == (30, 50)
    assert (created["org"], created["venue_id"], created["series_id"]) == ("kanazawa", venue, None)
    assert created["childcare"] == {**created["childcare"], "places": 8, "min_age_months": 6, "max_age_months": 72,
                                    "deadline": (start - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S+09:00")}
    offers = {offer["code"]: offer for offer in created["accommodations"]}
    assert set(offers) == {"captioning", "sign_language"}
    assert (offers["captioning"]["mode"], offers["captioning"]["deadline"]) == ("always", None)
    assert offers["sign_language"]["mode"] == "on_request"
    assert offers["sign_language"]["deadline"] == (start - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%S+09:00")
    assert (await client.get(f"/api/sessions/{created['id']}")).json()["title"] == body["title"]


async def test_a_session_without_childcare_has_childcare_null(client, db):
    _account, venue, token = await organizer(db)
    response = await client.post("/api/sessions", json=session_body(venue), headers=bearer(token))
    assert response.status_code == 201, response.text
    assert response.json()["childcare"] is None and response.json()["accommodations"] == []


async def test_on_request_accommodation_defaults_to_a_deadline_seven_days_before_end_of_day(client, db):
    _account, venue, token = await organizer(db)
    start = next_saturday(weeks=4, hour=10)
    body = session_body(venue, start, accommodations=[{"code": "sign_language", "mode": "on_request"}])

    response = await client.post("/api/sessions", json=body, headers=bearer(token))

    assert response.status_code == 201, response.text
    offer = response.json()["accommodations"][0]
    expected_day = (start - timedelta(days=7)).date().isoformat()
    assert offer["deadline"] == f"{expected_day}T23:59:59+09:00"


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize("changes, field", [
    ({"ends_at": local(next_saturday(weeks=3) - timedelta(hours=1))}, "ends_at"),
    ({"capacity_in_person": -5}, "capacity_in_person"),
    ({"recurrence": {"freq": "monthly"}}, "recurrence.until"),
    ({"venue_id": None}, "venue_id"),
], ids=["end-before-start", "negative-capacity", "series-without-end", "in-person-without-venue"])
async def test_invalid_session_is_a_422_naming_the_field(client, db, changes, field):
    _account, venue, token = await organizer(db)
    response = await client.post("/api/sessions", json=session_body(venue, **changes),
                                 headers=bearer(token, **ENGLISH))
    error = assert_error(response, 422, "invalid")
    assert field in error["fields"] and error["fields"][field]
    assert await titles(client, headers=bearer(token)) == []


async def test_unknown_accommodation_code_is_a_422_naming_accommodations(client, db):
    _account, venue, token = await organizer(db)
    body = session_body(venue, accommodations=[{"code": "telepathy", "mode": "always"}])
    response = await client.post("/api/sessions", json=body, headers=bearer(token, **ENGLISH))
    error = assert_error(response, 422, "invalid")
    assert any("accommodations" in key for key in error["fields"])


async def test_a_venue_of_another_organization_is_refused(client, db):
    _account, _venue, token = await organizer(db)
    _other, toyama_venue, _other_token = await organizer(db, "staff@toyama.example", org="toyama")
    response = await client.post("/api/sessions", json=session_body(toyama_venue), headers=bearer(token, **ENGLISH))
    error = assert_error(response, 422, "invalid")
    assert "venue_id" in error["fields"]


async def test_validation_errors_are_in_japanese_when_asked(client, db):
    _account, venue, token = await organizer(db)
    start = next_saturday(weeks=3)
    body = session_body(venue, start, ends_at=local(start - timedelta(hours=1)))
    response = await client.post("/api/sessions", json=body, headers=bearer(token, **{"Accept-Language": "ja"}))
    error = assert_error(response, 422, "invalid")
    if not translated_in_ja("Some values are not valid.", "The end must be after the start."):
        pytest.skip("the Japanese catalog has no translation for these messages yet")
    assert JAPANESE.search(error["message"]), error["message"]
    assert JAPANESE.search(error["fields"]["ends_at"]), error["fields"]


# ---------------------------------------------------------------- series

async def create_monthly_series(client: Any, token: str, venue: int, first: datetime) -> dict[str, Any]:
    body = session_body(venue, first, title="第2土曜の対話カフェ",
                        recurrence={"freq": "monthly", "count": 4, "monthly_by": "weekday"})
    response = await client.post("/api/sessions", json=body, headers=bearer(token))
    assert response.status_code == 201, response.text
    return response.json()


async def occurrences(client: Any, series_id: int, token: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/series/{series_id}", headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()["occurrences"]


async def test_monthly_series_creates_occurrences_on_the_same_weekday_of_the_month(client, db):
    _account, venue, token = await organizer(db)
    first = second_saturday(months_ahead=2, hour=10)

    created = await create_monthly_series(client, token, venue, first)

    assert created["series_id"] is not None
    assert created["starts_at"] == first.strftime("%Y-%m-%dT%H:%M:%S+09:00")
    listed = await occurrences(client, created["series_id"], token)
    assert len(listed) == 4
    starts = [datetime.fromisoformat(item["starts_at"]) for item in listed]
    months = [(s.year * 12 + s.month) for s in starts]
    assert months == [months[0] + n for n in range(4)]
    for start in starts:
        assert start.utcoffset() == timedelta(hours=9)
        assert (start.weekday(), (start.day - 1) // 7 + 1) == (5, 2), start  # 第2土曜日
        assert (start.hour, start.minute) == (10, 0)
    assert all(item["series_id"] == created["series_id"] for item in listed)


async def test_moving_one_occurrence_leaves_the_others_in_place(client, db):
    _account, venue, token = await organizer(db)
    created = await create_monthly_series(client, token, venue, second_saturday(months_ahead=2))
    before = await occurrences(client, created["series_id"], token)
    target = before[1]
    new_start = datetime.fromisoformat(target["starts_at"]) + timedelta(days=1, hours=3)

    response = await client.patch(f"/api/sessions/{target['id']}", headers=bearer(token), json={
        "starts_at": new_start.isoformat(), "ends_at": (new_start + timedelta(hours=2)).isoformat()})

    assert response.status_code == 200, response.text
    after = {item["id"]: item for item in await occurrences(client, created["series_id"], token)}
    moved = after[target["id"]]
    assert datetime.fromisoformat(moved["starts_at"]) == new_start
    assert datetime.fromisoformat(moved["ends_at"]) == new_start + timedelta(hours=2)
    assert moved.get("sequence", 0) > target.get("sequence", 0)
    for item in before:
        if item["id"] != target["id"]:
            assert (after[item["id"]]["starts_at"], after[item["id"]]["ends_at"]) == (item["starts_at"],
                                                                                      item["ends_at"])
            assert after[item["id"]].get("sequence", 0) == item.get("sequence", 0)


async def test_cancelling_one_occurrence_leaves_the_others_published(client, db):
    _account, venue, token = await organizer(db)
    created = await create_monthly_series(client, token, venue, second_saturday(months_ahead=2))
    before = await occurrences(client, created["series_id"], token)

    response = await client.patch(f"/api/sessions/{before[2]['id']}", json={"status": "cancelled"},
                                  headers=bearer(token))

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    statuses = [item["status"] for item in await occurrences(client, created["series_id"], token)]
    assert statuses == ["published", "published", "cancelled", "published"]


async def test_moving_a_session_earlier_moves_its_default_request_deadlines_with_it(client, db):
    _account, venue, token = await organizer(db)
    start = next_saturday(weeks=5, hour=10)
    created = await client.post("/api/sessions", headers=bearer(token), json=session_body(
        venue, start, childcare={"places": 4}, accommodations=[{"code": "sign_language", "mode": "on_request"}]))
    assert created.status_code == 201, created.text
    new_start = start - timedelta(days=14)

    response = await client.patch(f"/api/sessions/{created.json()['id']}", headers=bearer(token, **ENGLISH), json={
        "starts_at": local(new_start), "ends_at": local(new_start + timedelta(hours=2))})

    assert response.status_code == 200, response.text
    expected = f"{(new_start - timedelta(days=7)).date().isoformat()}T23:59:59+09:00"
    assert response.json()["accommodations"][0]["deadline"] == expected
    assert response.json()["childcare"]["deadline"] == expected


# ---------------------------------------------------------------- changing: permissions and types

async def test_a_facilitator_of_the_same_organization_cannot_patch(client, db):
    account, venue, _token = await organizer(db)
    facilitator = await make_account(db, "facilitator@kanazawa.example", role="facilitator")
    session_id = await make_session(db, account.org_id, venue, title="元のタイトル")

    response = await client.patch(f"/api/sessions/{session_id}", json={"title": "書き換え"},
                                  headers=bearer(await token_for(db, facilitator)))

    assert_error(response, 403, "forbidden")
    assert (await client.get(f"/api/sessions/{session_id}")).json()["title"] == "元のタイトル"


async def test_another_organizations_organizer_cannot_patch_and_is_told_not_found(client, db):
    account, venue, _token = await organizer(db)
    _other, _other_venue, other_token = await organizer(db, "staff@toyama.example", org="toyama")
    session_id = await make_session(db, account.org_id, venue, title="元のタイトル")

    response = await client.patch(f"/api/sessions/{session_id}", json={"title": "書き換え"},
                                  headers=bearer(other_token))

    assert_error(response, 404, "not_found")
    assert (await client.get(f"/api/sessions/{session_id}")).json()["title"] == "元のタイトル"


async def test_patch_with_a_wrong_type_is_a_4xx_naming_the_field(client, db):
    account, venue, token = await organizer(db)
    session_id = await make_session(db, account.org_id, venue)

    response = await client.patch(f"/api/sessions/{session_id}", json={"capacity_in_person": "many"},
                                  headers=bearer(token, **ENGLISH))

    assert 400 <= response.status_code < 500, response.text
    assert "Traceback" not in response.text
    assert "capacity_in_person" in response.json()["error"]["fields"]
    assert (await client.get(f"/api/sessions/{session_id}")).json()["capacity_in_person"] == 30


async def test_patch_changes_only_the_fields_sent(client, db):
    account, venue, token = await organizer(db)
    session_id = await make_session(db, account.org_id, venue, title="元のタイトル", capacity_in_person=30)

    response = await client.patch(f"/api/sessions/{session_id}", json={"capacity_in_person": 12},
                                  headers=bearer(token))

    assert response.status_code == 200, response.text
    assert (response.json()["capacity_in_person"], response.json()["title"]) == (12, "元のタイトル")


async def test_duplicate_makes_a_new_draft_with_the_same_title(client, db):
    account, venue, token = await organizer(db)
    session_id = await make_session(db, account.org_id, venue, title="意見交換会（第1回）")

    response = await client.post(f"/api/sessions/{session_id}/duplicate", headers=bearer(token))

    assert response.status_code in (200, 201), response.text
    copy = response.json()
    assert copy["title"] == "意見交換会（第1回）" and copy["id"] != session_id
    assert copy["status"] == "draft"
    assert (await client.get(f"/api/sessions/{copy['id']}")).status_code == 404  # residents do not see drafts


# ---------------------------------------------------------------- venues

async def test_organizer_creates_a_venue_and_lists_only_their_own(client, db):
    _account, _venue, token = await organizer(db)
    _other, _other_venue, other_token = await organizer(db, "staff@toyama.example", org="toyama")

    response = await client.post("/api/venues", headers=bearer(token), json={
        "name": "金沢市女性センター", "address": "石川県金沢市三社町1-44", "capacity": 80,
        "features": ["step_free", "nursing_room"]})

    assert response.status_code == 201, response.text
    venue = response.json()
    assert (venue["name"], venue["capacity"], venue["features"]) == ("金沢市女性センター", 80,
                                                                     ["step_free", "nursing_room"])
    mine = {item["name"] for item in (await client.get("/api/venues", headers=bearer(token))).json()}
    theirs = {item["name"] for item in (await client.get("/api/venues", headers=bearer(other_token))).json()}
    assert mine == {"kanazawa 市民交流センター", "金沢市女性センター"}
    assert theirs == {"toyama 市民交流センター"}


async def test_a_venue_named_with_nul_and_escape_characters_is_kept_without_them_on_both_engines(client, db):
    """Found by the API fuzzer on PostgreSQL (its text cannot hold NUL): a 500 instead of a clean record."""
    _account, venue, token = await organizer(db)
    made = await client.post("/api/venues", headers=bearer(token), json={
        "name": "金沢\x00市民\x1bホール", "address": "石川県\x00金沢市", "access_notes": "入口\x07は東側"})
    changed = await client.patch(f"/api/venues/{venue}", headers=bearer(token), json={
        "name": "\x00交流\x00センター", "address_en": "Kanazawa\x00"})
    assert made.status_code == 201, made.text
    assert changed.status_code == 200, changed.text
    assert (made.json()["name"], made.json()["address"], made.json()["access_notes"]) == (
        "金沢市民ホール", "石川県金沢市", "入口は東側")
    assert (changed.json()["name"], changed.json()["address_en"]) == ("交流センター", "Kanazawa")
    only_nul = await client.post("/api/venues", headers=bearer(token), json={"name": "\x00\x00"})
    assert only_nul.status_code == 422  # nothing visible left: the name is missing, said so


async def test_patching_another_organizations_venue_is_not_found(client, db):
    _account, _venue, token = await organizer(db)
    _other, toyama_venue, other_token = await organizer(db, "staff@toyama.example", org="toyama")

    response = await client.patch(f"/api/venues/{toyama_venue}", json={"name": "乗っ取り会場"},
                                  headers=bearer(token))

    assert_error(response, 404, "not_found")
    names = {item["name"] for item in (await client.get("/api/venues", headers=bearer(other_token))).json()}
    assert names == {"toyama 市民交流センター"}


# ---------------------------------------------------------------- schema and errors

async def test_openapi_schema_describes_the_session_endpoints(client):
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/sessions", "/api/sessions/{session_id}"} <= set(paths)
    assert {"get", "post"} <= set(paths["/api/sessions"])
    assert {"get", "patch"} <= set(paths["/api/sessions/{session_id}"])


async def test_error_bodies_never_carry_a_stack_trace(client, db):
    account, venue, token = await organizer(db)
    session_id = await make_session(db, account.org_id, venue)
    answers = [
        await client.post("/api/sessions", json=session_body(venue)),
        await client.get("/api/sessions/987654"),
        await client.get("/api/sessions?from=yesterday"),
        await client.get("/api/sessions?limit=abc"),
        await client.post("/api/sessions", content=b'{"title": ', headers=bearer(token, **{
            "Content-Type": "application/json"})),
        await client.post("/api/sessions", json={"title": 5}, headers=bearer(token)),
        await client.patch(f"/api/sessions/{session_id}", json={"starts_at": "next tuesday"}, headers=bearer(token)),
        await client.patch(f"/api/sessions/{session_id}", json={"status": "exploded"}, headers=bearer(token)),
    ]
    for response in answers:
        assert 400 <= response.status_code < 500, (response.request.url, response.text)
        assert "Traceback" not in response.text and 'File "' not in response.text
        assert response.json()["error"]["message"]


async def test_capacities_beyond_any_real_room_are_refused_with_a_field_error(client, db):
    """Found by the API fuzz suite: a venue capacity of 10**28 reached SQLite and answered 500."""
    account = await make_account(db, "staff@kanazawa.example")
    async with db.transaction() as conn:
        token = await accounts.create_api_token(conn, account.id, "capacity test")
    headers = {"Authorization": f"Bearer {token}"}
    answer = await client.post("/api/venues", headers=headers,
                               json={"name": "巨大な会場", "address": "金沢市", "capacity": 54227413488516002739889635328})
    assert answer.status_code == 422
    assert list(answer.json()["error"]["fields"]) == ["capacity"]
    assert await db.fetch_all("select * from venues where name = '巨大な会場'") == []
