"""Rate limits on signing in and registering, counted here for every gateway.

Several gateway processes run behind one address: counted in each one's memory, N
gateways would allow N times the attempts. The groups service is asked at every sign-in
and registration anyway and has the database, so it counts them, in its `attempts`
table, whichever gateway the attempt came through. The rules are the same as when each
gateway counted for itself (README, *Configuration*):

- failed sign-ins, CIVIC_SIGNIN_LIMIT per CIVIC_SIGNIN_WINDOW seconds per account and
  client address (a success there clears that count); `ADDRESS_FACTOR` times as many per
  address whatever the accounts; `ACCOUNT_FACTOR` times as many per account from
  everywhere. Successes are never counted, so a town-hall meeting signing in over one
  Wi-Fi address is not held up by its own numbers, and one address cannot lock an account
  for its owner elsewhere;
- registrations, CIVIC_SIGNUP_LIMIT per CIVIC_SIGNUP_WINDOW seconds per client address,
  every attempt counted (a taken email costs a password hash too).

A window allows `limit` attempts within any `seconds`; the wait it asks for is until the
oldest of the newest `limit` attempts leaves it. The rules (`Window`, `SignInRule`) are
pure, on times given to them; the functions below them read and write the table.

What is stored is no personal data in the clear: `key` is an HMAC (CIVIC_SECRET_KEY) of
what was counted (an account's email, a client address), rows matter only within their
window, a new attempt deletes its key's expired rows and `prune` (the service's
retention timer) the rest.

The check and the count are separate steps, with a password check between them (as they
were in a gateway's memory): sign-ins of one account in flight at the same moment may
all pass the check before any of them is counted.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from nameko.extensions import DependencyProvider
from sqlalchemy import delete, select

from civic import signing
from civic.db import new_id
from services.groups.models import Attempt

ADDRESS_FACTOR = 4
ACCOUNT_FACTOR = 10
UNKNOWN_ADDRESS = "unknown"
_PURPOSE = b"civic-attempts-v1:"


# --- the rules (pure) --------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """At most `limit` attempts of one key of `scope` within any `seconds`."""

    scope: str
    limit: int
    seconds: float

    def __post_init__(self):
        if self.limit < 1:
            raise ValueError("limit must be at least 1")
        if self.seconds <= 0:
            raise ValueError("window must be greater than zero")

    def since(self, now: datetime) -> datetime:
        """The attempts after this time count (an attempt exactly one window old does
        not)."""
        return now - timedelta(seconds=self.seconds)

    def wait(self, attempts: Iterable[datetime], now: datetime) -> float | None:
        """Seconds until one more attempt is allowed, given the key's attempts; None if
        it is allowed now."""
        since = self.since(now)
        recent = sorted(at for at in attempts if at > since)
        if len(recent) < self.limit:
            return None
        # A place frees when the oldest attempt that still counts leaves the window.
        oldest = recent[-self.limit]
        return max((oldest + timedelta(seconds=self.seconds) - now).total_seconds(), 0.0)


def whole_seconds(waits: Iterable[float | None]) -> int | None:
    """The longest of these waits in whole seconds (at least 1); None if there are none."""
    waits = [wait for wait in waits if wait is not None]
    if not waits:
        return None
    return max(1, math.ceil(max(waits)))


def account_key(email) -> str:
    return str(email or "").strip().lower()


def address_key(address) -> str:
    return str(address or "").strip() or UNKNOWN_ADDRESS


@dataclass(frozen=True)
class SignInRule:
    """Failed sign-ins, counted three ways (see the module's docstring)."""

    pair: Window
    address: Window
    account: Window

    @classmethod
    def of(cls, limit: int, seconds: float) -> SignInRule:
        return cls(
            Window("signin_pair", limit, seconds),
            Window("signin_address", limit * ADDRESS_FACTOR, seconds),
            Window("signin_account", limit * ACCOUNT_FACTOR, seconds),
        )

    def keys(self, email, address) -> list[tuple[Window, str]]:
        """Each window with the key this attempt is counted under in it."""
        account, client = account_key(email), address_key(address)
        # A newline is in neither an address nor a (validated) email: no two pairs meet.
        return [
            (self.pair, f"{client}\n{account}"),
            (self.address, client),
            (self.account, account),
        ]


@dataclass(frozen=True)
class Limits:
    """The service's limits, read from the configuration when it starts."""

    sign_in: SignInRule
    registration: Window

    @classmethod
    def from_config(cls) -> Limits:
        from civic import config

        return cls(
            SignInRule.of(
                int(config.get("CIVIC_SIGNIN_LIMIT", 5)),
                float(config.get("CIVIC_SIGNIN_WINDOW", 300)),
            ),
            Window(
                "signup_address",
                int(config.get("CIVIC_SIGNUP_LIMIT", 10)),
                float(config.get("CIVIC_SIGNUP_WINDOW", 3600)),
            ),
        )

    def windows(self) -> tuple[Window, ...]:
        return (self.sign_in.pair, self.sign_in.address, self.sign_in.account, self.registration)


class ConfiguredLimits(DependencyProvider):
    """`self.limits`: the service's `Limits`, read when it starts (so a deployment or a
    test sets them without touching code, as the gateway's were)."""

    def setup(self):
        self.limits = Limits.from_config()

    def get_dependency(self, worker_ctx):
        return self.limits


# --- counting, in the `attempts` table -------------------------------------------------------


def _digest(scope: str, key: str) -> str:
    text = f"{scope}\n{key}".encode()
    return hmac.new(signing.signing_key(), _PURPOSE + text, hashlib.sha256).hexdigest()


def wait_of(session, window: Window, key: str, now: datetime) -> float | None:
    """Seconds `key` must wait in `window` (None: it may try now)."""
    newest = session.execute(
        select(Attempt.at)
        .where(
            Attempt.scope == window.scope,
            Attempt.key == _digest(window.scope, key),
            Attempt.at > window.since(now),
        )
        .order_by(Attempt.at.desc())
        .limit(window.limit)
    ).scalars()
    return window.wait(newest, now)


def count(session, window: Window, key: str, now: datetime) -> None:
    """One more attempt of `key`; its attempts that left the window go."""
    digest = _digest(window.scope, key)
    session.execute(
        delete(Attempt).where(
            Attempt.scope == window.scope, Attempt.key == digest, Attempt.at <= window.since(now)
        )
    )
    session.add(Attempt(id=new_id(), scope=window.scope, key=digest, at=now))
    session.flush()


def clear(session, window: Window, key: str) -> None:
    session.execute(
        delete(Attempt).where(
            Attempt.scope == window.scope, Attempt.key == _digest(window.scope, key)
        )
    )


def prune(session, limits: Limits, now: datetime) -> int:
    """Delete every attempt that left its window; how many."""
    removed = 0
    for window in limits.windows():
        removed += session.execute(
            delete(Attempt).where(Attempt.scope == window.scope, Attempt.at <= window.since(now))
        ).rowcount
    return removed


# --- signing in and registering -----------------------------------------------------------


def sign_in_wait(session, rule: SignInRule, email, address, now: datetime) -> int | None:
    """Whole seconds before this email may try to sign in from this address, or None."""
    keys = rule.keys(email, address)
    return whole_seconds(wait_of(session, window, key, now) for window, key in keys)


def sign_in_failed(session, rule: SignInRule, email, address, now: datetime) -> None:
    for window, key in rule.keys(email, address):
        count(session, window, key, now)


def sign_in_succeeded(session, rule: SignInRule, email, address) -> None:
    """The right password from this address: its earlier typos there are forgiven (the
    address's and the account's counts stay: they watch for guessing)."""
    window, key = rule.keys(email, address)[0]
    clear(session, window, key)


def admit_registration(session, window: Window, address, now: datetime) -> int | None:
    """Count a registration from this address, unless it has registered too often lately:
    then the whole seconds to wait (and nothing is counted)."""
    key = address_key(address)
    wait = whole_seconds([wait_of(session, window, key, now)])
    if wait is None:
        count(session, window, key, now)
    return wait
