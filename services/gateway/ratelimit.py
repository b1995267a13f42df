"""Sign-in rate limits: a sliding window per key, kept in the gateway's memory.

Pure Python with an injectable clock, so the rules are unit-tested without nameko. The
gateway runs its workers as green threads of one process: nothing here yields, so no
lock is needed. Each gateway process keeps its own counts (N gateways allow N times
the attempts); that is the documented trade-off of an in-memory limiter.
"""
from __future__ import annotations

import math
import time
from collections import deque
from typing import Callable


class SlidingWindow:
    """At most `limit` hits per key within any `window` seconds."""

    # Above this many keys, a hit sweeps the keys whose hits have all expired, so
    # addresses and emails seen once do not accumulate for the life of the process.
    SWEEP_ABOVE = 10_000

    def __init__(self, limit: int, window: float,
                 clock: Callable[[], float] = time.monotonic):
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


class SignInLimiter:
    """Failed sign-ins per email, and all sign-in attempts per client address.

    `limit` failures per `window` seconds lock an email (a success clears its count); an
    address gets `ADDRESS_FACTOR` times as many attempts, failed or not, so one client
    cannot try many emails either.
    """

    ADDRESS_FACTOR = 4

    def __init__(self, limit: int, window: float,
                 clock: Callable[[], float] = time.monotonic):
        self.by_email = SlidingWindow(limit, window, clock)
        self.by_address = SlidingWindow(limit * self.ADDRESS_FACTOR, window, clock)

    @staticmethod
    def email_key(email) -> str:
        return str(email or "").strip().lower()

    def retry_after(self, email, address: str) -> int | None:
        """Whole seconds to wait before this attempt is allowed, or None if allowed."""
        waits = [wait for wait in (self.by_email.retry_after(self.email_key(email)),
                                   self.by_address.retry_after(address or "unknown"))
                 if wait is not None]
        if not waits:
            return None
        return max(1, math.ceil(max(waits)))

    def attempted(self, address: str) -> None:
        self.by_address.hit(address or "unknown")

    def failed(self, email) -> None:
        self.by_email.hit(self.email_key(email))

    def succeeded(self, email) -> None:
        self.by_email.reset(self.email_key(email))
