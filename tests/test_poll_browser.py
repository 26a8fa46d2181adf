"""Polls and Q&A on a live board in real Chromium (Playwright): a facilitator creates a scale poll and a
word-cloud poll, two participants answer, results stay hidden until revealed, then appear for the
participants and on the projector; axe-core checks every page before and after the reveal."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, expect

from tests.harness import axe_violations
from tests.test_board_browser import create_board, expect_live, join, signed_in_facilitator
from tests.test_board_browser import server, session_id  # noqa: F401 - fixtures, used by name

pytestmark = pytest.mark.browser

SCALE_Q = "この計画に賛成ですか"
WORD_Q = "一言で言うと？"


async def create_poll(facilitator: Page, poll_type: str, question: str) -> str:
    """The facilitator fills the "New poll" form; the new poll's id (article#poll-{id})."""
    details = facilitator.locator("#poll-new")
    if await details.get_attribute("open") is None:
        await details.locator("summary").click()
    await expect(facilitator.locator("#poll-type")).to_be_visible()
    await facilitator.locator("#poll-type").select_option(poll_type)
    await facilitator.locator("#poll-question").fill(question)
    await facilitator.locator("#poll-open").uncheck()  # these tests open each poll themselves
    await facilitator.locator("#poll-new button[type=submit]").click()
    article = facilitator.locator("article.poll", has=facilitator.locator("h3", has_text=question))
    await expect(article).to_have_count(1)
    return (await article.get_attribute("id") or "").removeprefix("poll-")


async def poll_command(facilitator: Page, poll: str, command: str) -> None:
    await facilitator.locator(
        f"#poll-{poll} form:has(input[name=type][value='{command}']) button[type=submit]").click()


async def answer_scale(page: Page, poll: str, option: str) -> None:
    await page.locator(f"#poll-{poll} input[name=choice][value={option}]").check()
    await page.locator(f"#poll-{poll} form.poll__answer button[type=submit]").click()


async def answer_text(page: Page, poll: str, text: str) -> None:
    await page.locator(f"#a-{poll}-text").fill(text)
    await page.locator(f"#poll-{poll} form.poll__answer button[type=submit]").click()


async def expect_results(page: Page, scale: str, words: str) -> None:
    chart = page.locator(f"#poll-{scale} svg.poll-chart")
    await expect(chart).to_have_count(1)
    await expect(chart.locator("title")).to_have_text(SCALE_Q)
    row = page.locator(f"#poll-{scale} table.poll-table tbody tr",
                       has=page.locator("th", has_text=re.compile(r"^3$")))
    await expect(row).to_have_count(1)
    cells = row.locator("td")
    await expect(cells.nth(2)).to_have_text("2")  # Total
    await expect(cells.nth(3)).to_have_text(re.compile(r"^\s*100(\.0)?\s*$"))
    await expect(page.locator(f"#poll-{words} .word-cloud")).to_have_count(1)
    word_rows = page.locator(f"#poll-{words} table.poll-table tbody tr")
    await expect(word_rows).to_have_count(1)
    await expect(word_rows.locator("th")).to_have_text("ai")
    await expect(word_rows.locator("td")).to_have_text("2")


async def test_scale_and_word_cloud_polls_revealed_to_participants_and_projector(
        browser: Browser, server: str, session_id: int):
    axe: dict[str, list[str]] = {}
    facilitator = await signed_in_facilitator(browser, server)
    board_id, code = await create_board(facilitator, server, session_id, "アンケートで話そう")

    scale = await create_poll(facilitator, "scale", SCALE_Q)
    words = await create_poll(facilitator, "text", WORD_Q)
    assert scale and words and scale != words
    await poll_command(facilitator, scale, "poll:open")
    await poll_command(facilitator, words, "poll:open")
    for poll in (scale, words):
        await expect(facilitator.locator(
            f"#poll-{poll} form:has(input[name=type][value='poll:close'])")).to_have_count(1)

    projector = await facilitator.context.new_page()
    await projector.goto(f"{server}/boards/{board_id}/present")
    await expect(projector.locator(".join-code")).to_have_text(code)

    aiko = await join(browser, server, code, "あいこ")
    ben = await join(browser, server, code, "Ben")
    for page in (aiko, ben):
        await expect(page).to_have_url(f"{server}/boards/{board_id}")
        await expect_live(page)

    await answer_scale(aiko, scale, "o3")
    await answer_text(aiko, words, "ＡＩ")
    await answer_scale(ben, scale, "o3")
    await answer_text(ben, words, "ai")
    # both answers arrived: the facilitator sees two respondents on each poll
    for poll in (scale, words):
        await expect(facilitator.locator(f"#poll-{poll} .poll__meta")).to_contain_text(re.compile(r"\b2\b"))
    await expect(aiko.locator(f"#poll-{scale} input[name=choice][value=o3]")).to_be_checked()
    await expect(ben.locator(f"#a-{words}-text")).to_have_value("ai")

    # before the reveal nobody sees a chart
    for page in (aiko, ben, projector):
        await expect(page.locator("svg.poll-chart")).to_have_count(0)
        await expect(page.locator(".word-cloud, .stage-cloud, .stage-chart")).to_have_count(0)
    for label, page in (("participant", aiko), ("facilitator", facilitator), ("projector", projector)):
        axe[f"before/{label}"] = await axe_violations(page)

    await poll_command(facilitator, scale, "poll:reveal")
    await poll_command(facilitator, words, "poll:reveal")
    for page in (aiko, ben):
        await expect_results(page, scale, words)
    # the projector shows the poll opened last full screen; closing it brings back the other
    await expect(projector.locator(".stage-cloud .word")).to_have_count(1)
    await expect(projector.locator(".stage-cloud .word")).to_contain_text("ai")
    await poll_command(facilitator, words, "poll:close")
    await expect(projector.locator(".stage-poll h1")).to_have_text(SCALE_Q)
    await expect(projector.locator(".stage-chart li").nth(2)).to_contain_text("2 (100%)")
    for label, page in (("participant", aiko), ("facilitator", facilitator), ("projector", projector)):
        axe[f"after/{label}"] = await axe_violations(page)

    assert {label: found for label, found in axe.items() if found} == {}


async def test_participant_asks_and_another_upvotes_a_question(browser: Browser, server: str, session_id: int):
    facilitator = await signed_in_facilitator(browser, server)
    board_id, code = await create_board(facilitator, server, session_id, "質問コーナー")
    aiko = await join(browser, server, code, "あいこ")
    ben = await join(browser, server, code, "Ben")
    for page in (aiko, ben):
        await expect(page).to_have_url(f"{server}/boards/{board_id}")
        await expect_live(page)

    await aiko.locator("#ask-text").fill("駐車場はありますか")
    await aiko.locator("#ask button[type=submit]").click()
    question = ben.locator("li.question", has=ben.locator(".question__text", has_text="駐車場はありますか"))
    await expect(question).to_have_count(1)
    upvote = question.get_by_role("button", name=re.compile("私も知りたい"))
    await expect(upvote).to_have_attribute("aria-pressed", "false")
    await upvote.click()
    await expect(question.locator("button[id^=upvote-]")).to_have_attribute("aria-pressed", "true")
    asked = facilitator.locator("li.question", has_text="駐車場はありますか")
    await expect(asked.locator(".note__meta")).to_contain_text(re.compile(r"\b1\b"))
    assert await axe_violations(ben) == []
