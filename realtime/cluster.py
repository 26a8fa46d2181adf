"""Telling every process of a deployment something: `await cluster.tell("board:forget", {"board": 7})`
runs the handlers registered for "board:forget" in every process, this one included.

With Redis the message goes out on the Socket.IO channel (ordering.py's listener hands it back here
instead of to python-socketio); the telling process runs its own handlers at once, and skips the copy
Redis echoes back to it, so each process handles a message once. Without Redis there is one process:
the handlers are called directly. Delivery to the other processes is best effort, like every
Socket.IO message: what they must not miss they also find in the database (a revoked link is refused
on its next line), and when a process subscribes to Redis again after losing it, its handlers for
REJOINED run, so it can drop what it may have missed news of.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("taiwa.cluster")
METHOD = "taiwa:cluster"  # beside python-socketio's own methods ("emit", "disconnect", ...) on the channel
REJOINED = "cluster:rejoined"  # told locally when the subscription to Redis is back after a loss

Handler = Callable[[dict[str, Any]], Awaitable[None]]


class Cluster:
    """Every process of the deployment, as one process sees it: handlers by name, and `tell`."""

    def __init__(self) -> None:
        self.manager: Any = None
        self.id = uuid.uuid4().hex  # this process
        self._handlers: dict[str, list[Handler]] = {}
        self._running: set[asyncio.Future[None]] = set()

    def attach(self, manager: Any) -> None:
        """Tell and hear through the channel of this OrderedRedisManager (without one: a single process)."""
        self.manager = manager
        self.id = manager.host_id
        manager.hear = self.hear
        manager.rejoined = lambda: self._start(REJOINED, {})

    @property
    def redis(self) -> Any:
        """The Redis client the processes share, or None with one process."""
        return self.manager.redis if self.manager is not None else None

    def on(self, name: str, handler: Handler) -> None:
        """Run `handler(data)` in this process whenever any process tells `name`."""
        self._handlers.setdefault(name, []).append(handler)

    async def tell(self, name: str, data: dict[str, Any] | None = None) -> None:
        """Tell every process: the others through Redis (best effort, never raising), this one at once."""
        data = data or {}
        if self.manager is not None:
            message = {"method": METHOD, "name": name, "data": data, "host_id": self.id}
            try:
                await self.manager.redis.publish(self.manager.channel, self.manager.json.dumps(message))
            except Exception as error:  # noqa: BLE001 - Redis away: the others cannot hear it now
                log.warning("could not tell the other processes %s (%r)", name, error)
        await self._run(name, data)

    def hear(self, message: dict[str, Any]) -> bool:
        """Take a message read from the channel if it is a cluster message (True); another process's is
        handled in the background, so the listener goes on reading."""
        if message.get("method") != METHOD:
            return False
        name, data = message.get("name"), message.get("data")
        if message.get("host_id") != self.id and isinstance(name, str) and isinstance(data, dict):
            self._start(name, data)
        return True

    def _start(self, name: str, data: dict[str, Any]) -> None:
        task = asyncio.ensure_future(self._run(name, data))
        self._running.add(task)  # a task nobody holds may be collected before it ends
        task.add_done_callback(self._running.discard)

    async def _run(self, name: str, data: dict[str, Any]) -> None:
        for handler in self._handlers.get(name, []):
            try:
                await handler(data)
            except Exception:  # noqa: BLE001 - one handler's failure must not keep the others from running
                log.exception("handling %s failed", name)
