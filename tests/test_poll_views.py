"""Live polls and Q&A (issue 6): what each viewer sees in snapshots and room events: progress without
results until the reveal, live results, drafts, pending questions and named answers.

Rule tests drive realtime.board.apply/fold exactly like BoardService.handle (the `Workshop` of
tests/board_model.py)."""

from __future__ import annotations

from tests.board_model import AIKO, BEN, FAC, Workshop, dump
from tests.poll_helpers import answer, create, opened, poll_in


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
