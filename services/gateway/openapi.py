"""The OpenAPI 3 document, built from the gateway's routes and their schemas.

Every `api`/`route` entrypoint carries a `RouteDoc`; this module walks the service class,
turns werkzeug rules into OpenAPI paths and lets apispec's MarshmallowPlugin describe
the very schemas that validate requests. Error responses follow from what a route does:
a body or query string can be invalid (400), signing in is required (401), staff only
or a write by an account still unconfirmed after its grace period (403), an id in the
path may name nothing (404), a body may be too large (413) or not JSON (415), a service
may not answer (503). A write that reaches a service takes an `Idempotency-Key` header
(same key and body: the first answer again; same key, other body: 422).
"""

from __future__ import annotations

import re
from functools import lru_cache
from http import HTTPStatus

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import ValidationError as MarshmallowValidationError

import civic
from services.gateway.auth import UNCONFIRMED_MAY, WRITE_METHODS
from services.gateway.http import (
    IDEMPOTENCY_HEADER,
    IDEMPOTENCY_KEY_MAX,
    IDEMPOTENT_WITH_KEY,
    ApiHandler,
)
from services.gateway.schemas import ErrorSchema

OPENAPI_VERSION = "3.0.3"
_RULE_PART = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")
_ERROR_DESCRIPTIONS = {
    400: "The input is not valid (`validation_error`, with `fields`)",
    401: "Not signed in, or the token is not valid (`unauthenticated`)",
    403: "Signed in, but not allowed (`forbidden`); a write by an account whose email "
    "is still unconfirmed after the grace period (`email_unconfirmed`)",
    404: "No such resource (`not_found`)",
    409: "Conflicts with the current state (`conflict`)",
    413: "The request body is too large (`too_large`)",
    415: "The request body is not `application/json` (`unsupported_media_type`)",
    422: "The Idempotency-Key was used before with another request (`idempotency_key_reused`)",
    429: "Too many attempts (`rate_limited`); see Retry-After",
    500: "Something went wrong on the server (`internal_error`)",
    503: "A service did not answer in time (`unavailable`); see Retry-After",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer"},
    }
}
_IDEMPOTENCY_KEY = {
    "name": IDEMPOTENCY_HEADER,
    "in": "header",
    "required": False,
    "description": "A key the client chooses for this request (e.g. a UUID), its own: "
    "sent again with the same key and body (after a timeout, a lost answer), the request "
    "is not done again and the first answer (status and body) comes back; the same key "
    "with another body is a 422. A key whose request was refused may be used for a "
    "corrected one. Kept at least 24 hours.",
    "schema": {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX},
}
_CORRELATION = {
    "X-Correlation-ID": {
        "description": "The request's correlation id (the client's, if it sent a valid one)",
        "schema": {"type": "string"},
    }
}


def routes(service_cls) -> list[tuple[str, str, str, object]]:
    """(method, werkzeug rule, method name, RouteDoc) for each route of the API (the
    website's pages are HTTP entrypoints too, without a RouteDoc: not part of it)."""
    found = []
    for attr in sorted(dir(service_cls)):
        function = getattr(service_cls, attr)
        for entrypoint in getattr(function, "nameko_entrypoints", ()):
            if isinstance(entrypoint, ApiHandler) and entrypoint.doc is not None:
                for method in entrypoint.method.split(","):
                    found.append((method.strip().upper(), entrypoint.url, attr, entrypoint.doc))
    return sorted(found, key=lambda item: (item[1], item[0]))


def openapi_path(rule: str) -> tuple[str, list[dict]]:
    """`/groups/<uuid:group_id>` → (`/groups/{group_id}`, its path parameters)."""
    parameters = []
    for match in _RULE_PART.finditer(rule):
        schema = {"type": "string"}
        if match.group("converter") == "uuid":
            schema["format"] = "uuid"
        parameters.append(
            {"name": match.group("name"), "in": "path", "required": True, "schema": schema}
        )
    return _RULE_PART.sub(lambda match: "{" + match.group("name") + "}", rule), parameters


def _content(schema, content_type):
    if content_type == "application/json":
        return {content_type: {"schema": schema}}
    return {content_type: {"schema": {"type": "string"}}}


