"""Who is calling: the bearer token, checked by the groups service.

`self.auth.resident(request)` in an entrypoint returns the principal
`{account_id, display_name, locale, is_staff}` or raises Unauthenticated (401);
`self.auth.staff(request)` also raises Forbidden (403) for a non-staff account. Once
known, the account id goes into the worker's `context_data` as `actor_id` (so every RPC
call and event the request causes names its actor) and into the log context.
"""
from __future__ import annotations

import re

import structlog
from nameko.extensions import DependencyProvider

from civic.errors import Forbidden, RateLimited, Unauthenticated
from civic.rpc import Services

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


class RequestAuth:
    def __init__(self, worker_ctx, services_provider):
        self._worker_ctx = worker_ctx
        self._services_provider = services_provider
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

    def staff(self, request) -> dict:
        principal = self.resident(request)
        if not principal.get("is_staff"):
            raise Forbidden("only staff may do this")
        return principal

    def _authenticate(self, token: str) -> dict:
        if self._principal is None:
            principal = self._services().groups.authenticate(token)
            self._worker_ctx.context_data["actor_id"] = principal["account_id"]
            structlog.contextvars.bind_contextvars(actor_id=principal["account_id"])
            self._principal = principal
        return self._principal


class Authentication(DependencyProvider):
    """`self.auth`: the caller of the current request. Needs a `Services()` dependency
    on the same service (it makes its calls through it)."""

    def setup(self):
        found = [dep for dep in self.container.dependencies if isinstance(dep, Services)]
        if not found:
            raise TypeError("Authentication needs a Services() dependency on the service")
        self._services_provider = found[0]

    def get_dependency(self, worker_ctx):
        return RequestAuth(worker_ctx, self._services_provider)


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
