"""Organizers: sign in, create and publish sessions and series, edit, cancel, duplicate, move; permissions."""

from __future__ import annotations

from datetime import timedelta

from sessions import store
from tests.harness import (
    PASSWORD, field_errors, html, login, make_account, make_session, make_venue, next_saturday, post_form,
)


def session_form(venue_id: int, **changes: str) -> dict[str, object]:
    day = next_saturday(weeks=3)
    values: dict[str, object] = {
        "title": "子育て世代の対話の場", "title_en": "Dialogue for parents", "kind": "dialogue", "format": "hybrid",
        "date": day.date().isoformat(), "start_time": "10:00", "end_time": "12:00", "timezone": "Asia/Tokyo",
        "venue_id": str(venue_id), "online_url": "https://meet.example.jp/room-1", "capacity_in_person": "30",
        "capacity_online": "50", "languages": ["ja", "jsl"], "themes": "子育て、防災", "repeat": "none",
        "childcare_offered": "1", "childcare_places": "8", "childcare_min_age_months": "6",
        "childcare_max_age_months": "72", "acc_sign_language": "on_request", "acc_captioning": "always",
        "action": "publish",
    }
    values.update(changes)
    return values


async def signed_in_organizer(client, db, email="staff@kanazawa.example", org="kanazawa"):
    account = await make_account(db, email, org=org)
    venue = await make_venue(db, account.org_id)
    response = await login(client, email)
    assert response.status_code in (200, 303)
    return account, venue


async def test_login_with_wrong_password_says_so_and_right_one_opens_dashboard(client, db):
    await make_account(db, "staff@kanazawa.example")
    wrong = await login(client, "staff@kanazawa.example", "not-the-password")
    assert wrong.status_code == 200
    assert "パスワード" in html(wrong).select_one(".error-summary").get_text()
    right = await login(client, "staff@kanazawa.example", PASSWORD)
    assert right.status_code == 200 and right.url.path == "/organize"
    assert "taiwa_login" in client.cookies


async def test_login_cookie_is_httponly_and_lax(client, db):
    await make_account(db, "staff@kanazawa.example")
    page = await client.get("/organize/login")
    from tests.conftest import csrf_from

    response = await client.post("/organize/login", follow_redirects=False, data={
        "_csrf_token": csrf_from(page), "email": "staff@kanazawa.example", "password": PASSWORD})
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and "taiwa_login" in v)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")


async def test_repeated_failed_logins_are_throttled(client, db):
    await make_account(db, "target@kanazawa.example")
    for _ in range(5):
        await login(client, "target@kanazawa.example", "guess-guess-guess")
    blocked = await login(client, "target@kanazawa.example", PASSWORD)
    assert blocked.status_code == 429
    assert "15" in html(blocked).get_text()


