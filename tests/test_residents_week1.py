"""Issue 15, residents: what a first week of real use hit, through the app in-process — a cancelled
registration's own page, one email one seat (the link mailed again, never shown), ages in years and
months, childcare on a hybrid session's form, the anti-bot message, children added on demand, places and
deadlines on the list, a map link, clean filter links, the language a browser asks for, labelled cells."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from server.core import i18n
from sessions import scheduling
from sessions.models import AccommodationOffer, VenueInput
from tests.harness import html, make_account, post_form
from tests.registration_helpers import (
    api_register,
    childcare,
    count,
    error_messages,
    ja,
    open_form,
    organizer,
    outbox,
    person,
    register_form,
    registered,
    settings,  # noqa: F401 - fixtures, used by name
    text_of,
    token_of,
    upcoming,
)
from tests.test_organizer import session_form
from tests.test_poll_pages import published_outcome


def words(page: Any) -> str:
    return re.sub(r"\s+", " ", html(page).get_text(" ", strip=True))


# ---------------------------------------------------------------- a cancelled registration's own page

async def test_cancelled_registration_page_says_cancelled_and_offers_no_calendar(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, capacity_in_person=1)
    await registered(client, session_id, **person(9))  # the only seat: the form's registrant waits
    token = token_of(await register_form(client, session_id))
    assert ja("The session is full. You are on the waitlist (number %(position)d).", position=1) in words(
        await client.get(f"/r/{token}?new=1"))

    cancelled = await post_form(client, f"/r/{token}/cancel", None, {})
    assert cancelled.status_code == 200 and cancelled.url.path == f"/r/{token}"

    # the bookmarked page, exactly as the confirmation sent them to it
    page = await client.get(f"/r/{token}?new=1")
    text = words(page)
    assert html(page).select_one("#registration-cancelled") is not None
    assert ja("Your registration has been cancelled.") in text
    assert not re.search(r"キャンセル待ち（?\s*0", text) and "number 0" not in text
    assert ja("The session is full. You are on the waitlist (number %(position)d).", position=0) not in text
    assert html(page).select_one(".calendar-links") is None, "a cancelled registration still offers カレンダーに追加"
    assert html(page).select_one(f"a[href='/r/{token}/cancel']") is None


async def test_confirmed_registration_still_offers_the_calendar(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue)
    token = token_of(await register_form(client, session_id))
    page = await client.get(f"/r/{token}?new=1")
    assert html(page).select_one(".calendar-links") is not None
    assert html(page).select_one("#registration-cancelled") is None


# ---------------------------------------------------------------- one email, one seat

async def test_same_email_twice_takes_no_second_seat_and_mails_the_link_instead(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue)
    token = token_of(await register_form(client, session_id, name="山田花子", email="hanako@example.jp"))

    # someone else (or she, again) types the same address, with other capitals and spaces
    again = await register_form(client, session_id, name="知らない人", email="  Hanako@Example.JP ")

    assert again.status_code == 409
    notice = html(again).select_one("#already-registered")
    assert notice is not None
    assert ja("This email address is already registered for this session.") in text_of(notice)
    # nothing of her registration reaches whoever typed the address: not her name, not her page
    assert "山田花子" not in again.text and token not in again.text and "/r/" not in again.text
    assert await count(db, "registrations") == 1
    mails = await outbox(db, "existing_link")
    assert [(m["to_address"]) for m in mails] == ["hanako@example.jp"]  # to her own address only
    body = (await db.fetch_one("select body from outbox where kind = 'existing_link'"))["body"]
    assert "/r/{token}" in body  # her link, filled in as the mail is sent


async def test_typing_someones_address_again_and_again_mails_them_a_few_times_at_most(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue)
    await register_form(client, session_id, email="target@example.jp")
    for n in range(6):
        again = await register_form(client, session_id, name=f"攻撃{n}", email="target@example.jp")
        assert again.status_code == 409
    assert len(await outbox(db, "existing_link")) == 3
    assert await count(db, "registrations") == 1


async def test_the_api_refuses_a_second_seat_for_one_email_without_giving_its_token(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue)
    first = await registered(client, session_id, **person(1))
    second = await api_register(client, session_id, name="別人", email="PERSON1@example.jp")
    assert second.status_code == 409
    assert first["token"] not in second.text and "token" not in second.json()
    assert second.json()["error"]["message"].startswith(ja("This email address is already registered for this session.")[:10])


async def test_a_cancelled_registration_frees_its_email_address(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue)
    token = token_of(await register_form(client, session_id))
    await post_form(client, f"/r/{token}/cancel", None, {})
    again = await register_form(client, session_id)
    assert again.url.path.startswith("/r/") and again.url.path != f"/r/{token}"


async def test_staff_register_a_family_sharing_one_address_only_when_they_say_so(client, db):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue)
    await registered(client, session_id, name="山田花子", email="yamada@example.jp")
    entry = f"/organize/sessions/{session_id}/registrations/new"
    family = {"name": "山田太郎", "email": "yamada@example.jp", "mode": "in_person", "locale": "ja"}

    refused = await post_form(client, entry, None, family)
    assert refused.status_code == 422
    assert any("すでに申込済み" in message for message in error_messages(refused))
    assert html(refused).select_one("#f-same_email_ok") is not None
    assert await count(db, "registrations") == 1

    accepted = await post_form(client, entry, None, {**family, "same_email_ok": "1"})
    assert accepted.status_code == 200 and accepted.url.path == f"/organize/sessions/{session_id}/registrations"
    assert await count(db, "registrations") == 2


# ---------------------------------------------------------------- ages in years and months

async def test_up_to_six_takes_every_six_year_old_and_refuses_in_years_and_months(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, childcare=childcare(min_age_months=6, max_age_months=72))

    page = await client.get(f"/sessions/{session_id}")
    assert ja("Ages %(min)s to %(max)s", min="6か月", max="6歳") in words(page)

    six_and_eleven = await register_form(client, session_id, child_1_years="6", child_1_months="11",
                                         consent_sensitive="1")
    assert six_and_eleven.url.path.startswith("/r/"), error_messages(six_and_eleven)

    seven = await register_form(client, session_id, email="other@example.jp", child_1_years="7", child_1_months="0",
                                consent_sensitive="1")
    message = text_of(html(seven).select_one("#err-children-0-age_months"))
    assert "6か月から6歳まで" in message and "72" not in message and "か月まで" not in message


async def test_english_ages_are_singular_for_one(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, childcare=childcare(min_age_months=12, max_age_months=72))
    i18n.current_locale.set("en")
    assert [i18n.format_age(m) for m in (1, 12, 13, 14, 25, 0)] == [
        "1 month", "1 year", "1 year 1 month", "1 year 2 months", "2 years 1 month", "0 months"]

    form = html(await client.get(f"/sessions/{session_id}/register?lang=en"))
    options = [text_of(o) for o in form.select("#f-child_1_years option, #f-child_1_months option")]
    assert "1 year" in options and "1 month" in options and "2 years" in options
    assert not any(re.fullmatch(r"1 (years|months)", o) for o in options)
    assert "Ages 1 year to 6 years" in words(await client.get(f"/sessions/{session_id}?lang=en"))

    refused = await client.post(f"/api/sessions/{session_id}/registrations", headers={"Accept-Language": "en"},
                                json={**person(1), "children": [{"age_months": 7}], "consent_sensitive": True})
    assert refused.json()["error"]["fields"]["children.0.age_months"] == \
        "Childcare here is for children aged 1 year to 6 years."


# ---------------------------------------------------------------- a hybrid session: childcare is in person

async def test_hybrid_form_says_before_sending_that_childcare_is_for_in_person(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, format="hybrid", capacity_online=10,
                                online_url="https://meet.example.jp/taiwa", childcare=childcare())
    form = html(await client.get(f"/sessions/{session_id}/register"))
    hint = form.select_one("#childcare-in-person")
    assert hint is not None and ja("Childcare is only for people taking part in person: choose \"In person\" above to "
                                   "add children.") == text_of(hint)
    online = form.select_one("#f-mode-online")
    described = form.select_one(f"#{online['aria-describedby']}")
    assert ja("Childcare is only for people taking part in person.") == text_of(described)

    page = await register_form(client, session_id, mode="online", child_1_years="3", consent_sensitive="1")
    assert page.status_code == 422 and await count(db, "registrations") == 0


# ---------------------------------------------------------------- the anti-bot minimum time

@pytest.mark.parametrize("settings", [{"form_min_seconds": 60}], indirect=True)
async def test_a_form_sent_too_fast_says_to_wait_and_keeps_what_was_typed(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue)
    page = await register_form(client, session_id, name="自動入力 太郎", email="auto@example.jp")
    assert page.status_code == 400
    summary = text_of(html(page).select_one(".error-summary"))
    assert "数秒待って" in summary and "もう一度" in summary
    assert html(page).select_one("#f-name")["value"] == "自動入力 太郎"
    assert html(page).select_one("#f-email")["value"] == "auto@example.jp"
    assert await count(db, "registrations") == 0


@pytest.mark.parametrize("settings", [{"form_min_seconds": 60}], indirect=True)
async def test_a_bot_filling_the_honeypot_is_not_told_to_wait(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue)
    page = await register_form(client, session_id, website="http://spam.example")
    assert page.status_code == 400 and "数秒待って" not in text_of(html(page).select_one(".error-summary"))


# ---------------------------------------------------------------- children on demand, without JavaScript

async def test_one_child_block_by_default_and_more_on_demand_without_javascript(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, childcare=childcare())
    data = await open_form(client, session_id)
    form = html(await client.get(f"/sessions/{session_id}/register"))
    assert len(form.select("fieldset.child")) == 1
    assert form.select_one("#add-child") is not None

    more = await client.post(f"/sessions/{session_id}/register", data={
        **data, **person(1), "child_1_years": "2", "form_action": "add_child"})
    assert more.status_code == 200 and await count(db, "registrations") == 0
    page = html(more)
    assert len(page.select("fieldset.child")) == 2
    assert page.select_one("#f-name")["value"] == "参加者1"
    assert page.select_one("#f-child_1_years option[selected]")["value"] == "2"

    values = {**data, **person(1), "children_shown": "3", "child_1_years": "1", "child_2_years": "3",
              "child_3_years": "5", "child_3_notes": "卵", "form_action": "remove_child_2"}
    fewer = html(await client.post(f"/sessions/{session_id}/register", data=values))
    assert len(fewer.select("fieldset.child")) == 2
    assert [o["value"] for o in fewer.select("fieldset.child select[name$=_years] option[selected]")] == ["1", "5"]
    assert fewer.select_one("#f-child_2_notes")["value"] == "卵"

    # then sent for real: both children registered
    send = {key: value for key, value in values.items() if key != "form_action"}
    send.update(children_shown="2", child_1_years="1", child_2_years="5", child_3_years="", child_3_notes="",
                child_2_notes="卵", consent_sensitive="1")
    done = await client.post(f"/sessions/{session_id}/register", data=send)
    assert done.url.path.startswith("/r/")
    assert await count(db, "registration_children") == 2


async def test_child_blocks_stop_at_the_limit_and_odd_counts_are_clamped(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, childcare=childcare())
    data = await open_form(client, session_id)
    for shown, action in (("5", "add_child"), ("999999", "add_child"), ("-3", "add_child"), ("x", "remove_child_9")):
        page = await client.post(f"/sessions/{session_id}/register", data={**data, "children_shown": shown,
                                                                           "form_action": action})
        assert page.status_code in (200, 422), page.status_code
        blocks = len(html(page).select("fieldset.child"))
        assert 1 <= blocks <= 5
    full = html(await client.post(f"/sessions/{session_id}/register", data={**data, "children_shown": "5",
                                                                            "form_action": "add_child"}))
    assert len(full.select("fieldset.child")) == 5 and full.select_one("#add-child") is None
    assert await count(db, "registrations") == 0


# ---------------------------------------------------------------- the list, the session page

async def test_cards_show_places_left_and_the_request_deadline(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, capacity_in_person=12, childcare=childcare(places=4))
    await registered(client, session_id, **person(1), children=[{"age_months": 30}], consent_sensitive=True)
    card = html(await client.get("/sessions")).select_one(f"#session-{session_id}-title").find_parent("article")
    places = text_of(card.select_one(".session-card__places"))
    assert ja("In person: %(left)d of %(total)d", left=11, total=12) in places
    assert ja("Childcare: %(left)d of %(total)d", left=3, total=4) in places
    assert card.select_one(".session-card__deadline") is not None

    page = await client.get(f"/sessions/{session_id}")
    assert ja("Childcare places left: %(left)d of %(total)d", left=3, total=4) in words(page)


async def test_session_page_links_the_venue_on_a_map(client, db):
    account = await make_account(db, "staff@kanazawa.example", org="kanazawa")
    venue = await scheduling.create_venue(db, account.org_id, VenueInput(
        name="金沢市民芸術村", address="石川県金沢市大和町1-1 & <b>"))
    session_id = await upcoming(db, account.org_id, venue)
    link = html(await client.get(f"/sessions/{session_id}")).select_one("a.map-link")
    url = urlsplit(link["href"])
    assert (url.scheme, url.netloc, url.path) == ("https", "www.openstreetmap.org", "/search")
    assert dict(parse_qsl(url.query)) == {"query": "石川県金沢市大和町1-1 & <b>"}
    assert "noopener" in link["rel"]


# ---------------------------------------------------------------- shared filter links

async def test_filter_addresses_with_empty_parameters_redirect_to_the_clean_one(client):
    answer = await client.get("/sessions?theme=&q=&childcare=1&format=", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/sessions?childcare=1"
    bare = await client.get("/sessions?q=%20&from=", follow_redirects=False)
    assert bare.status_code == 303 and bare.headers["location"] == "/sessions"
    clean = await client.get("/sessions?childcare=1", follow_redirects=False)
    assert clean.status_code == 200


async def test_htmx_filtering_puts_the_clean_address_in_the_location_bar(client):
    answer = await client.get("/sessions?q=&childcare=1", headers={"HX-Request": "true",
                                                                   "HX-Target": "session-results"})
    assert answer.status_code == 200 and answer.headers["hx-push-url"] == "/sessions?childcare=1"


async def test_links_on_the_list_carry_no_empty_parameters(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    await upcoming(db, account.org_id, venue, childcare=childcare())
    page = html(await client.get("/sessions?childcare=1&accommodation=sign_language"))
    hrefs = [a["href"] for a in page.select("a[href*='?']")]
    assert hrefs
    for href in hrefs:
        assert all(value for _key, value in parse_qsl(urlsplit(href).query, keep_blank_values=True)), href
    chip = page.select_one("a.chip--on")
    assert chip is not None and chip["href"] in ("/sessions?accommodation=sign_language", "/sessions?childcare=1")


# ---------------------------------------------------------------- the language a browser asks for

async def test_a_browser_asking_for_english_gets_english_first_and_choices_still_win(client):
    english = await client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9,ja;q=0.5"})
    assert html(english).html["lang"] == "en"
    vary = {item.strip().lower() for item in english.headers["vary"].split(",")}
    assert {"accept-language", "cookie"} <= vary

    asked = await client.get("/?lang=ja", headers={"Accept-Language": "en"})
    assert html(asked).html["lang"] == "ja"
    client.cookies.set("taiwa_lang", "ja")
    remembered = await client.get("/", headers={"Accept-Language": "en"})
    assert html(remembered).html["lang"] == "ja"
    client.cookies.clear()
    plain = await client.get("/", headers={"Accept-Language": "fr-FR,de;q=0.8"})
    assert html(plain).html["lang"] == "ja"


# ---------------------------------------------------------------- labelled cells for stacked tables

async def test_support_table_cells_carry_their_column_labels(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    offers = [AccommodationOffer(code="sign_language", mode="always"),
              AccommodationOffer(code="captioning", mode="on_request")]
    session_id = await upcoming(db, account.org_id, venue, accommodations=offers)
    table = html(await client.get(f"/sessions/{session_id}")).select_one("table.offers")
    headers = [text_of(th) for th in table.select("thead th")]
    for row in table.select("tbody tr"):
        assert [cell.get("data-label") for cell in row.select("th, td")] == headers


async def test_outcome_poll_results_cells_carry_their_column_labels(app, client, db):
    _board, outcome = await published_outcome(app, client, db)
    table = html(outcome).select_one("table.poll-table")
    headers = [text_of(th) for th in table.select("thead th")]
    rows = table.select("tbody tr")
    assert rows
    for row in rows:
        assert [cell.get("data-label") for cell in row.select("th, td")] == headers


# ---------------------------------------------------------------- themes in English

async def test_themes_written_in_english_are_shown_on_english_pages(client, db):
    _account, venue = await organizer(client, db)
    form = session_form(venue, themes="子育て、防災", themes_en="child-rearing, disaster prevention")
    created = await post_form(client, "/organize/sessions/new", None, form)
    assert created.status_code == 200 and created.url.path.startswith("/organize/sessions/"), created.text[:300]
    session_id = int(created.url.path.rsplit("/", 1)[1])

    english = html(await client.get(f"/sessions/{session_id}?lang=en")).select_one("dd.themes")
    japanese = html(await client.get(f"/sessions/{session_id}?lang=ja")).select_one("dd.themes")
    assert text_of(english) == "child-rearing, disaster prevention"
    assert text_of(japanese) == "子育て、防災"
    edit = html(await client.get(f"/organize/sessions/{session_id}/edit"))
    assert edit.select_one("#f-themes_en")["value"] == "child-rearing, disaster prevention"
    api = (await client.get(f"/api/sessions/{session_id}")).json()
    assert api["themes_en"] == ["child-rearing", "disaster prevention"]


async def test_without_english_themes_english_pages_show_the_japanese_ones(client, db):
    account, venue = await organizer(client, db, signed_in=False)
    session_id = await upcoming(db, account.org_id, venue, themes=["まちづくり"])
    assert text_of(html(await client.get(f"/sessions/{session_id}?lang=en")).select_one("dd.themes")) == "まちづくり"


def assert_cells_labelled(table: Any) -> None:
    """Each value cell of a table names its column (data-label), so a stacked table keeps its labels."""
    headers = [text_of(th) for th in table.select("thead th")]
    rows = table.select("tbody tr")
    assert rows, "the table has no rows"
    for row in rows:
        for index, cell in enumerate(row.find_all(["th", "td"], recursive=False)):
            if cell.name == "td":
                assert cell.get("data-label") == headers[index], (headers, str(row)[:300])


async def test_staff_tables_label_their_cells_too(client, db):
    account, venue = await organizer(client, db)
    session_id = await upcoming(db, account.org_id, venue, childcare=childcare(),
                                accommodations=[AccommodationOffer(code="sign_language", mode="on_request")])
    await registered(client, session_id, **person(1), children=[{"age_months": 30}],
                     accommodations=[{"code": "sign_language"}], consent_sensitive=True)
    for path in ("/organize", f"/organize/sessions/{session_id}", f"/organize/sessions/{session_id}/registrations",
                 "/organize/arrange", "/organize/venues"):
        page = await client.get(path)
        assert page.status_code == 200, path
        tables = html(page).select("table.data-table")
        assert tables, path
        for table in tables:
            if table.select("tbody tr"):
                assert_cells_labelled(table)