def _error_statuses(method: str, doc, has_path_params: bool, local: bool) -> set[int]:
    statuses = {500, *doc.errors}
    if doc.body is not None or doc.query is not None:
        statuses.add(400)
    if doc.auth in ("optional", "resident", "staff"):
        statuses.add(401)
    if doc.auth == "staff":
        statuses.add(403)
    if has_path_params:
        statuses.add(404)
    if method in ("POST", "PUT", "PATCH"):
        statuses.update({400, 413, 415})
    if _takes_idempotency_key(method, doc):
        statuses.update({400, 422})
    if not local:
        statuses.add(503)
    return statuses


def _takes_idempotency_key(method: str, doc) -> bool:
    """A write that reaches a domain service (the gateway's own answers change nothing)."""
    return method in IDEMPOTENT_WITH_KEY and not doc.local


def _operation(method: str, name: str, doc, path_parameters: list[dict]) -> dict:
    operation = {
        "operationId": name,
        "summary": doc.summary,
        "tags": list(doc.tags),
        "responses": {},
    }
    if doc.description:
        operation["description"] = doc.description
    parameters = list(path_parameters)
    if doc.query is not None:
        parameters.append({"in": "query", "schema": doc.query})
    if _takes_idempotency_key(method, doc):
        parameters.append(dict(_IDEMPOTENCY_KEY))
    if parameters:
        operation["parameters"] = parameters
    if doc.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": doc.body}},
        }
    elif set(doc.accepts) - {"application/json"}:
        # A body the route takes but does not read (e.g. RFC 8058's one-click form).
        operation["requestBody"] = {
            "required": False,
            "content": {media_type: {"schema": {"type": "object"}} for media_type in doc.accepts},
        }
    operation["security"] = {
        "anyone": [],
        "optional": [{}, {"bearerAuth": []}],
        "resident": [{"bearerAuth": []}],
        "staff": [{"bearerAuth": []}],
    }[doc.auth]
    for status, schema in doc.responses.items():
        response = {"description": HTTPStatus(status).phrase, "headers": dict(_CORRELATION)}
        if schema is not None and status != 204:
            response["content"] = _content(schema, doc.content_type)
        operation["responses"][str(status)] = response
    statuses = _error_statuses(method, doc, bool(path_parameters), doc.local)
    if (
        method in WRITE_METHODS
        and doc.auth in ("optional", "resident", "staff")
        and name not in UNCONFIRMED_MAY
    ):
        statuses.add(403)  # email_unconfirmed
    for status in sorted(statuses):
        headers = dict(_CORRELATION)
        if status in (429, 503):
            headers.update(_RETRY_AFTER)
        operation["responses"][str(status)] = {
            "description": _ERROR_DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
            "headers": headers,
            "content": {"application/json": {"schema": ErrorSchema}},
        }
    return operation


def build(service_cls) -> dict:
    spec = APISpec(
        title="Civic API",
        version=civic.__version__,
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin()],
        info={
            "description": "The public HTTP API of Civic. Every response carries "
            "X-Correlation-ID; every error is "
            '`{"error": {"code", "message", "fields"?}}`. '
            "A checked bearer token is trusted by the gateway that "
            "checked it for up to CIVIC_AUTH_CACHE_SECONDS (60 s), so "
            "a brief outage of the accounts service does not sign "
            "anyone out; signing out or erasing the account there "
            "ends it at once."
        },
    )
    spec.components.schema("Error", schema=ErrorSchema)
    spec.components.security_scheme(
        "bearerAuth",
        {"type": "http", "scheme": "bearer", "description": "The token from POST /api/v1/sessions"},
    )
    paths: dict[str, dict] = {}
    queries: dict[tuple, type] = {}
    for method, rule, name, doc in routes(service_cls):
        path, path_parameters = openapi_path(rule)
        if doc.query is not None:
            queries[(path, method.lower())] = doc.query
        paths.setdefault(path, {})[method.lower()] = _operation(method, name, doc, path_parameters)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    document = spec.to_dict()
    _mark_empty_query_values(document, queries)
    return document


def _mark_empty_query_values(document: dict, queries: dict) -> None:
    """`allowEmptyValue` on each query parameter whose validator takes `?name=` (as
    "any": `?kind=` lists every kind), so that the document says what the API does."""
    for (path, method), query in queries.items():
        for parameter in document["paths"][path][method].get("parameters", []):
            if parameter["in"] == "query" and _takes_empty(query, parameter["name"]):
                parameter["allowEmptyValue"] = True


def _takes_empty(query_schema, name: str) -> bool:
    try:
        query_schema().load({name: ""})
    except MarshmallowValidationError as exc:
        return name not in exc.messages
    return True


@lru_cache(maxsize=4)
def document(service_cls) -> dict:
    return build(service_cls)
