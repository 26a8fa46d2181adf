"""The Socket.IO server the live workshop runs on (namespace /board arrives with the board)."""

from __future__ import annotations

from typing import Any

import socketio

from realtime.ordering import Missed, OrderedRedisManager
from realtime.wire import orjson_module

# Names the server itself raises; a client sending one gets an "unknown event" error ack instead.
RESERVED = {"connect", "disconnect", "connect_error"}


class Server(socketio.AsyncServer):
    async def _handle_event(self, eio_sid: str, namespace: str | None, id: int | None, data: Any) -> None:
        if isinstance(data, list) and data and data[0] in RESERVED:
            data = [f"{data[0]} (reserved)", *data[1:]]
        await super()._handle_event(eio_sid, namespace, id, data)


def create_socket_server(*, redis_url: str | None, allowed_origins: list[str],
                         missed: Missed | None = None) -> socketio.AsyncServer:
    """An asyncio Socket.IO server; with a Redis URL its rooms are shared across processes, and each
    board's messages reach every client in seq order whichever process committed them (what Redis
    lost is read back with `missed`)."""
    manager = OrderedRedisManager(redis_url, missed) if redis_url else None
    return Server(async_mode="asgi", client_manager=manager, cors_allowed_origins=allowed_origins,
                  json=orjson_module, logger=False, engineio_logger=False)
