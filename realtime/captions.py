"""The rules of a live caption stream (要約筆記): what a line and an edit may hold, who may send them,
and how a line looks on the wire. Pure: no sockets, no SQL (see caption_store.py and
caption_service.py).

A stream is a list of committed lines. A captioner commits a line (`caption:line`), a captioner or
the session's organizer corrects one (`caption:edit`). Every change takes the stream's next `seq`,
and each line remembers the seq of its latest change, so "everything after seq n" is exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from realtime.commands import CommandError, N_, without_controls

LINE_MAX = 500  # characters of one caption line (a summary line, not a speech)
SPEAKER_MAX = 20
OP_MAX = 100
SPACES = re.compile(r"\s+")
DEFAULT_SPEAKERS = ("司会", "市長", "参加者")


@dataclass(frozen=True)
class Captioner:
    """Who sends changes: a captioner (by link) or an organizer correcting the transcript."""

    id: str  # "c<captioner id>" or "o<account id>": op ids are kept per sender
    captioner_id: int | None = None


@dataclass(frozen=True)
class Line:
    line: int
    seq: int
    text: str
    speaker: str
    at: str  # ISO-8601 UTC of the commit
    edited_at: str | None = None

    def wire(self) -> dict[str, Any]:
        """The line as viewers receive it (`speaker` only when there is one)."""
        data: dict[str, Any] = {"line": self.line, "text": self.text, "at": self.at}
        if self.speaker:
            data["speaker"] = self.speaker
        if self.edited_at:
            data["edited"] = True
        return data


def _storable(value: Any) -> bool:
    """Text the database can keep (a lone surrogate cannot be encoded)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def caption_text(value: Any) -> str:
    """A line's text on one line, without control characters; empty or too long is refused."""
    if not isinstance(value, str) or not _storable(value):
        raise CommandError("invalid", N_("The caption must be text."))
    text = SPACES.sub(" ", without_controls(value)).strip()
    if not text:
        raise CommandError("invalid", N_("Type the caption first."))
    if len(text) > LINE_MAX:
        raise CommandError("too_long", N_("A caption line can have at most {max} characters."), max=LINE_MAX)
    return text


def speaker_label(value: Any) -> str:
    """A speaker label (司会, 市長, …) or none."""
    if value is None:
        return ""
    if not isinstance(value, str) or not _storable(value):
        raise CommandError("invalid", N_("The speaker must be text."))
    label = SPACES.sub(" ", without_controls(value)).strip()
    if len(label) > SPEAKER_MAX:
        raise CommandError("too_long", N_("A speaker label can have at most {max} characters."), max=SPEAKER_MAX)
    return label


def line_number(value: Any) -> int:
    """The id of the line an edit corrects."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise CommandError("invalid", N_("Say which line to correct."))
    return value


def valid_op(op: Any) -> bool:
    """Whether a client's op id can be recorded (1 to OP_MAX printable characters)."""
    return isinstance(op, str) and 1 <= len(op) <= OP_MAX and op.isprintable() and _storable(op)


def since_seq(value: Any, seq: int) -> int | None:
    """The seq a reconnecting client had, if it is one this stream could have sent; else None."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= seq:
        return value
    return None


def caption_message(seq: int, kind: str, line: Line) -> dict[str, Any]:
    """The `caption` message everyone receives after a committed change."""
    return {"seq": seq, "type": kind, "data": line.wire()}


VIEWING_AFTER_END_HOURS = 2  # a forum may overrun: the live captions stay open this long after the end


def open_to_viewers(status: str, ends_at: datetime, published: bool, now: datetime) -> bool:
    """Anyone may follow the captions of a public session while it runs (and a while after); later
    only when the organizer published the transcript with the outcome."""
    if status not in ("published", "completed"):
        return False
    return published or now <= ends_at + timedelta(hours=VIEWING_AFTER_END_HOURS)
