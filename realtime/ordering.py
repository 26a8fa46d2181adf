"""Socket.IO over Redis with each board's messages delivered in seq order.

With several processes, two of them may commit consecutive events of one board and publish them in
the other order. Every process hands its room messages to its own clients through `_handle_emit`
(its own at once, the others' from Redis), so that is where order is restored: a message whose
first seq is not the next one is held until the missing ones arrive, or for at most HOLD seconds
(then clients see the gap and fetch a snapshot, as after any lost message).
"""

from __future__ import annotations

import asyncio
from typing import Any

import socketio

HOLD = 1.0


def _board_event(message: dict[str, Any]) -> tuple[str, int, int] | None:
    """(room, first seq, last seq) of a board room's `event` message, or None for anything else."""
    room = message.get("room")
    if message.get("event") != "event" or not isinstance(room, str) or not room.startswith("board:"):
        return None
    data = message.get("data")
    payload = data[0] if isinstance(data, list) and len(data) == 1 else data
    if not isinstance(payload, dict) or not isinstance(payload.get("seq"), int):
        return None
    first = payload.get("from", payload["seq"])
    return room, first if isinstance(first, int) else payload["seq"], payload["seq"]


class OrderedRedisManager(socketio.AsyncRedisManager):
    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url, **options)
        self._delivered: dict[str, int] = {}  # room -> last seq handed to its clients
        self._held: dict[str, list[tuple[int, int, dict[str, Any]]]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        found = _board_event(message)
        if found is None:
            await super()._handle_emit(message)
            return
        room, first, last = found
        self._held.setdefault(room, []).append((first, last, message))
        await self._deliver(self._ready(room))

    def _ready(self, room: str, *, force: bool = False) -> list[dict[str, Any]]:
        """Take the held messages that continue the room's sequence (all of them, in order, if forced)."""
        held = sorted(self._held.get(room, []), key=lambda item: (item[0], item[1]))
        ready: list[dict[str, Any]] = []
        delivered = self._delivered.get(room)
        while held:
            first, last, message = held[0]
            if delivered is not None and last <= delivered:
                held.pop(0)  # already covered by a later progress message
                continue
            if delivered is not None and first > delivered + 1 and not force:
                break
            held.pop(0)
            ready.append(message)
            delivered = last
        if delivered is not None:
            self._delivered[room] = delivered
        self._held[room] = held
        timer = self._timers.pop(room, None)
        if timer is not None:
            timer.cancel()
        if held:
            self._timers[room] = asyncio.get_running_loop().call_later(HOLD, self._release, room)
        else:
            self._held.pop(room, None)
        return ready

    def _release(self, room: str) -> None:
        self._timers.pop(room, None)
        asyncio.ensure_future(self._deliver(self._ready(room, force=True)))

    async def _deliver(self, messages: list[dict[str, Any]]) -> None:
        # Tasks start in the order they are created, and each queues its packets before its first
        # pause, so every client gets them in this order even while other deliveries are under way.
        parent = super()
        tasks = [asyncio.ensure_future(parent._handle_emit(message)) for message in messages]
        if tasks:
            await asyncio.gather(*tasks)
