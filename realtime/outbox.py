"""Messages for the other processes, published to Redis by one background task, so that nothing a
participant waits for (an ack, a join) waits on Redis.

Publishing is best effort: every event is committed to the database before it is announced, and a
process that misses a board's message fills the gap from the log (see ordering.py). While Redis is
away the outbox stops trying message by message (each try could take a whole socket timeout): it
keeps the latest message of each board room, offers those every RETRY seconds, and once Redis takes
them the other processes learn how far each board got and catch up from the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("taiwa.redis")
RETRY = 0.5
LIMIT = 10_000  # messages waiting; beyond that the oldest go (the newest tells the others where boards are)

Publish = Callable[[dict[str, Any]], Awaitable[Any]]
RoomOf = Callable[[dict[str, Any]], "str | None"]  # the board room a message is for, or None


class Outbox:
    def __init__(self, publish: Publish, board_room: RoomOf) -> None:
        self._publish = publish
        self._board_room = board_room
        self._queue: deque[dict[str, Any]] = deque(maxlen=LIMIT)
        self._waiting = asyncio.Event()
        self._unsent: dict[str, dict[str, Any]] = {}  # per board room: the latest message Redis did not take
        self._task: asyncio.Future[None] | None = None

    def put(self, message: dict[str, Any]) -> None:
        """Queue a message for the other processes; returns at once."""
        self._queue.append(message)
        self._waiting.set()
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            if self._unsent:  # Redis is away: offer the latest of each board now and then
                await asyncio.sleep(RETRY)
                while self._queue:
                    self._set_aside(self._queue.popleft())
                if await self._send(list(self._unsent.values())):
                    self._unsent.clear()
                    log.warning("Redis is back: board messages reach the other processes again")
                continue
            if not self._queue:
                self._waiting.clear()
                await self._waiting.wait()
                continue
            message = self._queue.popleft()
            if not await self._send([message]):
                self._set_aside(message)
                if self._unsent:
                    log.warning("Redis is unavailable: the other processes will catch up from the database")

    def _set_aside(self, message: dict[str, Any]) -> None:
        """Keep a board room's latest message for when Redis is back; anything else is dropped."""
        room = self._board_room(message)
        if room is not None:
            self._unsent[room] = message

    async def _send(self, messages: list[dict[str, Any]]) -> bool:
        try:
            for message in messages:
                await self._publish(message)
        except Exception as error:  # noqa: BLE001 - Redis away, paused or refusing: publishing is best effort
            log.debug("publishing to Redis failed: %r", error)
            return False
        return True
