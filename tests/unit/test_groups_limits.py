"""The sign-in and registration limits the groups service counts for every gateway: the
rules on given times, then counted in a throw-away SQLite database (no broker), with
the time passed in."""

from datetime import UTC, datetime, timedelta

import pytest
from nameko.exceptions import deserialize, serialize
from sqlalchemy import select

from civic.errors import RateLimited, Unauthenticated
from services.groups import domain, limits
from services.groups.api import TooManyAttempts
from services.groups.models import Attempt, metadata
from tests.unit.domain_support import domain_database, run

PASSWORD = "correct horse battery"
T0 = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --- the rules (pure) ---------------------------------------------------------------------


def test_a_window_allows_up_to_its_limit():
    window = limits.Window("signup_address", limit=3, seconds=60)
    assert window.wait([], at(0)) is None
    assert window.wait([at(0), at(1)], at(2)) is None
    assert window.wait([at(0), at(1), at(2)], at(2)) == pytest.approx(58)


def test_waiting_frees_places_one_by_one():
    window = limits.Window("signup_address", limit=2, seconds=60)
    assert window.wait([at(0), at(10)], at(10)) == pytest.approx(50)
    # At t=60 the first has left the window (exactly one window old no longer counts).
    assert window.wait([at(0), at(10)], at(60)) is None
    assert window.wait([at(0), at(10), at(60)], at(60)) == pytest.approx(10)


def test_only_the_newest_attempts_decide_in_any_order():
    window = limits.Window("signup_address", limit=2, seconds=60)
    attempts = [at(30), at(5), at(20), at(-100)]
    assert window.wait(attempts, at(30)) == pytest.approx(50)  # when t=20 leaves


@pytest.mark.parametrize("limit, seconds", [(0, 60), (1, 0), (1, -5)])
def test_nonsense_windows_are_refused(limit, seconds):
    with pytest.raises(ValueError):
        limits.Window("signup_address", limit, seconds)


def test_whole_seconds_are_at_least_one():
    assert limits.whole_seconds([None, 0.2, 3.1]) == 4
    assert limits.whole_seconds([0.0]) == 1
    assert limits.whole_seconds([None]) is None


def test_sign_ins_are_counted_three_ways_with_the_factors_of_before():
    rule = limits.SignInRule.of(5, 300)
    assert (rule.pair.limit, rule.address.limit, rule.account.limit) == (5, 20, 50)
    assert {rule.pair.seconds, rule.address.seconds, rule.account.seconds} == {300}
    keys = rule.keys(" Ann@Example.org ", "10.0.0.1")
    assert keys == [
        (rule.pair, "10.0.0.1\nann@example.org"),
        (rule.address, "10.0.0.1"),
        (rule.account, "ann@example.org"),
    ]
    assert rule.keys("ann@example.org", None)[1] == (rule.address, "unknown")


def test_limits_are_read_from_the_configuration():
    from nameko import config

    settings = {
        "CIVIC_SIGNIN_LIMIT": 3,
        "CIVIC_SIGNIN_WINDOW": 120.0,
        "CIVIC_SIGNUP_LIMIT": 7,
        "CIVIC_SIGNUP_WINDOW": 600.0,
    }
    with config.patch(settings, clear=False):
        read = limits.Limits.from_config()
    assert (read.sign_in.pair.limit, read.sign_in.pair.seconds) == (3, 120.0)
    assert (read.registration.limit, read.registration.seconds) == (7, 600.0)
    assert len({window.scope for window in read.windows()}) == 4


def test_the_refusal_keeps_its_wait_across_rpc():
    error = TooManyAttempts("too many sign-in attempts; try again in 42 seconds", 42)
    assert isinstance(error, RateLimited) and error.status == 429
    again = deserialize(serialize(error))  # what the gateway gets back
    assert type(again) is TooManyAttempts
    assert again.retry_after == 42 and again.message == error.message
    assert again.to_dict() == {"error": {"code": "rate_limited", "message": error.message}}
    assert TooManyAttempts("x", "not a number").retry_after == 1
    assert TooManyAttempts("x", 0).retry_after == 1


