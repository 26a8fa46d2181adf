"""Organizers, issue 15: a shorter session form, a message after every save, 終了 for past sessions, the
door roster on a tablet, the "to arrange" list with days left and its CSV, and messages to registrants.

The HTTP tests go through the ASGI app on a temporary SQLite file; the browser tests (marked `browser`)
drive Debian Chromium against `taiwa serve --demo` and run axe-core on every page they change."""

from __future__ import annotations

import csv
import io
import logging
import os
import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from bs4 import BeautifulSoup, Tag
from playwright.async_api import Browser, Page, async_playwright, expect

from server.core.i18n import translations
from server.core.logs import mask
from server.settings import Settings
from sessions import registration, store
from sessions.catalog import ACCOMMODATIONS
from sessions.demo import DEMO_PASSWORD
from sessions.models import AccommodationOffer, ChildcareOffer
from sessions.registration_models import AccommodationRequestInput, ChildInput, RegistrationInput
from tests.conftest import (
    TOKYO, csrf_from, html, login, make_account, make_session, make_venue, next_saturday, post_form, running_demo_server,
)


@pytest.fixture
def settings(db_target: Path | str) -> Settings:
    """No background loop: the tests read the outbox themselves."""
    return Settings(db_path=db_target, secret="test-secret-" + "x" * 20,
                    base_url="http://testserver.local", form_min_seconds=0, background=False)


# ---------------------------------------------------------------- helpers

def ja(message: str, **params: Any) -> str:
    """What a Japanese reader sees for one of the app's messages."""
    text = translations("ja").gettext(message)
    return text % params if params else text


def ja_plural(singular: str, plural: str, n: int, **params: Any) -> str:
    return translations("ja").ngettext(singular, plural, n) % {"num": n, **params}


def text_of(node: Tag | None) -> str:
    assert node is not None, "the element is missing"
    return re.sub(r"\s+", " ", node.get_text(" ", strip=True))


def flash_of(response: Any) -> str | None:
    """The message a page says once after a save (role=status), if any."""
    node = html(response).select_one(".flash[role=status]")
    return text_of(node) if node else None


async def organizer(client: Any, db: Any, email: str = "staff@kanazawa.example", org: str = "kanazawa",
                    role: str = "organizer", signed_in: bool = True) -> tuple[Any, int]:
    account = await make_account(db, email, role=role, org=org)
    venue = await make_venue(db, account.org_id, name=f"{org} 市民交流センター")
    if signed_in:
        assert (await login(client, email)).status_code == 200
    return account, venue


async def upcoming(db: Any, org_id: int, venue_id: int | None, **values: Any) -> int:
    values.setdefault("starts_at", next_saturday(weeks=3))
    return await make_session(db, org_id, venue_id, **values)


async def register(app: Any, session_id: int, name: str, *, email: str = "", phone: str = "", kana: str = "",
                   mode: str = "in_person", locale: str = "ja", support: tuple[str, ...] = (),
                   children: tuple[int, ...] = (), note: str = "") -> int:
    """A registration through the domain (no per-client limits); returns its id."""
    state = app.litestar.state
    data = RegistrationInput(
        name=name, name_kana=kana, email=email, phone=phone or ("" if email else "076-220-0000"), mode=mode,
        locale=locale, accommodations=[AccommodationRequestInput(code=code, note=note) for code in support],
        children=[ChildInput(age_months=months, notes=note) for months in children],
        consent_sensitive=bool(support or children))
    result = await registration.register(state.db, session_id, data, notify=state.notify,
                                         derive_token=state.derive_token)
    return result.registration.id


def session_form(venue_id: int, **changes: Any) -> dict[str, Any]:
    day = next_saturday(weeks=3)
    values: dict[str, Any] = {
        "title": "防災の対話の場", "kind": "dialogue", "format": "in_person", "date": day.date().isoformat(),
        "start_time": "10:00", "end_time": "12:00", "timezone": "Asia/Tokyo", "venue_id": str(venue_id),
        "capacity_in_person": "30", "languages": ["ja"], "repeat": "none", "action": "publish",
    }
    values.update(changes)
    return values


def end_of_day_in(days: int) -> datetime:
    """23:59:59 in Tokyo, `days` from today (how request deadlines are stored)."""
    today = datetime.now(TOKYO).date() + timedelta(days=days)
    return datetime(today.year, today.month, today.day, 23, 59, 59, tzinfo=TOKYO)


def section(form: Tag, heading: str) -> Tag:
    """The collapsible section of the session form whose summary starts with `heading`."""
    for details in form.select("details.form-section, details.subsection"):
        if text_of(details.summary).startswith(heading):
            return details
    raise AssertionError(f"no section {heading!r}")


# ---------------------------------------------------------------- the session form in sections

