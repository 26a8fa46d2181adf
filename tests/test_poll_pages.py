"""Live polls and Q&A (issue 6) through the app in-process: the list view's forms and results (an SVG chart
with a table, word clouds), the facilitator page, moderation, the CSV and the published outcome; a second
browser per person."""

from __future__ import annotations

import csv
import io
import re
from contextlib import AsyncExitStack
from typing import Any

import pytest

from realtime.board import Actor
from tests.board_http import LANG, browser, command, join, notice, organizer_board
from tests.harness import csrf_from, html
from tests.poll_helpers import answer_as, polls_on


# ================================================================ the list view, the facilitator page, the projector

@pytest.fixture
async def people(app: Any) -> Any:
    """Makes participants: each a browser of their own that joined the board by its code."""
    async with AsyncExitStack() as stack:
        async def person(board: Any, name: str, **extra: str) -> Any:
            other = await stack.enter_async_context(browser(app))
            joined = await join(other, board, name, **extra)
            assert joined.status_code == 200, joined.text
            return other

        yield person


async def facilitate(client: Any, board_id: int, kind: str, **fields: Any) -> Any:
    """A command from the facilitator page's forms; the facilitator page it goes back to."""
    return await command(client, board_id, kind, back="facilitate", **fields)


async def new_poll_by_form(client: Any, board_id: int, kind: str, question: str, options: str = "", *,
                           live: bool = False, anonymous: bool = True, **fields: Any) -> str:
    """A poll made with the facilitator page's "New poll" form; its id."""
    page = await facilitate(client, board_id, "poll:create", poll_type=kind, question=question, options=options,
                            live_results="1" if live else "0", anonymous="1" if anonymous else "0", **fields)
    assert notice(page) == "Saved.", notice(page)
    return polls_on(page)[question]["id"].removeprefix("poll-")


async def answer_by_form(person: Any, board_id: int, poll: str, **fields: Any) -> Any:
    """A participant answers with the list view's form; the list view it goes back to."""
    return await command(person, board_id, "poll:answer", poll=poll, **fields)


def table_rows(article: Any) -> list[list[str]]:
    """A poll's results table, one list of cell texts per row."""
    return [[cell.get_text(strip=True) for cell in row.find_all(["th", "td"])]
            for row in article.select("table.poll-table tbody tr")]


async def test_japanese_participant_reads_the_too_long_message_wholly_in_japanese(client, db, people):
    client.cookies.update(LANG)
    _account, board = await organizer_board(client, db)
    poll = await new_poll_by_form(client, board.id, "text", "この地域を一言で")
    await facilitate(client, board.id, "poll:open", poll=poll)
    hanako = await people(board, "花子")
    hanako.cookies.set("taiwa_lang", "ja")
    too_long = await answer_by_form(hanako, board.id, poll, text="長" * 51)
    message = notice(too_long)
    assert "50" in message and "文字" in message
    assert not re.search(r"[A-Za-z]", message), message


async def test_revealed_results_render_as_an_svg_chart_with_a_table_of_numbers_and_percentages(app, client, db, people):
    client.cookies.update(LANG)
    _account, board = await organizer_board(client, db)
    poll = await new_poll_by_form(client, board.id, "single_choice", "どの案がよいですか", "A案\nB案\nC案")
    await facilitate(client, board.id, "poll:open", poll=poll)
    voters = [await people(board, name) for name in ("さくら", "たろう", "はなこ")]
    for person, choice in zip(voters, ["o1", "o1", "o2"]):
        await answer_by_form(person, board.id, poll, choice=choice)
    await facilitate(client, board.id, "poll:room", poll=poll, room_o1="0", room_o2="0", room_o3="1")

    hidden = polls_on(await voters[0].get(f"/boards/{board.id}/list"))["どの案がよいですか"]
    assert hidden.select_one("svg.poll-chart") is None and hidden.select_one("table.poll-table") is None
    stage = html(await client.get(f"/boards/{board.id}/present")).select_one(".stage-poll")  # the projector neither
    assert stage.find("h1").get_text(strip=True) == "どの案がよいですか" and stage.select_one(".stage-chart") is None
    assert [li.get_text(strip=True) for li in stage.select(".stage-options li")] == ["A案", "B案", "C案"]

    await facilitate(client, board.id, "poll:reveal", poll=poll, revealed="1")
    stage = html(await client.get(f"/boards/{board.id}/present")).select_one(".stage-poll")
    assert [li.select_one(".stage-chart__value").get_text(strip=True) for li in stage.select(".stage-chart li")] == \
        ["2 (50%)", "1 (25%)", "1 (25%)"]
    for page in (await voters[2].get(f"/boards/{board.id}/list"),):
        article = polls_on(page)["どの案がよいですか"]
        chart = article.select_one("svg.poll-chart")
        assert chart is not None and chart["role"] == "img"
        title = chart.find("title")
        assert title.get_text(strip=True) == "どの案がよいですか" and chart["aria-labelledby"] == title["id"]
        assert [t.get_text(strip=True) for t in chart.select("text.bar-value")] == ["2", "1", "1"]
        table = article.select_one("table.poll-table")
        assert table.find("caption").get_text(strip=True) == "Answers (4)"
        assert [th.get_text(strip=True) for th in table.select("thead th")] == \
            ["Option", "Online", "In the room", "Total", "%"]
        assert table_rows(article) == [["A案", "2", "0", "2", "50.0"], ["B案", "1", "0", "1", "25.0"],
                                       ["C案", "0", "1", "1", "25.0"]]


