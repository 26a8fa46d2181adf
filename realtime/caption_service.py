"""Running caption streams: changes validated by the rules, committed, then acknowledged and sent.

Each stream has a lock held from the op check to the broadcast, so every change gets the next seq
and everyone receives changes in seq order; a joining client reads its snapshot under the same lock.
Caption lines come a few per second at most, so holding the lock through the commit costs nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from realtime import caption_store as store
from realtime.caption_store import Stream
from realtime.captions import Captioner, CommandError, N_, caption_message, caption_text, line_number, \
    since_seq, speaker_label, valid_op

Send = Callable[[dict[str, Any]], Awaitable[None]]
KINDS = ("caption:line", "caption:edit")


def now_iso() -> str:
    """Now in UTC to the millisecond, as stored (WebVTT cues are timed from it)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def refusal(code: str, message: str, **params: Any) -> dict[str, Any]:
    """An error answer: a stable code and a message id (translated by the caller)."""
    return {"ok": False, "error": {"code": code, "message": message, "params": params}}


class CaptionService:
    def __init__(self, db: Any) -> None:
        self.db = db
        self._locks: dict[int, asyncio.Lock] = {}

    def lock(self, stream_id: int) -> asyncio.Lock:
        return self._locks.setdefault(stream_id, asyncio.Lock())

    async def handle(self, stream: Stream, kind: str, data: dict[str, Any], sender: Captioner, op: Any,
                     send: Send | None = None) -> dict[str, Any]:
        """Apply one change once per op id; the answer comes after the commit, the broadcast right after it."""
        if kind not in KINDS:
            return refusal("unknown_event", N_("This event is not known."))
        if not valid_op(op):
            return refusal("invalid", N_("Every change needs an op id."))
        try:
            text = caption_text(data.get("text"))
            speaker = speaker_label(data.get("speaker"))
            line = line_number(data.get("line")) if kind == "caption:edit" else 0
        except CommandError as error:
            return refusal(error.code, error.message, **error.params)
        message = None
        async with self.lock(stream.id):
            async with self.db.transaction() as conn:
                prior = await store.recorded_op(conn, stream.id, sender.id, op)
                if prior is not None:
                    return prior
                if sender.captioner_id is not None and not await store.captioner_active(conn, sender.captioner_id):
                    return refusal("revoked", N_("This captioner link has been revoked."))
                at = now_iso()
                if kind == "caption:line":
                    seq = await store.next_seq(conn, stream.id)
                    added = await store.add_line(conn, stream.id, seq, text, speaker, at)
                    result: dict[str, Any] = {"ok": True, "line": added.line, "seq": seq}
                    message = caption_message(seq, "line", added)
                else:
                    found = await store.get_line(conn, stream.id, line)
                    if found is None:
                        return refusal("not_found", N_("There is no such caption line."))
                    seq = await store.next_seq(conn, stream.id)
                    new_speaker = speaker if "speaker" in data else None
                    await store.edit_line(conn, stream.id, line, seq, text, new_speaker, at)
                    edited = await store.get_line(conn, stream.id, line)
                    assert edited is not None
                    result = {"ok": True, "line": line, "seq": seq}
                    message = caption_message(seq, "edit", edited)
                await store.record_op(conn, stream.id, sender.id, op, result)
            # committed: now everyone may hear of it, in seq order (still under the lock)
            if send is not None:
                await send(message)
        return result

    async def joining(self, stream_id: int, since: Any) -> dict[str, Any]:
        """The snapshot a joining client gets (call under the stream's lock): the whole transcript, or
        with a valid `since` only the lines added or edited after it."""
        stream = await store.get_stream(self.db, stream_id)
        assert stream is not None
        after = since_seq(since, stream.seq)
        lines = await store.lines_since(self.db, stream_id, after) if after is not None \
            else await store.all_lines(self.db, stream_id)
        snapshot: dict[str, Any] = {"seq": stream.seq, "lines": [line.wire() for line in lines]}
        if after is not None:
            snapshot["since"] = after
        return snapshot
