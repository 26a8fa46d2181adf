"""Live polls and Q&A (issue 6): the pure rules, what each viewer may see, the list view's forms and
results, the poll API, and real python-socketio clients against a running server — 300 answers at
once, answer changes, two tabs, closed polls, counts from the room and upvotes once per participant.

Rule tests drive realtime.board.apply/fold exactly like BoardService.handle (the `Workshop` helper
of test_board_rules.py); HTTP tests go through the ASGI app with a second browser per person; socket
tests reuse test_board_socket.py's real `taiwa serve` (TAIWA_RATE_LIMITS=off) and its clients.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import sqlite3
import time
import unicodedata
import uuid
from contextlib import AsyncExitStack
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime import store as board_store
from realtime.board import Actor, replay
from realtime.polls import ANSWER_TEXT_MAX, normalise_word, poll_results
from tests.conftest import csrf_from, make_account
from tests.test_board_rules import AIKO, BEN, CHIE, FAC, Workshop, dump
from tests.test_board_socket import (
    Api,
    Member,
    facilitator,
    fast_server,  # noqa: F401 - the running server (TAIWA_RATE_LIMITS=off), a fixture of the socket tests
    op,
    participant,
    until,
)
from tests.test_boards import LANG, api_token, bearer, browser, command, html, join, notice, organizer_board

LIKERT = ["そう思う", "ややそう思う", "どちらとも言えない", "あまりそう思わない", "そう思わない"]


# ================================================================ rules (pure)

def create(board: Workshop, kind: str, options: list[str] | tuple[str, ...] = (), *, question: str = "どう思いますか",
           **extra: Any) -> str:
    """A poll created by the facilitator (still a draft); its id."""
    (_seq, event_type, data), = board.do(FAC, "poll:create", {"type": kind, "question": question,
                                                              "options": list(options), **extra})
    assert event_type == "poll:created"
    return data["id"]


def opened(board: Workshop, kind: str, options: list[str] | tuple[str, ...] = (), **extra: Any) -> str:
    poll = create(board, kind, options, **extra)
    board.do(FAC, "poll:open", {"poll": poll})
    return poll


def answer(board: Workshop, actor: Actor, poll: str, **data: Any) -> list[tuple]:
    return board.do(actor, "poll:answer", {"poll": poll, **data})


def tally(board: Workshop, poll: str) -> dict[str, Any]:
    return poll_results(board.state.polls[poll])


def labels(board: Workshop, poll: str) -> list[str]:
    return [option["label"] for option in board.state.polls[poll].options]


def ask(board: Workshop, actor: Actor, text: str, **extra: Any) -> str:
    (_seq, _type, data), = board.do(actor, "question:ask", {"text": text, **extra})
    return data["id"]


def poll_in(snap: dict[str, Any], poll: str) -> dict[str, Any] | None:
    return next((p for p in snap["polls"] if p["id"] == poll), None)


def question_texts(snap: dict[str, Any]) -> list[str]:
    return [q["text"] for q in snap["questions"]]


# ---------------------------------------------------------------- creating each poll type

def test_single_choice_poll_starts_as_a_draft_with_its_options_in_order():
    board = Workshop()
    poll = create(board, "single_choice", ["公園", "図書館", "バス路線"], question="優先したいのは？")
    created = board.state.polls[poll]
    assert poll == "b1p1"  # ids name their board, so GET /api/polls/{id} can find it
    assert (created.type, created.question, created.status, created.revealed) == \
        ("single_choice", "優先したいのは？", "draft", False)
    assert created.options == [{"id": "o1", "label": "公園"}, {"id": "o2", "label": "図書館"},
                               {"id": "o3", "label": "バス路線"}]
    assert created.max_choices == 1 and created.anonymous is True and created.live_results is False


def test_multiple_choice_poll_allows_up_to_k_choices_or_all_by_default():
    board = Workshop()
    limited = create(board, "multiple_choice", ["公園", "図書館", "バス", "商店街"], max_choices=2)
    unlimited = create(board, "multiple_choice", ["公園", "図書館", "バス"])
    assert board.state.polls[limited].max_choices == 2
    assert board.state.polls[unlimited].max_choices == 3


@pytest.mark.parametrize("max_choices", [0, 5, True, "2"])
def test_multiple_choice_limit_outside_the_options_is_refused(max_choices: Any):
    board = Workshop()
    assert board.refuse(FAC, "poll:create", {"type": "multiple_choice", "question": "q", "options": ["a", "b", "c", "d"],
                                             "max_choices": max_choices}) == "invalid"


def test_scale_without_labels_runs_from_one_to_five():
    board = Workshop()
    poll = create(board, "scale", question="満足度は？")
    assert labels(board, poll) == ["1", "2", "3", "4", "5"]
    assert [o["value"] for o in board.state.polls[poll].options] == ["1", "2", "3", "4", "5"]
    assert board.state.polls[poll].type == "scale"


def test_likert_scale_keeps_its_agree_disagree_labels_in_order():
    board = Workshop()
    poll = create(board, "likert", LIKERT, question="この計画に賛成ですか")
    assert board.state.polls[poll].type == "scale"
    assert labels(board, poll) == LIKERT
    assert [o["value"] for o in board.state.polls[poll].options] == ["1", "2", "3", "4", "5"]


def test_scale_with_its_own_labels_numbers_them_from_one():
    board = Workshop()
    poll = create(board, "scale", ["低い", "ふつう", "高い"], question="関心の度合いは？")
    assert labels(board, poll) == ["低い", "ふつう", "高い"]
    board.do(FAC, "poll:open", {"poll": poll})
    answer(board, AIKO, poll, value=3)
    assert tally(board, poll)["counts"] == {"o1": 0, "o2": 0, "o3": 1}


def test_fist_to_five_is_a_ready_scale_from_zero_to_five():
    board = Workshop()
    poll = create(board, "fist_to_five", question="この案で合意できますか")
    assert board.state.polls[poll].type == "scale"
    assert labels(board, poll) == ["0", "1", "2", "3", "4", "5"]
    board.do(FAC, "poll:open", {"poll": poll})
    answer(board, AIKO, poll, value=0)  # a fist
    answer(board, BEN, poll, value=5)  # five fingers
    assert tally(board, poll)["counts"] == {"o1": 1, "o2": 0, "o3": 0, "o4": 0, "o5": 0, "o6": 1}


def test_ranking_and_word_cloud_polls_are_created():
    board = Workshop()
    ranking = create(board, "ranking", ["防災", "子育て", "交通"])
    words = create(board, "text", question="この地域を一言で")
    assert board.state.polls[ranking].type == "ranking" and labels(board, ranking) == ["防災", "子育て", "交通"]
    assert board.state.polls[words].type == "text" and board.state.polls[words].options == []


@pytest.mark.parametrize("data", [
    {"type": "single_choice", "question": "q", "options": ["ひとつだけ"]},
    {"type": "single_choice", "question": "q", "options": [f"案{n}" for n in range(13)]},
    {"type": "ranking", "question": "q", "options": []},
    {"type": "survey", "question": "q", "options": ["a", "b"]},
    {"type": "single_choice", "question": "   ", "options": ["a", "b"]},
    {"type": "single_choice", "question": "q" * 301, "options": ["a", "b"]},
    {"type": "single_choice", "question": "q", "options": "a\nb"},
], ids=["one-option", "thirteen-options", "ranking-without-options", "unknown-type", "blank-question",
        "long-question", "options-not-a-list"])
def test_poll_that_cannot_work_is_refused(data: dict[str, Any]):
    board = Workshop()
    assert board.refuse(FAC, "poll:create", data) in ("invalid", "too_long")
    assert board.state.polls == {}


@pytest.mark.parametrize("kind", ["poll:create", "poll:open", "poll:close", "poll:reveal", "poll:room",
                                  "question:moderate", "qa:moderation"])
def test_only_the_facilitator_runs_polls_and_moderates(kind: str):
    board = Workshop()
    poll = create(board, "single_choice", ["はい", "いいえ"])
    question = ask(board, AIKO, "駐車場はありますか")
    data = {"type": "single_choice", "question": "q", "options": ["a", "b"], "poll": poll, "counts": {"o1": 3},
            "question": question, "action": "hide", "moderation": "pre"}
    assert board.refuse(AIKO, kind, data) == "forbidden"


def test_polls_and_questions_work_in_every_phase_until_the_board_closes():
    board = Workshop()
    poll = opened(board, "single_choice", ["はい", "いいえ"])
    for phase in ("group", "vote", "discuss"):
        board.phase(phase)
        answer(board, AIKO, poll, choice="o1" if phase != "vote" else "o2")
        ask(board, BEN, f"{phase}の質問")
    board.phase("closed")
    assert board.refuse(AIKO, "poll:answer", {"poll": poll, "choice": "o1"}) == "closed"
    assert board.refuse(BEN, "question:ask", {"text": "まだ質問があります"}) == "closed"


def test_a_paused_board_refuses_answers_from_participants():
    board = Workshop()
    poll = opened(board, "single_choice", ["はい", "いいえ"])
    board.do(FAC, "board:lock", {"locked": True})
    assert board.refuse(AIKO, "poll:answer", {"poll": poll, "choice": "o1"}) == "locked"


# ---------------------------------------------------------------- answering

def test_answers_count_only_while_the_poll_is_open():
    board = Workshop()
    poll = create(board, "single_choice", ["はい", "いいえ"])
    assert board.refuse(AIKO, "poll:answer", {"poll": poll, "choice": "o1"}) == "poll_closed"  # still a draft
    board.do(FAC, "poll:open", {"poll": poll})
    answer(board, AIKO, poll, choice="o1")
    board.do(FAC, "poll:close", {"poll": poll})
    assert board.refuse(BEN, "poll:answer", {"poll": poll, "choice": "o2"}) == "poll_closed"
    assert board.refuse(AIKO, "poll:answer", {"poll": poll, "choice": "o2"}) == "poll_closed"  # no late change
    board.do(FAC, "poll:open", {"poll": poll})  # re-opened
    answer(board, BEN, poll, choice="o2")
    assert tally(board, poll)["counts"] == {"o1": 1, "o2": 1}


def test_opening_an_open_poll_or_closing_a_closed_one_changes_nothing():
    board = Workshop()
    poll = opened(board, "single_choice", ["はい", "いいえ"])
    assert board.do(FAC, "poll:open", {"poll": poll}) == []
    board.do(FAC, "poll:close", {"poll": poll})
    assert board.do(FAC, "poll:close", {"poll": poll}) == []


@pytest.mark.parametrize("data", [{}, {"poll": "b1p99"}, {"poll": 1}, {"poll": ["b1p1"]}, {"poll": {"id": "b1p1"}}],
                         ids=["no-poll", "unknown", "number", "list", "object"])
def test_answer_to_an_unknown_poll_is_not_found(data: dict[str, Any]):
    board = Workshop()
    opened(board, "single_choice", ["はい", "いいえ"])
    assert board.refuse(AIKO, "poll:answer", {"choice": "o1", **data}) == "not_found"


@pytest.mark.parametrize("kind,options,data", [
    ("single_choice", ["はい", "いいえ"], {"choice": "o3"}),
    ("single_choice", ["はい", "いいえ"], {"choice": ["o1"]}),
    ("single_choice", ["はい", "いいえ"], {}),
    ("single_choice", ["はい", "いいえ"], {"choice": True}),
    ("scale", [], {"value": 6}),
    ("scale", [], {"value": 0}),
    ("scale", [], {"value": 2.0}),
    ("multiple_choice", ["a", "b", "c"], {"choices": []}),
    ("multiple_choice", ["a", "b", "c"], {"choices": ["o1", "o9"]}),
    ("multiple_choice", ["a", "b", "c"], {"choices": "o9"}),
], ids=["unknown-option", "list-for-one", "nothing", "boolean", "above-scale", "below-scale", "float",
        "none-chosen", "one-unknown", "unknown-string"])
def test_invalid_choice_is_refused(kind: str, options: list[str], data: dict[str, Any]):
    board = Workshop()
    poll = opened(board, kind, options)
    assert board.refuse(AIKO, "poll:answer", {"poll": poll, **data}) == "invalid_choice"
    assert tally(board, poll)["total"] == 0


def test_more_choices_than_allowed_are_refused_as_too_many():
    board = Workshop()
    poll = opened(board, "multiple_choice", ["公園", "図書館", "バス", "商店街"], max_choices=2)
    assert board.refuse(AIKO, "poll:answer", {"poll": poll, "choices": ["o1", "o2", "o3"]}) == "too_many"
    answer(board, AIKO, poll, choices=["o1", "o2", "o1"])  # a repeated choice is one choice
    assert board.state.polls[poll].answers[AIKO.id] == ["o1", "o2"]


@pytest.mark.parametrize("order", [["o1", "o2"], ["o1", "o1", "o2"], ["o1", "o2", "o3", "o3"],
                                   ["o1", "o2", "o4"], "o1", None],
                         ids=["missing-one", "duplicate", "extra", "unknown", "a-string", "nothing"])
def test_ranking_must_put_every_option_in_order_exactly_once(order: Any):
    board = Workshop()
    poll = opened(board, "ranking", ["防災", "子育て", "交通"])
    assert board.refuse(AIKO, "poll:answer", {"poll": poll, "ranking": order}) == "invalid_choice"


# ---------------------------------------------------------------- changing answers, counts from the room

def test_changing_an_answer_replaces_it():
    board = Workshop()
    poll = opened(board, "single_choice", ["公園", "図書館", "バス路線"])
    answer(board, AIKO, poll, choice="o1")
    (_seq, event_type, data), = answer(board, AIKO, poll, choice="o3")
    assert event_type == "poll:answered" and data["answer"] == "o3"
    assert board.state.polls[poll].answers == {AIKO.id: "o3"}
    assert tally(board, poll)["counts"] == {"o1": 0, "o2": 0, "o3": 1} and tally(board, poll)["total"] == 1


def test_the_same_answer_again_produces_no_event():
    board = Workshop()
    poll = opened(board, "multiple_choice", ["公園", "図書館", "バス路線"])
    answer(board, AIKO, poll, choices=["o1", "o2"])
    seq = board.state.seq
    assert answer(board, AIKO, poll, choices=["o1", "o2"]) == []  # a retry, another tab
    assert board.state.seq == seq and tally(board, poll)["total"] == 1


def test_facilitators_cannot_answer_they_enter_counts_from_the_room():
    board = Workshop()
    poll = opened(board, "single_choice", ["はい", "いいえ"])
    assert board.refuse(FAC, "poll:answer", {"poll": poll, "choice": "o1"}) == "forbidden"
    board.do(FAC, "poll:room", {"poll": poll, "counts": {"o1": 4}})
    assert tally(board, poll)["counts"] == {"o1": 4, "o2": 0}


def test_room_counts_are_shown_apart_and_included_in_totals():
    board = Workshop()
    poll = opened(board, "single_choice", ["賛成", "反対"])
    answer(board, AIKO, poll, choice="o1")
    answer(board, BEN, poll, choice="o2")
    board.do(FAC, "poll:room", {"poll": poll, "counts": {"o1": 12, "o2": 3}})
    result = tally(board, poll)
    assert result["online"] == {"o1": 1, "o2": 1} and result["room"] == {"o1": 12, "o2": 3}
    assert result["counts"] == {"o1": 13, "o2": 4} and result["total"] == 17 and result["respondents"] == 2


def test_room_counts_entered_again_replace_the_earlier_ones():
    board = Workshop()
    poll = opened(board, "single_choice", ["賛成", "反対"])
    board.do(FAC, "poll:room", {"poll": poll, "counts": {"o1": 12, "o2": 3}})
    board.do(FAC, "poll:room", {"poll": poll, "counts": {"o1": 10}})  # recounted
    assert tally(board, poll)["room"] == {"o1": 10, "o2": 3} and tally(board, poll)["total"] == 13


@pytest.mark.parametrize("counts", [{"o1": -1}, {"o9": 2}, {"o1": "3"}, {"o1": True}, {"o1": 1.5}, {"o1": 100_001},
                                    None, [3, 1]],
                         ids=["negative", "unknown-option", "text", "boolean", "fraction", "too-many", "nothing",
                              "a-list"])
def test_bad_room_counts_are_refused(counts: Any):
    board = Workshop()
    poll = opened(board, "single_choice", ["賛成", "反対"])
    assert board.refuse(FAC, "poll:room", {"poll": poll, "counts": counts}) == "invalid"
    assert tally(board, poll)["total"] == 0


def test_room_counts_are_refused_for_word_clouds_and_rankings():
    board = Workshop()
    words = opened(board, "text", question="一言で")
    ranking = opened(board, "ranking", ["防災", "子育て", "交通"])
    for poll in (words, ranking):
        assert board.refuse(FAC, "poll:room", {"poll": poll, "counts": {"o1": 2}}) == "invalid"


# ---------------------------------------------------------------- word clouds and rankings

def test_word_cloud_counts_full_width_lower_case_and_spaced_spellings_as_one_word():
    board = Workshop()
    poll = opened(board, "text", question="この地域を一言で")
    for actor, text in ((AIKO, "ＡＩ"), (BEN, "ai"), (CHIE, " AI ")):
        answer(board, actor, poll, text=text)
    assert tally(board, poll) == {"total": 3, "words": [{"text": "ai", "count": 3}]}


def test_half_width_katakana_is_the_same_word_as_full_width():
    assert normalise_word("ｶﾞｯｺｳ") == normalise_word("ガッコウ") == "ガッコウ"
    assert normalise_word("  まち   づくり ") == "まち づくり"
    board = Workshop()
    poll = opened(board, "text", question="この地域を一言で")
    answer(board, AIKO, poll, text="ﾐﾄﾞﾘ")
    answer(board, BEN, poll, text="ミドリ")
    answer(board, CHIE, poll, text="公園")
    assert tally(board, poll)["words"] == [{"text": "ミドリ", "count": 2}, {"text": "公園", "count": 1}]
    assert unicodedata.is_normalized("NFKC", tally(board, poll)["words"][0]["text"])


def test_word_cloud_answer_over_the_limit_is_too_long():
    board = Workshop()
    poll = opened(board, "text", question="一言で")
    assert board.refuse(AIKO, "poll:answer", {"poll": poll, "text": "長" * (ANSWER_TEXT_MAX + 1)}) == "too_long"
    answer(board, AIKO, poll, text="長" * ANSWER_TEXT_MAX)
    assert tally(board, poll)["total"] == 1


def test_ranking_results_are_borda_points():
    board = Workshop()
    poll = opened(board, "ranking", ["防災", "子育て", "交通"])
    answer(board, AIKO, poll, ranking=["o1", "o2", "o3"])
    answer(board, BEN, poll, ranking=["o2", "o1", "o3"])
    answer(board, CHIE, poll, ranking=["o1", "o3", "o2"])
    result = tally(board, poll)
    assert result["counts"] == {"o1": 5, "o2": 3, "o3": 1}  # first place 2 points, second 1, last 0
    assert result["total"] == 3


# ---------------------------------------------------------------- questions

def test_question_is_asked_and_shown_with_no_votes():
    board = Workshop()
    question = ask(board, AIKO, "駐車場はありますか")
    asked = board.state.questions[question]
    assert (asked.text, asked.status, asked.answered, asked.upvotes) == ("駐車場はありますか", "visible", False, set())
    assert question_texts(board.snap(BEN)) == ["駐車場はありますか"]


def test_a_participant_upvotes_a_question_once():
    board = Workshop()
    question = ask(board, AIKO, "駐車場はありますか")
    assert len(board.do(BEN, "question:upvote", {"question": question})) == 1
    assert board.do(BEN, "question:upvote", {"question": question}) == []
    board.do(CHIE, "question:upvote", {"question": question})
    assert board.snap(BEN)["questions"][0]["votes"] == 2 and board.snap(BEN)["questions"][0]["upvoted"] is True


def test_unvoting_takes_the_vote_back_and_unvoting_again_changes_nothing():
    board = Workshop()
    question = ask(board, AIKO, "駐車場はありますか")
    board.do(BEN, "question:upvote", {"question": question})
    assert len(board.do(BEN, "question:unvote", {"question": question})) == 1
    assert board.do(BEN, "question:unvote", {"question": question}) == []
    assert board.state.questions[question].upvotes == set()


def test_pre_moderation_keeps_a_question_pending_until_approved():
    board = Workshop()
    board.do(FAC, "qa:moderation", {"moderation": "pre"})
    question = ask(board, AIKO, "予算はいくらですか")
    assert board.state.questions[question].status == "pending"
    assert question_texts(board.snap(BEN)) == []
    assert question_texts(board.snap(AIKO)) == ["予算はいくらですか"]  # the author sees it waiting
    assert board.snap(AIKO)["questions"][0]["status"] == "pending"
    assert board.refuse(BEN, "question:upvote", {"question": question}) == "not_found"
    board.do(FAC, "question:moderate", {"question": question, "action": "approve"})
    assert question_texts(board.snap(BEN)) == ["予算はいくらですか"]


def test_the_facilitators_own_question_needs_no_approval():
    board = Workshop()
    board.do(FAC, "qa:moderation", {"moderation": "pre"})
    question = ask(board, FAC, "ほかにご質問は？")
    assert board.state.questions[question].status == "visible"


def test_hidden_question_disappears_for_participants_and_stays_for_the_facilitator():
    board = Workshop()
    question = ask(board, AIKO, "失礼な質問")
    board.do(FAC, "question:moderate", {"question": question, "action": "hide"})
    assert question_texts(board.snap(BEN)) == [] and question_texts(board.snap(AIKO)) == []
    assert board.snap(FAC)["questions"][0]["status"] == "hidden"
    assert board.refuse(BEN, "question:upvote", {"question": question}) == "not_found"


def test_question_is_marked_answered_and_back():
    board = Workshop()
    question = ask(board, AIKO, "駐車場はありますか")
    board.do(FAC, "question:moderate", {"question": question, "action": "answered"})
    assert board.snap(BEN)["questions"][0]["answered"] is True
    board.do(FAC, "question:moderate", {"question": question, "action": "unanswered"})
    assert board.state.questions[question].answered is False


def test_pinned_question_comes_first_until_unpinned_or_hidden():
    board = Workshop()
    first, second = ask(board, AIKO, "一つ目"), ask(board, BEN, "二つ目")
    board.do(CHIE, "question:upvote", {"question": first})
    assert question_texts(board.snap(CHIE)) == ["一つ目", "二つ目"]  # most votes first
    board.do(FAC, "question:moderate", {"question": second, "action": "pin"})
    assert board.state.pinned == second and question_texts(board.snap(CHIE)) == ["二つ目", "一つ目"]
    assert board.snap(CHIE)["questions"][0]["pinned"] is True
    board.do(FAC, "question:moderate", {"question": second, "action": "unpin"})
    assert board.state.pinned is None
    board.do(FAC, "question:moderate", {"question": first, "action": "pin"})
    board.do(FAC, "question:moderate", {"question": first, "action": "hide"})
    assert board.state.pinned is None


@pytest.mark.parametrize("data", [{"question": "q99", "action": "hide"}, {"action": "hide"},
                                  {"question": "q1", "action": "delete"}],
                         ids=["unknown-question", "no-question", "unknown-action"])
def test_moderating_an_unknown_question_or_with_an_unknown_action_is_refused(data: dict[str, Any]):
    board = Workshop()
    assert ask(board, AIKO, "質問") == "q1"
    assert board.refuse(FAC, "question:moderate", data) in ("not_found", "invalid")


def test_question_asked_anonymously_carries_no_name():
    board = Workshop()
    question = ask(board, AIKO, "名前を出さない質問", anonymous=True)
    assert board.state.questions[question].author_name == ""
    for viewer in (BEN, FAC):
        assert "author" not in board.snap(viewer)["questions"][0]
        assert "Aiko" not in dump(board.snap(viewer))
    named = ask(board, BEN, "名前つきの質問")
    assert next(q for q in board.snap(CHIE)["questions"] if q["id"] == named)["author"] == "Ben Suzuki"


def test_questions_on_an_anonymous_board_carry_no_name_in_snapshots_or_room_events():
    board = Workshop(anonymous=True)
    committed = board.do(AIKO, "question:ask", {"text": "匿名の場での質問"})
    for viewer in (BEN, FAC):
        assert "Aiko" not in dump(board.snap(viewer))
    for facilitators in (False, True):
        shown = dump(board.room(committed, facilitators=facilitators))
        assert "Aiko" not in shown and AIKO.id not in shown


# ---------------------------------------------------------------- any sequence of answers

POLL_PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PEOPLE = (AIKO, BEN, CHIE)


@st.composite
def poll_step(draw: st.DrawFn) -> tuple[Actor, str, dict[str, Any]]:
    """One command on the poll: an answer (new, changed or the same again), counts from the room, open or close."""
    step = draw(st.sampled_from(["answer"] * 6 + ["room"] * 2 + ["open", "close"]))
    if step == "answer":
        return draw(st.sampled_from(PEOPLE)), "poll:answer", {"choice": draw(st.sampled_from(["o1", "o2", "o3"]))}
    if step == "room":
        counts = draw(st.dictionaries(st.sampled_from(["o1", "o2", "o3"]), st.integers(0, 40), max_size=3))
        return FAC, "poll:room", {"counts": counts}
    return FAC, f"poll:{step}", {}


@POLL_PROPERTY
@given(st.lists(poll_step(), max_size=60))
def test_any_answers_changes_and_counts_total_the_answering_participants_plus_the_room(steps: list[tuple]):
    board = Workshop()
    poll = opened(board, "single_choice", ["はい", "いいえ", "わからない"])
    answers: dict[str, str] = {}
    room: dict[str, int] = {}
    for actor, kind, data in steps:
        if kind == "poll:answer" and board.state.polls[poll].status != "open":
            assert board.refuse(actor, kind, {"poll": poll, **data}) == "poll_closed"
            continue
        board.do(actor, kind, {"poll": poll, **data})
        if kind == "poll:answer":
            answers[actor.id] = data["choice"]
        elif kind == "poll:room":
            room.update(data["counts"])
        result = tally(board, poll)
        assert result["total"] == len(answers) + sum(room.values())
        assert result["respondents"] == len(answers)
        assert result["counts"] == {option: list(answers.values()).count(option) + room.get(option, 0)
                                    for option in ("o1", "o2", "o3")}
    assert board.state.polls[poll].answers == answers
    assert [seq for seq, _, _ in board.log] == list(range(1, len(board.log) + 1))
    assert replay(board.initial, board.log) == board.state
    stored = json.loads(dump(board.log))  # as the log keeps it: JSON text
    assert replay(board.initial, [(seq, kind, data) for seq, kind, data in stored]) == board.state


# ================================================================ what each viewer sees

def test_participants_see_how_many_answered_but_no_results_until_revealed():
    board = Workshop()
    poll = opened(board, "single_choice", ["はい", "いいえ"])
    answer(board, AIKO, poll, choice="o1")
    for viewer in (AIKO, BEN):
        shown = poll_in(board.snap(viewer), poll)
        assert shown["respondents"] == 1 and "results" not in shown
    assert poll_in(board.snap(AIKO), poll)["my_answer"] == "o1"
    assert poll_in(board.snap(BEN), poll)["my_answer"] is None


def test_an_answer_reaches_participants_only_as_progress():
    board = Workshop()
    poll = opened(board, "single_choice", ["はい", "いいえ"])
    committed = answer(board, AIKO, poll, choice="o1")
    progress, = board.room(committed, facilitators=False)
    assert progress == {"seq": 3, "type": "poll:progress", "data": {"poll": poll, "status": "open", "respondents": 1}}
    assert AIKO.id not in dump(progress) and "Aiko" not in dump(progress)


def test_counts_from_the_room_reach_participants_without_the_numbers():
    board = Workshop()
    poll = opened(board, "single_choice", ["はい", "いいえ"])
    event, = board.room(board.do(FAC, "poll:room", {"poll": poll, "counts": {"o1": 9}}), facilitators=False)
    assert event["type"] == "poll:room_counts"
    assert event["data"] == {"poll": poll, "status": "open", "respondents": 0}


def test_the_facilitator_always_sees_results_and_the_progress_carries_them():
    board = Workshop()
    draft = create(board, "single_choice", ["はい", "いいえ"], question="まだ下書き")
    assert poll_in(board.snap(FAC), draft)["results"]["total"] == 0
    board.do(FAC, "poll:open", {"poll": draft})
    committed = answer(board, AIKO, draft, choice="o2")
    assert poll_in(board.snap(FAC), draft)["results"]["counts"] == {"o1": 0, "o2": 1}
    progress, = board.room(committed, facilitators=True)
    assert progress["type"] == "poll:progress" and progress["data"]["results"]["counts"] == {"o1": 0, "o2": 1}
    assert AIKO.id not in dump(progress)


def test_revealed_results_reach_participants_in_snapshots_and_room_events():
    board = Workshop()
    poll = opened(board, "single_choice", ["はい", "いいえ"])
    answer(board, AIKO, poll, choice="o1")
    revealed, = board.room(board.do(FAC, "poll:reveal", {"poll": poll}), facilitators=False)
    assert revealed["type"] == "poll:revealed" and revealed["data"]["results"]["counts"] == {"o1": 1, "o2": 0}
    assert poll_in(board.snap(BEN), poll)["results"]["total"] == 1
    progress, = board.room(answer(board, BEN, poll, choice="o2"), facilitators=False)
    assert progress["data"]["results"]["counts"] == {"o1": 1, "o2": 1}
    board.do(FAC, "poll:reveal", {"poll": poll, "revealed": False})  # hidden again
    assert "results" not in poll_in(board.snap(BEN), poll)


def test_live_results_are_shown_to_participants_without_a_reveal():
    board = Workshop()
    poll = opened(board, "scale", question="満足度は？", live_results=True)
    progress, = board.room(answer(board, AIKO, poll, value=4), facilitators=False)
    assert progress["data"]["results"]["counts"]["o4"] == 1
    assert poll_in(board.snap(BEN), poll)["results"]["total"] == 1


def test_drafts_are_not_in_participants_snapshots_until_opened():
    board = Workshop()
    committed = board.do(FAC, "poll:create", {"type": "single_choice", "question": "下書き", "options": ["a", "b"]})
    poll = committed[0][2]["id"]
    assert poll_in(board.snap(AIKO), poll) is None
    assert poll_in(board.snap(FAC), poll)["status"] == "draft"
    assert board.room(committed, facilitators=False) == [{"seq": 1, "type": "noop", "data": {}}]
    assert "下書き" in dump(board.room(committed, facilitators=True))
    opening, = board.room(board.do(FAC, "poll:open", {"poll": poll}), facilitators=False)
    assert opening["type"] == "poll:status" and opening["data"]["question"] == "下書き"
    assert "results" not in opening["data"]
    assert poll_in(board.snap(AIKO), poll)["status"] == "open"


def test_a_pending_question_reaches_only_the_facilitators_room():
    board = Workshop()
    board.do(FAC, "qa:moderation", {"moderation": "pre"})
    committed = board.do(AIKO, "question:ask", {"text": "承認待ちの質問"})
    assert board.room(committed, facilitators=False)[0]["type"] == "noop"
    assert board.room(committed, facilitators=True)[0]["data"]["status"] == "pending"


def test_named_answers_are_for_the_facilitator_of_a_named_poll_only():
    board = Workshop()
    named = opened(board, "single_choice", ["はい", "いいえ"], anonymous=False)
    secret = opened(board, "single_choice", ["はい", "いいえ"], question="匿名で")
    for poll in (named, secret):
        answer(board, AIKO, poll, choice="o1")
    assert poll_in(board.snap(FAC), named)["named_answers"] == [{"name": "Aiko Tanaka", "answer": "はい"}]
    assert "named_answers" not in poll_in(board.snap(FAC), secret)
    assert "Aiko" not in dump(board.snap(BEN)) and AIKO.id not in dump(board.snap(BEN))


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


def polls_on(response: Any) -> dict[str, Any]:
    """The polls on a page, by their question."""
    return {article.find("h3").get_text(strip=True): article for article in html(response).select("article.poll")}


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

    for page in (await voters[0].get(f"/boards/{board.id}/list"), await client.get(f"/boards/{board.id}/present")):
        hidden = polls_on(page)["どの案がよいですか"]  # neither participants nor the projector before the reveal
        assert hidden.select_one("svg.poll-chart") is None and hidden.select_one("table.poll-table") is None

    await facilitate(client, board.id, "poll:reveal", poll=poll, revealed="1")
    for page in (await voters[2].get(f"/boards/{board.id}/list"), await client.get(f"/boards/{board.id}/present")):
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

    article = polls_on(await client.get(f"/boards/{board.id}/present"))["この地域を一言で"]
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
    projector = html(await client.get(f"/boards/{board.id}/present")).select_one(f"#question-{question}")
    assert "question--pinned" in projector["class"] and "question--answered" in projector["class"]
    assert projector.select_one(".question__text strong").get_text(strip=True) == "Now:"
    assert "Answered" in projector.select_one(".note__meta").get_text()

    await facilitate(client, board.id, "question:moderate", question=question, action="unpin")
    assert "question--pinned" not in html(await client.get(f"/boards/{board.id}/present")) \
        .select_one(f"#question-{question}")["class"]
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


# ================================================================ the JSON API

POLL = {"type": "single_choice", "question": "優先したいのは？", "options": ["公園", "図書館", "バス路線"]}


async def api_board(client: Any, db: Any, **settings: Any) -> tuple[Any, Any, str]:
    client.cookies.update(LANG)
    account, board = await organizer_board(client, db, **settings)
    return account, board, await api_token(db, account)


async def answer_as(app: Any, board_id: int, poll: str, who: str, **data: Any) -> None:
    """Someone answers through the same service the socket and the forms use."""
    outcome = await app.litestar.state.board_service.handle(board_id, "poll:answer", {"poll": poll, **data},
                                                            Actor(id=who, name=who), uuid.uuid4().hex)
    assert outcome.result["ok"], outcome.result


async def test_api_creates_a_poll_and_returns_its_option_ids_and_labels(client, db):
    _account, board, token = await api_board(client, db)
    created = await client.post(f"/api/boards/{board.id}/polls", json=POLL, headers=bearer(token))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"] == f"b{board.id}p1" and body["status"] == "draft"
    assert body["options"] == [{"id": "o1", "label": "公園"}, {"id": "o2", "label": "図書館"},
                               {"id": "o3", "label": "バス路線"}]
    opened_now = await client.post(f"/api/boards/{board.id}/polls", headers=bearer(token),
                                   json={**POLL, "question": "今すぐ聞きます", "open": True})
    assert opened_now.status_code == 201 and opened_now.json()["status"] == "open"
    scale = await client.post(f"/api/boards/{board.id}/polls", json={"type": "scale", "question": "満足度"},
                              headers=bearer(token))
    assert scale.status_code == 201 and [o["label"] for o in scale.json()["options"]] == ["1", "2", "3", "4", "5"]
    page = polls_on(await client.get(f"/boards/{board.id}/facilitate"))
    assert list(page) == ["優先したいのは？", "今すぐ聞きます", "満足度"]
    assert "Not open yet" in page["優先したいのは？"].select_one(".poll__meta").get_text()
    assert "Open" in page["今すぐ聞きます"].select_one(".poll__meta").get_text()


@pytest.mark.parametrize("body", [
    {"type": "single_choice", "question": "q", "options": ["ひとつ"]},
    {"type": "survey", "question": "q", "options": ["a", "b"]},
    {"type": "multiple_choice", "question": "q", "options": ["a", "b"], "max_choices": 3},
    {"type": "single_choice", "question": "", "options": ["a", "b"]},
    {"question": "q", "options": ["a", "b"]},
    {"type": "single_choice", "question": "q", "options": "a,b"},
], ids=["one-option", "unknown-type", "too-many-allowed", "no-question", "no-type", "options-not-a-list"])
async def test_api_refuses_a_poll_that_cannot_work(app, client, db, body: dict[str, Any]):
    _account, board, token = await api_board(client, db)
    refused = await client.post(f"/api/boards/{board.id}/polls", json=body, headers=bearer(token))
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "invalid" and refused.json()["error"]["fields"]
    assert (await app.litestar.state.board_service.state(board.id)).polls == {}


async def test_api_poll_on_another_organizations_board_is_not_found(client, db):
    _account, board, _token = await api_board(client, db)
    stranger = await make_account(db, "staff@toyama.example", org="toyama")
    answer_ = await client.post(f"/api/boards/{board.id}/polls", json=POLL, headers=bearer(await api_token(db, stranger)))
    assert answer_.status_code == 404


async def test_api_poll_without_a_token_is_unauthorized(app, db, client):
    _account, board, _token = await api_board(client, db)
    async with browser(app) as anonymous:
        answer_ = await anonymous.post(f"/api/boards/{board.id}/polls", json=POLL)
    assert answer_.status_code == 401


async def test_api_results_are_for_the_facilitator_until_revealed_then_public(app, client, db):
    _account, board, token = await api_board(client, db)
    poll = (await client.post(f"/api/boards/{board.id}/polls", json={**POLL, "open": True},
                              headers=bearer(token))).json()["id"]
    for who, choice in (("p1", "o1"), ("p2", "o3"), ("p3", "o3")):
        await answer_as(app, board.id, poll, who, choice=choice)
    stranger = await make_account(db, "staff@toyama.example", org="toyama")
    async with browser(app) as anonymous:
        assert (await anonymous.get(f"/api/polls/{poll}/results")).status_code == 404
        assert (await anonymous.get(f"/api/polls/{poll}/results",
                                    headers=bearer(await api_token(db, stranger)))).status_code == 404
        mine = await anonymous.get(f"/api/polls/{poll}/results", headers=bearer(token))
        assert mine.status_code == 200
        assert mine.json()["total"] == 3 and mine.json()["counts"] == {"o1": 1, "o2": 0, "o3": 2}

        await app.litestar.state.board_service.handle(board.id, "poll:reveal", {"poll": poll},
                                                      Actor(id="f-x", facilitator=True), uuid.uuid4().hex)
        public = await anonymous.get(f"/api/polls/{poll}/results")
        assert public.status_code == 200 and public.json()["counts"] == {"o1": 1, "o2": 0, "o3": 2}


async def test_api_results_include_counts_from_the_room(app, client, db):
    _account, board, token = await api_board(client, db)
    poll = (await client.post(f"/api/boards/{board.id}/polls", json={**POLL, "open": True, "live_results": True},
                              headers=bearer(token))).json()["id"]
    await answer_as(app, board.id, poll, "p1", choice="o2")
    await app.litestar.state.board_service.handle(board.id, "poll:room", {"poll": poll, "counts": {"o2": 7, "o3": 2}},
                                                  Actor(id="f-x", facilitator=True), uuid.uuid4().hex)
    async with browser(app) as anonymous:  # live results are public
        result = (await anonymous.get(f"/api/polls/{poll}/results")).json()
    assert result["total"] == 10 and result["counts"] == {"o1": 0, "o2": 8, "o3": 2}


async def test_api_word_cloud_results_list_normalised_words(app, client, db):
    _account, board, token = await api_board(client, db)
    poll = (await client.post(f"/api/boards/{board.id}/polls", json={"type": "text", "question": "一言で", "open": True},
                              headers=bearer(token))).json()["id"]
    for who, text in (("p1", "ＡＩ"), ("p2", " ai "), ("p3", "まちづくり")):
        await answer_as(app, board.id, poll, who, text=text)
    result = (await client.get(f"/api/polls/{poll}/results", headers=bearer(token))).json()
    assert result == {"total": 3, "words": [{"text": "ai", "count": 2}, {"text": "まちづくり", "count": 1}]}


@pytest.mark.parametrize("poll", ["b1p99", "b999p1", "nonsense", "b1p"])
async def test_api_results_of_an_unknown_poll_are_not_found(client, db, poll: str):
    _account, _board, token = await api_board(client, db)
    assert (await client.get(f"/api/polls/{poll}/results", headers=bearer(token))).status_code == 404


# ================================================================ real sockets

SLOW_READ = ("with recursive counter(n) as (select 1 union all select n + 1 from counter where n < 3000000) "
             "select count(*) from counter")


async def test_a_participant_who_just_joined_is_found_while_another_read_is_running(client, db):
    _account, board = await organizer_board(client, db)
    slow = asyncio.create_task(db.fetch_one(SLOW_READ))
    await asyncio.sleep(0.1)  # the slow read has begun, and with it its snapshot
    async with db.transaction() as conn:
        _participant, token = await board_store.add_participant(conn, board.id, "さくら", "online")
    # the socket's authenticate() looks the token up; a few lookups land on every reader connection
    found = await asyncio.gather(*(board_store.participant_by_token(db, token) for _ in range(6)))
    await slow
    assert all(row is not None for row in found), f"{sum(row is None for row in found)} of 6 lookups missed"


@pytest.fixture
async def live(fast_server: Any) -> Any:
    """The running server (rate limits off) as (api, crowd): its JSON API and a maker of socket clients."""
    api = Api(fast_server)
    made: list[Member] = []

    def crowd(label: str) -> Member:
        member = Member(label)
        made.append(member)
        return member

    try:
        yield api, crowd
    finally:
        await asyncio.gather(*(member.leave() for member in made), return_exceptions=True)
        await api.close()


async def many(api: Api, crowd: Any, board: dict[str, Any], count: int, name: str) -> list[Member]:
    """`count` participants connected to the board (joined a few dozen at a time)."""
    people: list[Member] = []
    for start in range(0, count, 50):
        people += await asyncio.gather(*(participant(api, crowd, board, f"{name}{n:03d}")
                                         for n in range(start, min(start + 50, count))))
    return people


async def socket_poll(api: Api, board: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """A poll created through the API by the organizer."""
    created = await api.http.post(f"/api/boards/{board['id']}/polls", json=body, headers=api.organizer)
    assert created.status_code == 201, created.text
    return created.json()


async def results_of(api: Api, poll: str) -> dict[str, Any]:
    """The poll's results as the organizer reads them from the API."""
    answer_ = await api.http.get(f"/api/polls/{poll}/results", headers=api.organizer)
    assert answer_.status_code == 200, answer_.text
    return answer_.json()