async def test_fist_to_five_chart_labels_say_what_each_value_means(client, db, people):
    client.cookies.update(LANG)
    _account, board = await organizer_board(client, db)
    poll = await new_poll_by_form(client, board.id, "fist_to_five", "この案で進めますか", live=True)
    await facilitate(client, board.id, "poll:open", poll=poll)
    await answer_by_form(await people(board, "さくら"), board.id, poll, choice="o6")
    for lang, labels in (("ja", ["0 反対", "1 大きな懸念がある", "2 懸念がある", "3 条件付きで賛成", "4 賛成", "5 全面的に賛成"]),
                         ("en", ["0 Against (I block it)", "1 Serious concerns", "2 Some concerns",
                                 "3 I can go along with it", "4 I agree", "5 Fully agree"])):
        client.cookies.update({"taiwa_lang": lang})
        article = polls_on(await client.get(f"/boards/{board.id}/facilitate"))["この案で進めますか"]
        chart = article.select_one("svg.poll-chart")  # read by an independent parser, as the SVG draws it
        assert [t.get_text(strip=True) for t in chart.select("text.bar-label")] == labels, lang
        assert [t.get_text(strip=True) for t in chart.select("text.bar-value")] == ["0", "0", "0", "0", "0", "1"]


async def test_live_results_are_shown_to_participants_before_any_reveal(app, client, db, people):
    client.cookies.update(LANG)
    _account, board = await organizer_board(client, db)
    poll = await new_poll_by_form(client, board.id, "scale", "満足度は？", live=True)
    await facilitate(client, board.id, "poll:open", poll=poll)
    sakura = await people(board, "さくら")
    article = polls_on(await answer_by_form(sakura, board.id, poll, choice="o4"))["満足度は？"]
    assert article.select_one("svg.poll-chart") is not None
    assert [row[3] for row in table_rows(article)] == ["0", "0", "0", "1", "0"]


async def test_word_cloud_shows_sized_words_and_a_table_of_counts(client, db, people):
    client.cookies.update(LANG)
    _account, board = await organizer_board(client, db)
    poll = await new_poll_by_form(client, board.id, "text", "この地域を一言で")
    await facilitate(client, board.id, "poll:open", poll=poll)
    for name, text in (("さくら", "ＡＩ"), ("たろう", "ai"), ("はなこ", " AI "), ("じろう", "みどり")):
        await answer_by_form(await people(board, name), board.id, poll, text=text)
    await facilitate(client, board.id, "poll:reveal", poll=poll, revealed="1")

    stage = html(await client.get(f"/boards/{board.id}/present")).select_one(".stage-cloud")
    assert {w.contents[0].strip(): w["class"][-1] for w in stage.select(".word")} == {"ai": "word--5", "みどり": "word--2"}
    article = polls_on(await client.get(f"/boards/{board.id}/facilitate"))["この地域を一言で"]
    cloud = article.select_one(".word-cloud")
    words = {w.get_text(strip=True): w["class"] for w in cloud.select(".word")}
    assert set(words) == {"ai", "みどり"}
    assert "word--5" in words["ai"] and "word--2" in words["みどり"]  # sized by count
    assert cloud["aria-hidden"] == "true"  # the table is the text equivalent
    assert article.select_one("table.poll-table caption").get_text(strip=True) == "Answers (4)"
    assert table_rows(article) == [["ai", "3"], ["みどり", "1"]]


