"""Evaluation in real Chromium against a real server: a resident answers on a 390 px phone by keyboard
alone in well under two minutes; every new page (the form, thanks, the registrant's form, the
organizer's set-up, results, paper entry, the published outcome, the projector's live view and QR
code) has no axe-core violations. Screenshots go to /tmp/shots-eval/."""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from sessions import evaluation_actions, registration
from sessions.evaluation import Respondent, standard_questions
from sessions.models import AccommodationOffer
from sessions.registration_models import AccommodationRequestInput, RegistrationInput
from sessions.timestamps import now_utc, to_db
from tests.harness import (
    ServerProcess,
    axe_violations,
    in_own_loop,
    make_account,
    make_session,
    make_venue,
    new_page,
    next_saturday,
    open_database,
    signed_in_page,
)

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots-eval")
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1366, "height": 900}}
PROJECTOR = {"viewport": {"width": 1920, "height": 1080}}
ORGANIZER = "staff@kanazawa.example"


async def _no_mail(*_args: Any, **_kwargs: Any) -> None:
    """The seed needs no mail."""


async def _seed(db_path: Path) -> dict[str, Any]:
    async with open_database(db_path) as db:
        organizer = await make_account(db, ORGANIZER)
        venue = await make_venue(db, organizer.org_id)
        session_id = await make_session(db, organizer.org_id, venue, title="駅前広場の使い方を考える対話",
                                        title_en="Dialogue on the station square", starts_at=next_saturday(weeks=3),
                                        accommodations=[AccommodationOffer(code="sign_language", mode="on_request")])
        result = await registration.register(
            db, session_id, RegistrationInput(name="本人 花子", email="hanako@example.jp", mode="in_person",
                                              consent_sensitive=True,
                                              accommodations=[AccommodationRequestInput(code="sign_language")]),
            notify=_no_mail, derive_token=lambda salt: hashlib.sha256(salt.encode()).hexdigest())
        ends = now_utc() - timedelta(minutes=10)
        async with db.transaction() as conn:
            await conn.execute("update sessions set starts_at = ?, ends_at = ? where id = ?",
                               (to_db(ends - timedelta(hours=2)), to_db(ends), session_id))
        evaluation = await evaluation_actions.attach(db, session_id, ends, standard_questions(), opens_at=now_utc(),
                                                     closes_at=None, now=now_utc())
        by_key = {q.bank_key: q for q in evaluation.questions}
        for n in range(6):
            answers = {str(by_key["satisfaction"].id): 3 + n % 3, str(by_key["understanding"].id): 4,
                       str(by_key["accommodation"].id): 4 + n % 2,
                       str(by_key["join_again"].id): by_key["join_again"].options[n % 2].id,
                       str(by_key["good_points"].id): ["手話通訳が分かりやすかった", "若い世代の声が聞けた"][n % 2]}
            await evaluation_actions.answer(db, evaluation, answers, now=now_utc(), source="room",
                                            respondent=Respondent())
    return {"session": session_id, "code": evaluation.code, "token": result.token, "evaluation": evaluation.id}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("evaluation-browser")
    seeded = in_own_loop(_seed(folder / "taiwa.sqlite3"))
    with ServerProcess(folder / "taiwa.sqlite3", folder / "server.log", secret="evaluation-browser-secret-0123456789",
                       env={"TAIWA_RATE_LIMITS": "off"}) as server:
        seeded["log"] = server.log
        yield server.base, seeded


async def check(page: Page, shot: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)
    assert await axe_violations(page) == [], shot


