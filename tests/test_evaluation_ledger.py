"""Evaluation free text into the ledger (論点整理): on the results page the organizer sends the answers
they ticked to the session's theme as opinions (source 評価, the session's day), without retyping.
Through the in-process client: the opinions on the theme's page and, grouped under an issue, on the
public /themes/{slug}; sending again keeps one; other organizations and facilitators are refused; a
session without a theme shows where to choose one; odd Unicode and line breaks arrive intact and
escaped. In Chromium against a real server: axe-core finds nothing on the results page, with and
without a theme. Screenshots go to /tmp/shots-evalledger/."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from ledger import themes as ledger_themes
from ledger.models import ThemeInput
from sessions import evaluation_actions
from sessions.evaluation import Respondent, standard_questions
from sessions.timestamps import from_db, now_utc, to_db
from tests.evaluation_helpers import answer, ended_session
from tests.harness import (
    ServerProcess,
    axe_violations,
    csrf_from,
    html,
    in_own_loop,
    login,
    make_account,
    make_session,
    make_venue,
    open_database,
    signed_in_page,
)
from tests.registration_helpers import settings, text_of  # noqa: F401 - settings: a fixture

ODD = "一行目：バス停に屋根を\n二行目：<b>太字</b> & \"引用\" 𠮷野家 👩‍👧 ｶﾀｶﾅ\n\n三行目 ①"
SHOTS = Path("/tmp/shots-evalledger")


async def with_theme(client: Any, world: Any, slug: str = "koukyou-koutsuu", title: str = "公共交通の見直し") -> dict:
    theme = (await client.post("/api/themes", json={"title": title, "slug": slug}, headers=world.auth)).json()
    patched = await client.patch(f"/api/sessions/{world.session_id}", json={"theme_id": theme["id"]},
                                 headers=world.auth)
    assert patched.status_code == 200, patched.text
    return theme


async def answered(client: Any, world: Any, texts: list[str]) -> None:
    for text in texts:
        sent = await answer(client, world, {world.qid("satisfaction"): 4, world.qid("good_points"): text})
        assert sent.status_code == 201, sent.text


def results_of(world: Any) -> str:
    return f"/organize/sessions/{world.session_id}/evaluation/results"


def send_of(world: Any) -> str:
    return f"/organize/sessions/{world.session_id}/evaluation/to-theme"


def box_ids(page: Any) -> dict[str, str]:
    """The free-text answers on the results page: text shown -> checkbox value."""
    doc = html(page)
    return {doc.select_one(f"label[for='{box['id']}']").get_text(): box["value"]
            for box in doc.select(".text-choices input[name=text]")}


def flash(page: Any) -> str:
    found = html(page).select_one(".flash[role=status]")
    return text_of(found) if found else ""


async def test_ticked_answers_become_opinions_of_the_theme_and_reach_the_public_page(client, db):
    world = await ended_session(client, db, people=0)
    theme = await with_theme(client, world)
    await answered(client, world, ["駅までのバスを増やしてほしい", ODD, "休憩がほしかった"])
    await login(client, world.organizer.email)
    page = await client.get(results_of(world))
    doc = html(page)
    action = doc.select_one("#to-theme")
    assert text_of(action.select_one("h2")) == "論点整理のテーマへ送る"
    button = action.select_one("button[type=submit]")
    assert text_of(button) == "テーマ「公共交通の見直し」へ送る" and button["formaction"] == send_of(world)
    assert button.find_parent("form")["action"].endswith("/evaluation/publish"), "the same ticks as publishing"
    boxes = box_ids(page)
    assert set(boxes) == {"駅までのバスを増やしてほしい", ODD, "休憩がほしかった"}, "line breaks kept on the page"
    assert "<b>太字</b>" not in page.text and "&lt;b&gt;太字&lt;/b&gt;" in page.text

    sent = await client.post(send_of(world), data={
        "_csrf_token": csrf_from(page), "text": [boxes["駅までのバスを増やしてほしい"], boxes[ODD]], "publish": "0"})
    assert sent.status_code == 200 and sent.url.path == results_of(world)
    assert flash(sent) == "2件の回答をテーマに意見として送りました。"
    rows = await db.fetch_all("select text, source, session_id, received_on from opinions where theme_id = ?",
                              (theme["id"],))
    starts = (await db.fetch_one("select starts_at from sessions where id = ?", (world.session_id,)))[0]
    day = from_db(starts).astimezone(ledger_themes.TOKYO).date().isoformat()  # the session's day in Kanazawa
    assert sorted(tuple(r) for r in rows) == sorted([
        ("駅までのバスを増やしてほしい", "evaluation", world.session_id, day), (ODD, "evaluation", world.session_id, day)])
    assert (await db.fetch_one("select results_published from evaluations"))[0] == 0, "sending publishes nothing"

    # sending again keeps one, and says so
    again = await client.post(send_of(world), data={
        "_csrf_token": csrf_from(sent), "text": list(boxes.values())})
    assert flash(again) == "1件の回答をテーマに意見として送りました。 2件はすでに送られていたため、1件のまま残しています。"
    assert (await db.fetch_one("select count(*) from opinions where theme_id = ?", (theme["id"],)))[0] == 3
    old = await client.post(send_of(world), data={"_csrf_token": csrf_from(again), "text": boxes[ODD]})
    assert flash(old) == "1件はすでに送られていたため、1件のまま残しています。"
    nothing = await client.post(send_of(world), data={"_csrf_token": csrf_from(again)})
    assert flash(nothing) == "何も送っていません。先に送る回答にチェックを入れてください。"
    english = await client.get(results_of(world) + "?lang=en")
    assert text_of(html(english).select_one("#to-theme button")) == "Send to the theme “公共交通の見直し”"
    moved = await client.post(send_of(world), data={"_csrf_token": csrf_from(english), "text": boxes[ODD]},
                              follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == results_of(world)
    assert flash(await client.get(results_of(world) + "?lang=en")) == "1 was there already and is kept once."

    # the theme's organizer page lists them as opinions from the evaluation, escaped, lines intact
    organizer = await client.get(f"/organize/themes/{theme['id']}")
    labels = {label.contents[0]: text_of(label.select_one(".meta"))
              for label in html(organizer).select("#opinions label[for^=op-]")}
    assert labels[ODD + " "].startswith("(アンケート（評価） ·"), labels
    assert "<b>太字</b>" not in organizer.text
    ids = [box["value"] for box in html(organizer).select("#opinions input[name=opinion]")]
    grouped = await client.post(f"/organize/themes/{theme['id']}/issues", data={
        "_csrf_token": csrf_from(organizer), "issue_title": "バス路線の見直し", "opinion": ids})
    assert grouped.status_code == 200, grouped.text

    public = await client.get(f"/themes/{theme['slug']}")
    assert public.status_code == 200 and "<b>太字</b>" not in public.text
    odd = next(li for li in html(public).select("li.opinion") if "バス停に屋根を" in li.get_text())
    paragraphs = odd.select(".opinion__text p")  # the blank line parts paragraphs, a line break stays a line break
    assert [[str(part) for part in p.contents] for p in paragraphs] == [
        ["一行目：バス停に屋根を", "<br/>", '二行目：<b>太字</b> & "引用" 𠮷野家 👩\u200d👧 ｶﾀｶﾅ'], ["三行目 ①"]]
    assert "二行目：&lt;b&gt;太字&lt;/b&gt; &amp;" in public.text
    assert text_of(odd.select_one(".meta")).startswith("アンケート（評価）")
    assert "休憩がほしかった" in public.text  # sent the second time, so it is an opinion too


async def test_a_session_without_a_theme_shows_where_to_choose_one(client, db):
    world = await ended_session(client, db, people=0)
    await answered(client, world, ["資料が読みやすかった"])
    await login(client, world.organizer.email)
    page = await client.get(results_of(world))
    doc = html(page)
    assert doc.select_one("button[formaction]") is None
    hint = doc.select_one("#to-theme")
    assert "どのテーマにも属していない" in text_of(hint)
    assert hint.select_one("a")["href"] == "/organize/themes" and text_of(hint.select_one("a")) == "「論点整理」でテーマを選ぶ"
    english = html(await client.get(results_of(world) + "?lang=en")).select_one("#to-theme")
    assert text_of(english.select_one("a")) == "Choose a theme under “Issues and responses”"
    sent = await client.post(send_of(world), data={"_csrf_token": csrf_from(page), "text": list(box_ids(page).values())})
    assert sent.status_code == 200 and sent.url.path == results_of(world)
    assert (await db.fetch_one("select count(*) from opinions"))[0] == 0


async def test_only_the_sessions_organizers_may_send_and_only_its_own_answers(client, db):
    world = await ended_session(client, db, people=0)
    theme = await with_theme(client, world)
    await answered(client, world, ["駐輪場がほしい"])
    other = await ended_session(client, db, email="staff@toyama.example", org="toyama", people=0)
    await with_theme(client, other, slug="toyama-bus", title="富山のバス")
    await answered(client, other, ["富山の回答"])
    await make_account(db, "fac@kanazawa.example", role="facilitator")

    await login(client, "staff@toyama.example")
    own = await client.get(results_of(other))
    foreign_id = box_ids(own)["富山の回答"]
    refused = await client.post(send_of(world), data={"_csrf_token": csrf_from(own), "text": foreign_id})
    assert refused.status_code == 404
    await client.post("/organize/logout", data={"_csrf_token": csrf_from(own)})

    await login(client, "fac@kanazawa.example")
    page = await client.get("/organize")
    refused = await client.post(send_of(world), data={"_csrf_token": csrf_from(page), "text": "1"})
    assert refused.status_code == 403
    await client.post("/organize/logout", data={"_csrf_token": csrf_from(page)})
    assert (await db.fetch_one("select count(*) from opinions"))[0] == 0

    # another evaluation's answer id, junk and huge numbers are not sent into this theme
    await login(client, world.organizer.email)
    page = await client.get(results_of(world))
    sent = await client.post(send_of(world), data={"_csrf_token": csrf_from(page), "text": [
        foreign_id, "abc", "9" * 40, "-1", "１２３", box_ids(page)["駐輪場がほしい"]]})
    assert flash(sent) == "1件の回答をテーマに意見として送りました。"
    assert [tuple(r) for r in await db.fetch_all("select theme_id, text from opinions")] == [(theme["id"], "駐輪場がほしい")]


# ---------------------------------------------------------------- in Chromium

ORGANIZER = "staff@kanazawa.example"


async def _seed(db_path: Path) -> dict[str, Any]:
    async with open_database(db_path) as db:
        organizer = await make_account(db, ORGANIZER)
        venue = await make_venue(db, organizer.org_id)
        ends = now_utc() - timedelta(minutes=10)
        ids = []
        for title in ("バス路線を考える対話", "テーマのない対話"):
            session_id = await make_session(db, organizer.org_id, venue, title=title)
            async with db.transaction() as conn:
                await conn.execute("update sessions set starts_at = ?, ends_at = ? where id = ?",
                                   (to_db(ends - timedelta(hours=2)), to_db(ends), session_id))
            evaluation = await evaluation_actions.attach(db, session_id, ends, standard_questions(),
                                                         opens_at=now_utc(), closes_at=None, now=now_utc())
            good = next(q for q in evaluation.questions if q.bank_key == "good_points")
            for text in ("乗り継ぎの説明が分かりやすかった", ODD):
                await evaluation_actions.answer(db, evaluation, {str(good.id): text}, now=now_utc(), source="room",
                                                respondent=Respondent())
            ids.append(session_id)
        theme = await ledger_themes.create_theme(db, organizer.org_id, ThemeInput(title="公共交通の見直し",
                                                                                  slug="koukyou"))
        await ledger_themes.attach_session(db, theme, ids[0])
    return {"with": ids[0], "without": ids[1], "theme": theme.id}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("evaluation-ledger")
    seeded = in_own_loop(_seed(folder / "taiwa.sqlite3"))
    with ServerProcess(folder / "taiwa.sqlite3", folder / "server.log", secret="evaluation-ledger-secret-0123456789",
                       env={"TAIWA_RATE_LIMITS": "off"}) as server:
        yield server.base, seeded, folder / "taiwa.sqlite3"


async def signed_in(browser: Any, base: str, options: dict[str, Any]) -> Page:
    return await signed_in_page(browser, base, ORGANIZER, **options)


async def check(page: Page, shot: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)
    assert await axe_violations(page) == [], shot


@pytest.mark.browser
@pytest.mark.parametrize("width", [390, 1366])
async def test_the_results_page_sends_by_keyboard_and_axe_finds_nothing(browser, served, width):
    base, seeded, _db_path = served
    options = {"viewport": {"width": width, "height": 900}}
    page = await signed_in(browser, base, options)
    await page.goto(f"{base}/organize/sessions/{seeded['with']}/evaluation/results")
    await check(page, f"results-theme-{width}")
    label = page.locator(".text-choices label", has_text="乗り継ぎの説明")
    await page.locator(f"#{await label.get_attribute('for')}").check()
    send = page.locator("#to-theme button")
    await expect(send).to_have_text("テーマ「公共交通の見直し」へ送る")
    await send.focus()
    await page.keyboard.press("Enter")
    # the first run sends it, the second finds it there already
    await expect(page.locator(".flash[role=status]")).to_contain_text(re.compile("テーマに意見として送りました|すでに送られていた"))
    await check(page, f"results-sent-{width}")
    theme = await signed_in(browser, base, options)
    await theme.goto(f"{base}/organize/themes/{seeded['theme']}")
    await expect(theme.locator("#opinions")).to_contain_text("乗り継ぎの説明が分かりやすかった")
    await page.goto(f"{base}/organize/sessions/{seeded['without']}/evaluation/results")
    await expect(page.locator("#to-theme a")).to_have_attribute("href", "/organize/themes")
    await check(page, f"results-no-theme-{width}")