# --- counted in the database --------------------------------------------------------------


@pytest.fixture
def db(tmp_path):
    database = domain_database(tmp_path, "groups", metadata)
    yield database
    database.dispose()


@pytest.fixture
def secret(tmp_path):
    from nameko import config

    with config.patch({"CIVIC_SECRET_KEY": "k" * 40, "CIVIC_VAR_DIR": str(tmp_path)}, clear=False):
        yield


@pytest.fixture
def anna(db, secret):
    return run(db, domain.register_account, "anna@example.org", PASSWORD, "Anna")


def sign_in(db, rule, email, password, address, now):
    """As the service's sign_in does: a failure counted in a transaction of its own."""
    try:
        return run(db, domain.sign_in, email, password, address=address, rule=rule, now=now)
    except Unauthenticated:
        run(db, domain.sign_in_failed, rule, email, address, now=now)
        raise


def test_failed_sign_ins_lock_the_email_from_that_address(db, anna):
    rule = limits.SignInRule.of(2, 300)
    for second in (0, 10):
        with pytest.raises(Unauthenticated):
            sign_in(db, rule, "anna@example.org", "wrong password", "10.0.0.1", at(second))
    # Even the right password waits: the window is per email, not per guess.
    with pytest.raises(TooManyAttempts) as refused:
        sign_in(db, rule, "anna@example.org", PASSWORD, "10.0.0.1", at(20))
    assert refused.value.retry_after == 280  # when the t=0 failure leaves the window
    assert "280 seconds" in refused.value.message
    # The owner elsewhere is not locked out, nor another account from this address.
    assert sign_in(db, rule, "anna@example.org", PASSWORD, "10.0.0.2", at(20))["token"]
    with pytest.raises(Unauthenticated):
        sign_in(db, rule, "bo@example.org", "wrong password", "10.0.0.1", at(20))
    # Once the window has passed, the right password works from there again.
    assert sign_in(db, rule, "anna@example.org", PASSWORD, "10.0.0.1", at(300))["token"]


def test_a_refused_attempt_is_not_counted(db, anna):
    rule = limits.SignInRule.of(1, 60)
    with pytest.raises(Unauthenticated):
        sign_in(db, rule, "anna@example.org", "wrong password", "10.0.0.1", at(0))
    for second in range(1, 50, 7):
        with pytest.raises(TooManyAttempts):
            sign_in(db, rule, "anna@example.org", PASSWORD, "10.0.0.1", at(second))
    assert sign_in(db, rule, "anna@example.org", PASSWORD, "10.0.0.1", at(60))["token"]


def test_a_success_forgives_the_typos_of_that_address_only(db, anna):
    rule = limits.SignInRule.of(2, 300)
    for address in ("10.0.0.1", "10.0.0.2"):
        with pytest.raises(Unauthenticated):
            sign_in(db, rule, "anna@example.org", "wrong password", address, at(0))
    assert sign_in(db, rule, "anna@example.org", PASSWORD, "10.0.0.1", at(1))
    with pytest.raises(Unauthenticated):
        sign_in(db, rule, "anna@example.org", "wrong password", "10.0.0.1", at(2))
    assert sign_in(db, rule, "anna@example.org", PASSWORD, "10.0.0.1", at(3))  # 1 failure
    with pytest.raises(Unauthenticated):
        sign_in(db, rule, "anna@example.org", "wrong password", "10.0.0.2", at(4))
    with pytest.raises(TooManyAttempts):  # 2 failures there, never forgiven
        sign_in(db, rule, "anna@example.org", PASSWORD, "10.0.0.2", at(5))


def test_an_address_gets_four_times_the_limit_whatever_the_emails(db, secret):
    rule = limits.SignInRule.of(2, 300)
    for n in range(8):
        with pytest.raises(Unauthenticated):
            sign_in(db, rule, f"user{n}@example.org", "guessing", "10.0.0.1", at(n))
    with pytest.raises(TooManyAttempts) as refused:
        sign_in(db, rule, "someone@example.org", "guessing", "10.0.0.1", at(8))
    assert refused.value.retry_after == 292
    with pytest.raises(Unauthenticated):
        sign_in(db, rule, "someone@example.org", "guessing", "10.0.0.2", at(8))