async def test_anonymous_visitor_is_sent_to_login(client):
    response = await client.get("/organize/sessions/new", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/organize/login?next=")


async def test_anonymous_post_is_refused(client, db):
    account = await make_account(db, "staff@kanazawa.example")
    session_id = await make_session(db, account.org_id, await make_venue(db, account.org_id))
    page = await client.get("/organize/login")
    from tests.conftest import csrf_from

    response = await client.post(f"/organize/sessions/{session_id}/cancel", follow_redirects=False,
                                 data={"_csrf_token": csrf_from(page), "reason": "x"})
    assert response.status_code == 303 and "/organize/login" in response.headers["location"]
    assert (await store.get_session(db, session_id)).status == "published"


async def test_form_without_csrf_token_is_refused(client, db):
    account, venue = await signed_in_organizer(client, db)
    session_id = await make_session(db, account.org_id, venue)
    response = await client.post(f"/organize/sessions/{session_id}/cancel", data={"reason": "x"})
    assert response.status_code == 403
    assert (await store.get_session(db, session_id)).status == "published"


async def test_organizer_creates_and_publishes_a_session_residents_can_find(client, db):
    _account, venue = await signed_in_organizer(client, db)
    created = await post_form(client, "/organize/sessions/new", None, session_form(venue))
    assert created.status_code == 200 and created.url.path.startswith("/organize/sessions/")
    session_id = int(created.url.path.rsplit("/", 1)[1])
    session = await store.get_session(db, session_id)
    assert session.status == "published" and session.childcare.places == 8
    assert [o.code for o in session.accommodations] == ["sign_language", "captioning"]
    public = await client.get("/sessions?childcare=1")
    assert "子育て世代の対話の場" in public.text


async def test_invalid_session_form_is_shown_again_with_messages_next_to_fields(client, db):
    _account, venue = await signed_in_organizer(client, db)
    response = await post_form(client, "/organize/sessions/new", None,
                               session_form(venue, end_time="09:00", capacity_in_person="-5",
                                            acc_interpretation="on_request"))
    assert response.status_code == 422
    doc = html(response)
    assert doc.find("input", attrs={"name": "title"})["value"] == "子育て世代の対話の場"
    assert doc.find(id="f-end_time")["aria-invalid"] == "true"
    assert doc.find(id="f-capacity_in_person")["aria-invalid"] == "true"
    assert len(field_errors(response)) >= 3
    assert await store.list_sessions(db, store.SessionFilters(), all_drafts=True) == ([], None)


async def test_a_monthly_series_creates_dates_and_one_can_move_without_touching_the_others(client, db):
    account, venue = await signed_in_organizer(client, db)
    created = await post_form(client, "/organize/sessions/new", None, session_form(
        venue, title="西地区 円卓会議", kind="round_table", repeat="monthly_weekday", repeat_count="4"))
    assert created.url.path.startswith("/organize/series/")
    series_id = int(created.url.path.rsplit("/", 1)[1])
    dates = await store.series_occurrences(db, series_id)
    assert len(dates) == 4
    nth = {(d.starts_at.astimezone(next_saturday().tzinfo or None) if False else d.starts_at).weekday() for d in dates}
    assert len(nth) == 1  # the same weekday every month
    second = dates[1]
    new_day = (second.starts_at + timedelta(days=1)).astimezone().date()
    moved = await post_form(client, f"/organize/sessions/{second.id}/move", None,
                            {"date": new_day.isoformat(), "start_time": "13:00", "end_time": "15:00"})
    assert moved.status_code == 200
    after = await store.series_occurrences(db, series_id)
    assert after[1].starts_at != second.starts_at and after[1].sequence > second.sequence
    assert [s.starts_at for i, s in enumerate(after) if i != 1] == [s.starts_at for i, s in enumerate(dates) if i != 1]
    cancelled = await post_form(client, f"/organize/sessions/{after[2].id}/cancel", None, {"reason": "会場点検のため"})
    assert cancelled.status_code == 200
    final = await store.series_occurrences(db, series_id)
    assert [s.status for s in final] == ["published", "published", "cancelled", "published"]


async def test_series_without_an_end_is_refused(client, db):
    _account, venue = await signed_in_organizer(client, db)
    response = await post_form(client, "/organize/sessions/new", None, session_form(venue, repeat="weekly"))
    assert response.status_code == 422
    assert html(response).find(id="f-repeat_until")["aria-invalid"] == "true"


async def test_edit_cancel_and_duplicate(client, db):
    account, venue = await signed_in_organizer(client, db)
    session_id = await make_session(db, account.org_id, venue, title="防災ワークショップ")
    edit = await client.get(f"/organize/sessions/{session_id}/edit")
    assert html(edit).find("input", attrs={"name": "title"})["value"] == "防災ワークショップ"
    values = session_form(venue, title="防災ワークショップ（改訂）", format="in_person", action="save")
    saved = await post_form(client, f"/organize/sessions/{session_id}/edit", None, values)
    assert saved.status_code == 200
    assert (await store.get_session(db, session_id)).title == "防災ワークショップ（改訂）"

    copy = await post_form(client, f"/organize/sessions/{session_id}", f"/organize/sessions/{session_id}/duplicate", {})
    assert copy.url.path.endswith("/edit")
    copy_id = int(copy.url.path.split("/")[3])
    assert copy_id != session_id and (await store.get_session(db, copy_id)).status == "draft"

    confirm = await client.get(f"/organize/sessions/{session_id}/cancel")
    assert confirm.status_code == 200 and html(confirm).find("textarea", attrs={"name": "reason"}) is not None
    assert (await store.get_session(db, session_id)).status == "published"  # the GET changed nothing
    await post_form(client, f"/organize/sessions/{session_id}/cancel", None, {"reason": "講師の急病のため"})
    cancelled = await store.get_session(db, session_id)
    assert cancelled.status == "cancelled" and cancelled.cancel_reason == "講師の急病のため"


async def test_publishing_a_draft_requires_what_residents_need(client, db):
    account, venue = await signed_in_organizer(client, db)
    draft = await make_session(db, account.org_id, None, title="オンライン説明会", format="online",
                               capacity_in_person=0, capacity_online=0, status="draft")
    response = await post_form(client, f"/organize/sessions/{draft}", f"/organize/sessions/{draft}/publish", {})
    assert response.status_code == 422
    assert html(response).select_one(".error-summary") is not None
    assert (await store.get_session(db, draft)).status == "draft"


async def test_other_organizations_drafts_are_not_found(client, db):
    other = await make_account(db, "chair@council.example", org="nishi-council")
    draft = await make_session(db, other.org_id, await make_venue(db, other.org_id), status="draft")
    await signed_in_organizer(client, db)
    assert (await client.get(f"/sessions/{draft}")).status_code == 404
    assert (await client.get(f"/organize/sessions/{draft}")).status_code == 404
    assert (await client.get(f"/organize/sessions/{draft}/edit")).status_code == 404
    dashboard = await client.get("/organize")
    assert f"/organize/sessions/{draft}" not in dashboard.text


async def test_own_draft_is_previewed_and_listed_on_the_dashboard(client, db):
    account, venue = await signed_in_organizer(client, db)
    draft = await make_session(db, account.org_id, venue, title="下書きの講座", status="draft")
    preview = await client.get(f"/sessions/{draft}")
    assert preview.status_code == 200 and html(preview).select_one(".notice--draft") is not None
    assert "下書きの講座" in (await client.get("/organize")).text


async def test_facilitator_can_look_but_not_change(client, db):
    organizer = await make_account(db, "staff@kanazawa.example")
    session_id = await make_session(db, organizer.org_id, await make_venue(db, organizer.org_id))
    await make_account(db, "fac@kanazawa.example", role="facilitator")
    await login(client, "fac@kanazawa.example")
    assert (await client.get(f"/organize/sessions/{session_id}")).status_code == 200
    assert (await client.get(f"/organize/sessions/{session_id}/edit")).status_code == 403


async def test_venues_are_created_and_edited(client, db):
    account, _venue = await signed_in_organizer(client, db)
    response = await post_form(client, "/organize/venues/new", None, {
        "name": "西公民館", "address": "金沢市西町2-3", "capacity": "60", "features": ["step_free", "parking"]})
    assert response.url.path == "/organize/venues"
    venue = next(v for v in await store.list_venues(db, account.org_id) if v.name == "西公民館")
    assert venue.features == ["step_free", "parking"]
    bad = await post_form(client, f"/organize/venues/{venue.id}/edit", None, {"name": "", "capacity": "abc"})
    assert bad.status_code == 422 and len(field_errors(bad)) >= 1


async def test_htmx_gets_the_invalid_form_with_200_so_it_is_swapped_in(client, db):
    _account, venue = await signed_in_organizer(client, db)
    page = await client.get("/organize/sessions/new")
    from tests.conftest import csrf_from

    response = await client.post("/organize/sessions/new", headers={"HX-Request": "true"},
                                 data={"_csrf_token": csrf_from(page), **session_form(venue, title="")})
    assert response.status_code == 200
    assert html(response).find(id="f-title")["aria-invalid"] == "true"


async def test_admin_creates_an_organization_and_an_account(client, db):
    await make_account(db, "admin@taiwa.example", role="admin")
    await login(client, "admin@taiwa.example")
    created = await post_form(client, "/organize/admin/orgs/new", None, {"slug": "saku-center", "name": "佐久市市民活動サポートセンター"})
    assert created.url.path == "/organize/admin"
    added = await post_form(client, "/organize/admin/accounts/new", None, {
        "email": "new@saku.example", "org": "saku-center", "role": "organizer", "password": "long-enough-pw"})
    assert added.url.path == "/organize/admin" and "new@saku.example" in added.text
    duplicate = await post_form(client, "/organize/admin/orgs/new", None, {"slug": "saku-center", "name": "x"})
    assert html(duplicate).find(id="f-slug")["aria-invalid"] == "true"


async def test_organizers_cannot_open_administration(client, db):
    await signed_in_organizer(client, db)
    assert (await client.get("/organize/admin")).status_code == 403


async def test_moving_a_session_to_a_far_off_year_is_refused_with_a_message(client, db):
    account = await make_account(db, "staff@kanazawa.example")
    session_id = await make_session(db, account.org_id, await make_venue(db, account.org_id))
    await login(client, "staff@kanazawa.example")
    for day in ("0001-01-01", "9999-12-31"):
        answer = await post_form(client, f"/organize/sessions/{session_id}/move", None,
                                 {"date": day, "start_time": "10:00", "end_time": "12:00"})
        assert answer.status_code == 422
        assert "2000" in html(answer).select_one(".error-summary").get_text()
    page = await client.get(f"/sessions/{session_id}")
    assert page.status_code == 200  # the session was left as it was
