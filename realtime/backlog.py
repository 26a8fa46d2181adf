"""What a client has yet to receive: each engine.io session's outgoing packets, bounded.

Packets wait in a per-session queue until the connection takes them. A client that stops reading
(a phone in a tunnel, or someone asking for snapshots and never reading the answers) would make the
server keep everything sent to it, without end. Once too much is waiting, the session is dropped
instead: its packets are thrown away and it is disconnected. A browser reconnects by itself and
catches up with `since`, as after any lost connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

import engineio

log = logging.getLogger("taiwa.sockets")
BACKLOG_PACKETS = 2000  # twice the longest replay a joining client is sent at once (REPLAY_LIMIT)
BACKLOG_BYTES = 1_000_000


def _size(pkt: Any) -> int:
    """The bytes of a packet's payload as sent (the encoded Socket.IO text, or binary data)."""
    data = getattr(pkt, "data", None)
    if isinstance(data, str):
        return len(data) if data.isascii() else len(data.encode("utf-8", "surrogatepass"))
    return len(data) if isinstance(data, bytes) else 0


class Backlog(asyncio.Queue):
    """An engine.io session's outgoing queue that knows the total size, in bytes, of what waits in it."""

    def _init(self, maxsize: int) -> None:
        super()._init(maxsize)
        self.size = 0
        self._sizes: deque[int] = deque()  # of the packets in the queue, in the same order

    def _put(self, item: Any) -> None:
        size = _size(item)
        self.size += size
        self._sizes.append(size)
        super()._put(item)

    def _get(self) -> Any:
        self.size -= self._sizes.popleft()
        return super()._get()

    def discard(self) -> None:
        """Throw away everything waiting."""
        while not self.empty():
            self.get_nowait()
            self.task_done()


class EngineServer(engineio.AsyncServer):
    """engine.io whose sessions are dropped, rather than queued for, once they fall too far behind."""

    backlog_packets = BACKLOG_PACKETS
    backlog_bytes = BACKLOG_BYTES

    def create_queue(self, *args: Any, **kwargs: Any) -> asyncio.Queue:
        return Backlog(*args, **kwargs)

    def behind(self, queue: asyncio.Queue) -> bool:
        """Whether a session already has as much waiting as it may."""
        return queue.qsize() >= self.backlog_packets or getattr(queue, "size", 0) >= self.backlog_bytes

    async def send_packet(self, sid: str, pkt: Any) -> None:
        socket = self.sockets.get(sid)
        if socket is not None and self.behind(socket.queue):
            log.warning("dropped a socket client that fell behind: %d packets (%d bytes) waiting",
                        socket.queue.qsize(), getattr(socket.queue, "size", 0))
            await self.drop(sid)
            return
        await super().send_packet(sid, pkt)

    async def drop(self, sid: str) -> None:
        """Disconnect a session at once, without waiting for what it has queued (it would never be read).

        The disconnect handlers run as for any disconnection, the client is sent a close packet if it
        still reads, and the connection's writer is told to stop, which closes the websocket.
        """
        socket = self.sockets.pop(sid, None)
        if socket is None:
            return
        if isinstance(socket.queue, Backlog):
            socket.queue.discard()
        await socket.close(wait=False)
        socket.queue.put_nowait(None)