async def test_new_session_form_keeps_optional_parts_closed_and_each_support_apart_from_its_details(client, db):
    await organizer(client, db)

    form = html(await client.get("/organize/sessions/new")).select_one("form.session-form")

    for heading in (ja("Registration window and contact"), ja("Childcare"), ja("Accessibility support"),
                    ja("Repeat (series)"), ja("In English (optional)")):
        assert not section(form, heading).has_attr("open"), heading
    for legend in (ja("What"), ja("When"), ja("Where")):  # what every session needs stays open
        assert any(text_of(f.legend) == legend for f in form.select("fieldset.form-section"))
    for code in ACCOMMODATIONS:  # the stylesheet hides a support's details while it is not offered
        offer = form.select_one(f"#f-acc_{code}").find_parent("fieldset")
        assert offer.select_one(f".offer-mode #f-acc_{code}") is not None
        assert offer.select_one(f".offer-details #f-acc_{code}_deadline") is not None
    assert form.select_one(".childcare .childcare-details #f-childcare_places") is not None
    assert form.select_one(".repeat .repeat-details #f-repeat_count") is not None
    css = (Path(__file__).resolve().parent.parent / "static/css/organize.css").read_text()
    assert re.search(r'\.accommodation:has\(\.offer-mode option\[value=""\]:checked\) \.offer-details', css)
    page = html(await client.get("/organize/sessions/new"))
    assert page.select_one('link[href="/static/css/organize.css"]') is not None


async def test_a_section_opens_when_it_holds_an_offer_or_an_error(client, db):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue, childcare=ChildcareOffer(places=5),
                                accommodations=[AccommodationOffer(code="sign_language", mode="on_request")])

    edit = html(await client.get(f"/organize/sessions/{session_id}/edit")).select_one("form.session-form")
    invalid = await post_form(client, "/organize/sessions/new", None,
                              session_form(venue, acc_interpretation="on_request", registration_opens_at="x"))

    assert section(edit, ja("Childcare")).has_attr("open")
    assert section(edit, ja("Accessibility support")).has_attr("open")
    assert not section(edit, ja("Registration window and contact")).has_attr("open")
    assert invalid.status_code == 422
    shown = html(invalid).select_one("form.session-form")
    assert section(shown, ja("Accessibility support")).has_attr("open")
    assert section(shown, ja("Registration window and contact")).has_attr("open")
    assert not section(shown, ja("Childcare")).has_attr("open")


# ---------------------------------------------------------------- a message after every save

async def test_every_save_says_so_once_on_the_page_it_lands_on(client, db):
    account, venue = await organizer(client, db)

    published = await post_form(client, "/organize/sessions/new", None, session_form(venue))
    reloaded = await client.get(str(published.url))
    draft = await post_form(client, "/organize/sessions/new", None, session_form(venue, action="draft"))
    draft_id = int(draft.url.path.rsplit("/", 1)[1])
    edited = await post_form(client, f"/organize/sessions/{draft_id}/edit", None,
                             session_form(venue, title="防災の対話の場（改）", action="draft"))
    made_public = await post_form(client, f"/organize/sessions/{draft_id}", f"/organize/sessions/{draft_id}/publish", {})
    moved = await post_form(client, f"/organize/sessions/{draft_id}/move", None, {
        "date": next_saturday(weeks=4).date().isoformat(), "start_time": "13:00", "end_time": "15:00"})
    cancelled = await post_form(client, f"/organize/sessions/{draft_id}/cancel", None, {"reason": "台風のため"})
    copied = await post_form(client, f"/organize/sessions/{draft_id}", f"/organize/sessions/{draft_id}/duplicate", {})
    venue_saved = await post_form(client, "/organize/venues/new", None, {"name": "西公民館"})
    venue_edited = await post_form(client, f"/organize/venues/{venue}/edit", None, {"name": "東公民館"})

    assert flash_of(published) == ja("Published.")
    assert flash_of(reloaded) is None  # once: a reload does not say it again
    assert flash_of(draft) == ja("Saved.")
    assert flash_of(edited) == ja("Saved.")
    assert flash_of(made_public) == ja("Published.")
    assert flash_of(moved) == ja("The date and time were changed.")
    assert flash_of(cancelled) == ja("The session was cancelled.")
    assert copied.url.path.endswith("/edit") and flash_of(copied) == ja("Copied as a new draft. Check it and save.")
    assert venue_saved.url.path == "/organize/venues" and flash_of(venue_saved) == ja("Saved.")
    assert flash_of(venue_edited) == ja("Saved.")
    assert flash_of(await client.get("/organize/venues")) is None


async def sign_language_requested(client: Any, db: Any, app: Any) -> int:
    """A session of the signed-in organizer where one registrant asked for sign language; returns its id."""
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue,
                                accommodations=[AccommodationOffer(code="sign_language", mode="on_request")])
    await register(app, session_id, "山田 花子", email="hanako@example.jp", support=("sign_language",))
    return session_id


async def test_answering_a_request_says_saved_and_notified(client, db, app):
    session_id = await sign_language_requested(client, db, app)
    roster = html(await client.get(f"/organize/sessions/{session_id}/registrations"))
    form = roster.select_one('form[action^="/organize/requests/"]')

    answered = await client.post(form["action"], data={"_csrf_token": csrf_from(await client.get(
        f"/organize/sessions/{session_id}/registrations")), "status": "confirmed", "message": "手配しました"})

    assert answered.url.path == f"/organize/sessions/{session_id}/registrations"
    assert flash_of(answered) == ja("Saved, and the registrant was notified.")


# ---------------------------------------------------------------- 終了 for sessions that have ended