async def test_room_counts_entered_on_the_facilitate_page_show_apart_and_in_the_total(client, db, people):
    client.cookies.update(LANG)
    _account, board = await organizer_board(client, db)
    poll = await new_poll_by_form(client, board.id, "single_choice", "賛成ですか", "賛成\n反対")
    await facilitate(client, board.id, "poll:open", poll=poll)
    await answer_by_form(await people(board, "さくら"), board.id, poll, choice="o1")
    page = await facilitate(client, board.id, "poll:room", poll=poll, room_o1="12", room_o2="3")
    article = polls_on(page)["賛成ですか"]
    assert table_rows(article) == [["賛成", "1", "12", "13", "81.2"], ["反対", "0", "3", "3", "18.8"]]
    assert article.select_one("table.poll-table caption").get_text(strip=True) == "Answers (16)"
    assert article.select_one("#room-" + poll + " input[name=room_o1]")["value"] == "12"  # the form keeps them
    bad = await facilitate(client, board.id, "poll:room", poll=poll, room_o1="たくさん", room_o2="3")
    assert notice(bad) == "Enter a count from 0 for each option."
    assert table_rows(polls_on(bad)["賛成ですか"])[0][2] == "12"


async def test_question_is_asked_and_the_upvote_button_toggles_aria_pressed(client, db, people):
    client.cookies.update(LANG)
    _account, board = await organizer_board(client, db)
    sakura, taro = await people(board, "さくら"), await people(board, "たろう")
    asked = await command(sakura, board.id, "question:ask", text="託児は何歳からですか")
    assert notice(asked) == "Saved."
    item = html(asked).select_one("ol.questions li")
    assert item.select_one(".question__text").get_text(strip=True) == "託児は何歳からですか"
    assert "さくら" in item.select_one(".note__meta").get_text()

    page = await taro.get(f"/boards/{board.id}/list")
    button = html(page).select_one("ol.questions button[aria-pressed]")
    assert button["aria-pressed"] == "false" and "(0)" in button.get_text()
    question = button["id"].removeprefix("upvote-")
    upvoted = await command(taro, board.id, "question:upvote", question=question)
    button = html(upvoted).select_one(f"#upvote-{question}")
    assert button["aria-pressed"] == "true" and "(1)" in button.get_text()
    again = await command(taro, board.id, "question:upvote", question=question)  # an old page's button, pressed again
    assert "(1)" in html(again).select_one(f"#upvote-{question}").get_text()
    assert "1 vote" in html(again).select_one("ol.questions .note__meta").get_text()

    form = html(again).select_one(f"#upvote-{question}").find_parent("form")
    assert form.select_one("input[name=type]")["value"] == "question:unvote"
    unvoted = await command(taro, board.id, "question:unvote", question=question)
    button = html(unvoted).select_one(f"#upvote-{question}")
    assert button["aria-pressed"] == "false" and "(0)" in button.get_text()


async def test_facilitator_moderates_questions_approve_first_answered_pinned_and_hidden(client, db, people):
    client.cookies.update(LANG)
    _account, board = await organizer_board(client, db)
    page = await facilitate(client, board.id, "qa:moderation", moderation="pre")
    assert html(page).select_one("#qa-mode option[selected]")["value"] == "pre"
    sakura, taro = await people(board, "さくら"), await people(board, "たろう")
    asked = await command(sakura, board.id, "question:ask", text="予算はいくらですか")
    assert "Questions appear after the facilitator approves them." in html(asked).select_one("#ask").get_text()
    assert "Waiting for approval" in html(asked).select_one("ol.questions").get_text()
    assert html(await taro.get(f"/boards/{board.id}/list")).select_one("ol.questions") is None

    facilitator_page = html(await client.get(f"/boards/{board.id}/facilitate"))
    question = facilitator_page.select_one("ol.questions li")["id"].removeprefix("question-")
    await facilitate(client, board.id, "question:moderate", question=question, action="approve")
    assert "予算はいくらですか" in html(await taro.get(f"/boards/{board.id}/list")).select_one("ol.questions").get_text()

    await facilitate(client, board.id, "question:moderate", question=question, action="answered")
    await facilitate(client, board.id, "question:moderate", question=question, action="pin")
    projector = html(await client.get(f"/boards/{board.id}/present")).select_one(".stage-pinned")
    assert projector.get_text(" ", strip=True) == "Now: 予算はいくらですか"  # full screen on the projector

    await facilitate(client, board.id, "question:moderate", question=question, action="unpin")
    assert html(await client.get(f"/boards/{board.id}/present")).select_one(".stage-pinned") is None
    page = await facilitate(client, board.id, "question:moderate", question=question, action="hide")
    assert "hidden from participants" in html(page).select_one(f"#question-{question}").get_text()
    assert html(await taro.get(f"/boards/{board.id}/list")).select_one(f"#question-{question}") is None


