"""The gateway's rate limits (sliding windows, the sign-in limiter), with a hand-driven
clock."""

import pytest

from services.gateway.ratelimit import SignInLimiter, SlidingWindow, whole_seconds


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


def test_failed_sign_ins_lock_the_email_from_that_address_whatever_its_case(clock):
    limiter = SignInLimiter(limit=2, window=300, clock=clock)
    limiter.failed("Ann@Example.org", "10.0.0.1")
    assert limiter.retry_after("ann@example.org", "10.0.0.1") is None
    limiter.failed(" ann@example.org ", "10.0.0.1")
    assert limiter.retry_after("ANN@example.org", "10.0.0.1") == 300
    assert limiter.retry_after("bob@example.org", "10.0.0.1") is None


def test_one_address_cannot_lock_an_account_for_everyone_else(clock):
    limiter = SignInLimiter(limit=5, window=300, clock=clock)
    for _ in range(50):  # refused after the fifth: only five are counted
        if limiter.retry_after("ann@example.org", "203.0.113.9") is None:
            limiter.failed("ann@example.org", "203.0.113.9")
    assert limiter.retry_after("ann@example.org", "203.0.113.9") == 300
    assert limiter.retry_after("ann@example.org", "10.0.0.1") is None


def test_success_clears_the_failures_of_that_address_only(clock):
    limiter = SignInLimiter(limit=2, window=300, clock=clock)
    limiter.failed("ann@example.org", "10.0.0.1")
    limiter.failed("ann@example.org", "10.0.0.2")
    limiter.succeeded("ann@example.org", "10.0.0.1")
    limiter.failed("ann@example.org", "10.0.0.1")
    assert limiter.retry_after("ann@example.org", "10.0.0.1") is None
    limiter.failed("ann@example.org", "10.0.0.2")
    assert limiter.retry_after("ann@example.org", "10.0.0.2") == 300


def test_successes_do_not_count_a_town_hall_signs_in_from_one_address(clock):
    limiter = SignInLimiter(limit=5, window=300, clock=clock)
    for n in range(200):
        assert limiter.retry_after(f"resident{n}@example.org", "192.0.2.1") is None
        limiter.succeeded(f"resident{n}@example.org", "192.0.2.1")
        clock.advance(1)
    # Typos along the way are counted, but a few do not stop the meeting either.
    for n in range(limiter.ADDRESS_FACTOR * 5 - 1):
        limiter.failed(f"typo{n}@example.org", "192.0.2.1")
    assert limiter.retry_after("last@example.org", "192.0.2.1") is None


def test_an_address_gets_four_times_the_limit_in_failures(clock):
    limiter = SignInLimiter(limit=2, window=300, clock=clock)
    for n in range(8):
        assert limiter.retry_after(f"user{n}@example.org", "10.0.0.1") is None
        limiter.failed(f"user{n}@example.org", "10.0.0.1")
    assert limiter.retry_after("someone@example.org", "10.0.0.1") == 300
    assert limiter.retry_after("someone@example.org", "10.0.0.2") is None


def test_guessing_one_account_from_many_addresses_locks_it_for_everyone(clock):
    limiter = SignInLimiter(limit=2, window=300, clock=clock)
    addresses = [f"198.51.100.{n}" for n in range(limiter.EMAIL_FACTOR)]
    for address in addresses:
        for _ in range(2):
            limiter.failed("ann@example.org", address)
    assert limiter.retry_after("ann@example.org", "10.0.0.1") == 300
    assert limiter.retry_after("bob@example.org", "10.0.0.1") is None
    clock.advance(300)
    assert limiter.retry_after("ann@example.org", "10.0.0.1") is None


def test_retry_after_is_whole_seconds_and_at_least_one(clock):
    limiter = SignInLimiter(limit=1, window=10, clock=clock)
    limiter.failed("ann@example.org", "10.0.0.1")
    clock.advance(9.5)
    assert limiter.retry_after("ann@example.org", "10.0.0.1") == 1
    assert whole_seconds([None, 0.2, 3.1]) == 4
    assert whole_seconds([None]) is None
