"""Who is connected to each board, counted over every process: {"online", "room", "connected"}.

This process keeps its own connections (sid -> place, per board). With Redis they are also written to
one hash per board, field `<process id>:<sid>` -> place, so that any process can count everyone; a
process shows it is alive with a key that expires (ALIVE seconds) unless its heartbeat renews it. The
entries of a process that died without leaving (kill -9, a lost machine) stop counting when its key
expires, and the next heartbeat of any live process removes them and names their boards, so their
facilitators get fresh counts. A process whose key had expired (Redis restarted, or the process was
stalled) writes its connections again. When Redis fails, counts are this process's own and a warning
is logged: a join never fails for presence.

Every step is one Lua script (one round trip, atomic). The scripts touch keys they are not given
(the processes' alive keys), which a single Redis or a primary with replicas allows, a Redis Cluster
does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("taiwa.presence")
ALIVE = 10  # seconds a process counts as alive after its last heartbeat
HEARTBEAT = 3.0  # seconds between heartbeats (each renews ALIVE and removes dead processes' entries)
PREFIX = "taiwa:presence"

# ARGV: alive key prefix. Counts the live entries of the board's hash: {online, room, connected}.
COUNT = """
local online, room, connected = 0, 0, 0
local alive = {}
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  local process = string.match(entries[i], '^([^:]+):')
  if process and alive[process] == nil then
    alive[process] = redis.call('EXISTS', ARGV[1] .. process) == 1
  end
  if process and alive[process] then
    connected = connected + 1
    if entries[i + 1] == 'online' then online = online + 1 elseif entries[i + 1] == 'room' then room = room + 1 end
  end
end
return {online, room, connected}
"""
# KEYS: board hash, this process's boards, every process. ARGV: alive prefix, field, place (empty:
# leaving), board id, process id, ALIVE. Adds or removes one entry, then counts; a fourth number is 1
# when this process's alive key was missing (a new process, or one Redis forgot).
CHANGE = """
local revived = 0
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[2])
else
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
  redis.call('SADD', KEYS[2], ARGV[4])
  redis.call('SADD', KEYS[3], ARGV[5])
  if redis.call('SET', ARGV[1] .. ARGV[5], '1', 'EX', ARGV[6], 'NX') then revived = 1 end
