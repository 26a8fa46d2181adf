"""The /captions Socket.IO namespace: join a caption stream by its code, get a `snapshot` (or, with
`since`, only what changed after it), then a `caption` message for every committed change.

Viewers need no token; captioners join with their link's token and send `caption:line` and
`caption:edit` with op ids. Tokens are only ever read from the handshake: no message carries one.
Revoking a captioner link disconnects its connections in every process (`drop_captioner`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import socketio

from realtime import caption_store as store
from realtime.caption_service import KINDS, CaptionService
from realtime.captions import N_, Captioner
from realtime.cluster import Cluster

log = logging.getLogger("taiwa.captions")


@dataclass(frozen=True)
class CaptionJoined:
    """Who a connection is, decided by the web shell's authenticate()."""

    stream_id: int
    sender: Captioner | None  # None: a viewer, who may only read
    locale: str


Authenticate = Callable[[dict[str, Any], dict[str, Any]], Awaitable[CaptionJoined | None]]
Translate = Callable[[str, dict[str, Any], str], str]


def stream_room(stream_id: int) -> str:
    """The room every connection of a caption stream is in."""
    return f"captions:{stream_id}"


class CaptionNamespace(socketio.AsyncNamespace):
    def __init__(self, service: CaptionService, authenticate: Authenticate, translate: Translate,
                 namespace: str = "/captions", cluster: Cluster | None = None) -> None:
        super().__init__(namespace)
        self.service = service
        self.authenticate = authenticate
        self.translate = translate
        self.captioner_sids: dict[int, set[str]] = {}  # this process's connections of each captioner link
        self.cluster = cluster or Cluster()
        self.cluster.on("captioner:revoked", self._drop_here)

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
                                                               "message": "A valid caption code is needed."})
        await self.save_session(sid, {"joined": joined})
        if joined.sender is not None and joined.sender.captioner_id is not None:
            self.captioner_sids.setdefault(joined.sender.captioner_id, set()).add(sid)
        async with self.service.lock(joined.stream_id):  # no change slips between the snapshot and the room
            snapshot = await self.service.joining(joined.stream_id, auth.get("since"))
            await self.enter_room(sid, stream_room(joined.stream_id))
            await self.emit("snapshot", snapshot, to=sid)
        return True

    async def leave(self, sid: str) -> None:
        for sids in self.captioner_sids.values():
            sids.discard(sid)

    async def drop_captioner(self, captioner_id: int) -> None:
        """Disconnect every connection of a revoked captioner link, in every process. One that misses
        the news still cannot write: each line checks the link in the database."""
        await self.cluster.tell("captioner:revoked", {"captioner": captioner_id})

    async def _drop_here(self, data: dict[str, Any]) -> None:
        for sid in list(self.captioner_sids.pop(data.get("captioner"), set())):
            await self.disconnect(sid)

    def _error(self, locale: str, code: str, message: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"ok": False, "error": {"code": code, "message": self.translate(message, params or {}, locale)}}

    async def command(self, sid: str, event: str, payload: Any) -> dict[str, Any]:
        """Viewers get an error ack for anything; a captioner's change is committed before its ack."""
        try:
            session = await self.get_session(sid)
        except KeyError:
            session = {}
        joined: CaptionJoined | None = session.get("joined")
        if joined is None:
            return self._error("ja", "unauthorized", N_("Join the captions first."))
        if event not in KINDS:
            return self._error(joined.locale, "unknown_event", N_("This event is not known."))
        if joined.sender is None:
            return self._error(joined.locale, "forbidden", N_("Only captioners can write captions."))
        if not isinstance(payload, dict):
            return self._error(joined.locale, "invalid", N_("The event data must be an object."))
        stream = await store.get_stream(self.service.db, joined.stream_id)
        if stream is None:
            return self._error(joined.locale, "not_found", N_("There is no such caption stream."))
        room = stream_room(stream.id)
        try:
            result = await self.service.handle(stream, event, payload, joined.sender, payload.get("op"),
                                               send=lambda message: self.emit("caption", message, room=room))
        except Exception:  # noqa: BLE001 - the write failed (disk full, I/O error): nothing was saved
            log.exception("caption change failed")
            return self._error(joined.locale, "unavailable", N_("This change could not be saved. Please try again."))
        if not result.get("ok"):
            error = result["error"]
            return self._error(joined.locale, error["code"], error["message"], error.get("params"))
        return result
