"""Counting events in a sliding window: failed logins, registrations per client."""

from __future__ import annotations

import time
from collections import defaultdict, deque


class SlidingWindow:
    """Remembers events per key; a key with `limit` events within `seconds` is blocked."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str) -> deque[float]:
        window = self._failures[key]
        cutoff = time.monotonic() - self.seconds
        while window and window[0] < cutoff:
            window.popleft()
        return window

    def blocked(self, key: str) -> bool:
        return len(self._recent(key)) >= self.limit

    def record(self, key: str) -> None:
        self._recent(key).append(time.monotonic())

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)
