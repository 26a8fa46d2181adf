"""Live polls (issue 6), the pure rules: creating each poll type, answering, changing answers, counts from
the room, word clouds and rankings, and any sequence of answers.

Rule tests drive realtime.board.apply/fold exactly like BoardService.handle (the `Workshop` of
tests/board_model.py)."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from realtime.board import Actor, replay
from realtime.polls import ANSWER_TEXT_MAX, normalise_word
from tests.board_model import AIKO, BEN, CHIE, FAC, Workshop, dump
from tests.poll_helpers import LIKERT, answer, ask, create, labels, opened, tally


# ================================================================ rules (pure)

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
    assert tally(board, poll) == {"total": 3, "words": [{"text": "ai", "count": 3, "size": 5}]}


def test_half_width_katakana_is_the_same_word_as_full_width():
    assert normalise_word("ｶﾞｯｺｳ") == normalise_word("ガッコウ") == normalise_word("がっこう") == "がっこう"
    assert normalise_word("  まち   づくり ") == "まち づくり"
    board = Workshop()
    poll = opened(board, "text", question="この地域を一言で")
    answer(board, AIKO, poll, text="ﾐﾄﾞﾘ")
    answer(board, BEN, poll, text="ミドリ")
    answer(board, CHIE, poll, text="公園")
    assert [(w["text"], w["count"]) for w in tally(board, poll)["words"]] == [("ミドリ", 2), ("公園", 1)]
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


def test_word_cloud_counts_hiragana_katakana_and_half_width_spellings_once_and_sizes_by_count():
    assert normalise_word("ｱﾀﾀｶｲ") == normalise_word("アタタカイ") == normalise_word("あたたかい")
    board = Workshop()
    poll = opened(board, "text", question="この地域を一言で")
    answer(board, AIKO, poll, text="あたたかい")
    answer(board, BEN, poll, text="ｱﾀﾀｶｲ")
    answer(board, CHIE, poll, text="公園")
    words = tally(board, poll)["words"]
    assert [(w["count"], w["size"]) for w in words] == [(2, 5), (1, 3)]
    assert words[0]["text"] in ("あたたかい", "アタタカイ") and words[1]["text"] == "公園"