async def test_past_sessions_say_finished_not_published_on_the_dashboard_and_their_page(client, db):
    account, venue = await organizer(client, db)
    ended = await make_session(db, account.org_id, venue, title="先月の対話の場",
                               starts_at=datetime.now(TOKYO).replace(tzinfo=None) - timedelta(days=20))
    coming = await upcoming(db, account.org_id, venue, title="来月の対話の場")

    dashboard = html(await client.get("/organize"))
    statuses = {text_of(row.th.a): row.select_one(".status") for row in dashboard.select("tbody tr")}
    page = html(await client.get(f"/organize/sessions/{ended}"))

    assert text_of(statuses["先月の対話の場"]) == ja("Finished") != ja("Published")
    assert "status--finished" in statuses["先月の対話の場"]["class"]
    assert text_of(statuses["来月の対話の場"]) == ja("Published")
    assert text_of(page.select_one("main .status")) == ja("Finished")
    assert text_of(html(await client.get(f"/organize/sessions/{coming}")).select_one("main .status")) == ja("Published")


# ---------------------------------------------------------------- the roster at the door

def roster_names(page: Any) -> list[str]:
    return [text_of(row.th).split(" ")[0] + " " + text_of(row.th).split(" ")[1]
            for row in html(page).select("#roster-results tbody tr")]


async def test_roster_search_finds_by_name_or_kana_without_javascript_and_alone_for_htmx(client, db, app):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue)
    await register(app, session_id, "田中 花子", kana="たなか はなこ")
    await register(app, session_id, "佐藤 一郎", kana="サトウ イチロウ")
    await register(app, session_id, "鈴木 次郎", kana="ｽｽﾞｷ ｼﾞﾛｳ")
    url = f"/organize/sessions/{session_id}/registrations"

    page = html(await client.get(url))
    search = page.select_one("#roster form[role=search]")
    fragment = await client.get(url, params={"q": "佐藤"},
                                headers={"HX-Request": "true", "HX-Target": "roster-results"})

    assert (search.get("method") or "get").lower() == "get" and search.select_one("input[type=search]")["name"] == "q"
    assert roster_names(await client.get(url, params={"q": "タナカ"})) == ["田中 花子"]  # kana in either script
    assert roster_names(await client.get(url, params={"q": "さとう いち"})) == ["佐藤 一郎"]
    assert roster_names(await client.get(url, params={"q": "すずき"})) == ["鈴木 次郎"]  # half-width kana
    assert roster_names(await client.get(url, params={"q": "田中花子"})) == ["田中 花子"]  # spaces do not matter
    assert len(roster_names(await client.get(url))) == 3
    alone = BeautifulSoup(fragment.text, "html.parser")
    assert alone.find("nav") is None and alone.find("h1") is None
    assert alone.select_one("div#roster-results") is not None and roster_names(fragment) == ["佐藤 一郎"]


async def test_door_count_and_check_in_only_for_those_who_come_in_person(client, db, app):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue, format="hybrid", capacity_in_person=2,
                                capacity_online=10, online_url="https://meet.example.jp/a")
    first = await register(app, session_id, "来場 一", email="one@example.jp")
    await register(app, session_id, "来場 二", email="two@example.jp")
    online = await register(app, session_id, "画面 三", email="three@example.jp", mode="online")
    waiting = await register(app, session_id, "待ち 四", email="four@example.jp")  # in person, waitlisted
    url = f"/organize/sessions/{session_id}/registrations"
    page = html(await client.get(url))
    token = page.select_one("input[name=_csrf_token]")["value"]

    assert text_of(page.select_one("#door-count")) == ja("Checked in: %(n)d / %(total)d", n=0, total=2)
    assert page.select_one(f"#roster-{online} form.checkin-form") is None
    assert ja("No check-in (online)") in text_of(page.select_one(f"#roster-{online}"))
    assert page.select_one(f"#roster-{waiting} form.checkin-form button")["value"] == "in"
    for _twice in range(2):  # a button that says "in" checks in; pressed again (another tablet) it stays in
        answer = await client.post(f"{url}/{first}/check-in", data={"_csrf_token": token, "to": "in"},
                                   headers={"HX-Request": "true"})
        fragment = BeautifulSoup(answer.text, "html.parser")
        assert fragment.select_one(f"#roster-{first} button")["aria-pressed"] == "true"
    assert fragment.select_one("#door-count")["hx-swap-oob"] == "innerHTML"
    assert text_of(fragment.select_one("#door-count")) == ja("Checked in: %(n)d / %(total)d", n=1, total=2)
    await client.post(f"{url}/{online}/check-in", data={"_csrf_token": token, "to": "in"})
    checked = await db.fetch_all("select id from registrations where checked_in_at is not null")
    assert [row["id"] for row in checked] == [first]


async def test_undoing_a_check_in_asks_first_with_and_without_javascript(client, db, app):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue)
    entry = await register(app, session_id, "来場 一", email="one@example.jp")
    url = f"/organize/sessions/{session_id}/registrations"
    token = csrf_from(await client.get(url))
    await client.post(f"{url}/{entry}/check-in", data={"_csrf_token": token, "to": "in"})

    def checked_in() -> Any:
        return db.fetch_one("select checked_in_at from registrations where id = ?", (entry,))

    asked = await client.post(f"{url}/{entry}/check-in", data={"_csrf_token": token, "to": "ask"},
                              headers={"HX-Request": "true"})
    confirm = BeautifulSoup(asked.text, "html.parser").select_one(f"#roster-{entry}")
    assert {b["value"] for b in confirm.select("button")} == {"out", "keep"}
    assert ja("Undo the check-in of %(name)s?", name="来場 一") in text_of(confirm)
    assert (await checked_in())[0] is not None

    plain = await client.post(f"{url}/{entry}/check-in", data={"_csrf_token": token, "to": "ask"},
                              follow_redirects=False)
    assert plain.status_code == 303 and f"undo={entry}" in plain.headers["location"]
    shown = html(await client.get(plain.headers["location"]))
    assert {b["value"] for b in shown.select(f"#roster-{entry} button")} == {"out", "keep"}
    assert (await checked_in())[0] is not None

    await client.post(f"{url}/{entry}/check-in", data={"_csrf_token": token, "to": "keep"})
    assert (await checked_in())[0] is not None
    undone = await client.post(f"{url}/{entry}/check-in", data={"_csrf_token": token, "to": "out"})
    assert (await checked_in())[0] is None
    assert html(undone).select_one(f"#roster-{entry} button")["aria-pressed"] == "false"


