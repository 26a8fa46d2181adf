"""Q&A (issue 6), the pure rules: asking, upvoting once, pre-moderation, hiding, answered and pinned
questions, and no author names where they must not be.

Rule tests drive realtime.board.apply/fold exactly like BoardService.handle (the `Workshop` of
tests/board_model.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.board_model import AIKO, BEN, CHIE, FAC, Workshop, dump
from tests.poll_helpers import ask, question_texts


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
