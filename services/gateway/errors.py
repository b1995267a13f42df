"""Exceptions to HTTP responses in the error format of API.md.

`{"error": {"code", "message", "fields"?}}` for everything: Civic's own errors keep their
status and code; werkzeug's routing errors (unknown path, wrong method) become JSON too;
anything else is a 500 `internal_error` whose details go to the log, never to the client.
"""

from __future__ import annotations

import json

from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.wrappers import Response

from civic.errors import CivicError, RateLimited, Unavailable
from civic.log import get_logger

log = get_logger(__name__)

JSON_MIMETYPE = "application/json"
UNAVAILABLE_RETRY_AFTER = 5
# Used when a RateLimited error arrives without its own wait (e.g. raised by a service).
DEFAULT_RATE_LIMIT_RETRY_AFTER = 60

# werkzeug's HTTP errors (raised by routing) by status, with the code API.md gives them.
_HTTP_CODES = {
    400: "validation_error",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}


class UnsupportedMediaType(CivicError):
    """A request body in another format than the route takes (API.md: JSON)."""

    code, status = "unsupported_media_type", 415


def json_response(payload, status: int = 200, headers=None) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status=status, headers=headers, mimetype=JSON_MIMETYPE)


def error_response(status: int, code: str, message: str, fields=None, headers=None) -> Response:
    error = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return json_response({"error": error}, status=status, headers=headers)


def response_for_exception(exc: BaseException) -> Response:
    """The response for an exception raised while handling a request."""
    if isinstance(exc, CivicError):
        headers = {}
        if isinstance(exc, Unavailable):
            headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
        elif isinstance(exc, RateLimited):
            wait = getattr(exc, "retry_after", None) or DEFAULT_RATE_LIMIT_RETRY_AFTER
            headers["Retry-After"] = str(int(wait))
        status = exc.status if exc.status >= 400 else 500
        payload = exc.to_dict()
        if status == 500:
            # A bare CivicError is a bug somewhere; say nothing about it.
            log.error("request_failed", error=type(exc).__name__)
            return internal_error()
        return json_response(payload, status=status, headers=headers)
    if isinstance(exc, HTTPException):
        return response_for_http_exception(exc)
    # Only the type: a message may quote personal data. The worker's traceback is
    # logged by nameko itself.
    log.error(
        "request_failed", error=type(exc).__name__, remote_error=getattr(exc, "exc_type", None)
    )
    return internal_error()


def response_for_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status >= 500:
        return internal_error()
    headers = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    code = _HTTP_CODES.get(status, (exc.name or "error").lower().replace(" ", "_"))
    messages = {404: "no such resource", 405: "method not allowed on this resource"}
    return error_response(status, code, messages.get(status, exc.name or code), headers=headers)


def internal_error() -> Response:
    return error_response(500, "internal_error", "something went wrong on our side")