def test_guessing_one_account_from_many_addresses_locks_it_for_everyone(db, anna):
    rule = limits.SignInRule.of(2, 300)
    for n in range(limits.ACCOUNT_FACTOR):
        for _ in range(2):
            with pytest.raises(Unauthenticated):
                sign_in(db, rule, "anna@example.org", "guessing", f"198.51.100.{n}", at(n))
    with pytest.raises(TooManyAttempts):
        sign_in(db, rule, "anna@example.org", PASSWORD, "10.0.0.1", at(20))
    assert sign_in(db, rule, "anna@example.org", PASSWORD, "10.0.0.1", at(310))["token"]


def test_a_town_hall_signs_in_over_one_address(db, secret):
    rule = limits.SignInRule.of(2, 300)
    for n in range(12):
        run(db, domain.register_account, f"resident{n}@example.org", PASSWORD, f"R{n}")
    for n in range(rule.address.limit - 1):  # typos, one short of the address's limit
        with pytest.raises(Unauthenticated):
            sign_in(db, rule, f"resident{n}@example.org", "typo", "192.0.2.1", at(n))
    for n in range(12):  # successes are never counted
        assert sign_in(db, rule, f"resident{n}@example.org", PASSWORD, "192.0.2.1", at(10 + n))


def test_without_a_rule_nothing_is_counted(db, anna):
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            run(db, domain.sign_in, "anna@example.org", "wrong password")
    with db.sessions() as session:
        assert session.execute(select(Attempt)).all() == []


def test_registrations_are_counted_per_address_refused_ones_not(db, secret):
    window = limits.Window("signup_address", 2, 3600)
    run(db, domain.admit_registration, window, "10.0.0.1", now=at(0))
    run(db, domain.admit_registration, window, "10.0.0.1", now=at(100))
    with pytest.raises(TooManyAttempts) as refused:
        run(db, domain.admit_registration, window, "10.0.0.1", now=at(200))
    assert refused.value.retry_after == 3400
    assert "too many registrations" in refused.value.message
    run(db, domain.admit_registration, window, "10.0.0.2", now=at(200))
    run(db, domain.admit_registration, window, "10.0.0.1", now=at(3600))  # t=0 left
    with pytest.raises(TooManyAttempts) as refused:
        run(db, domain.admit_registration, window, "10.0.0.1", now=at(3601))
    assert refused.value.retry_after == 99


def test_what_is_kept_names_no_one_and_goes_after_its_window(db, anna):
    configured = limits.Limits(
        limits.SignInRule.of(5, 300), limits.Window("signup_address", 10, 3600)
    )
    with pytest.raises(Unauthenticated):
        sign_in(db, configured.sign_in, "anna@example.org", "wrong", "203.0.113.7", at(0))
    run(db, domain.admit_registration, configured.registration, "203.0.113.7", now=at(0))
    with db.sessions() as session:
        rows = session.execute(select(Attempt.scope, Attempt.key)).all()
    assert sorted(scope for scope, _ in rows) == [
        "signin_account",
        "signin_address",
        "signin_pair",
        "signup_address",
    ]
    for _, key in rows:
        assert len(key) == 64 and "anna" not in key and "203.0.113" not in key
    # The same key in another scope is counted apart.
    assert len({key for _, key in rows}) == 4

    assert run(db, domain.prune_attempts, configured, now=at(299)) == 0
    assert run(db, domain.prune_attempts, configured, now=at(300)) == 3  # the sign-in's
    assert run(db, domain.prune_attempts, configured, now=at(3600)) == 1
    with db.sessions() as session:
        assert session.execute(select(Attempt)).all() == []


def test_a_new_attempt_takes_its_keys_expired_ones_along(db, secret):
    window = limits.Window("signup_address", 1, 60)
    for minute in range(5):
        run(db, domain.admit_registration, window, "10.0.0.1", now=at(60 * minute))
    with db.sessions() as session:
        assert len(session.execute(select(Attempt)).all()) == 1
