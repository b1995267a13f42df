"""Who is calling: the bearer token, checked by the groups service.

The HTTP handler calls these for each route as its declared `auth` says (see `http`),
and hands the route the caller as `actor_of(principal)`. `self.auth.resident(request)`
(`auth="resident"`) returns the principal
`{account_id, display_name, locale, is_staff, email_confirmed, created_at}` or raises
Unauthenticated (401); `self.auth.staff(request)` (`auth="staff"`) also raises Forbidden
(403) for a non-staff account. Once known, the account id goes into the worker's
`context_data` as `actor_id` (so every RPC call and event the request causes names its
actor) and into the log context.

`self.auth.reader(request)` (`auth="optional"`) is for public reads that show a little
more to a signed-in caller (e.g. `supported_by_me`): like `optional`, but when the groups
service cannot be asked right now the request is served as to anyone rather than failing.

Email confirmation is enforced here, in one place: a write (POST, PUT, PATCH, DELETE)
by an account whose email is still unconfirmed CIVIC_CONFIRMATION_GRACE (7 days) after
it registered is refused with 403 `email_unconfirmed` — except signing out, asking for a
new confirmation email and erasing the account (`UNCONFIRMED_MAY`). Reads are never
refused for it.

Principals are cached for CIVIC_AUTH_CACHE_SECONDS (60 s; 0 turns the cache off), keyed
by the SHA-256 of the token, so a brief groups outage does not sign out everyone who was
active a moment ago, and a busy client does not cost one groups call per request. Signing
out, erasing the account and confirming its email through this gateway forget the
account's cached tokens here at once; every gateway process also hears of them (and of
staff-role changes) from the groups service's events and forgets the account's cached
tokens within a moment (`revocations`). While a gateway cannot hear those events (its
broker connection is down) its cache is as stale as the cache lifetime at most, and it
forgets the whole cache when it hears again.

Signing in and registering are rate-limited by the groups service, for every gateway
(services/groups/limits.py): this gateway sends it the client's address with the
attempt. Only new confirmation emails are limited here, per gateway process.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import OrderedDict
from datetime import datetime, timedelta

import structlog
from nameko.extensions import DependencyProvider

from civic.clock import utcnow
from civic.errors import EmailUnconfirmed, Forbidden, RateLimited, Unauthenticated, Unavailable
from civic.log import get_logger
from civic.rpc import Services
from services.gateway.ratelimit import SlidingWindow, whole_seconds

log = get_logger(__name__)

DEFAULT_CACHE_SECONDS = 60.0
DEFAULT_CACHE_ENTRIES = 10_000
DEFAULT_CONFIRMATION_GRACE = 7 * 24 * 3600.0

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Entrypoints (method names) an account may call however long its email is unconfirmed.
UNCONFIRMED_MAY = frozenset(
    {
        "delete_session",
        "resend_confirmation_email",
        "erase_me",
        # the website's counterparts (services/gateway/web/account_pages.py)
        "web_sign_out",
        "web_resend_confirmation",
        "web_erase_account",
    }
)

# RFC 6750's b64token characters; a bounded length keeps junk out of the RPC.
_BEARER = re.compile(r"Bearer ([A-Za-z0-9\-._~+/]{1,512}=*)", re.IGNORECASE)


def bearer_token(request) -> str | None:
    """The token of `Authorization: Bearer <token>`; None without the header."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    match = _BEARER.fullmatch(header.strip())
    if match is None:
        raise Unauthenticated("the Authorization header must be `Bearer <token>`")
    return match.group(1)


# --- the principal cache -----------------------------------------------------------


