"""Socket.IO over Redis with each board's and each caption stream's messages delivered in seq order,
and never held for long.

With several processes, two of them may commit consecutive changes of one board (or two typists on
two processes consecutive lines of one caption stream) and publish them in the other order, and
Redis may lose messages (restarted, paused, unreachable). Every process hands its room messages to
its own clients through `_handle_emit` (its own at once, the others' from Redis), so that is where
order is restored: in an ordered room (a board's `event`s, a caption stream's `caption`s, see ORDERED)
a message whose first seq is not the next one is held until the missing ones arrive. A gap is given
up on HOLD seconds after it was first seen, however many messages arrive meanwhile: what the room
missed is then read back from the database (`missed`: the board's log, the stream's lines; once per
room, not once per client) and delivered in order, so clients see no gap and fetch no snapshot.
When the subscription to Redis comes back after a loss, every room is caught up from the database
the same way, since what was published meanwhile will never arrive.

Publishing goes through an Outbox (outbox.py): no ack or join waits on Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from socketio.async_pubsub_manager import AsyncPubSubManager

from realtime.outbox import Outbox

log = logging.getLogger("taiwa.redis")
HOLD = 1.0  # seconds a gap may hold a room's messages, counted from when it was first seen
RETRY = 0.5  # seconds between attempts to subscribe again after losing Redis
TIMEOUT = 0.5  # connecting and each command: a paused or unreachable Redis fails fast instead of hanging

# (room, seq already delivered) -> the room's messages for every change after that seq, in seq order
# (each with its `seq`; a caption room's also with `from`: a line edited again keeps only its latest
# seq, so one message may cover several seqs)
Missed = Callable[[str, int], Awaitable[list[dict[str, Any]]]]
# the rooms whose messages carry a seq and are delivered in order: room prefix -> the event that carries it
ORDERED = {"board:": "event", "captions:": "caption"}  # namespace.py's board rooms, caption_namespace.stream_room


def _with_seq(message: dict[str, Any]) -> dict[str, Any] | None:
    """The message's data if it is one object with an integer `seq` (an event, a snapshot)."""
    data = message.get("data")
    payload = data[0] if isinstance(data, list) and len(data) == 1 else data
    return payload if isinstance(payload, dict) and isinstance(payload.get("seq"), int) else None


def _ordered_event(room: Any) -> str | None:
    """The event that carries an ordered room's seq (`event` for a board, `caption` for a caption
    stream), or None for a room whose messages are delivered as they come."""
    if isinstance(room, str):
        for prefix, event in ORDERED.items():
            if room.startswith(prefix):
                return event
    return None


def _is_board_room(room: Any) -> bool:
    """Whether a room's messages are delivered in seq order (a board's, or a caption stream's)."""
    return _ordered_event(room) is not None


def _board_event(message: dict[str, Any]) -> tuple[str, int, int] | None:
    """(room, first seq, last seq) of an ordered room's seq-carrying message (a board's `event`, a caption
    stream's `caption`), or None for anything else."""
    room, payload = message.get("room"), _with_seq(message)
    if payload is None or _ordered_event(room) is None or message.get("event") != _ordered_event(room):
        return None
    first = payload.get("from", payload["seq"])
    return room, first if isinstance(first, int) else payload["seq"], payload["seq"]


def _board_event_room(message: dict[str, Any]) -> str | None:
    found = _board_event(message)
    return found[0] if found is not None else None


