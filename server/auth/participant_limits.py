"""Per-participant limits on a board (board changes, notes, questions, whole-board snapshots), asked
by the /board socket and the list view's form before each command; and, with `take`, the other limits
counted outside the database (calendar feeds built, readings asked for, per client address).

With Redis (several processes) they are counted there, so that a participant whose sockets reach
several processes is held to one limit, not one per process: a sliding window per limit and
participant, checked and recorded for all the command's limits in one Lua script (one round trip,
atomic, timed by Redis's clock so that machines' clocks do not matter). If Redis does not answer,
this process's own windows decide (a warning is logged) and Redis is tried again RETRY seconds
later. Without Redis the process's windows are the only ones.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from server.auth.limits import SlidingWindow

log = logging.getLogger("taiwa.limits")
RETRY = 5.0  # seconds on this process's windows after Redis failed, before asking Redis again

# KEYS: one sorted set per window (members timed in ms). ARGV: this event's member, then count and
# milliseconds for each key. 1 (and the event recorded in every window) when no window is full, else 0.
SLIDING_WINDOWS = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - tonumber(ARGV[2 * i + 1]))
  if redis.call('ZCARD', key) >= tonumber(ARGV[2 * i]) then return 0 end
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[1])
  redis.call('PEXPIRE', key, ARGV[2 * i + 1])
end
return 1
"""

# KEYS[1]: one window. ARGV: this event's member, count, milliseconds. 0 (and the event recorded) when
# the window has room, else the milliseconds until it has.
ONE_WINDOW = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local count, span = tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
local held = redis.call('ZCARD', KEYS[1])
if held >= count then
  local freeing = redis.call('ZRANGE', KEYS[1], held - count, held - count, 'WITHSCORES')
  return math.max(1, tonumber(freeing[2]) + span - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], span)
return 0
"""

# which limits a board event counts against (anything else: board changes)
BY_EVENT = {"note:add": ("board", "note"), "question:ask": ("board", "question"), "board:snapshot": ("snapshot",)}

BoardLimit = Callable[[str, str], Awaitable[bool]]


class ParticipantLimits:
    def __init__(self, throttles: dict[str, SlidingWindow], *, redis: Any = None, process: str = "",
                 enabled: bool = True) -> None:
        """`throttles`: this process's windows by limit name; `redis`: the deployment's Redis, if any."""
        self.throttles = throttles
        self.redis = redis
        self.enabled = enabled
        self._members = (f"{process}:{n}" for n in itertools.count())
        self._script = redis.register_script(SLIDING_WINDOWS) if redis is not None else None
        self._one = redis.register_script(ONE_WINDOW) if redis is not None else None
        self._local_until = 0.0  # monotonic time until which this process decides alone

    def _redis_failed(self, error: Exception) -> None:
        log.warning("Redis failed (%r): limits count this process only for %g s", error, RETRY)
        self._local_until = time.monotonic() + RETRY

    async def take(self, name: str, key: str) -> int:
        """Count one event against the limit `name` for `key` (a client address: kept in Redis as a
        digest); 0 when it may act now, else the whole seconds to wait (nothing counted)."""
        window = self.throttles[name]
        if self._one is not None and time.monotonic() >= self._local_until:
            digest = hashlib.sha256(f"{name}\n{key}".encode()).hexdigest()[:32]
            try:
                wait_ms = int(await self._one(keys=[f"taiwa:limit:{name}:{digest}"],
                                              args=[next(self._members), window.limit, int(window.seconds * 1000)]))
            except Exception as error:  # noqa: BLE001 - Redis away or paused: this process decides alone
                self._redis_failed(error)
            else:
                if not wait_ms:
                    window.record(key)
                return math.ceil(wait_ms / 1000)
        wait = window.retry_after(key)
        if not wait:
            window.record(key)
        return wait

    async def allow(self, key: str, event: str = "") -> bool:
        """Whether the participant `key` may act now; if so the act is counted. (TAIWA_LIMITS; all off
        with TAIWA_RATE_LIMITS=off)"""
        if not self.enabled:
            return True
        names = BY_EVENT.get(event, ("board",))
        windows = [self.throttles[name] for name in names]
        if self._script is not None and time.monotonic() >= self._local_until:
            try:
                allowed = bool(await self._script(
                    keys=[f"taiwa:limit:{name}:{key}" for name in names],
                    args=[next(self._members), *(value for window in windows
                                                 for value in (window.limit, int(window.seconds * 1000)))]))
            except Exception as error:  # noqa: BLE001 - Redis away or paused: this process decides alone
                self._redis_failed(error)
            else:
                if allowed:
                    for window in windows:  # kept here too, so that a failure of Redis starts from something
                        window.record(key)
                return allowed
        if any(window.blocked(key) for window in windows):
            return False
        for window in windows:
            window.record(key)
        return True
