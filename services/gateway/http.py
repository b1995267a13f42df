"""The HTTP entrypoint of the gateway, on top of nameko's web server.

`ApiHandler` is nameko's `HttpRequestHandler` with what every request needs:

- a correlation id (the client's `X-Correlation-ID` when it is a sane one, else a new
  uuid4) put into the worker's `context_data`, so it follows every RPC call and event,
  and echoed in the response's `X-Correlation-ID` — for errors and unknown paths too;
- a bounded body (`CIVIC_MAX_BODY_BYTES`: announced and actual length → 413, after
  reading and discarding what the client still sends, so that it reads the answer);
- bodies in JSON only (`application/json`, any charset parameter: else 415), and text
  any database can store: a lone surrogate or a control character (other than tab,
  line feed, and carriage return as part of `\r\n`) anywhere in a JSON body, a query
  string or a path is a 400 naming the field (see `text_problems`);
- security headers on every answer (`X-Content-Type-Options: nosniff`,
  `Referrer-Policy: no-referrer`), and `Cache-Control: no-store` on private ones: any
  answer to a request with an Authorization header, and every answer under the paths of
  personal data (`PRIVATE_PATHS`);
- errors as `{"error": {"code", "message", "fields"?}}` (see `errors`), never a
  traceback;
- one `http_request` access line and Prometheus metrics per request;
- a request key (`civic.rpc.REQUEST_KEY` in `context_data`) from which every RPC call
  of the request gets its request id, so that a state-changing call runs once however
  often it arrives (civic.commands): a new one per HTTP request, or, for a write with
  an `Idempotency-Key` header (API.md), the hash of that key with the caller (the
  account, or "anonymous"), the method and the path — the same request sent again
  asks each service with the same ids and gets the first answers: the same status and
  body, without doing it again; the same key with another body is a 422
  `idempotency_key_reused` (a key whose first request was refused may be used again
  for a corrected one: nothing was done). The website uses a form's key the same way
  (services.gateway.web.handler);
- the route's declaration (`RouteDoc`), from which `openapi` builds the spec and which
  the handler enforces (see below).

A route is declared once, in `api(...)`, and the declaration is what the handler does
before the route runs (`enforcing`):

- `auth` — `resident` and `staff` authenticate first (401, or 403 for a non-staff
  caller or a write by an account unconfirmed past its grace period), so that a caller
  who may not call learns nothing about the input; `optional` authenticates last, with
  `auth.reader` (a public read goes on as for anyone while tokens cannot be checked),
  so that bad input is a 400 before the groups service is asked; `anyone` does not look;
- `body` — the JSON body, loaded and validated by that schema (unknown fields are an
  error). A POST, PUT or PATCH without one takes no input (`no_body`: nothing or `{}`),
  unless it `accepts` other media types (a body it does not read); the bodies of other
  methods are not parsed;
- `query` — the query string, loaded and validated by that schema; without one the
  query string is not read.

The route method is then called as `route(self, request, <path values>, *, actor, body,
query)`, with only those keyword arguments among `actor` (the caller as domain services
are told of it, see `auth.actor_of`; None for an anonymous reader), `body` and `query`
that it names — and it may name only those its declaration provides (checked when the
module is imported). A route whose rule the levels cannot say checks the caller itself
(`own_auth=True`, e.g. /metrics); `auth` then only documents it.

Every HTTP entrypoint of the gateway must use `ApiHandler` (through `api`/`route`): it
brings its own `ApiServer`, and nameko would bind a second server for plain `@http`.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial, wraps

import eventlet
from eventlet import wsgi
from eventlet.event import Event
from marshmallow import RAISE
from marshmallow import ValidationError as SchemaValidationError
from nameko.exceptions import ContainerBeingKilled
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import HttpOnlyProtocol, WebServer, WsgiApp
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from civic import config
from civic.clock import iso
from civic.commands import derived_request_id
from civic.errors import CivicError, NotFound, TooLarge, Unavailable, ValidationError
from civic.log import get_logger, new_correlation_id
from civic.rpc import REQUEST_KEY, SignatureKnown
from civic.validation import schema_of
from services.gateway import errors, metrics
from services.gateway.auth import actor_of
from services.gateway.errors import UnsupportedMediaType

log = get_logger("civic.gateway.http")

API_PREFIX = "/api/v1"
CORRELATION_HEADER = "X-Correlation-ID"
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX = 100  # characters (API.md)
# Methods whose request an Idempotency-Key makes safe to send again.
IDEMPOTENT_WITH_KEY = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_CORRELATION_ID = re.compile(r"[A-Za-z0-9._-]{1,100}")
_CORRELATION_KEY = "civic.correlation_id"
_CONTEXT_KEY = "civic.context_data"
_BODY_KEY = "civic.body"
# Path values that must not reach the access log (e.g. an emailed unsubscribe token).
_SECRET_PATH_VALUES = ("token", "secret")
JSON_MIMETYPE = "application/json"
# Answers under these paths carry personal data: never stored by a cache.
PRIVATE_PATHS = (
    API_PREFIX + "/me",
    API_PREFIX + "/notifications",
    API_PREFIX + "/staff/",
    API_PREFIX + "/unsubscribe/",
    API_PREFIX + "/follows",
    API_PREFIX + "/sessions",
    API_PREFIX + "/accounts",
    "/metrics",
)
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
# A body over the limit is still read (and thrown away) up to this much, for this long,
# so that the client gets to read its 413 instead of a reset connection.
DISCARD_MAX_BYTES = 8 * 1024 * 1024
DISCARD_SECONDS = 5.0
_DISCARD_CHUNK = 64 * 1024


def correlation_id_from(headers) -> str:
    """The client's correlation id if it is one we can safely log, else a new one."""
    given = headers.get(CORRELATION_HEADER, "")
    return given if _CORRELATION_ID.fullmatch(given) else new_correlation_id()