async def test_the_roster_comes_before_the_request_forms(client, db, app):
    session_id = await sign_language_requested(client, db, app)

    page = html(await client.get(f"/organize/sessions/{session_id}/registrations"))

    order = [node.get("id") for node in page.select("#roster, #requests, form[action^='/organize/requests/']")]
    assert order[0] == "roster" and order.index("requests") > 0


# ---------------------------------------------------------------- what to arrange, and its CSV

async def test_to_arrange_shows_days_left_and_leads_to_where_one_answers(client, db, app):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue, childcare=ChildcareOffer(places=5, deadline=end_of_day_in(0)),
                                accommodations=[AccommodationOffer(code="sign_language", mode="on_request",
                                                                   deadline=end_of_day_in(5))])
    await register(app, session_id, "山田 花子", email="hanako@example.jp", support=("sign_language",),
                   children=(30,))

    page = html(await client.get("/organize/arrange"))
    roster = html(await client.get(f"/organize/sessions/{session_id}/registrations"))

    rows = {text_of(row.td): row for row in page.select("tbody tr")}
    sign = next(row for label_, row in rows.items() if ja(ACCOMMODATIONS["sign_language"]) in label_)
    care = next(row for label_, row in rows.items() if ja("Childcare") in label_)
    assert ja_plural("%(num)d day left", "%(num)d days left", 5) in text_of(sign.th)
    assert ja("Deadline today") in text_of(care.th)
    assert [a["href"] for a in sign.select("a")] == [f"/organize/sessions/{session_id}/registrations"]
    assert ja_plural("%(num)d day left", "%(num)d days left", 5) in text_of(roster.select_one("#arrange-title ~ ul li"))
    assert roster.select_one(f'a[href="/organize/arrange.csv?session={session_id}"]') is not None
    assert {a["href"] for a in page.select(".export-links a")} >= {
        "/organize/arrange.csv", "/organize/arrange.csv?code=sign_language", "/organize/arrange.csv?code=childcare"}