async def tab_to(page: Page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching `selector` has the focus."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    pytest.fail(f"Tab never reached {selector}")


async def test_a_resident_answers_on_a_phone_by_keyboard_in_under_two_minutes(browser, served):
    base, seeded = served
    page = await new_page(browser, **PHONE)
    started = time.monotonic()
    await page.goto(f"{base}/e/{seeded['code']}")
    await check(page, "form-390")
    legends = page.locator("form.evaluation-form fieldset legend")
    await expect(legends.first).to_have_text("全体として、今日の対話の場に満足した")
    first = await page.locator("form.evaluation-form input[type=radio]").first.get_attribute("name")
    await tab_to(page, f"input[name={first}]")
    await page.keyboard.press("ArrowDown")  # 1 → 2
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("ArrowDown")  # 5: strongly agree
    await tab_to(page, "textarea")
    await page.keyboard.type("ベンチの配置が分かりやすかった")
    await tab_to(page, "form.evaluation-form button[type=submit]")
    await page.keyboard.press("Enter")
    await expect(page.locator("h1")).to_have_text("ご回答ありがとうございました")
    assert time.monotonic() - started < 120
    await check(page, "thanks-390")
    # what the keyboard chose was stored
    organizer = await signed_in(browser, base, DESKTOP)
    response = await organizer.request.get(f"{base}/organize/sessions/{seeded['session']}/evaluation.csv")
    text = (await response.body()).decode("utf-8-sig")
    assert "ベンチの配置が分かりやすかった" in text
    assert "ベンチの配置" not in seeded["log"]()  # answers are never logged


async def test_an_error_is_announced_next_to_the_question_and_the_page_stays_accessible(browser, served):
    base, seeded = served
    page = await new_page(browser, **PHONE)
    await page.goto(f"{base}/e/{seeded['code']}")
    await page.locator("form.evaluation-form button[type=submit]").click()
    await expect(page.locator(".error-summary")).to_contain_text("1つ以上の質問に答えてください。")
    await check(page, "form-error-390")


async def signed_in(browser: Any, base: str, options: dict[str, Any]) -> Page:
    return await signed_in_page(browser, base, ORGANIZER, **options)


async def test_the_organizer_pages_and_the_published_outcome_have_no_axe_violations(browser, served):
    base, seeded = served
    page = await signed_in(browser, base, DESKTOP)
    prefix = f"{base}/organize/sessions/{seeded['session']}/evaluation"
    for path, shot in (("", "setup-1366"), ("/results", "results-1366"), ("/paper", "paper-1366")):
        await page.goto(prefix + path)
        await check(page, shot)
    await page.goto(prefix + "/results")
    await page.locator(".text-choices label", has_text="手話通訳が分かりやすかった").first.click()
    await page.locator("#publish-yes").check()
    await page.locator("form[action$='/publish'] button[type=submit]").click()
    await expect(page.locator(".flash")).to_have_text("公開しました。")
    visitor = await new_page(browser, **PHONE)
    await visitor.goto(f"{base}/sessions/{seeded['session']}/evaluation")
    await expect(visitor.locator("main")).to_contain_text("手話通訳が分かりやすかった")
    await expect(visitor.locator("main")).not_to_contain_text("若い世代の声が聞けた")
    await check(visitor, "published-390")
    await visitor.goto(f"{base}/sessions/{seeded['session']}/evaluation?lang=en")
    await expect(visitor.locator("h1")).to_have_text("Evaluation results")
    await check(visitor, "published-390-en")
    registrant = await new_page(browser, **PHONE)
    await registrant.goto(f"{base}/r/{seeded['token']}/evaluation?lang=en")
    await expect(registrant.locator("form.evaluation-form")).to_contain_text("The support I asked for")
    await check(registrant, "registrant-390-en")


async def test_the_projector_views_fill_the_screen_and_refresh(browser, served):
    base, seeded = served
    page = await signed_in(browser, base, PROJECTOR)
    await page.goto(f"{base}/organize/sessions/{seeded['session']}/evaluation/live")
    await expect(page.locator(".evaluation-qr svg")).to_be_visible()
    count = page.locator(".live-count")
    before = await count.inner_text()
    visitor = await new_page(browser, **PHONE)
    await visitor.goto(f"{base}/e/{seeded['code']}")
    await visitor.locator("form.evaluation-form input[type=radio]").first.check()
    await visitor.locator("form.evaluation-form button[type=submit]").click()
    await expect(visitor.locator("h1")).to_have_text("ご回答ありがとうございました")
    await expect(count).not_to_have_text(before, timeout=12_000)  # htmx polling brought the new count
    await check(page, "live-1920")
    size = await page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    assert size[0] <= 1920 and size[1] <= 1080, size
    await page.goto(f"{base}/organize/sessions/{seeded['session']}/evaluation/qr")
    await check(page, "qr-1920")