# --- documentation of a route -------------------------------------------------------


@dataclass(frozen=True)
class RouteDoc:
    """A route's declaration: what OpenAPI says about it, and what the handler enforces
    before the route runs (`auth`, `body`, `query`); see `api`."""

    summary: str
    auth: str = "anyone"  # anyone | optional | resident | staff
    body: type | None = None  # marshmallow schema of the JSON body
    query: type | None = None  # marshmallow schema of the query string
    responses: dict = field(default_factory=dict)  # status → schema class or None
    errors: tuple = ()  # further error statuses the route gives
    tags: tuple = ()
    content_type: str = "application/json"  # of the success responses
    description: str = ""
    local: bool = False  # answered by the gateway alone (no 503)
    # Media types of request bodies the route takes (an empty body is always fine).
    accepts: tuple = (JSON_MIMETYPE,)


AUTH_LEVELS = ("anyone", "optional", "resident", "staff")


# --- the server: JSON answers for paths no route matches ---------------------------


class ApiWsgiApp(WsgiApp):
    """nameko's WSGI app, plus correlation id, JSON routing errors, metrics, access log."""

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        request = Request(environ, shallow=True)
        correlation_id = correlation_id_from(request.headers)
        environ[_CORRELATION_KEY] = correlation_id
        route = None
        values = {}
        try:
            adapter = self.url_map.bind_to_environ(environ)
            provider, values = adapter.match()
            route = provider.url
            request.path_values = values
            response = provider.handle_request(request)
        except HTTPException as exc:  # no route for this path or method
            site_page = getattr(self.server.container.service_cls, "routing_error_page", None)
            if site_page is None or is_api_path(request.path):
                response = errors.response_for_http_exception(exc)
            else:  # the website's own 404, in its layout and the visitor's language
                response = site_page(request, exc)
        except Exception as exc:  # pragma: no cover - handle_request catches its own
            response = errors.response_for_exception(exc)
        response.headers[CORRELATION_HEADER] = correlation_id
        protect(request, response)
        seconds = time.perf_counter() - started
        metrics.observe(request.method, route, response.status_code, seconds)
        context_data = environ.get(_CONTEXT_KEY) or {}
        # Bound explicitly: this green thread is not a worker, Tracing did not bind it.
        log.info(
            "http_request",
            service="gateway",
            correlation_id=correlation_id,
            actor_id=context_data.get("actor_id"),
            method=request.method,
            path=_loggable_path(request.path, values),
            route=route,
            status=response.status_code,
            duration_ms=round(seconds * 1000, 2),
        )
        return response(environ, start_response)