end
local function counts()
""" + COUNT + """
end
local found = counts()
table.insert(found, revived)
return found
"""
# KEYS: every process. ARGV: alive prefix, boards-of-a-process prefix, board hash prefix, this
# process, ALIVE. Renews this process; removes the entries of processes that are no longer alive and
# returns their boards. The first element is 1 when this process's own key had expired.
HEARTBEAT_SCRIPT = """
local forgotten = redis.call('SET', ARGV[1] .. ARGV[4], '1', 'EX', ARGV[5], 'GET') == false and 1 or 0
local result = {forgotten}
for _, process in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. process) == 0 then
    for _, board in ipairs(redis.call('SMEMBERS', ARGV[2] .. process)) do
      local hash = ARGV[3] .. board
      local mine = process .. ':'
      for _, field in ipairs(redis.call('HKEYS', hash)) do
        if string.sub(field, 1, #mine) == mine then redis.call('HDEL', hash, field) end
      end
      table.insert(result, board)
    end
    redis.call('DEL', ARGV[2] .. process)
    redis.call('SREM', KEYS[1], process)
  end
end
return result
"""
# KEYS: board hash, this process's boards, every process. ARGV: process id, board id, then field,
# place pairs. Makes this process's entries of one board exactly these (after Redis forgot or missed
# some of its joins and leaves).
RESTORE = """
local mine = ARGV[1] .. ':'
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(field, 1, #mine) == mine then redis.call('HDEL', KEYS[1], field) end
end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if #ARGV > 2 then
  redis.call('SADD', KEYS[2], ARGV[2])
  redis.call('SADD', KEYS[3], ARGV[1])
else
  redis.call('SREM', KEYS[2], ARGV[2])
end
return 1
"""

Changed = Callable[[int], Awaitable[None]]  # a board whose counts changed without a join or leave here


def _counts(places: list[str]) -> dict[str, int]:
    return {"online": places.count("online"), "room": places.count("room"), "connected": len(places)}


def _shared_counts(found: list[Any]) -> dict[str, int]:
    """A script's {online, room, connected} as the counts sent to facilitators."""
    return {"online": int(found[0]), "room": int(found[1]), "connected": int(found[2])}


class Presence:
    def __init__(self, redis: Any = None, process: str = "local") -> None:
        """`redis`: the deployment's Redis client (None: one process, counted in memory); `process`: this
        process's id among them."""
        self.redis = redis
        self.process = process
        self.local: dict[int, dict[str, str]] = {}  # board -> this process's sids -> place
        self.changed: Changed | None = None  # told of boards whose counts changed by a heartbeat
        self.refresh: Callable[[], Awaitable[None]] | None = None  # run at every heartbeat
        self._heartbeat: asyncio.Future[None] | None = None
        self._rewriting: asyncio.Future[None] | None = None
        self._failing = False
        if redis is not None:
            self._change = redis.register_script(CHANGE)
            self._count = redis.register_script(COUNT)
            self._beat = redis.register_script(HEARTBEAT_SCRIPT)
            self._restore = redis.register_script(RESTORE)

    def _keys(self, board_id: int) -> list[str]:
        return [f"{PREFIX}:board:{board_id}", f"{PREFIX}:boards:{self.process}", f"{PREFIX}:processes"]

    async def arrive(self, board_id: int, sid: str, place: str) -> dict[str, int]:
        """Count a connection in; the board's counts after it."""
        self.local.setdefault(board_id, {})[sid] = place
        if self.redis is not None and (self._heartbeat is None or self._heartbeat.done()):
            self._heartbeat = asyncio.ensure_future(self._beating())
        return await self._changed(board_id, sid, place)

    async def leave(self, sid: str) -> tuple[int, dict[str, int]] | None:
        """Count a connection out: (its board, the counts after it), or None if it was on none."""
        for board_id, sids in self.local.items():
            if sids.pop(sid, None) is not None:
                if not sids:
                    del self.local[board_id]
                return board_id, await self._changed(board_id, sid, "")
        return None

    async def counts(self, board_id: int) -> dict[str, int]:
        """The board's counts over every process (this process's own if Redis fails)."""
        if self.redis is None:
            return self._local_counts(board_id)
        found = await self._shared(lambda: self._count(keys=self._keys(board_id)[:1], args=[f"{PREFIX}:alive:"]))
        return _shared_counts(found) if found is not None else self._local_counts(board_id)

    async def _changed(self, board_id: int, sid: str, place: str) -> dict[str, int]:
        if self.redis is None:
            return self._local_counts(board_id)
        found = await self._shared(lambda: self._change(
            keys=self._keys(board_id),
            args=[f"{PREFIX}:alive:", f"{self.process}:{sid}", place, board_id, self.process, ALIVE]))
        if found is None:
            return self._local_counts(board_id)
        if len(found) > 3 and int(found[3]) and sum(len(sids) for sids in self.local.values()) > 1:
            # this process's alive key was gone (Redis restarted, or this process stalled and others
            # removed its entries): write its other connections again
            self._rewrite_soon()
        return _shared_counts(found)

    async def _shared(self, run: Callable[[], Awaitable[Any]]) -> list[Any] | None:
        """What a script answered, or None when Redis failed (warned once). After a failure Redis is
        left alone (no join waits on it) until a heartbeat finds it answering again."""
        if self._failing:
            return None
        try:
            found = await run()
        except Exception as error:  # noqa: BLE001 - Redis away or paused: count what this process sees
            self._warn(error)
            return None
        self._answered()
        return list(found)

    def _local_counts(self, board_id: int) -> dict[str, int]:
        return _counts(list(self.local.get(board_id, {}).values()))

    def _warn(self, error: Exception) -> None:
        if not self._failing:
            self._failing = True
            log.warning("Redis failed (%r): presence counts only this process's connections", error)

    def _answered(self) -> None:
        """Redis answered: after a failure, the joins and leaves it missed are written now."""
        if self._failing:
            self._failing = False
            log.warning("Redis answers again: presence is counted over every process")
            self._rewrite_soon()

    def _rewrite_soon(self) -> None:
        self._rewriting = asyncio.ensure_future(self._rewrite_or_warn())

    async def _rewrite_or_warn(self) -> None:
        try:
            await self._rewrite()
        except Exception as error:  # noqa: BLE001 - Redis failed again: the next answer tries again
            self._warn(error)

    async def _beating(self) -> None:
        while True:
            try:
                await self.beat()
            except Exception as error:  # noqa: BLE001 - Redis away: try again at the next beat
                self._warn(error)
            await asyncio.sleep(HEARTBEAT)

    async def beat(self) -> None:
        """Renew this process; remove dead processes' entries and tell `changed` of their boards; write
        this process's entries again if Redis had forgotten it."""
        found = await self._beat(keys=[f"{PREFIX}:processes"],
                                 args=[f"{PREFIX}:alive:", f"{PREFIX}:boards:", f"{PREFIX}:board:", self.process,
                                       ALIVE])
        if int(found[0]) and not self._failing:
            await self._rewrite()
        self._answered()
        await self._tell({int(board) for board in found[1:]})
        if self.refresh is not None:
            await self.refresh()

    async def _rewrite(self) -> None:
        """Write this process's entries again as they are, and tell `changed` of their boards."""
        boards = set(self.local) | {int(board) for board in
                                    await self.redis.smembers(f"{PREFIX}:boards:{self.process}")}
        for board_id in boards:
            sids = self.local.get(board_id, {})
            pairs = [item for sid, place in list(sids.items()) for item in (f"{self.process}:{sid}", place)]
            await self._restore(keys=self._keys(board_id), args=[self.process, board_id, *pairs])
        await self._tell(boards)

    async def _tell(self, boards: set[int]) -> None:
        if self.changed is not None:
            for board_id in boards:
                await self.changed(board_id)

    async def close(self) -> None:
        """Stop the heartbeat and stop counting as alive (at shutdown): the other processes remove what
        is left of this one's entries at their next heartbeat instead of ALIVE seconds later."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._heartbeat
            with contextlib.suppress(Exception):  # Redis away: the key expires by itself
                await self.redis.delete(f"{PREFIX}:alive:{self.process}")