async def test_to_arrange_csv_is_for_organizers_only_never_cached_and_never_logged(client, db, app, caplog):
    account, venue = await organizer(client, db)
    offers = [AccommodationOffer(code="sign_language", mode="on_request"),
              AccommodationOffer(code="captioning", mode="on_request")]
    session_id = await upcoming(db, account.org_id, venue, childcare=ChildcareOffer(places=5), accommodations=offers)
    await register(app, session_id, "山田 花子", kana="やまだ はなこ", email="hanako@example.jp",
                   support=("sign_language",), note="前の席を希望")
    await register(app, session_id, "佐藤 一郎", email="ichiro@example.jp", support=("captioning",), children=(40,),
                   note="卵アレルギー")
    other, other_venue = await organizer(client, db, "staff@toyama.example", org="toyama", signed_in=False)
    elsewhere = await upcoming(db, other.org_id, other_venue, accommodations=offers)
    await register(app, elsewhere, "富山 太郎", email="taro@example.jp", support=("sign_language",))

    caplog.set_level(logging.DEBUG)  # everything logged while the lists are exported, to the last debug line
    caplog.clear()
    everything = await client.get("/organize/arrange.csv")
    interpreters = await client.get("/organize/arrange.csv", params={"code": "sign_language"})
    childcare = await client.get("/organize/arrange.csv", params={"code": "childcare"})

    assert everything.status_code == 200 and everything.headers["content-type"].startswith("text/csv")
    assert everything.content.startswith(b"\xef\xbb\xbf")
    assert everything.headers["cache-control"] == "no-store"
    assert everything.headers["content-disposition"].startswith("attachment")
    header, *rows = list(csv.reader(io.StringIO(everything.content.decode("utf-8-sig"))))
    column = {name: index for index, name in enumerate(header)}
    assert sorted(row[column[ja("Name")]] for row in rows) == ["佐藤 一郎", "佐藤 一郎", "山田 花子"]
    sign = next(row for row in rows if row[column[ja("Name")]] == "山田 花子")
    assert ja(ACCOMMODATIONS["sign_language"]) in sign[column[ja("Support")]]
    assert sign[column[ja("Notes")]] == "前の席を希望" and sign[column[ja("Name in kana")]] == "やまだ はなこ"
    assert [row[column[ja("Name")]] for row in list(csv.reader(io.StringIO(
        interpreters.content.decode("utf-8-sig"))))[1:]] == ["山田 花子"]
    care_rows = list(csv.reader(io.StringIO(childcare.content.decode("utf-8-sig"))))[1:]
    assert [(row[column[ja("Name")]], row[column[ja("Notes")]]) for row in care_rows] == [("佐藤 一郎", "卵アレルギー")]
    assert "富山 太郎" not in everything.content.decode("utf-8-sig")
    exported = caplog.text
    assert "arrange.csv" in exported  # the log was on
    for secret in ("山田 花子", "やまだ", "前の席を希望", "卵アレルギー"):
        assert secret not in exported

    client.cookies.clear()
    await make_account(db, "fac@kanazawa.example", role="facilitator")
    await login(client, "fac@kanazawa.example")
    assert (await client.get("/organize/arrange.csv", follow_redirects=False)).status_code == 403
    client.cookies.clear()
    refused = await client.get("/organize/arrange.csv", follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"].startswith("/organize/login")


def test_a_name_searched_for_in_the_roster_stays_out_of_the_access_log():
    line = 'GET /organize/sessions/3/registrations?q=%E7%94%B0%E4%B8%AD HTTP/1.1'
    assert mask(line) == "GET /organize/sessions/3/registrations?q=*** HTTP/1.1"
    assert mask("GET /sessions?q=%E9%98%B2%E7%81%BD HTTP/1.1") == "GET /sessions?q=%E9%98%B2%E7%81%BD HTTP/1.1"


# ---------------------------------------------------------------- messages to registrants

async def message_form(client: Any, session_id: int) -> dict[str, str]:
    page = html(await client.get(f"/organize/sessions/{session_id}"))
    form = page.select_one(f'form[action="/organize/sessions/{session_id}/messages"]')
    assert form is not None, "the session page has no message form"
    return {field["name"]: field.get("value", "") for field in form.select("input[type=hidden]")}


async def sent_mail(db: Any) -> list[Any]:
    return await db.fetch_all("select * from outbox where kind = 'message' order by to_address")


async def test_a_message_reaches_confirmed_and_waitlisted_registrants_in_their_language_and_is_logged(client, db, app):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue, title="防災の対話の場", title_en="Disaster dialogue",
                                capacity_in_person=1)
    await register(app, session_id, "山田 花子", email="hanako@example.jp")
    await register(app, session_id, "Alex Smith", email="alex@example.com", locale="en")  # waitlisted
    await register(app, session_id, "電話 太郎", phone="076-220-0000")  # no email: reached by phone
    leaving = await register(app, session_id, "取消 次郎", email="jiro@example.jp")
    entry = await store.get_session(db, session_id)
    from sessions.registration_store import get_registration
    await registration.cancel_registration(db, await get_registration(db, leaving), notify=app.litestar.state.notify)
    page = html(await client.get(f"/organize/sessions/{session_id}"))
    assert ja_plural("It goes to %(num)d registrant with an email address.",
                     "It goes to %(num)d registrants with an email address.", 2) in text_of(page.select_one("#messages"))

    sent = await client.post(f"/organize/sessions/{session_id}/messages", data={
        **await message_form(client, session_id), "subject": "会場を第2会議室に変更します",
        "body": "3階の第2会議室で行います。\nエレベーターをご利用ください。"})

    assert sent.url.path == f"/organize/sessions/{session_id}"
    assert flash_of(sent) == ja_plural("Sent to %(num)d registrant.", "Sent to %(num)d registrants.", 2)
    english, japanese = await sent_mail(db)
    assert (english["to_address"], japanese["to_address"]) == ("alex@example.com", "hanako@example.jp")
    assert japanese["subject"] == "【防災の対話の場】会場を第2会議室に変更します"
    assert english["subject"] == "[Disaster dialogue] 会場を第2会議室に変更します"
    for mail, locale in ((japanese, "ja"), (english, "en")):
        assert "3階の第2会議室で行います。\nエレベーターをご利用ください。" in mail["body"]
        assert "http://testserver.local/r/" in mail["body"]
    assert "主催者" in japanese["body"] and "organizer" in english["body"]
    assert entry is not None
    log = html(sent).select_one("#messages table")
    [row] = log.select("tbody tr")
    assert "会場を第2会議室に変更します" in text_of(row) and "2" in [text_of(td) for td in row.select("td")]
    assert "staff@kanazawa.example" in text_of(row)


@pytest.mark.parametrize("subject, body, field", [
    ("会場変更\nBcc: everyone@example.jp", "本文", "subject"),
    ("会場変更\r\nX-Spam: 1", "本文", "subject"),
    ("", "本文", "subject"),
    ("会場変更", "", "body"),
    ("あ" * 101, "本文", "subject"),
    ("会場変更", "あ" * 2001, "body"),
], ids=["line break", "CRLF and a header", "no subject", "no body", "long subject", "long body"])
async def test_a_message_needs_a_one_line_subject_and_a_body_within_limits(client, db, app, subject, body, field):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue)
    await register(app, session_id, "山田 花子", email="hanako@example.jp")

    answer = await client.post(f"/organize/sessions/{session_id}/messages", data={
        **await message_form(client, session_id), "subject": subject, "body": body})

    assert answer.status_code == 422
    assert html(answer).find(id=f"f-{field}")["aria-invalid"] == "true"
    assert await sent_mail(db) == []
    assert await db.fetch_all("select * from session_messages") == []


async def test_the_same_message_form_sent_twice_sends_once(client, db, app):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue)
    await register(app, session_id, "山田 花子", email="hanako@example.jp")
    form = {**await message_form(client, session_id), "subject": "雨天のお知らせ", "body": "雨天でも開催します。"}

    for _twice in range(2):
        await client.post(f"/organize/sessions/{session_id}/messages", data=form)

    assert len(await sent_mail(db)) == 1
    assert len(await db.fetch_all("select * from session_messages")) == 1


