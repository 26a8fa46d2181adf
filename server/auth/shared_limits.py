"""Abuse limits counted in the database, so that every process serving the same file enforces one
limit (`taiwa serve --workers N`, or several servers): failed sign-ins, registrations, joins.

A request takes its place before it acts: `take` checks every limit it names and records one event
on each within one write transaction (BEGIN IMMEDIATE), so requests arriving together, in one process
or in several, cannot all slip in under a limit. An event that should not count after all (a sign-in
that succeeded) is given back with `release`. Keys are kept as digests keyed with the app's secret.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from server.auth import limit_store
from server.auth.limits import Limit
from server.core.database import Database
from sessions.store import Reader

Counter = tuple[str, str]  # (limit name, key): e.g. ("login_client", "203.0.113.7")


@dataclass(frozen=True)
class Taken:
    """What `take` decided: refused (`wait` seconds to wait) or taken (the events recorded)."""

    wait: int
    counters: tuple[Counter, ...] = ()
    hits: tuple[int, ...] = ()  # the events recorded, one per counter


class SharedLimits:
    """The limits named in `limits`, counted in `db` (table limit_hits)."""

    def __init__(self, db: Database, limits: Mapping[str, Limit], secret: str) -> None:
        self.db = db
        self.limits = dict(limits)
        self._secret = secret.encode()

    def _digest(self, name: str, key: str) -> str:
        return hmac.new(self._secret, f"{name}\n{key}".encode(), hashlib.sha256).hexdigest()[:32]

    async def _wait(self, db: Reader, counters: Iterable[Counter], now: float) -> int:
        wait = 0
        for name, key in counters:
            limit = self.limits[name]
            expiries = await limit_store.latest_expiries(db, name, self._digest(name, key), now, limit.count)
            if len(expiries) >= limit.count:  # blocked until the oldest of the last `count` leaves the window
                wait = max(wait, max(1, math.ceil(expiries[-1] - now)))
        return wait

    async def wait(self, *counters: Counter) -> int:
        """Whole seconds until every counter is under its limit (0: now), as last committed."""
        return await self._wait(self.db, counters, time.time())

    async def take(self, *counters: Counter) -> Taken:
        """One event on every counter when all are under their limit; otherwise none, and how long to wait."""
        wait = await self.wait(*counters)  # a refusal needs no turn at the writer
        if wait:
            return Taken(wait)
        async with self.db.transaction() as conn:
            now = time.time()
            wait = await self._wait(conn, counters, now)
            if wait:
                return Taken(wait)
            await limit_store.delete_expired(conn, now)
            hits = await limit_store.insert_hits(conn, [(name, self._digest(name, key), now + self.limits[name].seconds)
                                                        for name, key in counters])
        return Taken(0, counters, tuple(hits))

    async def renew(self, taken: Taken) -> None:
        """Count the events of `taken` from now: an attempt that failed counts from its failure, not
        from when it began (it may have waited for its turn)."""
        async with self.db.transaction() as conn:
            now = time.time()
            await limit_store.renew_hits(conn, [(now + self.limits[name].seconds, hit)
                                                for (name, _), hit in zip(taken.counters, taken.hits)])

    async def release(self, taken: Taken, forget: Iterable[Counter] = ()) -> None:
        """Give back the events of `taken`, and forget every event of the `forget` counters."""
        async with self.db.transaction() as conn:
            await limit_store.delete_hits(conn, taken.hits)
            for name, key in forget:
                await limit_store.delete_key(conn, name, self._digest(name, key))
