"""The /board Socket.IO namespace: join with a token, get a snapshot (or what you missed),
send commands with op ids, receive every committed change as `event` with its `seq`.

Per-client state lives in the socket session. Nothing sensitive (registrations, accommodation
needs) is ever sent here: the board only knows display names and notes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import socketio

from realtime import store
from realtime.board import N_, Actor, without_controls
from realtime.presence import Presence
from realtime.service import BoardService, Outcome, Send
from realtime.views import room_event, snapshot

log = logging.getLogger("taiwa.board")
REPLAY_LIMIT = 1000  # further behind than this, a client gets a fresh snapshot instead
# Dots and poll answers arrive in bursts; rooms get one progress message per board per interval
# (carrying the latest seq and `from`, the first seq it covers) instead of one message per answer.
COALESCED = {"vote:cast", "vote:retracted", "poll:answered"}
PROGRESS_INTERVAL = 0.2
MAX_DEPTH = 16  # lists and objects inside one another in a command's data (real commands need 3)
RATE_LIMITED = {
    "note:add": N_("You have added many notes in a short time. Please wait a minute and add the next one."),
    "question:ask": N_("You have asked several questions in a short time. Please wait a minute and ask again."),
    "board:snapshot": N_("You have asked for the whole board many times in a short time. Please wait a few "
                         "seconds."),
}


@dataclass(frozen=True)
class Joined:
    """Who a connection is, decided by the web shell's authenticate()."""

    board_id: int
    actor: Actor
    locale: str
    place: str = "online"


Authenticate = Callable[[dict[str, Any], dict[str, Any]], Awaitable[Joined | None]]
Translate = Callable[[str, dict[str, Any], str], str]
Limit = Callable[[str, str], Awaitable[bool]]  # (participant key, event): True when it may act now


