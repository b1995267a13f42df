"""The sign-in limiter's sliding windows, with a hand-driven clock."""
import pytest

from services.gateway.ratelimit import SignInLimiter, SlidingWindow


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
    window.hit("k")                     # t=0
    clock.advance(10)
    window.hit("k")                     # t=10
    assert window.retry_after("k") == pytest.approx(50)
    clock.advance(50)                   # t=60: the first hit has left the window
    assert window.retry_after("k") is None
    window.hit("k")                     # t=60
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


def test_failed_sign_ins_lock_the_email_whatever_its_case(clock):
    limiter = SignInLimiter(limit=2, window=300, clock=clock)
    limiter.failed("Ann@Example.org")
    assert limiter.retry_after("ann@example.org", "10.0.0.1") is None
    limiter.failed(" ann@example.org ")
    assert limiter.retry_after("ANN@example.org", "10.0.0.2") == 300
    assert limiter.retry_after("bob@example.org", "10.0.0.1") is None


def test_success_clears_the_email_failures(clock):
    limiter = SignInLimiter(limit=2, window=300, clock=clock)
    limiter.failed("ann@example.org")
    limiter.succeeded("ann@example.org")
    limiter.failed("ann@example.org")
    assert limiter.retry_after("ann@example.org", "10.0.0.1") is None


def test_an_address_gets_four_times_the_limit_in_attempts(clock):
    limiter = SignInLimiter(limit=2, window=300, clock=clock)
    for n in range(8):
        assert limiter.retry_after(f"user{n}@example.org", "10.0.0.1") is None
        limiter.attempted("10.0.0.1")
    assert limiter.retry_after("someone@example.org", "10.0.0.1") == 300
    assert limiter.retry_after("someone@example.org", "10.0.0.2") is None


def test_retry_after_is_whole_seconds_and_at_least_one(clock):
    limiter = SignInLimiter(limit=1, window=10, clock=clock)
    limiter.failed("ann@example.org")
    clock.advance(9.5)
    assert limiter.retry_after("ann@example.org", "10.0.0.1") == 1
