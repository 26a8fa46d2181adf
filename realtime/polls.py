"""Polls and Q&A on a board: pure rules like the board's (`apply_poll`, `fold_poll`), same log.

Poll types: single_choice, multiple_choice (up to k), scale (1–5, a Likert scale with labels, or
"fist to five" 0–5), ranking (order a list) and text (a word cloud). Every participant has one
answer per poll, which they may change while it is open. The facilitator enters counts from the
room (a show of hands, paper) which are shown apart and included in totals. Questions are asked,
upvoted once per participant, moderated (approve-first or afterwards), answered and pinned.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

POLL_TYPES = ("single_choice", "multiple_choice", "scale", "ranking", "text")
OPTION_MAX = 100
QUESTION_MAX = 300
ANSWER_TEXT_MAX = 50
MAX_OPTIONS = 12


class PollError(Exception):
    def __init__(self, code: str, message: str, **params: object) -> None:
        super().__init__(code)
        self.code, self.message, self.params = code, message, params


def N_(message: str) -> str:
    return message


@dataclass
class Poll:
    id: str
    type: str
    question: str
    options: list[dict[str, str]]
    max_choices: int = 1
    live_results: bool = False
    anonymous: bool = True
    status: str = "draft"  # draft, open, closed
    revealed: bool = False
    answers: dict[str, Any] = field(default_factory=dict)  # participant -> answer
    names: dict[str, str] = field(default_factory=dict)  # participant -> display name (named polls)
    room: dict[str, int] = field(default_factory=dict)  # option id -> count from the room


@dataclass
class Question:
    id: str
    text: str
    author: str
    author_name: str
    status: str = "visible"  # pending (awaiting approval), visible, hidden
    answered: bool = False
    upvotes: set[str] = field(default_factory=set)


# katakana ァ..ヶ (U+30A1..U+30F6) are hiragana ぁ..ゖ (U+3041..U+3096) plus 0x60
_KATAKANA_TO_HIRAGANA = {code: code - 0x60 for code in range(0x30A1, 0x30F7)}


def normalise_word(text: str) -> str:
    """The key answers are counted by: NFKC (ｱﾀﾀｶｲ → アタタカイ, full-width letters → ASCII),
    katakana folded to hiragana (アタタカイ → あたたかい), case-folded, inner whitespace collapsed."""
    folded = unicodedata.normalize("NFKC", text).translate(_KATAKANA_TO_HIRAGANA)
    return " ".join(folded.casefold().split())


def display_word(text: str) -> str:
    """How one answer is shown in the cloud: like `normalise_word` but in the script it was written in."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _options_for(kind: str, labels: list[str]) -> list[dict[str, str]]:
    return [{"id": f"o{index + 1}", "label": label} for index, label in enumerate(labels)]


