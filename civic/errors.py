"""Domain errors with stable codes.

They cross RPC intact (registered with nameko's exception registry, so the caller gets
the same class back, not a RemoteError) and the gateway turns them into the HTTP error
format of API.md.
"""

from __future__ import annotations

from nameko.exceptions import deserialize_to_instance


class CivicError(Exception):
    code = "internal_error"
    status = 500

    def __init__(self, message: str = "", fields: dict | None = None):
        # nameko rebuilds the exception as `cls(*args)` on the caller's side, turning
        # anything that is not a string, dict or list into a string: leave out no fields.
        super().__init__(*((message, fields) if fields else (message,)))
        self.message = message or self.code.replace("_", " ")
        self.fields = fields

    def __str__(self):
        return self.message

    def to_dict(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = self.fields
        return {"error": error}


def _register(cls):
    return deserialize_to_instance(cls)


@_register
class ValidationError(CivicError):
    code, status = "validation_error", 400


@_register
class Unauthenticated(CivicError):
    code, status = "unauthenticated", 401


@_register
class Forbidden(CivicError):
    code, status = "forbidden", 403


@_register
class EmailUnconfirmed(Forbidden):
    """A write by an account whose email address is still unconfirmed after the grace
    period (CIVIC_CONFIRMATION_GRACE)."""

    code = "email_unconfirmed"


@_register
class NotFound(CivicError):
    code, status = "not_found", 404


@_register
class Conflict(CivicError):
    code, status = "conflict", 409


@_register
class TooLarge(CivicError):
    code, status = "too_large", 413


@_register
class RateLimited(CivicError):
    code, status = "rate_limited", 429


@_register
class Unavailable(CivicError):
    code, status = "unavailable", 503


_register(CivicError)


class ContractError(ValueError):
    """A message does not match its contract (unknown type, unreadable version, bad data)."""