async def test_participants_see_no_moderation_buttons_and_cannot_post_them(client, db, people):
    client.cookies.update(LANG)
    _account, board = await organizer_board(client, db)
    sakura = await people(board, "さくら")
    asked = await command(sakura, board.id, "question:ask", text="質問です")
    question = html(asked).select_one("ol.questions li")["id"].removeprefix("question-")
    assert html(asked).select("input[name=action]") == []
    refused = await command(sakura, board.id, "question:moderate", question=question, action="hide")
    assert notice(refused) == "Only the facilitator can do this."
    assert html(refused).select_one(f"#question-{question}") is not None


async def test_anonymous_board_list_view_shows_no_question_author(client, db, people):
    client.cookies.update(LANG)
    _account, board = await organizer_board(client, db, anonymous="1")
    sakura, taro = await people(board, "さくら"), await people(board, "たろう")
    await command(sakura, board.id, "question:ask", text="匿名の場での質問")
    for page in (await taro.get(f"/boards/{board.id}/list"), await client.get(f"/boards/{board.id}/facilitate")):
        assert "さくら" not in html(page).select_one("ol.questions").get_text()


async def test_question_asked_anonymously_on_a_named_board_shows_no_name(client, db, people):
    client.cookies.update(LANG)
    _account, board = await organizer_board(client, db)
    sakura, taro = await people(board, "さくら"), await people(board, "たろう")
    await command(sakura, board.id, "question:ask", text="名前を出さない質問", anonymous="1")
    assert "さくら" not in html(await taro.get(f"/boards/{board.id}/list")).select_one("ol.questions").get_text()


async def test_anonymous_poll_never_shows_the_facilitator_who_answered_what(client, db, people):
    client.cookies.update(LANG)
    _account, board = await organizer_board(client, db)
    poll = await new_poll_by_form(client, board.id, "single_choice", "匿名で答える", "はい\nいいえ")
    await facilitate(client, board.id, "poll:open", poll=poll)
    await answer_by_form(await people(board, "さくら"), board.id, poll, choice="o1")
    article = polls_on(await client.get(f"/boards/{board.id}/facilitate"))["匿名で答える"]
    assert "さくら" not in article.get_text()
    assert "さくら" not in (await client.get(f"/boards/{board.id}/polls.csv")).content.decode("utf-8-sig")


async def test_named_poll_shows_the_facilitator_who_answered_what(client, db, people):
    client.cookies.update(LANG)
    _account, board = await organizer_board(client, db)
    poll = await new_poll_by_form(client, board.id, "single_choice", "名前つきで答える", "はい\nいいえ", anonymous=False)
    await facilitate(client, board.id, "poll:open", poll=poll)
    await answer_by_form(await people(board, "さくら"), board.id, poll, choice="o1")
    article = polls_on(await client.get(f"/boards/{board.id}/facilitate"))["名前つきで答える"]
    assert "さくら" in article.get_text()
    rows = list(csv.reader(io.StringIO((await client.get(f"/boards/{board.id}/polls.csv")).content.decode("utf-8-sig"))))
    assert ["名前つきで答える", "answer", "はい", "1", "0", "1", "", "さくら"] in rows