def poll_results(poll: Poll) -> dict[str, Any]:
    """{total, counts: {option: n}, online, room} or, for text polls, {total, words: [{text, count}]}."""
    if poll.type == "text":
        words: dict[str, int] = {}
        spellings: dict[str, dict[str, int]] = {}  # key -> how it was written -> how often
        for answer in poll.answers.values():
            word = normalise_word(answer)
            if word:
                words[word] = words.get(word, 0) + 1
                shown = spellings.setdefault(word, {})
                shown[display_word(answer)] = shown.get(display_word(answer), 0) + 1
        ranked = sorted(words.items(), key=lambda item: (-item[1], item[0]))
        top = ranked[0][1] if ranked else 1
        return {"total": len(poll.answers), "words": [
            {"text": min(spellings[w].items(), key=lambda s: (-s[1], s[0]))[0], "count": n,
             "size": max(1, -(-n * 5 // top))}  # 1..5, in proportion to the most frequent word
            for w, n in ranked]}
    online = {option["id"]: 0 for option in poll.options}
    if poll.type == "ranking":
        # Borda count: first place gets n-1 points ... last gets 0
        size = len(poll.options)
        for order in poll.answers.values():
            for place, option_id in enumerate(order):
                online[option_id] += size - 1 - place
    else:
        for answer in poll.answers.values():
            for option_id in (answer if isinstance(answer, list) else [answer]):
                online[option_id] = online.get(option_id, 0) + 1
    counts = {key: online[key] + poll.room.get(key, 0) for key in online}
    return {"total": len(poll.answers) + sum(poll.room.values()) if poll.type != "ranking" else len(poll.answers),
            "counts": counts, "online": online, "room": dict(poll.room), "respondents": len(poll.answers)}


def _poll(polls: dict[str, Poll], data: dict[str, Any]) -> Poll:
    poll = polls.get(data.get("poll")) if isinstance(data.get("poll"), str) else None
    if poll is None:
        raise PollError("not_found", N_("There is no such poll."))
    return poll


def _clean(value: Any, limit: int, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PollError("invalid", N_("{field} cannot be empty."), field=what)
    text = " ".join(value.split()) if what != N_("question") else value.strip()
    if len(text) > limit:
        raise PollError("too_long", N_("Keep {field} under {max} characters."), field=what, max=limit)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PollError("invalid", N_("{field} contains characters that cannot be saved."), field=what) from None
    return text


def validate_answer(poll: Poll, data: dict[str, Any]) -> Any:
    """The answer as stored, or PollError: invalid choice, too many choices, over-long text."""
    ids = [option["id"] for option in poll.options]
    if poll.type in ("single_choice", "scale"):
        choice = data.get("choice", data.get("value"))
        if isinstance(choice, int) and not isinstance(choice, bool):
            choice = next((o["id"] for o in poll.options if o.get("value") == str(choice)), None)
        if choice not in ids:
            raise PollError("invalid_choice", N_("Choose one of the options."))
        return choice
    if poll.type == "multiple_choice":
        choices = data.get("choices")
        if isinstance(choices, str):
            choices = [choices]
        if not isinstance(choices, list) or not choices or any(c not in ids for c in choices):
            raise PollError("invalid_choice", N_("Choose one of the options."))
        choices = list(dict.fromkeys(choices))
        if len(choices) > poll.max_choices:
            raise PollError("too_many", N_("Choose at most {max}."), max=poll.max_choices)
        return choices
    if poll.type == "ranking":
        order = data.get("ranking", data.get("choices"))
        if not isinstance(order, list) or not all(isinstance(item, str) for item in order) \
                or len(order) != len(ids) or set(order) != set(ids):
            raise PollError("invalid_choice", N_("Put every option in order, each once."))
        return order
    return _clean(data.get("text"), ANSWER_TEXT_MAX, N_("answer"))


@dataclass(frozen=True)
class PollCommand:
    """One poll or question command and what its rules read: the board's polls, questions and settings."""

    polls: dict[str, Poll]
    questions: dict[str, Question]
    data: dict[str, Any]
    actor: Any
    next_id: int
    moderation: str
    board_id: int
    board_anonymous: bool = False  # a board promised anonymous has only anonymous polls


def _event(type_: str, **payload: Any) -> dict[str, Any]:
    return {"type": type_, "data": payload}


def _options_and_max(poll_type: str, labels: list[str], data: dict[str, Any]) -> tuple[str, list[dict[str, str]], int]:
    """A poll's stored type, its options (scales carry their values) and how many may be chosen."""
    values: list[str] = []
    if poll_type == "fist_to_five":
        poll_type, labels, values = "scale", [str(n) for n in range(6)], [str(n) for n in range(6)]
    elif poll_type == "likert" or (poll_type == "scale" and not labels):
        labels = labels or ["1", "2", "3", "4", "5"]
        poll_type, values = "scale", [str(n) for n in range(1, len(labels) + 1)]
    elif poll_type == "scale":
        values = [str(n) for n in range(1, len(labels) + 1)]
    if poll_type != "text" and not 2 <= len(labels) <= MAX_OPTIONS:
        raise PollError("invalid", N_("Give between 2 and {max} options."), max=MAX_OPTIONS)
    options = _options_for(poll_type, labels if poll_type != "text" else [])
    for option, value in zip(options, values):
        option["value"] = value
    max_choices = data.get("max_choices", 1 if poll_type != "multiple_choice" else len(options))
    if not isinstance(max_choices, int) or isinstance(max_choices, bool) or not 1 <= max_choices <= max(1, len(options)):
        raise PollError("invalid", N_("Choose at most {max}."), max=len(options))
    return poll_type, options, max_choices


def _no_names_on_an_anonymous_board(command: PollCommand, anonymous: bool) -> None:
    if command.board_anonymous and not anonymous:
        raise PollError("named_poll", N_("This board is anonymous: its polls cannot record who answered what."),
                        field="anonymous")


def _create_poll(command: PollCommand) -> list[dict[str, Any]]:
    data = command.data
    anonymous = bool(data.get("anonymous", True))
    _no_names_on_an_anonymous_board(command, anonymous)
    poll_type = data.get("type")
    if poll_type not in (*POLL_TYPES, "fist_to_five", "likert"):
        raise PollError("invalid", N_("Choose a poll type."))
    question = _clean(data.get("question"), QUESTION_MAX, N_("question"))
    raw = data.get("options") or []
    if not isinstance(raw, list):
        raise PollError("invalid", N_("Options must be a list."))
    labels = [_clean(label, OPTION_MAX, N_("option")) for label in raw if isinstance(label, str) and label.strip()]
    poll_type, options, max_choices = _options_and_max(poll_type, labels, data)
    # poll ids name their board, so the API can find a poll by its id alone (GET /api/polls/{id})
    poll_id = f"b{command.board_id}p{command.next_id}"
    created = [_event("poll:created", id=poll_id, type=poll_type, question=question, options=options,
                      max_choices=max_choices, live_results=bool(data.get("live_results", False)), anonymous=anonymous)]
    if data.get("open") is True:  # created and opened in one step, from the console
        created.append(_event("poll:status", poll=poll_id, status="open"))
    return created


def _poll_status(command: PollCommand, status: str) -> list[dict[str, Any]]:
    poll = _poll(command.polls, command.data)
    return [_event("poll:status", poll=poll.id, status=status)] if poll.status != status else []


def _open_poll(command: PollCommand) -> list[dict[str, Any]]:
    # a named poll made before this rule existed stays closed on an anonymous board
    _no_names_on_an_anonymous_board(command, _poll(command.polls, command.data).anonymous)
    return _poll_status(command, "open")


def _close_poll(command: PollCommand) -> list[dict[str, Any]]:
    return _poll_status(command, "closed")


def _reveal_poll(command: PollCommand) -> list[dict[str, Any]]:
    poll = _poll(command.polls, command.data)
    revealed = command.data.get("revealed", True) not in (False, "0", "false", 0)
    return [_event("poll:revealed", poll=poll.id, revealed=revealed)] if poll.revealed != revealed else []


def _room_counts(command: PollCommand) -> list[dict[str, Any]]:
    """Counts from the room (a show of hands, paper), one per option; text and ranking polls have none."""
    poll = _poll(command.polls, command.data)
    counts = command.data.get("counts")
    ids = [option["id"] for option in poll.options]
    if poll.type in ("text", "ranking") or not isinstance(counts, dict) or any(
            key not in ids or not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= 100_000
            for key, n in counts.items()):
        raise PollError("invalid", N_("Enter a count from 0 for each option."))
    return [_event("poll:room_counts", poll=poll.id, counts=counts)]


def _answer_poll(command: PollCommand) -> list[dict[str, Any]]:
    poll, actor = _poll(command.polls, command.data), command.actor
    if poll.status != "open":
        raise PollError("poll_closed", N_("This poll is not open."))
    answer = validate_answer(poll, command.data)
    if poll.answers.get(actor.id) == answer:
        return []  # the same answer again (another tab, a retry): counted once
    return [_event("poll:answered", poll=poll.id, participant=actor.id, name=actor.name, answer=answer)]


def _ask_question(command: PollCommand) -> list[dict[str, Any]]:
    data, actor = command.data, command.actor
    text = _clean(data.get("text"), QUESTION_MAX, N_("question"))
    anonymous = bool(data.get("anonymous", False))
    return [_event("question:asked", id=f"q{command.next_id}", text=text, author=actor.id,
                   author_name="" if anonymous else actor.name,
                   status="pending" if command.moderation == "pre" and not actor.facilitator else "visible")]


def _visible_question(command: PollCommand) -> Question:
    data = command.data
    question = command.questions.get(data.get("question")) if isinstance(data.get("question"), str) else None
    if question is None or question.status != "visible":
        raise PollError("not_found", N_("There is no such question."))
    return question


def _upvote(command: PollCommand) -> list[dict[str, Any]]:
    question, actor = _visible_question(command), command.actor
    has = actor.id in question.upvotes
    return [] if has else [_event("question:upvoted", id=question.id, participant=actor.id)]


def _unvote(command: PollCommand) -> list[dict[str, Any]]:
    question, actor = _visible_question(command), command.actor
    has = actor.id in question.upvotes
    return [_event("question:unvoted", id=question.id, participant=actor.id)] if has else []


def _moderate_question(command: PollCommand) -> list[dict[str, Any]]:
    data = command.data
    question = command.questions.get(data.get("question")) if isinstance(data.get("question"), str) else None
    if question is None:
        raise PollError("not_found", N_("There is no such question."))
    action = data.get("action")
    if action not in ("approve", "hide", "answered", "unanswered", "pin", "unpin"):
        raise PollError("invalid", N_("Unknown action."))
    return [_event("question:moderated", id=question.id, action=action)]


def _set_moderation(command: PollCommand) -> list[dict[str, Any]]:
    """Questions shown at once ("post") or only once the facilitator approves them ("pre")."""
    mode = command.data.get("moderation")
    if mode not in ("pre", "post"):
        raise PollError("invalid", N_("Unknown action."))
    return [_event("qa:moderation_set", moderation=mode)]


_COMMANDS: dict[str, Callable[[PollCommand], list[dict[str, Any]]]] = {
    "poll:create": _create_poll,
    "poll:open": _open_poll,
    "poll:close": _close_poll,
    "poll:reveal": _reveal_poll,
    "poll:room": _room_counts,
    "poll:answer": _answer_poll,
    "question:ask": _ask_question,
    "question:upvote": _upvote,
    "question:unvote": _unvote,
    "question:moderate": _moderate_question,
    "qa:moderation": _set_moderation,
}


def apply_poll(polls: dict[str, Poll], questions: dict[str, Question], kind: str, data: dict[str, Any],
               actor: Any, *, next_id: int, moderation: str, board_id: int,
               board_anonymous: bool = False) -> list[dict[str, Any]]:
    """Events for a poll:* or question:* command (the board checked the actor and phase)."""
    handler = _COMMANDS.get(kind)
    if handler is None:
        raise PollError("unknown_event", N_("Unknown event: {type}."), type=kind)
    return handler(PollCommand(polls, questions, data, actor, next_id, moderation, board_id, board_anonymous))


def fold_poll(state: Any, kind: str, data: dict[str, Any]) -> None:
    """Apply a poll or question event to the board state in place."""
    polls, questions = state.polls, state.questions
    if kind == "poll:created":
        polls[data["id"]] = Poll(id=data["id"], type=data["type"], question=data["question"],
                                 options=data["options"], max_choices=data["max_choices"],
                                 live_results=data["live_results"], anonymous=data["anonymous"])
    elif kind == "poll:status":
        polls[data["poll"]].status = data["status"]
    elif kind == "poll:revealed":
        polls[data["poll"]].revealed = data["revealed"]
    elif kind == "poll:room_counts":
        polls[data["poll"]].room.update(data["counts"])
    elif kind == "poll:answered":
        poll = polls[data["poll"]]
        poll.answers[data["participant"]] = data["answer"]
        poll.names[data["participant"]] = data.get("name", "")
    elif kind == "question:asked":
        questions[data["id"]] = Question(id=data["id"], text=data["text"], author=data["author"],
                                         author_name=data["author_name"], status=data["status"])
    elif kind == "question:upvoted":
        questions[data["id"]].upvotes.add(data["participant"])
    elif kind == "question:unvoted":
        questions[data["id"]].upvotes.discard(data["participant"])
    elif kind == "question:moderated":
        question, action = questions[data["id"]], data["action"]
        if action == "approve":
            question.status = "visible"
        elif action == "hide":
            question.status = "hidden"
            if state.pinned == question.id:
                state.pinned = None
        elif action in ("answered", "unanswered"):
            question.answered = action == "answered"
        elif action == "pin":
            state.pinned = question.id
        elif action == "unpin" and state.pinned == question.id:
            state.pinned = None
    elif kind == "qa:moderation_set":
        state.qa_moderation = data["moderation"]
