"""The Socket.IO server the live workshop runs on (namespace /board arrives with the board)."""

from __future__ import annotations

import socketio


def create_socket_server(*, redis_url: str | None, allowed_origins: list[str]) -> socketio.AsyncServer:
    """An asyncio Socket.IO server; with a Redis URL its rooms are shared across processes."""
    manager = socketio.AsyncRedisManager(redis_url) if redis_url else None
    origins = allowed_origins
    return socketio.AsyncServer(async_mode="asgi", client_manager=manager, cors_allowed_origins=origins,
                                logger=False, engineio_logger=False)
