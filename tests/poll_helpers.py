"""What the poll tests share: polls and Q&A driven through the pure board rules (the `Workshop` of
tests/board_model.py, exactly like BoardService.handle), an answer through the app's board service, and the
polls a page shows."""

from __future__ import annotations

import uuid
from typing import Any

from realtime.board import Actor
from realtime.polls import poll_results
from tests.board_model import FAC, Workshop
from tests.harness import html

LIKERT = ["そう思う", "ややそう思う", "どちらとも言えない", "あまりそう思わない", "そう思わない"]
POLL = {"type": "single_choice", "question": "優先したいのは？", "options": ["公園", "図書館", "バス路線"]}


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


async def answer_as(app: Any, board_id: int, poll: str, who: str, **data: Any) -> None:
    """Someone answers through the same service the socket and the forms use."""
    outcome = await app.litestar.state.board_service.handle(board_id, "poll:answer", {"poll": poll, **data},
                                                            Actor(id=who, name=who), uuid.uuid4().hex)
    assert outcome.result["ok"], outcome.result


def polls_on(response: Any) -> dict[str, Any]:
    """The polls on a page, by their question."""
    return {article.find("h3").get_text(strip=True): article for article in html(response).select("article.poll")}
