"""A rate limit kept in the gateway's memory: a sliding window per key (new confirmation
emails per account).

Pure Python with an injectable clock, so the rules are unit-tested without nameko. The
gateway runs its workers as green threads of one process: nothing here yields, so no
lock is needed. Each gateway process keeps its own counts (N gateways allow N times the
attempts), the documented trade-off of an in-memory limiter. Sign-ins and registrations
are limited by the groups service instead, for every gateway at once
(services/groups/limits.py).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class SlidingWindow:
    """At most `limit` hits per key within any `window` seconds."""

    # Above this many keys, a hit sweeps the keys whose hits have all expired, so
    # addresses and emails seen once do not accumulate for the life of the process.
    SWEEP_ABOVE = 10_000

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic):
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if window <= 0:
            raise ValueError("window must be greater than zero")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float] | None:
        hits = self._hits.get(key)
        if hits is None:
            return None
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return None
        return hits

    def retry_after(self, key: str) -> float | None:
        """Seconds until `key` may try again, or None if it may try now."""
        now = self._clock()
        hits = self._recent(key, now)
        if hits is None or len(hits) < self.limit:
            return None
        # The window frees one place when the oldest hit still counted expires.
        return max(hits[-self.limit] + self.window - now, 0.0)

    def hit(self, key: str) -> None:
        now = self._clock()
        hits = self._recent(key, now)
        if hits is None:
            if len(self._hits) >= self.SWEEP_ABOVE:
                self._sweep(now)
            hits = self._hits[key] = deque()
        hits.append(now)
        # Only the newest `limit` hits ever decide anything.
        while len(hits) > self.limit:
            hits.popleft()

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)

    def _sweep(self, now: float) -> None:
        for key in list(self._hits):
            self._recent(key, now)

    def __len__(self) -> int:
        return len(self._hits)


def whole_seconds(waits) -> int | None:
    """The longest of these waits in whole seconds (at least 1); None if there are none."""
    waits = [wait for wait in waits if wait is not None]
    if not waits:
        return None
    return max(1, math.ceil(max(waits)))