def answers_in_the_log(db_path: Any, board_id: int, poll: str) -> dict[str, Any]:
    """Each participant's last answer as committed to the board's event log (straight from the SQLite file)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = conn.execute("select data from board_events where board_id = ? and type = 'poll:answered' "
                            "order by seq", (board_id,)).fetchall()
    finally:
        conn.close()
    answers: dict[str, Any] = {}
    for (data,) in rows:
        event = json.loads(data)
        if event["poll"] == poll:
            answers[event["participant"]] = event["answer"]
    return answers


async def test_three_hundred_answers_at_once_are_tallied_exactly_and_changes_replace_them(live):
    api, crowd = live
    board = await api.new_board("市民フォーラム")
    people = await many(api, crowd, board, 300, "市民")
    organizer = await facilitator(api, crowd, board)
    poll = await socket_poll(api, board, {"type": "single_choice", "question": "どの案を優先しますか",
                                          "options": ["A案", "B案", "C案", "D案"], "open": True})
    options = [o["id"] for o in poll["options"]]
    chosen = {person.participant_id: options[n % 4] for n, person in enumerate(people)}

    started = time.perf_counter()
    acks = await asyncio.gather(*(person.call("poll:answer", {"op": op(), "poll": poll["id"],
                                                              "choice": chosen[person.participant_id]})
                                  for person in people))
    wall = time.perf_counter() - started
    print(f"\npoll burst: 300 answers acked in {wall:.2f} s wall")

    assert [a for a in acks if not a.get("ok")] == []
    assert len({a["seq"] for a in acks}) == 300  # each answer its own committed event
    result = await results_of(api, poll["id"])
    expected = {option: list(chosen.values()).count(option) for option in options}
    assert result["total"] == 300 and result["respondents"] == 300
    assert result["counts"] == expected == {"o1": 75, "o2": 75, "o3": 75, "o4": 75}

    seen = await people[123].board()  # participants see how many answered, not the results
    assert poll_in(seen, poll["id"])["respondents"] == 300 and "results" not in poll_in(seen, poll["id"])
    assert poll_in(seen, poll["id"])["my_answer"] == chosen[people[123].participant_id]
    await until(lambda: any(e["type"] == "poll:progress" and e["data"]["respondents"] == 300
                            for e in people[0].events), "the last progress reaches a participant", timeout=120)
    assert all("results" not in e["data"] for p in people for e in p.events if e["type"] == "poll:progress")
    await until(lambda: any(e["data"].get("results", {}).get("total") == 300 for e in organizer.events
                            if e["type"] == "poll:progress"), "the facilitator sees the full tally", timeout=30)

    assert answers_in_the_log(api.server.workshop.db_path, board["id"], poll["id"]) == chosen  # all committed

    changers = people[:50]
    for n, person in enumerate(changers):
        chosen[person.participant_id] = options[(options.index(chosen[person.participant_id]) + 1 + n % 3) % 4]
    started = time.perf_counter()
    acks = await asyncio.gather(*(person.call("poll:answer", {"op": op(), "poll": poll["id"],
                                                              "choice": chosen[person.participant_id]})
                                  for person in changers))
    print(f"poll burst: 50 changed answers acked in {time.perf_counter() - started:.2f} s wall")
    assert all(a["ok"] for a in acks)
    result = await results_of(api, poll["id"])
    assert result["total"] == 300
    assert result["counts"] == {option: list(chosen.values()).count(option) for option in options}
    assert result["counts"] != expected
    assert answers_in_the_log(api.server.workshop.db_path, board["id"], poll["id"]) == chosen


async def test_the_same_answer_from_two_tabs_counts_once(live):
    api, crowd = live
    board = await api.new_board("二つのタブ")
    poll = await socket_poll(api, board, {**POLL, "open": True})
    joined = await api.new_participant(board, "さくら")
    tabs = [await crowd(f"tab{n}").join(api.server.base, {"token": joined["token"]}) for n in (1, 2)]
    acks = await asyncio.gather(*(tab.call("poll:answer", {"op": op(), "poll": poll["id"], "choice": "o2"})
                                  for tab in tabs for _ in range(3)))
    assert all(a["ok"] for a in acks)
    result = await results_of(api, poll["id"])
    assert result["total"] == 1 and result["counts"] == {"o1": 0, "o2": 1, "o3": 0}
    await tabs[1].call("poll:answer", {"op": op(), "poll": poll["id"], "choice": "o3"})  # changed in the other tab
    snaps = [await tab.board() for tab in tabs]
    assert [poll_in(s, poll["id"])["my_answer"] for s in snaps] == ["o3", "o3"]
    result = await results_of(api, poll["id"])
    assert result["total"] == 1 and result["counts"] == {"o1": 0, "o2": 0, "o3": 1}


async def test_a_closed_poll_refuses_answers_with_an_error_ack_and_the_connection_stays_up(live):
    api, crowd = live
    board = await api.new_board("締め切り")
    poll = await socket_poll(api, board, {**POLL, "open": True})
    organizer = await facilitator(api, crowd, board)
    sakura = await participant(api, crowd, board, "さくら")
    assert (await sakura.call("poll:answer", {"op": op(), "poll": poll["id"], "choice": "o1"}))["ok"]
    closed = await organizer.call("poll:close", {"op": op(), "poll": poll["id"]})
    assert closed["ok"]
    await until(lambda: any(e["type"] == "poll:status" and e["data"]["status"] == "closed" for e in sakura.events),
                "the participant hears the poll closed")

    late = await sakura.call("poll:answer", {"op": op(), "poll": poll["id"], "choice": "o2"})
    assert late["ok"] is False and late["error"]["code"] == "poll_closed" and late["error"]["message"]
    assert sakura.connected
    assert poll_in(await sakura.board(), poll["id"])["my_answer"] == "o1"
    assert (await results_of(api, poll["id"]))["counts"] == {"o1": 1, "o2": 0, "o3": 0}

    reopened = await organizer.call("poll:open", {"op": op(), "poll": poll["id"]})
    assert reopened["ok"]
    assert (await sakura.call("poll:answer", {"op": op(), "poll": poll["id"], "choice": "o2"}))["ok"]
    assert (await results_of(api, poll["id"]))["counts"] == {"o1": 0, "o2": 1, "o3": 0}


async def test_bad_answers_get_clear_error_acks_and_the_connection_stays_up(live):
    api, crowd = live
    board = await api.new_board("誤った回答")
    multi = await socket_poll(api, board, {"type": "multiple_choice", "question": "二つまで", "options": ["a", "b", "c"],
                                           "max_choices": 2, "open": True})
    words = await socket_poll(api, board, {"type": "text", "question": "一言で", "open": True})
    ranking = await socket_poll(api, board, {"type": "ranking", "question": "順に", "options": ["a", "b", "c"],
                                             "open": True})
    organizer = await facilitator(api, crowd, board)
    sakura = await participant(api, crowd, board, "さくら")
    cases = [
        ({"poll": "b999p1", "choices": ["o1"]}, "not_found"),
        ({"poll": multi["id"], "choices": ["o7"]}, "invalid_choice"),
        ({"poll": multi["id"], "choices": ["o1", "o2", "o3"]}, "too_many"),
        ({"poll": words["id"], "text": "長" * 51}, "too_long"),
        ({"poll": ranking["id"], "ranking": ["o1", "o1", "o2"]}, "invalid_choice"),
    ]
    for data, code in cases:
        refused = await sakura.call("poll:answer", {"op": op(), **data})
        assert refused["ok"] is False and refused["error"]["code"] == code, (data, refused)
        assert sakura.connected
    facilitator_answer = await organizer.call("poll:answer", {"op": op(), "poll": multi["id"], "choices": ["o1"]})
    assert facilitator_answer["error"]["code"] == "forbidden"
    no_op = await sakura.call("poll:answer", {"poll": multi["id"], "choices": ["o1"]})
    assert no_op["ok"] is False and no_op["error"]["code"] == "invalid"
    for poll in (multi, words, ranking):
        assert (await results_of(api, poll["id"]))["total"] == 0


async def test_a_ranking_with_a_number_in_it_gets_an_error_ack(live):
    api, crowd = live
    board = await api.new_board("順位の誤り")
    ranking = await socket_poll(api, board, {"type": "ranking", "question": "順に", "options": ["a", "b", "c"],
                                             "open": True})
    sakura = await participant(api, crowd, board, "さくら")
    refused = await sakura.sio.call("poll:answer", {"op": op(), "poll": ranking["id"], "ranking": [1, "o1", "o2"]},
                                    namespace="/board", timeout=5)
    assert refused["ok"] is False and refused["error"]["code"] == "invalid_choice"


async def test_room_counts_from_the_facilitators_socket_are_added_to_totals(live):
    api, crowd = live
    board = await api.new_board("会場の挙手")
    poll = await socket_poll(api, board, {**POLL, "open": True})
    organizer = await facilitator(api, crowd, board)
    people = [await participant(api, crowd, board, name) for name in ("さくら", "たろう")]
    for person in people:
        assert (await person.call("poll:answer", {"op": op(), "poll": poll["id"], "choice": "o1"}))["ok"]
    entered = await organizer.call("poll:room", {"op": op(), "poll": poll["id"], "counts": {"o1": 14, "o3": 6}})
    assert entered["ok"]
    result = await results_of(api, poll["id"])
    assert result["total"] == 22 and result["counts"] == {"o1": 16, "o2": 0, "o3": 6}
    assert result["online"] == {"o1": 2, "o2": 0, "o3": 0} and result["room"] == {"o1": 14, "o3": 6}
    refused = await people[0].call("poll:room", {"op": op(), "poll": poll["id"], "counts": {"o1": 100}})
    assert refused["error"]["code"] == "forbidden"
    bad = await organizer.call("poll:room", {"op": op(), "poll": poll["id"], "counts": {"o1": -3}})
    assert bad["ok"] is False and bad["error"]["code"] == "invalid" and organizer.connected
    assert (await results_of(api, poll["id"]))["total"] == 22


async def test_results_reach_participants_only_when_revealed(live):
    api, crowd = live
    board = await api.new_board("公開のタイミング")
    poll = await socket_poll(api, board, {**POLL, "open": True})
    organizer = await facilitator(api, crowd, board)
    sakura, taro = await participant(api, crowd, board, "さくら"), await participant(api, crowd, board, "たろう")
    await taro.call("poll:answer", {"op": op(), "poll": poll["id"], "choice": "o2"})
    await until(lambda: any(e["type"] == "poll:progress" for e in sakura.events), "progress reaches さくら")
    progress = next(e for e in sakura.events if e["type"] == "poll:progress")
    assert progress["data"] == {"poll": poll["id"], "status": "open", "respondents": 1}
    assert "results" not in poll_in(await sakura.board(), poll["id"])
    assert (await api.http.get(f"/api/polls/{poll['id']}/results")).status_code == 404  # not public yet

    assert (await organizer.call("poll:reveal", {"op": op(), "poll": poll["id"]}))["ok"]
    await until(lambda: any(e["type"] == "poll:revealed" for e in sakura.events), "the reveal reaches さくら")
    revealed = next(e for e in sakura.events if e["type"] == "poll:revealed")
    assert revealed["data"]["results"]["counts"] == {"o1": 0, "o2": 1, "o3": 0}
    assert poll_in(await sakura.board(), poll["id"])["results"]["total"] == 1
    assert (await api.http.get(f"/api/polls/{poll['id']}/results")).json()["counts"] == {"o1": 0, "o2": 1, "o3": 0}


async def test_each_participant_upvotes_a_question_once_however_often_they_press(live):
    api, crowd = live
    board = await api.new_board("質問タイム")
    people = await many(api, crowd, board, 100, "聴衆")
    organizer = await facilitator(api, crowd, board)
    asked = await people[0].call("question:ask", {"op": op(), "text": "駅からのバスはありますか"})
    assert asked["ok"]
    question = asked["id"]
    acks = await asyncio.gather(*(person.call("question:upvote", {"op": op(), "question": question})
                                  for person in people for _ in range(2)))
    assert all(a["ok"] for a in acks)
    snap = await organizer.board()
    assert [(q["text"], q["votes"]) for q in snap["questions"]] == [("駅からのバスはありますか", 100)]
    mine = await people[42].board()
    assert mine["questions"][0]["upvoted"] is True and mine["questions"][0]["votes"] == 100
    assert (await people[42].call("question:unvote", {"op": op(), "question": question}))["ok"]
    assert (await organizer.board())["questions"][0]["votes"] == 99
