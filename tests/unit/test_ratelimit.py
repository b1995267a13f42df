"""The gateway's in-memory rate limit (a sliding window: new confirmation emails), with a
hand-driven clock. (Sign-ins and registrations are limited by the groups service:
tests/unit/test_groups_limits.py.)"""

import pytest

from services.gateway.ratelimit import SlidingWindow, whole_seconds


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def clock():
    return Clock()


def test_window_allows_up_to_its_limit(clock):
    window = SlidingWindow(limit=3, window=60, clock=clock)
    for _ in range(3):
        assert window.retry_after("k") is None
        window.hit("k")
    assert window.retry_after("k") == pytest.approx(60)


def test_waiting_frees_places_one_by_one(clock):
    window = SlidingWindow(limit=2, window=60, clock=clock)
    window.hit("k")  # t=0
    clock.advance(10)
    window.hit("k")  # t=10
    assert window.retry_after("k") == pytest.approx(50)
    clock.advance(50)  # t=60: the first hit has left the window
    assert window.retry_after("k") is None
    window.hit("k")  # t=60
    assert window.retry_after("k") == pytest.approx(10)  # when the t=10 hit leaves


def test_keys_are_counted_apart(clock):
    window = SlidingWindow(limit=1, window=60, clock=clock)
    window.hit("a")
    assert window.retry_after("a") is not None
    assert window.retry_after("b") is None


def test_reset_forgets_a_key(clock):
    window = SlidingWindow(limit=1, window=60, clock=clock)
    window.hit("a")
    window.reset("a")
    assert window.retry_after("a") is None


def test_expired_keys_are_dropped(clock):
    window = SlidingWindow(limit=2, window=60, clock=clock)
    window.SWEEP_ABOVE = 3
    for key in ("a", "b", "c"):
        window.hit(key)
    assert len(window) == 3
    clock.advance(61)
    window.hit("d")  # over the sweep threshold: the expired keys go
    assert len(window) == 1


def test_memory_per_key_is_bounded_by_the_limit(clock):
    window = SlidingWindow(limit=3, window=60, clock=clock)
    for _ in range(100):
        window.hit("k")
    assert len(window._hits["k"]) == 3


@pytest.mark.parametrize("limit, seconds", [(0, 60), (1, 0), (1, -5)])
def test_nonsense_limits_are_refused(limit, seconds):
    with pytest.raises(ValueError):
        SlidingWindow(limit=limit, window=seconds)


def test_whole_seconds_are_at_least_one():
    assert whole_seconds([None, 0.2, 3.1]) == 4
    assert whole_seconds([None, 0.01]) == 1
    assert whole_seconds([None]) is None