class OrderedRedisManager(AsyncPubSubManager):
    name = "redis"

    def __init__(self, url: str, missed: Missed | None = None, channel: str = "socketio") -> None:
        super().__init__(channel=channel)
        self.redis = Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT,
                                    retry=Retry(NoBackoff(), 0))  # the outbox and the listener retry by themselves
        self.missed = missed
        self.outbox = Outbox(lambda message: self.redis.publish(self.channel, self.json.dumps(message)),
                             _board_event_room)
        self._delivered: dict[str, int] = {}  # room -> last seq handed to its clients
        self._namespaces: dict[str, str] = {}  # room -> its namespace, for messages read back from the log
        self._held: dict[str, list[tuple[int, int, dict[str, Any]]]] = {}
        self._deadlines: dict[str, asyncio.TimerHandle] = {}
        # Set by realtime/cluster.py: takes a message of its own off the channel (True), and hears when
        # the subscription is back after a loss.
        self.hear: Callable[[dict[str, Any]], bool] = lambda message: False
        self.rejoined: Callable[[], None] = lambda: None

    async def _publish(self, data: dict[str, Any]) -> None:
        self.outbox.put(data)

    async def _listen(self) -> AsyncIterator[bytes | dict[str, Any]]:
        channel = self.channel.encode()
        lost = False
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                if lost:
                    lost = False
                    log.warning("subscribed to Redis again: catching the boards up from the database")
                    asyncio.ensure_future(self._catch_up())
                    self.rejoined()
                async for message in pubsub.listen():
                    if message["channel"] == channel and message["type"] == "message":
                        # parsed once, here: a cluster message goes to its handlers, the rest to python-socketio
                        try:
                            data = self.json.loads(message["data"])
                        except Exception:  # noqa: BLE001 - not ours to judge: python-socketio ignores it too
                            yield message["data"]
                            continue
                        if not (isinstance(data, dict) and self.hear(data)):
                            yield data
            except Exception as error:  # noqa: BLE001 - Redis away or restarting: subscribe again soon
                if not lost:
                    log.warning("lost Redis (%r): subscribing again every %s s", error, RETRY)
                lost = True
                await asyncio.sleep(RETRY)
            finally:
                with contextlib.suppress(Exception):  # a connection already gone has nothing to close
                    await pubsub.aclose()

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        found = _board_event(message)
        if found is None:
            self._start_rooms(message)
            await super()._handle_emit(message)
            return
        room, first, last = found
        self._namespaces[room] = message.get("namespace") or "/"
        self._held.setdefault(room, []).append((first, last, message))
        await self._deliver(self._ready(room))

    def _start_rooms(self, message: dict[str, Any]) -> None:
        """An ordered room that has had no message yet starts from the seq of its first client's snapshot,
        so that a later seq arriving first (from this process) waits for the earlier ones (from another)."""
        snapshot = _with_seq(message) if message.get("event") == "snapshot" else None
        if snapshot is None or not isinstance(message.get("room"), str):
            return
        namespace = message.get("namespace") or "/"
        for room in self.get_rooms(message["room"], namespace):
            if _is_board_room(room) and room not in self._delivered:
                self._delivered[room] = snapshot["seq"]
                self._namespaces[room] = namespace

    def _ready(self, room: str, *, force: bool = False) -> list[dict[str, Any]]:
        """Take the held messages that continue the room's sequence (all of them, in order, if forced)."""
        held = sorted(self._held.get(room, []), key=lambda item: (item[0], item[1]))
        ready: list[dict[str, Any]] = []
        delivered = self._delivered.get(room)
        while held:
            first, last, message = held[0]
            if delivered is not None and last <= delivered:
                held.pop(0)  # already covered by a later progress message or by the log
                continue
            if delivered is not None and first > delivered + 1 and not force:
                break
            held.pop(0)
            ready.append(message)
            delivered = last
        if delivered is not None:
            self._delivered[room] = delivered
        self._held[room] = held
        if not held:
            self._held.pop(room, None)
            deadline = self._deadlines.pop(room, None)
            if deadline is not None:
                deadline.cancel()
        elif room not in self._deadlines:  # set when the gap is first seen; later messages do not move it
            self._deadlines[room] = asyncio.get_running_loop().call_later(HOLD, self._give_up, room)
        return ready

    def _give_up(self, room: str) -> None:
        self._deadlines.pop(room, None)
        asyncio.ensure_future(self._fill(room, last_resort=True))

    async def _fill(self, room: str, *, last_resort: bool = False) -> None:
        """Add what the room missed, read back from the database (its board's log, its stream's lines), and
        deliver what now continues it. As a last resort (nothing to read), deliver everything held:
        clients see the gap and fetch a snapshot (a board's) or join again with `since` (captions)."""
        delivered = self._delivered.get(room)
        found: list[dict[str, Any]] = []
        if self.missed is not None and delivered is not None:
            try:
                found = await self.missed(room, delivered)
            except Exception as error:  # noqa: BLE001 - the database is busy or away: fall back on snapshots
                log.warning("could not read what %s missed: %r", room, error)
        namespace, event = self._namespaces.get(room, "/"), _ordered_event(room)
        self._held.setdefault(room, []).extend(
            (payload.get("from", payload["seq"]), payload["seq"],
             {"method": "emit", "event": event, "data": [payload], "namespace": namespace, "room": room})
            for payload in found)
        await self._deliver(self._ready(room, force=last_resort and not found))

    async def _catch_up(self) -> None:
        for room in list(self._delivered):
            await self._fill(room)

    async def _deliver(self, messages: list[dict[str, Any]]) -> None:
        # Tasks start in the order they are created, and each queues its packets before its first
        # pause, so every client gets them in this order even while other deliveries are under way.
        parent = super()
        tasks = [asyncio.ensure_future(parent._handle_emit(message)) for message in messages]
        if tasks:
            await asyncio.gather(*tasks)
