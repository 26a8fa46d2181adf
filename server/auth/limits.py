"""Abuse limits: events counted per key in a sliding window (failed sign-ins, registrations per
client, wrong join codes and joins per client, board changes, notes, questions and snapshots per
participant; socket connections per client address are counted at once instead, see
realtime/connections.py). Limits are configurable with TAIWA_LIMITS, e.g.
`TAIWA_LIMITS="note=20/60,question=3/60"` (count per seconds). A client is counted by `client_key`.

Limits on what any client may try (SHARED_LIMITS) are counted in the database, so that every process
enforces one limit (server/auth/shared_limits.py); limits per participant on a board are counted in
Redis when the processes share one, else in the process (server/auth/participant_limits.py, over
SlidingWindow). `connections` stays per process on purpose: it guards that process's own file
descriptors, which other processes do not spend."""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: float

    def __str__(self) -> str:
        return f"{self.count}/{self.seconds:g}"


DEFAULT_LIMITS: dict[str, Limit] = {
    # failed sign-ins: for one account from one client address; for one account from anywhere (a
    # ceiling against guessing from many addresses, high so that strangers elsewhere cannot lock an
    # organizer out); from one client address for any accounts
    "login_account_client": Limit(5, 15 * 60),
    "login_account": Limit(50, 15 * 60),
    "login_client": Limit(20, 15 * 60),
    "registration": Limit(20, 10 * 60),  # registrations per client address
    # wrong join codes per client address: 900,000 codes cannot be swept, a class that mistypes can go on
    "join_lookup": Limit(20, 10 * 60),
    "join": Limit(30, 60),  # participants joining one board per client address (a class on one Wi-Fi fits)
    "board": Limit(40, 10),  # board changes per participant
    "note": Limit(30, 60),  # notes added per participant
    "question": Limit(5, 60),  # questions asked per participant
    "snapshot": Limit(10, 10),  # whole-board snapshots asked for per participant
    # socket connections at once per client address (a room on a venue's Wi-Fi shares one), and the
    # seconds a connection has to join a board before it is closed; per process, not shared: each
    # process guards its own file descriptors
    "connections": Limit(200, 5),
    "change_request": Limit(5, 24 * 3600),  # change requests per registration (each lands on organizers' list)
    "feed_build": Limit(30, 60),  # calendar feeds built (not in the cache) per client address
    "readings": Limit(120, 60),  # POST /api/readings per client address (a live page asks for each new text)
    # "you are already registered" mails per registration: someone typing another's address cannot flood them
    "link_resend": Limit(3, 24 * 3600),
    # evaluation answers without a registrant's link (the room's QR code), per client address: a room on
    # one Wi-Fi fits, a flood of made-up answers does not
    "evaluation": Limit(30, 60),
    "follow": Limit(10, 3600),  # requests to follow a theme by mail per client address (each may send a mail)
}

# counted in the database (one limit for every process); the rest per participant (in Redis when
# there is one: participant_limits.py), and `connections` per process
SHARED_LIMITS = frozenset({"login_account_client", "login_account", "login_client", "registration",
                           "join", "join_lookup", "change_request", "link_resend",
                           "evaluation", "follow"})


def client_key(connection: Any) -> str:
    """The address a client is counted by (limits, a board's connections): the peer of the connection.
    The one place to change when a trusted proxy's forwarded address should count instead."""
    client = connection.client
    return client.host if client else "unknown"


def parse_limits(text: str) -> dict[str, Limit]:
    """`name=count/seconds,...` over the defaults; raises ValueError naming what is wrong."""
    limits = dict(DEFAULT_LIMITS)
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        count, _, seconds = value.partition("/")
        name = name.strip()
        if name not in DEFAULT_LIMITS:
            raise ValueError(f"TAIWA_LIMITS: unknown limit {name!r} (known: {', '.join(DEFAULT_LIMITS)})")
        try:
            limit = Limit(int(count), float(seconds))
        except ValueError:
            raise ValueError(f"TAIWA_LIMITS: {item!r} should look like {name}=COUNT/SECONDS") from None
        if limit.count < 1 or not 0 < limit.seconds <= 86_400:
            raise ValueError(f"TAIWA_LIMITS: {item!r} needs a count of at least 1 and 1 to 86400 seconds")
        limits[name] = limit
    return limits


class SlidingWindow:
    """Remembers events per key; a key with `limit` events within `seconds` is blocked until the
    oldest of them leaves the window (a lockout is always temporary)."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._events: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str) -> deque[float]:
        window = self._events[key]
        cutoff = time.monotonic() - self.seconds
        while window and window[0] < cutoff:
            window.popleft()
        if not window:
            self._events.pop(key, None)
            return self._events[key]
        return window

    def blocked(self, key: str) -> bool:
        return len(self._recent(key)) >= self.limit

    def retry_after(self, key: str) -> int:
        """Whole seconds until `key` may act again (0 when it may now)."""
        window = self._recent(key)
        if len(window) < self.limit:
            return 0
        return max(1, math.ceil(window[-self.limit] + self.seconds - time.monotonic()))

    def record(self, key: str) -> None:
        self._recent(key).append(time.monotonic())

    def clear(self, key: str) -> None:
        self._events.pop(key, None)


def windows(limits: dict[str, Limit]) -> dict[str, SlidingWindow]:
    """A window in this process for each limit that is not shared."""
    return {name: SlidingWindow(limit.count, limit.seconds) for name, limit in limits.items()
            if name not in SHARED_LIMITS}


def wait_text(seconds: int, locale: str) -> str:
    """"3 minutes" / "3分" — how long a lockout lasts, rounded up."""
    if seconds >= 90:
        minutes = math.ceil(seconds / 60)
        return f"{minutes}分" if locale == "ja" else f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds}秒" if locale == "ja" else f"{seconds} second{'s' if seconds != 1 else ''}"