async def test_polls_csv_has_a_bom_and_a_row_per_option_with_room_counts_and_answered_questions(app, client, db):
    client.cookies.update(LANG)
    _account, board = await organizer_board(client, db)
    facilitator_ = Actor(id="f-x", name="ファシリ", facilitator=True)
    service = app.litestar.state.board_service
    poll = await new_poll_by_form(client, board.id, "single_choice", "賛成ですか", "賛成\n反対")
    words = await new_poll_by_form(client, board.id, "text", "一言で")
    for each in (poll, words):
        await facilitate(client, board.id, "poll:open", poll=each)
    await answer_as(app, board.id, poll, "p1", choice="o1")
    await answer_as(app, board.id, words, "p1", text="ＡＩ")
    await answer_as(app, board.id, words, "p2", text="ai")
    await service.handle(board.id, "poll:room", {"poll": poll, "counts": {"o1": 2, "o2": 1}}, facilitator_, "room-1")
    asked = await service.handle(board.id, "question:ask", {"text": "駐車場はありますか"}, Actor(id="p1", name="p1"), "ask-1")
    await service.handle(board.id, "question:moderate", {"question": asked.result["id"], "action": "answered"},
                         facilitator_, "mod-1")

    response = await client.get(f"/boards/{board.id}/polls.csv")
    assert response.status_code == 200 and response.content.startswith("\ufeff".encode("utf-8"))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["Question", "Type", "Option", "Online", "In the room", "Total", "%", "Name"]
    assert ["賛成ですか", "single_choice", "賛成", "1", "2", "3", "75.0", ""] in rows
    assert ["賛成ですか", "single_choice", "反対", "0", "1", "1", "25.0", ""] in rows
    assert ["一言で", "text", "ai", "2", "0", "2", "", ""] in rows
    assert ["駐車場はありますか", "question", "Answered", "0", "0", "0", "", ""] in rows
    async with browser(app) as stranger:  # not signed in: sent to the login page, no results
        refused = await stranger.get(f"/boards/{board.id}/polls.csv")
        assert refused.url.path == "/organize/login" and "賛成ですか" not in refused.text


async def published_outcome(app: Any, client: Any, db: Any) -> tuple[Any, Any]:
    """A board whose revealed poll, hidden poll and answered question are published as the outcome."""
    client.cookies.update(LANG)
    _account, board = await organizer_board(client, db)
    shown = await new_poll_by_form(client, board.id, "single_choice", "公開する投票", "賛成\n反対")
    secret = await new_poll_by_form(client, board.id, "single_choice", "公開しない投票", "はい\nいいえ")
    for each in (shown, secret):
        await facilitate(client, board.id, "poll:open", poll=each)
        await answer_as(app, board.id, each, "p1", choice="o1")
    await facilitate(client, board.id, "poll:reveal", poll=shown, revealed="1")
    service = app.litestar.state.board_service
    asked = await service.handle(board.id, "question:ask", {"text": "次回はいつですか"}, Actor(id="p1", name="p1"), "q-1")
    await service.handle(board.id, "question:moderate", {"question": asked.result["id"], "action": "answered"},
                         Actor(id="f-x", facilitator=True), "q-2")
    page = await client.get(f"/boards/{board.id}/facilitate")
    published = await client.post(f"/boards/{board.id}/outcome", data={"_csrf_token": csrf_from(page), "publish": "1"})
    assert published.status_code == 200, published.text
    async with browser(app) as public:
        outcome = await public.get(f"/boards/{board.id}/outcome")
    assert outcome.status_code == 200
    return board, outcome


async def test_published_outcome_shows_revealed_poll_results_and_answered_questions(app, client, db):
    _board, outcome = await published_outcome(app, client, db)
    polls = polls_on(outcome)
    assert list(polls) == ["公開する投票"]  # results never revealed stay unpublished
    assert polls["公開する投票"].select_one("svg.poll-chart[role=img]") is not None
    assert table_rows(polls["公開する投票"])[0] == ["賛成", "1", "0", "1", "100.0"]
    answered = html(outcome).select_one("#outcome-questions").find_next("ul").get_text(" ", strip=True)
    assert "次回はいつですか" in answered


async def test_published_outcome_page_title_names_only_the_board(app, client, db):
    board, outcome = await published_outcome(app, client, db)
    title = html(outcome).find("title").get_text(" ", strip=True)
    assert title == f"Outcome: {board.title} | Taiwa"
    assert len(html(outcome).select("#outcome-polls")) == 1
