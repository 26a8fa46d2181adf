"""How many socket connections one client address may hold at once (TAIWA_LIMITS `connections`).

Every websocket, and every long-polling request in flight, holds one of the process's file
descriptors for as long as it lasts. Without a cap one address could take them all and leave none
for anyone else, pages included. Connections beyond the cap are refused before engine.io sees them
(HTTP 429); the count drops when a connection really ends, so a client that stopped reading still
counts. A whole room on a venue's Wi-Fi may share one address, so the cap is generous.

Behind a trusted reverse proxy the address is the client's: the app's outermost middleware
(server/core/middleware.py, TAIWA_TRUSTED_PROXIES) has already put it in the scope.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import socketio

TOO_MANY = "Too many connections from this address. / このアドレスからの接続が多すぎます。".encode()

Send = Callable[[dict[str, Any]], Awaitable[None]]


def client_address(scope: dict[str, Any]) -> str:
    """The address a connection comes from (a trusted proxy's client, as the middleware set it)."""
    return (scope.get("client") or ("unknown",))[0]


async def refuse(scope: dict[str, Any], send: Send) -> None:
    """Answer 429 instead of opening a connection (a websocket is refused before its handshake)."""
    if scope["type"] == "websocket" and "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1013})
        return
    prefix = "websocket." if scope["type"] == "websocket" else ""
    await send({"type": f"{prefix}http.response.start", "status": 429,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"retry-after", b"10")]})
    await send({"type": f"{prefix}http.response.body", "body": TOO_MANY})


class SocketApp(socketio.ASGIApp):
    """Socket.IO on its path and the web app everywhere else, with at most `per_address` socket
    connections from one client address at once (no cap when None)."""

    def __init__(self, sio: socketio.AsyncServer, web: Any, *, path: str = "socket.io",
                 per_address: int | None = None) -> None:
        super().__init__(sio, other_asgi_app=web, socketio_path=path)
        self.per_address = per_address
        self.held: dict[str, int] = {}

    def _for_sockets(self, scope: dict[str, Any]) -> bool:
        return scope["type"] in ("http", "websocket") and \
            self._ensure_trailing_slash(scope["path"]).startswith(self.engineio_path)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Send) -> None:
        if self.per_address is None or not self._for_sockets(scope):
            await super().__call__(scope, receive, send)
            return
        address = client_address(scope)
        if self.held.get(address, 0) >= self.per_address:
            await refuse(scope, send)
            return
        self.held[address] = self.held.get(address, 0) + 1
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.held[address] -= 1
            if not self.held[address]:
                del self.held[address]
