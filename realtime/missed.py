"""What a board room missed, read back from the board's log: a process that lost some of a board's
messages on their way through Redis fills the gap with these, once per room rather than once per
client (see ordering.py), so its clients see every change in order and need no snapshot."""

from __future__ import annotations

import re
from typing import Any

from realtime import store
from realtime.service import BoardService
from realtime.views import room_event

ROOM = re.compile(r"board:(\d+):([pf])")  # participants_room() and facilitators_room() of namespace.py


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
