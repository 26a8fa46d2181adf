"""What a resident sees: the upcoming list, filters (with and without htmx), a session page, languages."""

from __future__ import annotations

from datetime import timedelta

from sessions import scheduling, store
from sessions.models import AccommodationOffer, ChildcareOffer
from tests.harness import html, make_account, make_session, make_venue, next_saturday


async def seed(db):
    """Two organizations with a spread of sessions a resident could filter."""
    city = await make_account(db, "staff@kanazawa.example", org="kanazawa")
    council = await make_account(db, "chair@council.example", org="nishi-council")
    hall = await make_venue(db, city.org_id, "金沢市民交流センター", address="金沢市広坂1-1",
                            features=["step_free", "elevator", "nursing_room"])
    saturday = next_saturday(weeks=2)
    ids = {
        "childcare": await make_session(
            db, city.org_id, hall, title="子育て世代の対話の場", starts_at=saturday, themes=["子育て"],
            childcare=ChildcareOffer(places=10, min_age_months=6, max_age_months=72),
            accommodations=[AccommodationOffer(code="sign_language", mode="on_request"),
                            AccommodationOffer(code="captioning", mode="always")]),
        "online": await make_session(
            db, city.org_id, None, title="オンライン意見交換会 公共交通のこれから", kind="briefing", format="online",
            online_url="https://meet.example.jp/secret-room", capacity_in_person=0, capacity_online=100,
            starts_at=saturday + timedelta(days=3, hours=9)),
        "council": await make_session(
            db, council.org_id, None, title="西地区 円卓会議", kind="round_table", format="online",
            online_url="https://meet.example.jp/council", capacity_in_person=0, capacity_online=40,
            starts_at=saturday + timedelta(days=30)),
        "draft": await make_session(db, city.org_id, hall, title="非公開の下書き", status="draft"),
    }
    return city, council, ids


def titles(response) -> list[str]:
    return [a.get_text(strip=True) for a in html(response).select(".session-card__title a")]


async def test_home_lists_upcoming_sessions_in_japanese_with_dates_and_badges(client, db):
    await seed(db)
    page = await client.get("/")
    assert page.status_code == 200
    doc = html(page)
    assert doc.html["lang"] == "ja"
    card = next(c for c in doc.select(".session-card") if "子育て世代" in c.get_text())
    when = card.find("time").get_text()
    assert "年" in when and "月" in when and "日(土)" in when and "10:00〜12:00" in when
    badges = [b.get_text(strip=True) for b in card.select(".badge")]
    assert "託児" in badges and "手話通訳" in badges
    assert "非公開の下書き" not in page.text