def is_api_path(path: str) -> bool:
    """Paths of the JSON API and the operations routes; every other path is the site's."""
    return (
        path.startswith(API_PREFIX + "/") or path == API_PREFIX or path in ("/healthz", "/metrics")
    )


def protect(request, response) -> None:
    """The headers every answer carries, and `no-store` on private ones."""
    response.headers.update(SECURITY_HEADERS)
    if "Authorization" in request.headers or request.path.startswith(PRIVATE_PATHS):
        response.headers["Cache-Control"] = "no-store"


def _loggable_path(path: str, values: dict) -> str:
    for name, value in values.items():
        if any(secret in name for secret in _SECRET_PATH_VALUES):
            path = path.replace(str(value), "[redacted]")
    return path


class ApiServer(WebServer):
    def get_wsgi_app(self):
        return ApiWsgiApp(self)

    def get_wsgi_server(self, sock, wsgi_app, protocol=HttpOnlyProtocol, debug=False):
        # No eventlet access line: it would be formatted for every request and then
        # dropped (nameko's logger is at WARNING); `ApiWsgiApp` writes Civic's own.
        return wsgi.Server(
            sock,
            sock.getsockname(),
            wsgi_app,
            protocol=protocol,
            debug=debug,
            log=logging.getLogger(WebServer.__module__),
            log_output=False,
        )

    @property
    def port(self) -> int | None:
        """The port actually bound (useful with WEB_SERVER_ADDRESS `host:0`)."""
        return self._sock.getsockname()[1] if self._sock is not None else None


# --- the entrypoint -----------------------------------------------------------------


class ApiHandler(SignatureKnown, HttpRequestHandler):
    server = ApiServer()

    def __init__(self, method, url, doc: RouteDoc | None = None, **kwargs):
        kwargs.setdefault("expected_exceptions", CivicError)
        self.doc = doc
        super().__init__(method, url, **kwargs)

    def get_entrypoint_parameters(self, request):
        # Path ids arrive as uuid.UUID from the `uuid` converter; services want strings.
        kwargs = {
            name: str(value) if isinstance(value, uuid.UUID) else value
            for name, value in request.path_values.items()
        }
        return (request,), kwargs

    def handle_request(self, request):
        request.shallow = False
        context_data = {
            "correlation_id": request.environ[_CORRELATION_KEY],
            REQUEST_KEY: uuid.uuid4().hex,  # see `set_request_key` for a repeatable one
        }
        request.environ[_CONTEXT_KEY] = context_data
        try:
            self.check_request(request)
            args, kwargs = self.get_entrypoint_parameters(request)
            self.check_signature(args, kwargs)
            done = Event()
            self.container.spawn_worker(
                self,
                args,
                kwargs,
                context_data=context_data,
                handle_result=partial(self.handle_result, done),
            )
            return self.response_from_result(done.wait())
        except ContainerBeingKilled:
            return self.error_response(request, Unavailable("the gateway is stopping"))
        except Exception as exc:
            return self.error_response(request, exc)

    def check_request(self, request) -> None:
        """Before a worker is spawned: a sane path, and a body the route may take."""
        if text_problems(request.path_values):
            raise NotFound("no such resource")  # no name holds such characters
        body = read_body(request)
        accepts = self.doc.accepts if self.doc is not None else (JSON_MIMETYPE,)
        if body and request.mimetype not in accepts:
            raise UnsupportedMediaType(
                f"send the request body as {' or '.join(accepts)}, "
                f"not {request.mimetype or 'without a Content-Type'}"
            )

    def error_response(self, request, exc: BaseException):
        """The answer for a failure outside the route (in Civic's error format)."""
        return errors.response_for_exception(exc)