def _deeper_than(value: Any, depth: int) -> bool:
    """Whether lists and objects nest more than `depth` levels in `value` (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, dict)):
            if level > depth:
                return True
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def _clean(value: Any) -> Any:
    """Text in a command without invisible control characters (NUL, escape, …), however deeply nested."""
    if isinstance(value, str):
        return without_controls(value)
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    return value


def participants_room(board_id: int) -> str:
    return f"board:{board_id}:p"


def facilitators_room(board_id: int) -> str:
    return f"board:{board_id}:f"


class BoardNamespace(socketio.AsyncNamespace):
    def __init__(self, service: BoardService, authenticate: Authenticate, translate: Translate, allow: Limit,
                 namespace: str = "/board", presence: Presence | None = None) -> None:
        super().__init__(namespace)
        self.service = service
        self.authenticate = authenticate
        self.translate = translate
        self.allow = allow
        self.presence = presence or Presence()  # over every process when it has Redis
        self.presence.changed = self._presence
        self.presence.refresh = self._refresh_presence
        self._counts: dict[int, tuple[float, int]] = {}
        self._progress: dict[int, list[tuple[int, str, dict[str, Any]]]] = {}

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event == "connect":
            return await self.join(*args)
        if event == "disconnect":
            return await self.leave(args[0])
        sid, payload = args[0], (args[1] if len(args) > 1 else None)
        return await self.command(sid, event, payload)

    async def join(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        auth = auth if isinstance(auth, dict) else {}
        joined = await self.authenticate(auth, environ)
        if joined is None:
            raise socketio.exceptions.ConnectionRefusedError({"code": "unauthorized",
                                                               "message": "A valid board token is needed."})
        await self.save_session(sid, {"joined": joined})
        board_id = joined.board_id
        await self.enter_room(sid, participants_room(board_id) if not joined.actor.facilitator
                              else facilitators_room(board_id))
        counts = await self.presence.arrive(board_id, sid, joined.place)
        self._counts.pop(board_id, None)  # someone new may have joined: count again ("N of M have voted")
        since = auth.get("since")
        async with self.service.settled(board_id) as state:
            if isinstance(since, int) and not isinstance(since, bool) and 0 <= since <= state.seq \
                    and state.seq - since <= REPLAY_LIMIT:
                count = await store.participant_count(self.service.db, board_id)
                for seq, kind, data in await store.events_since(self.service.db, board_id, since):
                    await self.emit("event", room_event(state, seq, kind, data, facilitators=joined.actor.facilitator,
                                                        participants=count), to=sid)
            else:
                await self.emit("snapshot", await self._snapshot(joined, counts), to=sid)
        await self._presence(board_id, counts)
        return True

    async def leave(self, sid: str) -> None:
        left = await self.presence.leave(sid)
        if left is not None:
            await self._presence(*left)

    async def _presence(self, board_id: int, counts: dict[str, int] | None = None) -> None:
        """Tell the board's facilitators, on every process, how many are connected (and where)."""
        counts = counts or await self.presence.counts(board_id)
        await self.emit("presence", counts, room=facilitators_room(board_id))

    async def _refresh_presence(self) -> None:
        """This process's facilitators get the counts again (at every presence heartbeat): messages sent
        by several processes may cross on the way, and the latest counts must win within seconds."""
        rooms = self.server.manager.rooms.get(self.namespace, {})
        for board_id in list(self.presence.local):
            room = facilitators_room(board_id)
            if rooms.get(room):
                await self.server.emit("presence", await self.presence.counts(board_id), room=room,
                                       namespace=self.namespace, ignore_queue=True)

    async def _snapshot(self, joined: Joined, counts: dict[str, int] | None = None) -> dict[str, Any]:
        board = await self.service.board(joined.board_id)
        assert board is not None
        state = await self.service.state(joined.board_id)
        counts = counts or await self.presence.counts(joined.board_id)
        return snapshot(state, joined.actor, title=board.title,
                        participants=await store.participant_count(self.service.db, joined.board_id),
                        server_now=int(time.time() * 1000),
                        presence={"online": counts["online"], "room": counts["room"]})

    def _error(self, joined: Joined | None, code: str, message: str, params: dict[str, Any] | None = None) -> dict:
        locale = joined.locale if joined else "ja"
        return {"ok": False, "error": {"code": code, "message": self.translate(message, params or {}, locale)}}

    async def command(self, sid: str, event: str, payload: Any) -> dict[str, Any]:
        """Validate, commit, then ack and broadcast; any bad input is an error ack, never a dropped socket."""
        try:
            session = await self.get_session(sid)
        except KeyError:
            session = {}
        joined: Joined | None = session.get("joined")
        if joined is None:
            return self._error(None, "unauthorized", N_("Join the board first."))
        whole_board = event == "board:snapshot"
        if not whole_board and not isinstance(payload, dict):
            return self._error(joined, "invalid", N_("The event data must be an object."))
        if _deeper_than(payload, MAX_DEPTH):
            return self._error(joined, "invalid", N_("The event data is nested too deeply."))
        if not await self.allow(f"{joined.board_id}:{joined.actor.id}", event):
            return self._error(joined, "rate_limited",
                               RATE_LIMITED.get(event, N_("Too many changes at once. Please wait a moment.")))
        if whole_board:
            async with self.service.settled(joined.board_id):
                return {"ok": True, "snapshot": await self._snapshot(joined)}
        data = {key: _clean(value) for key, value in payload.items() if key != "op"}
        try:
            outcome = await self.service.handle(joined.board_id, event, data, joined.actor, payload.get("op"),
                                                announce=lambda done: self.announce(joined.board_id, done))
        except Exception:  # noqa: BLE001 - the write failed (disk full, I/O error): nothing was saved
            log.exception("board command failed")
            return self._error(joined, "unavailable", N_("This change could not be saved. Please try again."))
        if not outcome.result.get("ok"):
            error = outcome.result["error"]
            return self._error(joined, error["code"], error["message"], error.get("params"))
        return outcome.result

    async def participant_count(self, board_id: int) -> int:
        """How many have joined (for "N of M have voted"), read at most once a second per board."""
        now = time.monotonic()
        cached = self._counts.get(board_id)
        if cached is None or now - cached[0] > 1.0:
            cached = (now, await store.participant_count(self.service.db, board_id))
            self._counts[board_id] = cached
        return cached[1]

    async def announce(self, board_id: int, outcome: Outcome) -> Send | None:
        """Prepare the messages for committed-to-be events (called under the board's lock, so each shows
        the state as of its own seq); the returned function sends them, in seq order, after the commit.
        Bursts of dots and answers are coalesced into progress messages instead."""
        state = await self.service.state(board_id, catch_up=False)
        count = await self.participant_count(board_id)
        messages: list[tuple[str, dict[str, Any]]] = []
        for seq, kind, data in outcome.events:
            if kind in COALESCED:
                pending = self._progress.setdefault(board_id, [])
                if not pending:
                    asyncio.get_running_loop().call_later(PROGRESS_INTERVAL, self._schedule_flush, board_id)
                pending.append((seq, kind, data))
                continue
            messages += await self._progress_messages(board_id, state, count)
            # the op id lets the sender recognise its own change (confirmed, not announced as news)
            for room, facilitators in ((participants_room(board_id), False), (facilitators_room(board_id), True)):
                message = room_event(state, seq, kind, data, facilitators=facilitators, participants=count)
                message["op"] = outcome.op
                messages.append((room, message))
        return self._sender(messages) if messages else None

    def _sender(self, messages: list[tuple[str, dict[str, Any]]]) -> Send:
        async def send() -> None:
            for room, message in messages:
                await self.emit("event", message, room=room)
        return send

    def _schedule_flush(self, board_id: int) -> None:
        asyncio.ensure_future(self._flush(board_id))

    async def _flush(self, board_id: int) -> None:
        """Send the coalesced progress: prepared under the lock, sent after the commands it covers."""
        async with self.service.lock(board_id):
            state = await self.service.state(board_id, catch_up=False)
            failures = self.service.failures.get(board_id, 0)
            messages = await self._progress_messages(board_id, state, await self.participant_count(board_id))
            previous, mine = self.service.chain(board_id)
        try:
            if previous is not None:
                await asyncio.shield(previous)
            if messages and self.service.failures.get(board_id, 0) == failures:
                await self._sender(messages)()
        finally:
            if not mine.done():
                mine.set_result(None)

    async def _progress_messages(self, board_id: int, state: Any, count: int) -> list[tuple[str, dict[str, Any]]]:
        """The coalesced events as one message per poll or note touched, each with the current totals.

        Messages chain: each covers the seqs from `from` to `seq`, so clients see no gap. Events
        another process logged in between are read back, so their polls and notes are covered too.
        """
        pending = self._progress.pop(board_id, [])
        if not pending:
            return []
        first, final = pending[0][0], pending[-1][0]
        if final - first + 1 != len(pending):
            pending = [(seq, kind, data) for seq, kind, data in
                       await store.events_since(self.service.db, board_id, first - 1, limit=final - first + 1)]
        last: dict[Any, tuple[int, str, dict[str, Any]]] = {}
        for seq, kind, data in pending:
            last[data.get("poll") or data.get("note") or data.get("id")] = (seq, kind, data)
        rooms: dict[str, list[dict[str, Any]]] = {participants_room(board_id): [], facilitators_room(board_id): []}
        covered = first
        ordered = sorted(last.values(), key=lambda item: item[0])
        for index, (seq, kind, data) in enumerate(ordered):
            upto = final if index == len(ordered) - 1 else seq
            for room, facilitators in ((participants_room(board_id), False), (facilitators_room(board_id), True)):
                message = room_event(state, seq, kind, data, facilitators=facilitators, participants=count)
                message.update({"from": covered, "seq": upto})
                sent = rooms[room]
                if sent and (sent[-1]["type"], sent[-1]["data"]) == (message["type"], message["data"]):
                    sent[-1]["seq"] = upto  # the same news again (dots before the reveal): one message covers both
                else:
                    sent.append(message)
            covered = upto + 1
        return [(room, message) for room, sent in rooms.items() for message in sent]