async def test_language_switch_is_remembered_and_can_switch_back(client, db):
    await seed(db)
    switched = await client.get("/lang/en?next=/sessions", follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/sessions"
    page = await client.get("/sessions")
    assert html(page).html["lang"] == "en"
    assert "Find a session" in html(page).find("h1").get_text()
    card = next(c for c in html(page).select(".session-card") if "子育て世代" in c.get_text())
    assert "Childcare" in [b.get_text(strip=True) for b in card.select(".badge")]
    await client.get("/lang/ja?next=/")
    assert html(await client.get("/sessions")).html["lang"] == "ja"


async def test_language_switch_refuses_to_redirect_off_site(client):
    response = await client.get("/lang/en?next=//evil.example/", follow_redirects=False)
    assert response.headers["location"] == "/"


async def test_reiwa_years_on_request(client, db):
    _city, _council, ids = await seed(db)
    await client.get("/era/wareki?next=/")
    page = await client.get(f"/sessions/{ids['childcare']}")
    assert html(page).find("time").get_text().startswith("令和")


async def test_filter_by_childcare_keeps_only_sessions_with_childcare(client, db):
    await seed(db)
    page = await client.get("/sessions?childcare=1")
    assert titles(page) == ["子育て世代の対話の場"]
    assert html(page).find(id="f-childcare").has_attr("checked")


async def test_filters_by_format_kind_organization_and_accommodation(client, db):
    await seed(db)
    assert set(titles(await client.get("/sessions?format=online"))) == {
        "オンライン意見交換会 公共交通のこれから", "西地区 円卓会議"}
    assert titles(await client.get("/sessions?kind=round_table")) == ["西地区 円卓会議"]
    assert titles(await client.get("/sessions?org=nishi-council")) == ["西地区 円卓会議"]
    assert titles(await client.get("/sessions?accommodation=captioning")) == ["子育て世代の対話の場"]


async def test_free_text_finds_japanese_substrings_short_and_long(client, db):
    await seed(db)
    assert titles(await client.get("/sessions", params={"q": "公共交通"})) == ["オンライン意見交換会 公共交通のこれから"]
    assert titles(await client.get("/sessions", params={"q": "対話"})) == ["子育て世代の対話の場"]
    assert titles(await client.get("/sessions", params={"q": "円"})) == ["西地区 円卓会議"]
    # full-width and case variants are folded (NFKC)
    assert titles(await client.get("/sessions", params={"q": "ｏｎｌｉｎｅ"})) != []
    assert titles(await client.get("/sessions", params={"q": "存在しない話題"})) == []


async def test_date_range_filter_and_bad_date_message(client, db):
    await seed(db)
    first = next_saturday(weeks=2).date()
    page = await client.get("/sessions", params={"from": first.isoformat(), "to": first.isoformat()})
    assert titles(page) == ["子育て世代の対話の場"]
    bad = await client.get("/sessions", params={"from": "2026-13-45"})
    assert bad.status_code == 200
    assert "2026-11-23" in html(bad).select_one(".field-error").get_text()


async def test_htmx_filter_returns_only_the_results_fragment(client, db):
    await seed(db)
    response = await client.get("/sessions?childcare=1",
                                headers={"HX-Request": "true", "HX-Target": "session-results"})
    doc = html(response)
    assert doc.find("html") is None and doc.find("form") is None
    assert doc.find(id="session-results") is not None
    assert doc.find(id="result-count")["hx-swap-oob"] == "innerHTML"
    assert [a.get_text(strip=True) for a in doc.select(".session-card__title a")] == ["子育て世代の対話の場"]


async def test_filter_form_works_without_javascript(client):
    doc = html(await client.get("/sessions"))
    form = doc.find("form", class_="filters")
    assert form["method"] == "get" and form["action"] == "/sessions"
    assert form.find("button", attrs={"type": "submit"}) is not None
    assert {field["name"] for field in form.select("input[name], select[name]")} >= {
        "q", "from", "to", "kind", "format", "accommodation", "childcare", "org"}


async def test_session_page_shows_what_a_resident_needs(client, db):
    _city, _council, ids = await seed(db)
    page = await client.get(f"/sessions/{ids['childcare']}")
    text = html(page).get_text(" ")
    assert "金沢市民交流センター" in text and "金沢市広坂1-1" in text
    assert "段差なし" in text or "Step-free" in text
    assert "30" in text  # places left
    assert "6か月" in text and "6歳" in text  # childcare ages
    offers = {row.th.get_text(strip=True): row.find_all("td")[0].get_text(strip=True)
              for row in html(page).select("table.offers tbody tr")}
    assert "手話通訳" in offers and "要約筆記" in offers
    deadline = (next_saturday(weeks=2) - timedelta(days=7))
    assert f"{deadline.month}月{deadline.day}日" in offers["手話通訳"]


async def test_online_link_is_never_shown_publicly(client, db):
    _city, _council, ids = await seed(db)
    page = await client.get(f"/sessions/{ids['online']}")
    assert page.status_code == 200
    assert "secret-room" not in page.text
    assert "secret-room" not in (await client.get("/sessions?format=online")).text


async def test_drafts_are_not_found_by_the_public(client, db):
    _city, _council, ids = await seed(db)
    response = await client.get(f"/sessions/{ids['draft']}")
    assert response.status_code == 404
    assert "見つかりません" in html(response).find("h1").get_text() or response.status_code == 404
    assert "Traceback" not in response.text


async def test_cancelled_session_stays_visible_with_its_reason(client, db):
    _city, _council, ids = await seed(db)
    session = await store.get_session(db, ids["childcare"])
    await scheduling.cancel_session(db, session, "台風接近のため中止します")
    page = await client.get(f"/sessions/{ids['childcare']}")
    assert "台風接近のため中止します" in html(page).select_one(".notice--cancelled").get_text()


async def test_security_headers_on_every_page(client):
    response = await client.get("/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"]


async def test_no_inline_scripts_or_styles_in_pages(client, db):
    _city, _council, ids = await seed(db)
    for path in ["/", "/sessions", f"/sessions/{ids['childcare']}", "/organize/login"]:
        doc = html(await client.get(path))
        assert all(script.get("src") for script in doc.find_all("script")), path
        assert doc.find("style") is None and doc.find(attrs={"style": True}) is None, path


async def test_unknown_page_answers_404_in_the_readers_language(client):
    japanese = await client.get("/no-such-page")
    assert japanese.status_code == 404 and html(japanese).html["lang"] == "ja"
    english = await client.get("/no-such-page?lang=en")
    assert "Page not found" in html(english).find("h1").get_text()