def api(
    method: str,
    path: str,
    *,
    summary: str,
    auth: str = "anyone",
    body=None,
    query=None,
    responses=None,
    errors=(),
    tags=(),
    description: str = "",
    content_type: str = "application/json",
    local: bool = False,
    accepts: tuple = (JSON_MIMETYPE,),
    own_auth: bool = False,
    prefix: str = API_PREFIX,
):
    """Declare an HTTP entrypoint at `prefix + path`, documented for OpenAPI.

    `auth`, `body` and `query` are enforced here, before the route runs (see the module
    docstring and `enforcing`): the route gets `actor`, `body` and `query` ready-made.
    With `own_auth` the route checks its caller itself and `auth` only documents it.
    """
    if auth not in AUTH_LEVELS:
        raise ValueError(f"auth must be one of {AUTH_LEVELS}")
    doc = RouteDoc(
        summary=summary,
        auth=auth,
        body=body,
        query=query,
        responses=dict(responses or {200: None}),
        errors=tuple(errors),
        tags=tuple(tags),
        content_type=content_type,
        description=description,
        local=local,
        accepts=tuple(accepts),
    )
    register = ApiHandler.decorator(method, prefix + path, doc=doc)

    def declare(function):
        return register(enforcing(function, method, path, doc, own_auth=own_auth))

    return declare


def route(method: str, path: str, **kwargs):
    """An entrypoint outside /api/v1 (health check, metrics)."""
    return api(method, path, prefix="", **kwargs)


# --- what a declaration promises, done before the route runs ------------------------

# Methods whose body is read: without a `body` schema they take no input (`no_body`).
_INPUT_METHODS = frozenset({"POST", "PUT", "PATCH"})
_PATH_VALUE = re.compile(r"<(?:\w+:)?(\w+)>")


def enforcing(function, method: str, path: str, doc: RouteDoc, *, own_auth: bool = False):
    """`function` behind what `doc` declares: authentication (per `doc.auth`, through
    the service's `auth` dependency), the body and the query string, in the order the
    module docstring gives; `function` gets those of `actor`, `body` and `query` it
    names. A signature that does not fit the declaration is a TypeError, at once."""
    authenticate = None if own_auth or doc.auth == "anyone" else doc.auth
    provided = {
        name
        for name, given in (
            ("actor", authenticate is not None),
            ("body", doc.body is not None),
            ("query", doc.query is not None),
        )
        if given
    }
    wanted = _route_inputs(function, path, provided)
    takes_no_input = (
        doc.body is None
        and method.upper() in _INPUT_METHODS
        and set(doc.accepts) == {JSON_MIMETYPE}
    )

    @wraps(function)
    def handle(service, request, **path_values):
        inputs = {}
        if authenticate in ("resident", "staff"):
            inputs["actor"] = actor_of(getattr(service.auth, authenticate)(request))
        if doc.body is not None:
            inputs["body"] = load_body(request, doc.body)
        elif takes_no_input:
            no_body(request)
        if doc.query is not None:
            inputs["query"] = load_query(request, doc.query)
        if authenticate == "optional":
            inputs["actor"] = actor_of(service.auth.reader(request))
        key = idempotency_key(request)
        if key is not None:
            set_request_key(request, "idempotency-key", _principal(inputs.get("actor")), key)
        return function(service, request, **path_values, **{name: inputs[name] for name in wanted})

    return handle


def idempotency_key(request) -> str | None:
    """The client's Idempotency-Key of a write (None without one, or for a read); a 400
    when it is empty, longer than IDEMPOTENCY_KEY_MAX or holds what is not text."""
    if request.method.upper() not in IDEMPOTENT_WITH_KEY:
        return None
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not 0 < len(key) <= IDEMPOTENCY_KEY_MAX or _NOT_TEXT.search(key):
        raise ValidationError(
            f"the {IDEMPOTENCY_HEADER} header must be 1 to {IDEMPOTENCY_KEY_MAX} characters",
            fields={IDEMPOTENCY_HEADER: [f"1 to {IDEMPOTENCY_KEY_MAX} characters of text."]},
        )
    return key


