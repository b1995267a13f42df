"""Rate limits (sign-in, registration, confirmation emails): a sliding window per key,
kept in the gateway's memory.

Pure Python with an injectable clock, so the rules are unit-tested without nameko. The
gateway runs its workers as green threads of one process: nothing here yields, so no
lock is needed. Each gateway process keeps its own counts (N gateways allow N times
the attempts); that is the documented trade-off of an in-memory limiter.
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


class SignInLimiter:
    """Failed sign-ins, counted three ways; successful ones are not counted at all, so a
    town-hall meeting signing in over one Wi-Fi address is never held up by its own
    numbers.

    - per account and address: `limit` failures per `window` seconds stop that email
      from that address (a success there clears the count). One address cannot lock an
      account for everyone else: its owner still signs in from elsewhere.
    - per address: `ADDRESS_FACTOR` times as many failures, whatever the emails, stop the
      address, so one client cannot try many accounts either.
    - per account from everywhere: `EMAIL_FACTOR` times as many failures stop the email
      for everyone — guessing spread over many addresses. One address contributes at
      most `limit` failures per window, so this takes EMAIL_FACTOR addresses at once.
    """

    ADDRESS_FACTOR = 4
    EMAIL_FACTOR = 10

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic):
        self.by_pair = SlidingWindow(limit, window, clock)
        self.by_address = SlidingWindow(limit * self.ADDRESS_FACTOR, window, clock)
        self.by_email = SlidingWindow(limit * self.EMAIL_FACTOR, window, clock)

    @staticmethod
    def email_key(email) -> str:
        return str(email or "").strip().lower()

    @staticmethod
    def address_key(address) -> str:
        return address or "unknown"

    def _pair_key(self, email, address) -> str:
        # A newline is in neither an address nor a (validated) email: no two pairs meet.
        return f"{self.address_key(address)}\n{self.email_key(email)}"

    def retry_after(self, email, address) -> int | None:
        """Whole seconds to wait before this attempt is allowed, or None if allowed."""
        return whole_seconds(
            (
                self.by_pair.retry_after(self._pair_key(email, address)),
                self.by_address.retry_after(self.address_key(address)),
                self.by_email.retry_after(self.email_key(email)),
            )
        )

    def failed(self, email, address) -> None:
        self.by_pair.hit(self._pair_key(email, address))
        self.by_address.hit(self.address_key(address))
        self.by_email.hit(self.email_key(email))

    def succeeded(self, email, address) -> None:
        """The right password from this address: its earlier typos there are forgiven.
        (The address's and the account's counts stay: they watch for guessing.)"""
        self.by_pair.reset(self._pair_key(email, address))


def whole_seconds(waits) -> int | None:
    """The longest of these waits in whole seconds (at least 1); None if there are none."""
    waits = [wait for wait in waits if wait is not None]
    if not waits:
        return None
    return max(1, math.ceil(max(waits)))
