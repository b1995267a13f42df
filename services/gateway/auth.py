"""Who is calling: the bearer token, checked by the groups service.

`self.auth.resident(request)` in an entrypoint returns the principal
`{account_id, display_name, locale, is_staff}` or raises Unauthenticated (401);
`self.auth.staff(request)` also raises Forbidden (403) for a non-staff account. Once
known, the account id goes into the worker's `context_data` as `actor_id` (so every RPC
call and event the request causes names its actor) and into the log context.

`self.auth.reader(request)` is for public reads that show a little more to a signed-in
caller (e.g. `supported_by_me`): like `optional`, but when the groups service cannot be
asked right now the request is served as to anyone rather than failing.

Principals are cached for CIVIC_AUTH_CACHE_SECONDS (60 s; 0 turns the cache off), keyed
by the SHA-256 of the token, so a brief groups outage does not sign out everyone who was
active a moment ago, and a busy client does not cost one groups call per request. Signing
out and erasing the account through this gateway forget the token at once; anything else
(a sign-out at another gateway process, a staff role taken away) takes effect here within
the cache lifetime.
"""
from __future__ import annotations

import hashlib
import re
import time
from collections import OrderedDict

import structlog
from nameko.extensions import DependencyProvider

from civic.errors import Forbidden, RateLimited, Unauthenticated, Unavailable
from civic.log import get_logger
from civic.rpc import Services

log = get_logger(__name__)

DEFAULT_CACHE_SECONDS = 60.0
DEFAULT_CACHE_ENTRIES = 10_000

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
    A check that began before the token (or its account) was forgotten is not kept
    either, so a request in flight while its session ends cannot bring it back. At most
    `max_entries` are kept; when full, expired entries go first, then the oldest. One
    process's green threads share it (no locking needed: no call in here yields to the
    hub).
    """

    def __init__(self, ttl: float = DEFAULT_CACHE_SECONDS,
                 max_entries: int = DEFAULT_CACHE_ENTRIES, clock=time.monotonic):
        self.ttl = float(ttl)
        self.max_entries = int(max_entries)
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, dict]] = OrderedDict()
        # When a token key or "account:<id>" was last forgotten (kept for one ttl).
        self._forgotten: OrderedDict[str, float] = OrderedDict()

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
        if checked_at is not None and self._forgotten_since(checked_at, key,
                                                            principal.get("account_id")):
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
        """Every cached token of the account (it was erased)."""
        for key in [key for key, (_, principal) in self._entries.items()
                    if principal.get("account_id") == account_id]:
            del self._entries[key]
        self._mark_forgotten(f"account:{account_id}")

    def _mark_forgotten(self, marker: str) -> None:
        now = self._clock()
        while self._forgotten and (len(self._forgotten) >= self.max_entries or
                                   next(iter(self._forgotten.values())) + self.ttl <= now):
            self._forgotten.popitem(last=False)
        self._forgotten.pop(marker, None)
        self._forgotten[marker] = now

    def _forgotten_since(self, checked_at: float, key: str, account_id) -> bool:
        markers = (key, f"account:{account_id}")
        return any(self._forgotten.get(marker, float("-inf")) >= checked_at
                   for marker in markers)

    def _drop_expired(self) -> None:
        now = self._clock()
        for key in [key for key, (expires_at, _) in self._entries.items()
                    if now >= expires_at]:
            del self._entries[key]


# --- the caller of one request -------------------------------------------------------

def actor_of(principal: dict | None) -> dict | None:
    """What a domain service is told about the caller (None: anonymous)."""
    if principal is None:
        return None
    return {"account_id": principal["account_id"],
            "is_staff": bool(principal.get("is_staff")),
            "display_name": principal.get("display_name") or ""}


class RequestAuth:
    def __init__(self, worker_ctx, services_provider, cache: PrincipalCache):
        self._worker_ctx = worker_ctx
        self._services_provider = services_provider
        self._cache = cache
        self._principal = None

    def _services(self):
        return self._services_provider.get_dependency(self._worker_ctx)

    def optional(self, request) -> dict | None:
        """The principal if the request carries a valid token; None without one."""
        token = bearer_token(request)
        if token is None:
            return None
        return self._authenticate(token)

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
        token of `account_id` (erased)."""
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
    `PrincipalCache` (CIVIC_AUTH_CACHE_SECONDS, CIVIC_AUTH_CACHE_ENTRIES)."""

    def setup(self):
        from civic import config
        found = [dep for dep in self.container.dependencies if isinstance(dep, Services)]
        if not found:
            raise TypeError("Authentication needs a Services() dependency on the service")
        self._services_provider = found[0]
        self.cache = PrincipalCache(
            float(config.get("CIVIC_AUTH_CACHE_SECONDS", DEFAULT_CACHE_SECONDS)),
            int(config.get("CIVIC_AUTH_CACHE_ENTRIES", DEFAULT_CACHE_ENTRIES)))

    def get_dependency(self, worker_ctx):
        return RequestAuth(worker_ctx, self._services_provider, self.cache)


# --- signing in, with limits -------------------------------------------------------

class SignInLimits(DependencyProvider):
    """`self.signin_limits`: the process's sign-in limiter (CIVIC_SIGNIN_LIMIT failures
    per CIVIC_SIGNIN_WINDOW seconds per email, four times that per client address)."""

    def setup(self):
        from civic import config
        from services.gateway.ratelimit import SignInLimiter
        self.limiter = SignInLimiter(int(config.get("CIVIC_SIGNIN_LIMIT", 5)),
                                     float(config.get("CIVIC_SIGNIN_WINDOW", 300)))

    def get_dependency(self, worker_ctx):
        return self.limiter


def sign_in(groups, limiter, credentials: dict, address: str) -> dict:
    """`groups.sign_in`, unless this email or address has tried too often lately."""
    email = credentials["email"]
    wait = limiter.retry_after(email, address)
    if wait is not None:
        error = RateLimited(f"too many sign-in attempts; try again in {wait} seconds")
        error.retry_after = wait
        raise error
    limiter.attempted(address)
    try:
        session = groups.sign_in(email, credentials["password"])
    except Unauthenticated:
        limiter.failed(email)
        raise
    limiter.succeeded(email)
    return session