def set_request_key(request, *parts: str) -> None:
    """Make the request's key (from which its RPC calls get their request ids) the
    hash of `parts` with the method and the path: the same parts, the same ids."""
    context_data = request.environ[_CONTEXT_KEY]
    context_data[REQUEST_KEY] = derived_request_id(
        "\n".join(parts), request.method.upper(), request.path
    )


def _principal(actor: dict | None) -> str:
    """Whose keys these are: an Idempotency-Key is the caller's own."""
    return f"account:{actor['account_id']}" if actor else "anonymous"


def _route_inputs(function, path: str, provided: set) -> tuple:
    """The keyword-only inputs `function` names, after checking that it takes
    `(self, request, <the path's values>, *, <some of provided>)`."""
    parameters = list(inspect.signature(function).parameters.values())
    positional = [
        parameter.name
        for parameter in parameters
        if parameter.kind is parameter.POSITIONAL_OR_KEYWORD
    ]
    named = tuple(
        parameter.name for parameter in parameters if parameter.kind is parameter.KEYWORD_ONLY
    )
    expected = ["self", "request", *_PATH_VALUE.findall(path)]
    if sorted(positional) != sorted(expected) or positional[:2] != ["self", "request"]:
        raise TypeError(f"{function.__qualname__} must take ({', '.join(expected)})")
    unknown = set(named) - provided
    if unknown:
        raise TypeError(
            f"{function.__qualname__} names {sorted(unknown)}, which its "
            f"declaration does not provide (it provides {sorted(provided)})"
        )
    return named


# --- request bodies and query strings -----------------------------------------------


def read_body(request) -> bytes:
    """Read the body once, refusing more than CIVIC_MAX_BODY_BYTES (announced or sent)."""
    if _BODY_KEY in request.environ:
        return request.environ[_BODY_KEY]
    limit = int(config.get("CIVIC_MAX_BODY_BYTES", 65536))
    length = request.content_length
    if length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        # eventlet decodes chunked input but does not say so to werkzeug, which would
        # hand out an empty stream; read the server's stream, still bounded.
        stream = request.environ["wsgi.input"]
    else:
        stream = request.stream
    if length is not None and length > limit:
        if request.headers.get("Expect", "").lower() != "100-continue":
            _discard(stream)  # (a client that waits for "100 Continue" sent nothing)
        raise TooLarge(f"the request body may be at most {limit} bytes")
    body = stream.read(limit + 1) if (length or length is None) else b""
    if len(body) > limit:
        _discard(stream)
        raise TooLarge(f"the request body may be at most {limit} bytes")
    request.environ[_BODY_KEY] = body
    return body


def _discard(stream) -> None:
    """Read and drop what the client still sends, up to DISCARD_MAX_BYTES or
    DISCARD_SECONDS: closing a socket with unread data resets the connection, and a
    client that is still sending then never reads its 413."""
    left = DISCARD_MAX_BYTES
    with eventlet.Timeout(DISCARD_SECONDS, False):
        while left > 0:
            try:
                chunk = stream.read(min(_DISCARD_CHUNK, left))
            except (OSError, ValueError):
                return
            if not chunk:
                return
            left -= len(chunk)


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: no database stores it
        raise ValueError("number out of range")
    return value


# What no text field may hold: C0 controls but tab (\t) and line feed (\n), a carriage
# return not followed by a line feed (\r\n, a Windows line end, is text), DEL, C1
# controls, and UTF-16 surrogates, which are not characters (a JSON escape like \ud800
# alone decodes to one; PostgreSQL refuses NUL, and no UTF-8 encoder takes a surrogate).
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]|\r(?!\n)")


def _text_problem(text: str) -> str | None:
    found = _NOT_TEXT.search(text)
    if found is None:
        return None
    char = found.group()
    if char == "\r":
        return "A carriage return is allowed only before a line feed (\\r\\n)."
    if "\ud800" <= char <= "\udfff":
        return f"Not valid text: a lone surrogate (U+{ord(char):04X})."
    return f"Control characters are not allowed (U+{ord(char):04X})."


