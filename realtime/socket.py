"""The Socket.IO server the live workshop runs on (namespace /board arrives with the board).

A connection that has not joined a namespace within JOIN_TIMEOUT seconds of opening (or of being
refused, or of leaving) is closed: the board's own clients join at once, so an idle one only holds
a file descriptor. Clients that fall too far behind are dropped (realtime/backlog.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import socketio

from realtime.backlog import BACKLOG_BYTES, BACKLOG_PACKETS, EngineServer
from realtime.cluster import Cluster
from realtime.ordering import Missed, OrderedRedisManager
from realtime.wire import orjson_module

# Names the server itself raises; a client sending one gets an "unknown event" error ack instead.
RESERVED = {"connect", "disconnect", "connect_error"}
JOIN_TIMEOUT = 5.0


class Server(socketio.AsyncServer):
    eio: EngineServer
    cluster: Cluster  # every process of the deployment (realtime/cluster.py)

    def __init__(self, *args: Any, join_timeout: float = JOIN_TIMEOUT, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.join_timeout = join_timeout
        self._deadlines: dict[str, asyncio.Task[None]] = {}  # engine.io sid -> its wait to join

    def _engineio_server_class(self) -> type[EngineServer]:
        return EngineServer

    def listen(self) -> None:
        """Start hearing the other processes now (at start-up), not at this process's first connection:
        a process that serves only pages must hear too, e.g. that a board's cached settings are stale."""
        if not self.manager_initialized:
            self.manager_initialized = True
            self.manager.initialize()

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: int | None, data: Any) -> None:
        if isinstance(data, list) and data and data[0] in RESERVED:
            data = [f"{data[0]} (reserved)", *data[1:]]
        await super()._handle_event(eio_sid, namespace, id, data)

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        answer = await super()._handle_eio_connect(eio_sid, environ)
        self._expect_join(eio_sid)
        return answer

    async def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        await super()._handle_connect(eio_sid, namespace, data)
        self._expect_join(eio_sid)  # refused: the connection may try again, within the time left

    async def _handle_disconnect(self, eio_sid: str, namespace: str | None, reason: Any = None) -> None:
        await super()._handle_disconnect(eio_sid, namespace, reason)
        self._expect_join(eio_sid)  # it left its namespace but kept the connection

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        await super()._handle_eio_disconnect(eio_sid, reason)
        deadline = self._deadlines.pop(eio_sid, None)
        if deadline is not None:
            deadline.cancel()

    def _joined(self, eio_sid: str) -> bool:
        """In a namespace, or being let in (authentication under way)."""
        return any(self.manager.sid_from_eio_sid(eio_sid, namespace) for namespace in self.manager.get_namespaces())

    def _expect_join(self, eio_sid: str) -> None:
        if eio_sid in self.eio.sockets and eio_sid not in self._deadlines and not self._joined(eio_sid):
            self._deadlines[eio_sid] = asyncio.ensure_future(self._close_unless_joined(eio_sid))

    async def _close_unless_joined(self, eio_sid: str) -> None:
        await asyncio.sleep(self.join_timeout)
        self._deadlines.pop(eio_sid, None)
        if not self._joined(eio_sid):
            await self.eio.drop(eio_sid)


def create_socket_server(*, redis_url: str | None, allowed_origins: list[str], missed: Missed | None = None,
                         join_timeout: float = JOIN_TIMEOUT, backlog_packets: int = BACKLOG_PACKETS,
                         backlog_bytes: int = BACKLOG_BYTES, cluster: Cluster | None = None) -> Server:
    """An asyncio Socket.IO server; with a Redis URL its rooms are shared across processes, and each
    board's messages reach every client in seq order whichever process committed them (what Redis
    lost is read back with `missed`), and `cluster` tells every process through it. A client with
    `backlog_packets` or `backlog_bytes` waiting to be sent is dropped."""
    manager = OrderedRedisManager(redis_url, missed) if redis_url else None
    server = Server(async_mode="asgi", client_manager=manager, cors_allowed_origins=allowed_origins,
                    json=orjson_module, logger=False, engineio_logger=False, join_timeout=join_timeout)
    server.eio.backlog_packets, server.eio.backlog_bytes = backlog_packets, backlog_bytes
    server.cluster = cluster or Cluster()
    if manager is not None:
        server.cluster.attach(manager)
    return server