def token_key(token: str) -> str:
    """What the cache is keyed by: the token itself is never kept."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class PrincipalCache:
    """Principals of recently checked tokens, each for `ttl` seconds after the check.

    Only successful checks are kept: a refused token is asked about again next time.
    A check that began before the token (or its account, or the whole cache) was
    forgotten is not kept either, so a request in flight while its session ends cannot
    bring it back. At most `max_entries` are kept; when full, expired entries go first,
    then the oldest. One process's green threads share it (no locking needed: no call in
    here yields to the hub).
    """

    def __init__(
        self,
        ttl: float = DEFAULT_CACHE_SECONDS,
        max_entries: int = DEFAULT_CACHE_ENTRIES,
        clock=time.monotonic,
    ):
        self.ttl = float(ttl)
        self.max_entries = int(max_entries)
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, dict]] = OrderedDict()
        # When a token key or "account:<id>" was last forgotten (kept for one ttl).
        self._forgotten: OrderedDict[str, float] = OrderedDict()
        # When everything was last forgotten (`forget_all`).
        self._all_forgotten_at = float("-inf")

    @property
    def enabled(self) -> bool:
        return self.ttl > 0 and self.max_entries > 0

    def __len__(self):
        return len(self._entries)

    def get(self, token: str) -> dict | None:
        key = token_key(token)
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, principal = entry
        if self._clock() >= expires_at:
            del self._entries[key]
            return None
        return dict(principal)

    def now(self) -> float:
        return self._clock()

    def put(self, token: str, principal: dict, checked_at: float | None = None) -> None:
        """Keep `principal` for `token`, checked with groups at `checked_at` (now if
        not given) — unless the token or its account was forgotten since."""
        if not self.enabled:
            return
        key = token_key(token)
        if checked_at is not None and self._forgotten_since(
            checked_at, key, principal.get("account_id")
        ):
            return
        self._entries.pop(key, None)
        if len(self._entries) >= self.max_entries:
            self._drop_expired()
        while len(self._entries) >= self.max_entries:
            self._entries.popitem(last=False)
        self._entries[key] = (self._clock() + self.ttl, dict(principal))

    def forget(self, token: str) -> None:
        key = token_key(token)
        self._entries.pop(key, None)
        self._mark_forgotten(key)

    def forget_account(self, account_id: str) -> None:
        """Every cached token of the account (it signed out, was erased, confirmed its
        email, became staff or stopped being staff)."""
        for key in [
            key
            for key, (_, principal) in self._entries.items()
            if principal.get("account_id") == account_id
        ]:
            del self._entries[key]
        self._mark_forgotten(f"account:{account_id}")

    def forget_all(self) -> None:
        """Every cached token, and every check in flight (revocations may have been
        missed: see `revocations`)."""
        self._entries.clear()
        self._forgotten.clear()
        self._all_forgotten_at = self._clock()

    def _mark_forgotten(self, marker: str) -> None:
        now = self._clock()
        while self._forgotten and (
            len(self._forgotten) >= self.max_entries
            or next(iter(self._forgotten.values())) + self.ttl <= now
        ):
            self._forgotten.popitem(last=False)
        self._forgotten.pop(marker, None)
        self._forgotten[marker] = now

    def _forgotten_since(self, checked_at: float, key: str, account_id) -> bool:
        if self._all_forgotten_at >= checked_at:
            return True
        markers = (key, f"account:{account_id}")
        return any(self._forgotten.get(marker, float("-inf")) >= checked_at for marker in markers)

    def _drop_expired(self) -> None:
        now = self._clock()
        for key in [key for key, (expires_at, _) in self._entries.items() if now >= expires_at]:
            del self._entries[key]


# --- email confirmation --------------------------------------------------------------


def confirm_by(principal: dict, grace: timedelta) -> datetime | None:
    """Until when the account may write without having confirmed its email; None when
    confirmed (or when groups did not say: an older groups service)."""
    if principal.get("email_confirmed", True):
        return None
    created_at = principal.get("created_at")
    if not created_at:
        return None
    return datetime.fromisoformat(created_at) + grace


def check_confirmed(
    principal: dict, method: str, entrypoint: str, now: datetime, grace: timedelta
) -> None:
    """Refuse a write of an account unconfirmed past its grace period (403)."""
    if method.upper() not in WRITE_METHODS or entrypoint in UNCONFIRMED_MAY:
        return
    deadline = confirm_by(principal, grace)
    if deadline is not None and now >= deadline:
        raise EmailUnconfirmed(
            "confirm your email address first: follow the link in the "
            "confirmation email, or ask for a new one with "
            "POST /api/v1/me/confirmation-email"
        )


# --- the caller of one request -------------------------------------------------------


def actor_of(principal: dict | None) -> dict | None:
    """What a domain service is told about the caller (None: anonymous)."""
    if principal is None:
        return None
    return {
        "account_id": principal["account_id"],
        "is_staff": bool(principal.get("is_staff")),
        "display_name": principal.get("display_name") or "",
    }


class RequestAuth:
    def __init__(
        self,
        worker_ctx,
        services_provider,
        cache: PrincipalCache,
        grace: timedelta = timedelta(seconds=DEFAULT_CONFIRMATION_GRACE),
        clock=utcnow,
    ):
        self._worker_ctx = worker_ctx
        self._services_provider = services_provider
        self._cache = cache
        self._grace = grace
        self._clock = clock
        self._principal = None

    def _services(self):
        return self._services_provider.get_dependency(self._worker_ctx)

    def optional(self, request) -> dict | None:
        """The principal if the request carries a valid token; None without one."""
        token = bearer_token(request)
        if token is None:
            return None
        return self.session(token, request.method)

    def session(self, token: str, method: str) -> dict:
        """The principal of a session token however it came (the API's bearer header,
        the website's session cookie), with the same email-confirmation rule."""
        principal = self._authenticate(token)
        check_confirmed(
            principal,
            method,
            self._worker_ctx.entrypoint.method_name,
            self._clock(),
            self._grace,
        )
        return principal

    def resident(self, request) -> dict:
        """The principal; 401 without a valid token."""
        principal = self.optional(request)
        if principal is None:
            raise Unauthenticated("sign in first: send `Authorization: Bearer <token>`")
        return principal

    def reader(self, request) -> dict | None:
        """For public reads: the principal; None without a token, or when the token
        cannot be checked right now (groups unavailable and nothing cached) — public
        data is then served as to anyone. A token groups refuses is still a 401."""
        try:
            return self.optional(request)
        except Unavailable:
            log.warning("auth_unavailable_serving_anonymously")
            return None

    def staff(self, request) -> dict:
        principal = self.resident(request)
        if not principal.get("is_staff"):
            raise Forbidden("only staff may do this")
        return principal

    def forget(self, token: str | None, account_id: str | None = None) -> None:
        """Stop trusting the cached principal of `token` (signed out), or every cached
        token of `account_id` (erased, or its email confirmed), in this gateway at once
        (the others hear of it from the groups service's events: `revocations`)."""
        if token is not None:
            self._cache.forget(token)
        if account_id is not None:
            self._cache.forget_account(account_id)

    def _authenticate(self, token: str) -> dict:
        if self._principal is None:
            principal = self._cache.get(token)
            if principal is None:
                checked_at = self._cache.now()
                principal = self._services().groups.authenticate(token)
                self._cache.put(token, principal, checked_at=checked_at)
            self._worker_ctx.context_data["actor_id"] = principal["account_id"]
            structlog.contextvars.bind_contextvars(actor_id=principal["account_id"])
            self._principal = principal
        return self._principal


class Authentication(DependencyProvider):
    """`self.auth`: the caller of the current request. Needs a `Services()` dependency
    on the same service (it makes its calls through it). Holds the process's
    `PrincipalCache` (CIVIC_AUTH_CACHE_SECONDS, CIVIC_AUTH_CACHE_ENTRIES) and the
    grace period of unconfirmed accounts (CIVIC_CONFIRMATION_GRACE)."""

    def __init__(self, clock=utcnow, **kwargs):
        super().__init__(**kwargs)
        self.clock = clock

    def setup(self):
        from civic import config

        found = [dep for dep in self.container.dependencies if isinstance(dep, Services)]
        if not found:
            raise TypeError("Authentication needs a Services() dependency on the service")
        self._services_provider = found[0]
        self.cache = PrincipalCache(
            float(config.get("CIVIC_AUTH_CACHE_SECONDS", DEFAULT_CACHE_SECONDS)),
            int(config.get("CIVIC_AUTH_CACHE_ENTRIES", DEFAULT_CACHE_ENTRIES)),
        )
        self.grace = timedelta(
            seconds=float(config.get("CIVIC_CONFIRMATION_GRACE", DEFAULT_CONFIRMATION_GRACE))
        )

    def get_dependency(self, worker_ctx):
        return RequestAuth(worker_ctx, self._services_provider, self.cache, self.grace, self.clock)


# --- rate limits: signing in, registering, confirmation emails ------------------------


class ProcessLimits(DependencyProvider):
    """A rate limiter that lives as long as the gateway process (every worker of it
    shares one), made by `make()` when the service starts, so it reads the configuration
    then: `confirmation_email_window`. (Sign-in and registration limits are counted by
    the groups service, for every gateway.)"""

    def __init__(self, make, **kwargs):
        super().__init__(**kwargs)
        self.make = make

    def setup(self):
        self.limiter = self.make()

    def get_dependency(self, worker_ctx):
        return self.limiter


# New confirmation emails per account: enough for a lost or late email, too few to
# flood a mailbox.
CONFIRMATION_EMAIL_LIMIT, CONFIRMATION_EMAIL_WINDOW = 3, 3600.0


def confirmation_email_window() -> SlidingWindow:
    return SlidingWindow(CONFIRMATION_EMAIL_LIMIT, CONFIRMATION_EMAIL_WINDOW)


def _refuse_if_limited(wait, what: str) -> None:
    if wait is not None:
        error = RateLimited(f"too many {what}; try again in {wait} seconds")
        error.retry_after = wait
        raise error


def client_address(address) -> str:
    """The client's address as the groups service counts attempts by it."""
    return address or "unknown"


def sign_in(groups, credentials: dict, address: str | None) -> dict:
    """`groups.sign_in`, which counts failed attempts for every gateway and refuses (429,
    with Retry-After) an email that failed too often lately, from this address or from
    everywhere, or an address that did (CIVIC_SIGNIN_LIMIT per CIVIC_SIGNIN_WINDOW per
    account and address, four times that per address, ten times that per account)."""
    return groups.sign_in(credentials["email"], credentials["password"], client_address(address))


def register(groups, payload: dict, address: str | None) -> dict:
    """`groups.register_account`, unless this address has registered too often lately
    (CIVIC_SIGNUP_LIMIT per CIVIC_SIGNUP_WINDOW, counted by the groups service for every
    gateway: 429 with Retry-After). Every attempt that reaches groups counts (a taken
    email costs a password hash too)."""
    groups.admit_registration(client_address(address))
    return groups.register_account(payload)


def request_confirmation_email(groups, window, actor: dict) -> None:
    """`groups.request_confirmation_email`, a few times an hour per account at most."""
    account_id = actor["account_id"]
    _refuse_if_limited(whole_seconds([window.retry_after(account_id)]), "confirmation emails")
    window.hit(account_id)
    groups.request_confirmation_email(actor)
