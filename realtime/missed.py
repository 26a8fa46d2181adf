"""What a board room or a caption stream's room missed, read back from the database: a process that
lost some of a room's messages on their way through Redis fills the gap with these, once per room
rather than once per client (see ordering.py), so its clients see every change in order and need no
snapshot."""

from __future__ import annotations

import re
from typing import Any

from realtime import caption_store, store
from realtime.captions import caption_message
from realtime.service import BoardService
from realtime.views import room_event

ROOM = re.compile(r"board:(\d+):([pf])", re.ASCII)  # participants_room() and facilitators_room() of namespace.py
CAPTION_ROOM = re.compile(r"captions:(\d+)", re.ASCII)  # stream_room() of caption_namespace.py


async def missed_messages(service: BoardService, room: str, after: int) -> list[dict[str, Any]]:
    """What any ordered room missed after seq `after`: a board room's events or a caption room's lines."""
    if CAPTION_ROOM.fullmatch(room):
        return await missed_captions(service.db, room, after)
    return await missed_events(service, room, after)


async def missed_captions(db: Any, room: str, after: int) -> list[dict[str, Any]]:
    """The `caption` messages for every line added or edited after seq `after`, in seq order.

    A line edited again keeps only the seq of its latest change, so the seqs read back can skip some:
    each message carries `from` (the seq after the one before it), and the messages chain from `after`
    without a gap. An edited line is sent as an `edit` (even one added after `after`: viewers render a
    line they do not know yet either way)."""
    found = CAPTION_ROOM.fullmatch(room)
    if found is None:
        return []
    messages = []
    previous = after
    for line in await caption_store.lines_since(db, int(found[1]), after):
        message = caption_message(line.seq, "edit" if line.edited_at else "line", line)
        message["from"] = previous + 1
        messages.append(message)
        previous = line.seq
    return messages


async def missed_events(service: BoardService, room: str, after: int) -> list[dict[str, Any]]:
    """The room's messages for every event its board logged after seq `after` (all of them: a room far
    behind after a long outage is still cheaper to catch up once than with a snapshot per client)."""
    found = ROOM.fullmatch(room)
    if found is None or await service.board(int(found[1])) is None:
        return []
    board_id = int(found[1])
    events = await store.events_since(service.db, board_id, after)
    if not events:
        return []
    state = await service.state(board_id)  # read after the events, so it has folded every one of them
    count = await store.participant_count(service.db, board_id)
    return [room_event(state, seq, kind, data, facilitators=found[2] == "f", participants=count)
            for seq, kind, data in events]