def text_problems(value) -> dict:
    """Per field, each string of `value` (parsed JSON, a query string, path values) that
    holds something that is not text, nested like marshmallow's messages (list items by
    index). A field name that is not text is reported escaped (`\\ud800`), so that the
    answer itself can be encoded."""
    problems: dict = {}
    if isinstance(value, str):
        problem = _text_problem(value)
        return {"_body": [problem]} if problem else {}
    if not isinstance(value, (dict, list)):
        return problems  # a number, true, false or null
    pending = [((), value)]
    while pending:  # no recursion: a deeply nested body must not exhaust the stack
        path, container = pending.pop()
        items = (
            container.items()
            if isinstance(container, dict)
            else ((str(index), item) for index, item in enumerate(container))
        )
        for key, item in items:
            key = str(key)
            if _text_problem(key) is not None:
                _put(
                    problems,
                    path + (ascii(key)[1:-1],),
                    "A field name with characters that are not allowed.",
                )
            elif isinstance(item, str):
                problem = _text_problem(item)
                if problem is not None:
                    _put(problems, path + (key,), problem)
            elif isinstance(item, (dict, list)):
                pending.append((path + (key,), item))
    return problems


def _put(problems: dict, path: tuple, message: str) -> None:
    for name in path[:-1]:
        nested = problems.get(name)
        if not isinstance(nested, dict):  # (an escaped name may equal a real one)
            nested = problems[name] = {}
        problems = nested
    problems[path[-1]] = [message]


def json_body(request):
    """The parsed JSON body; an empty body is an empty object. Strings that hold what no
    text field may hold are a 400 naming their fields (see `text_problems`)."""
    raw = read_body(request)
    if not raw.strip():
        return {}
    try:
        data = json.loads(
            raw.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float
        )
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValidationError(
            "the request body is not valid JSON", fields={"_body": ["Not valid JSON."]}
        ) from None
    problems = text_problems(data)
    if problems:
        raise ValidationError(
            "the request body holds characters that are not allowed", fields=problems
        )
    return data


def _fields_of(error: SchemaValidationError) -> dict:
    messages = error.messages
    return messages if isinstance(messages, dict) else {"_schema": messages}


def jsonable(value):
    """Loaded data as plain JSON types (RPC arguments are JSON)."""
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, (datetime, date)):
        return iso(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def load_body(request, schema_cls) -> dict:
    """The JSON body validated by `schema_cls`; unknown fields are an error."""
    data = json_body(request)
    try:
        return jsonable(schema_of(schema_cls).load(data, unknown=RAISE))
    except SchemaValidationError as exc:
        raise ValidationError("the request body is not valid", fields=_fields_of(exc)) from None


def no_body(request) -> None:
    """For actions that take no input: nothing, or an empty JSON object."""
    data = json_body(request)
    if data != {}:
        fields = (
            {name: ["Unknown field."] for name in data}
            if isinstance(data, dict)
            else {"_schema": ["This action takes no input."]}
        )
        raise ValidationError("this action takes no input", fields=fields)


def load_query(request, schema_cls) -> dict:
    """The query string validated by `schema_cls`; unknown parameters are an error."""
    params = {name: request.args.getlist(name) for name in request.args}
    problems = text_problems({name: values[0] for name, values in params.items()})
    if problems:
        raise ValidationError(
            "the query string holds characters that are not allowed", fields=problems
        )
    repeated = {
        name: ["Give this parameter once."] for name, values in params.items() if len(values) > 1
    }
    if repeated:
        raise ValidationError("the query string is not valid", fields=repeated)
    try:
        return jsonable(
            schema_of(schema_cls).load(
                {name: values[0] for name, values in params.items()}, unknown=RAISE
            )
        )
    except SchemaValidationError as exc:
        raise ValidationError("the query string is not valid", fields=_fields_of(exc)) from None


# --- responses ----------------------------------------------------------------------


def ok(payload, status: int = 200, headers=None) -> Response:
    return errors.json_response(payload, status=status, headers=headers)


def no_content() -> Response:
    return Response(status=204)