async def test_only_those_who_may_change_the_session_send_messages(client, db, app):
    owner, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, owner.org_id, venue)
    await register(app, session_id, "山田 花子", email="hanako@example.jp")
    await make_account(db, "fac@kanazawa.example", role="facilitator")
    await login(client, "fac@kanazawa.example")

    page = html(await client.get(f"/organize/sessions/{session_id}"))
    answer = await client.post(f"/organize/sessions/{session_id}/messages", data={
        "_csrf_token": csrf_from(await client.get(f"/organize/sessions/{session_id}")), "subject": "件名",
        "body": "本文"})

    assert page.select_one(f'form[action="/organize/sessions/{session_id}/messages"]') is None
    assert answer.status_code == 403
    assert await sent_mail(db) == []


# ---------------------------------------------------------------- in Chromium, with axe-core on every page changed

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu"]
AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
DESKTOP, TABLET, PHONE = {"width": 1366, "height": 900}, {"width": 820, "height": 1180}, {"width": 390, "height": 844}
# TAIWA_SCREENSHOTS=/some/folder keeps a full-page picture of each page checked, at the three widths
SCREENSHOTS = os.environ.get("TAIWA_SCREENSHOTS")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`taiwa serve --demo` as a real process on a free port."""
    with running_demo_server(tmp_path_factory.mktemp("organizer-week1") / "taiwa.sqlite3") as base:
        yield base


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        await launched.close()


async def signed_in(browser: Browser, base: str, viewport: dict[str, int], *, javascript: bool = True) -> Page:
    """A page of a new browser context, signed in as the demo organizer of Kanazawa."""
    context = await browser.new_context(viewport=viewport, java_script_enabled=javascript,  # type: ignore[arg-type]
                                        locale="ja-JP")  # a Japanese organizer (pages follow Accept-Language)
    await context.add_init_script(path=str(AXE))  # through DevTools: the CSP (no inline script) still holds
    page = await context.new_page()
    await page.goto(base + "/organize/login")
    await page.locator("#f-email").fill("organizer@kanazawa.example")
    await page.locator("#f-password").fill(DEMO_PASSWORD)
    await page.locator("#f-password").press("Enter")
    await expect(page).to_have_url(base + "/organize")
    return page


async def accessible(page: Page, name: str) -> None:
    """axe-core finds no WCAG 2.x A/AA violation on the page (and, if asked, it is pictured at three widths)."""
    results = await page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS)
    assert [f"{v['id']}: {[n['target'] for n in v['nodes']][:3]}" for v in results["violations"]] == [], name
    if SCREENSHOTS:
        viewport = page.viewport_size
        for size in (DESKTOP, TABLET, PHONE):
            await page.set_viewport_size(size)
            await page.screenshot(path=f"{SCREENSHOTS}/{name}-{size['width']}.png", full_page=True)
        await page.set_viewport_size(viewport)  # type: ignore[arg-type]


async def one_line(locator: Any) -> list[str]:
    """The texts of the elements that wrap onto a second line."""
    return await locator.evaluate_all("""nodes => nodes.filter(n => {
        const style = getComputedStyle(n), line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.75;
        return n.getBoundingClientRect().height > line * 1.5 + parseFloat(style.paddingTop) + parseFloat(style.paddingBottom) + 4;
    }).map(n => n.textContent.trim())""")


async def create_session_in_the_form(page: Page, base: str, title: str) -> int:
    """A hybrid session with sign language on request, made and published through the form; returns its id."""
    await page.goto(base + "/organize/sessions/new")
    await page.locator("#f-title").fill(title)
    await page.locator("#f-date").fill((datetime.now(TOKYO) + timedelta(days=21)).date().isoformat())
    await page.locator("#f-start_time").fill("10:00")
    await page.locator("#f-end_time").fill("12:00")
    await page.locator("#f-format").select_option("hybrid")
    await page.locator("#f-venue_id").select_option(index=1)
    await page.locator("#f-online_url").fill("https://meet.example.jp/week1")
    await page.locator("#f-capacity_in_person").fill("2")
    await page.locator("#f-capacity_online").fill("20")
    await page.locator("details.accommodations > summary").click()
    await page.locator("#f-acc_sign_language").select_option("on_request")
    await page.locator("button[value=publish]").click()
    await expect(page.locator(".flash[role=status]")).to_have_text("公開しました。")
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


async def registrants(base: str, session_id: int) -> None:
    """Two residents in person (one asks for sign language) and one online, through the public API."""
    people = [{"name": "田中 花子", "name_kana": "たなか はなこ", "email": "hanako@example.jp", "mode": "in_person",
               "accommodations": [{"code": "sign_language", "note": "前の席を希望"}], "consent_sensitive": True},
              {"name": "佐藤 一郎", "name_kana": "サトウ イチロウ", "email": "ichiro@example.jp", "mode": "in_person"},
              {"name": "画面 参加", "email": "online@example.jp", "mode": "online", "locale": "en"}]
    async with httpx.AsyncClient(base_url=base) as api:
        for person in people:
            answer = await api.post(f"/api/sessions/{session_id}/registrations", json=person)
            assert answer.status_code == 201, answer.text


@pytest.mark.browser
async def test_session_form_is_short_opens_by_keyboard_and_shows_only_what_is_on(browser: Browser, demo: str):
    page = await signed_in(browser, demo, DESKTOP)
    await page.goto(demo + "/organize/sessions/new")

    height = (await page.locator("form.session-form").bounding_box())["height"]  # type: ignore[index]
    print(f"\nnew-session form at 1366 px: {height:.0f} px (page {await page.evaluate('document.body.scrollHeight')} px)")
    assert height < 2500  # 7,524 px (a page of 7,910 px) before it was grouped
    await accessible(page, "session-form")

    deadline = page.locator("#f-acc_sign_language_deadline")
    summary = page.locator("details.accommodations > summary")
    await expect(deadline).to_be_hidden()
    await summary.focus()
    await page.keyboard.press("Enter")  # a <summary> opens from the keyboard
    await expect(page.locator("details.accommodations")).to_have_attribute("open", "")
    await expect(deadline).to_be_hidden()  # not offered: none of its details
    await expect(page.locator("details.accommodations .summary-state--off")).to_be_visible()
    await page.locator("#f-acc_sign_language").select_option("on_request")
    await expect(deadline).to_be_visible()
    await expect(page.locator("details.accommodations .summary-state--on")).to_be_visible()
    await page.locator("#f-acc_sign_language").focus()
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "f-acc_sign_language_deadline"
    childcare = page.locator("details.childcare > summary")
    await childcare.focus()
    await page.keyboard.press("Space")
    await expect(page.locator("#f-childcare_places")).to_be_hidden()
    await page.locator("#f-childcare_offered").check()
    await expect(page.locator("#f-childcare_places")).to_be_visible()
    await page.locator("#f-format").select_option("online")
    await expect(page.locator("#f-venue_id")).to_be_hidden()
    await accessible(page, "session-form-open")


@pytest.mark.browser
async def test_session_form_sections_and_options_work_without_javascript(browser: Browser, demo: str):
    page = await signed_in(browser, demo, TABLET, javascript=False)
    await page.goto(demo + "/organize/sessions/new")

    await page.locator("details.accommodations > summary").click()
    await expect(page.locator("#f-acc_captioning_deadline")).to_be_hidden()
    await page.locator("#f-acc_captioning").select_option("always")

    await expect(page.locator("#f-acc_captioning_deadline")).to_be_visible()
    await page.locator("details.repeat > summary").click()
    await expect(page.locator("#f-repeat_count")).to_be_hidden()
    await page.locator("#f-repeat").select_option("weekly")
    await expect(page.locator("#f-repeat_count")).to_be_visible()


@pytest.mark.browser
async def test_saves_say_so_once_finished_sessions_say_so_and_badges_stay_on_one_line(browser: Browser, demo: str):
    page = await signed_in(browser, demo, PHONE)
    await page.goto(demo + "/organize/sessions/new")
    await page.locator("#f-title").fill("下書きの確認")
    await page.locator("#f-date").fill((datetime.now(TOKYO) + timedelta(days=30)).date().isoformat())
    await page.locator("#f-start_time").fill("18:00")
    await page.locator("#f-end_time").fill("20:00")
    await page.locator("button[value=draft]").click()

    await expect(page.get_by_role("status")).to_have_text("保存しました。")
    await accessible(page, "session-saved")
    await page.reload()
    await expect(page.locator(".flash")).to_have_count(0)

    await page.goto(demo + "/organize")
    past = page.locator("#past-title ~ table .status")
    assert await past.count() >= 1
    assert "終了" in await past.all_inner_texts() and "公開中" not in await past.all_inner_texts()
    badges = page.locator(".status")
    assert await badges.count() >= 5
    assert await one_line(badges) == []
    assert set(await badges.evaluate_all("nodes => nodes.map(n => getComputedStyle(n).whiteSpace)")) == {"nowrap"}
    await accessible(page, "dashboard")


@pytest.mark.browser
async def test_door_roster_on_a_tablet(browser: Browser, demo: str):
    page = await signed_in(browser, demo, TABLET)
    session_id = await create_session_in_the_form(page, demo, "受付の練習")
    await registrants(demo, session_id)
    roster = f"{demo}/organize/sessions/{session_id}/registrations"
    await page.goto(roster)
    rows = page.locator("#roster-results tbody tr")
    count = page.locator("#door-count")

    assert (await page.locator("#roster").bounding_box())["y"] < (  # type: ignore[index]
        await page.locator("#requests").bounding_box())["y"]  # type: ignore[index]
    await expect(count).to_have_text("受付済み 0/2")
    await expect(rows).to_have_count(3)
    await expect(rows.filter(has_text="画面 参加").locator("button")).to_have_count(0)
    assert await one_line(page.locator("#roster button")) == []
    await accessible(page, "roster")

    await page.locator("#f-q").fill("さとう")  # kana in the other script; htmx swaps the roster
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("佐藤 一郎")
    assert page.url == roster
    await page.locator("#f-q").fill("")
    await expect(rows).to_have_count(3)

    sato = rows.filter(has_text="佐藤 一郎")
    await sato.get_by_role("button", name="受付する").click()
    await expect(sato.get_by_role("button", name="受付済み")).to_have_attribute("aria-pressed", "true")
    await expect(count).to_have_text("受付済み 1/2")
    await sato.get_by_role("button", name="受付済み").click()  # undoing asks first
    await expect(sato).to_contain_text("佐藤 一郎 さんの受付を取り消しますか？")
    await expect(count).to_have_text("受付済み 1/2")
    await accessible(page, "roster-undo")
    await sato.get_by_role("button", name="受付を取り消す").click()
    await expect(count).to_have_text("受付済み 0/2")
    await expect(sato.get_by_role("button", name="受付する")).to_be_visible()
    assert await one_line(page.locator("#roster button")) == []


@pytest.mark.browser
async def test_door_roster_without_javascript(browser: Browser, demo: str):
    page = await signed_in(browser, demo, TABLET)
    session_id = await create_session_in_the_form(page, demo, "受付の練習（JavaScript なし）")
    await registrants(demo, session_id)
    plain = await signed_in(browser, demo, TABLET, javascript=False)
    await plain.goto(f"{demo}/organize/sessions/{session_id}/registrations")
    rows = plain.locator("#roster-results tbody tr")

    await plain.locator("#f-q").fill("タナカ")
    await plain.locator("#f-q").press("Enter")
    await expect(rows).to_have_count(1)
    assert "q=" in plain.url
    tanaka = rows.filter(has_text="田中 花子")
    await tanaka.get_by_role("button", name="受付する").click()
    await expect(plain.locator("#door-count")).to_have_text("受付済み 1/2")
    await plain.locator("#roster-results tbody tr").filter(has_text="田中 花子").get_by_role("button", name="受付済み").click()
    confirm = plain.locator("#roster-results tbody tr").filter(has_text="田中 花子")
    await expect(confirm).to_contain_text("田中 花子 さんの受付を取り消しますか？")
    await expect(plain.locator("#door-count")).to_have_text("受付済み 1/2")
    await confirm.get_by_role("button", name="受付を取り消す").click()
    await expect(plain.locator("#door-count")).to_have_text("受付済み 0/2")


@pytest.mark.browser
async def test_to_arrange_and_a_message_to_registrants(browser: Browser, demo: str):
    page = await signed_in(browser, demo, DESKTOP)
    session_id = await create_session_in_the_form(page, demo, "手配と連絡の練習")
    await registrants(demo, session_id)

    await page.goto(demo + "/organize/arrange")
    item = page.locator("tbody tr").filter(has_text="手配と連絡の練習")
    await expect(item.locator(".days-left")).to_have_text(re.compile(r"あと\d+日"))
    await accessible(page, "arrange")
    exported = await page.request.get(demo + "/organize/arrange.csv?code=sign_language")
    assert exported.headers["cache-control"] == "no-store" and (await exported.body()).startswith(b"\xef\xbb\xbf")
    assert "前の席を希望" in (await exported.body()).decode("utf-8-sig")
    await item.get_by_role("link").click()
    await expect(page).to_have_url(f"{demo}/organize/sessions/{session_id}/registrations")
    await expect(page.locator("#arrange-title ~ ul .days-left")).to_have_text(re.compile(r"あと\d+日"))
    await page.locator('form[action^="/organize/requests/"] select').select_option("confirmed")
    await page.locator('form[action^="/organize/requests/"] button').click()
    await expect(page.get_by_role("status")).to_have_text("保存して通知しました。")
    await accessible(page, "registrations-answered")

    await page.goto(f"{demo}/organize/sessions/{session_id}")
    await expect(page.locator("#messages")).to_contain_text("メールアドレスのある申込者3人に送ります。")
    await accessible(page, "session-page")
    await page.locator("#f-subject").fill("会場を第2会議室に変更します")
    await page.locator("#f-body").fill("3階の第2会議室で行います。")
    await page.get_by_role("button", name="申込者に送る").click()
    await expect(page.get_by_role("status")).to_have_text("3人の申込者に送りました。")
    log = page.locator("#messages tbody tr")
    await expect(log).to_have_count(1)
    await expect(log).to_contain_text("会場を第2会議室に変更します")
    await accessible(page, "session-page-sent")


@pytest.mark.browser
async def test_the_other_staff_pages_that_changed_have_no_accessibility_violations(browser: Browser, demo: str):
    page = await signed_in(browser, demo, PHONE)
    await page.goto(demo + "/organize/venues/new")
    await accessible(page, "venue-form")
    await page.locator("#f-name").fill("確認用の公民館")
    await page.get_by_role("button", name="保存").click()
    await expect(page.get_by_role("status")).to_have_text("保存しました。")
    await accessible(page, "venues-saved")

    await page.goto(demo + "/organize/sessions/new")  # a series, made through the form
    await page.locator("#f-title").fill("月例の円卓会議")
    await page.locator("#f-date").fill((datetime.now(TOKYO) + timedelta(days=14)).date().isoformat())
    await page.locator("#f-start_time").fill("19:00")
    await page.locator("#f-end_time").fill("20:30")
    await page.locator("details.repeat > summary").click()
    await page.locator("#f-repeat").select_option("monthly_weekday")
    await page.locator("#f-repeat_count").fill("3")
    await page.locator("button[value=draft]").click()
    await expect(page.get_by_role("status")).to_have_text("保存しました。")
    assert "/organize/series/" in page.url
    await accessible(page, "series-saved")

    await page.goto(demo + "/organize")
    session = await page.locator('#upcoming-title ~ table a[href^="/organize/sessions/"]').first.get_attribute("href")
    for path, name in ((f"{session}/edit", "session-edit"), (f"{session}/move", "session-move"),
                       (f"{session}/cancel", "session-cancel"), (f"{session}/registrations/new", "staff-entry"),
                       ("/organize/import", "import")):
        await page.goto(demo + str(path))
        await expect(page.locator("h1")).to_be_visible()
        await accessible(page, name)
