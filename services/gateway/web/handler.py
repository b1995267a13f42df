"""The website's entrypoint: a page is declared once with `web(method, path, auth=…)`.

`WebHandler` is the gateway's `ApiHandler` (same server, same correlation id, access line
and metrics; see `services.gateway.http`) for HTML: no JSON body rules, and an error is a
page in the site's layout and the visitor's language, never JSON.

What `web` does before the page function runs, in this order:

- the visitor's language (`i18n.negotiate`) and session: the `civic_session` cookie holds
  the same revocable session token as the API's bearer header, checked by the groups
  service through `auth.session` (cached like the API's). `auth="optional"` pages read
  as for anyone when the token is no longer valid (the cookie is then cleared) or cannot
  be checked right now; `auth="resident"` sends a signed-out visitor to the sign-in page
  (and back afterwards); `auth="staff"` also refuses a non-staff account (403 page);
- for a POST: the body (a form, at most CIVIC_MAX_BODY_BYTES, text only) and its CSRF
  token (`csrf_token`, the HMAC of the visitor's `civic_csrf` cookie: a form from
  anywhere else is a 403 and changes nothing), then its form key (`form_key`, one per
  rendered form): a second submission of the same rendered form — a double click, back
  and submit again — does nothing twice, it gets the first one's answer (`FormKeys`);
  its RPC calls carry request ids made from the form key, so a submission that reaches
  another gateway process (or this one after a restart) gets the services' recorded
  answers instead of acting again (civic.commands).

The page function is `(self, page, <path values>)`; `page` (`Page`) is the request as
the site sees it: `lang`, `principal`, `actor`, `form`, `args`, and what answers it —
`render`, `redirect`, `gather` (one round of concurrent RPC calls, where each part that
fails is shown as missing while the rest of the page renders).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from functools import wraps
from urllib.parse import quote, urlsplit

import eventlet
from eventlet.event import Event
from nameko.extensions import DependencyProvider
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from civic import config, signing
from civic.errors import (
    CivicError,
    Forbidden,
    NotFound,
    TooLarge,
    Unauthenticated,
    Unavailable,
    ValidationError,
)
from civic.log import get_logger
from civic.validation import load
from services.gateway.auth import actor_of
from services.gateway.http import ApiHandler, set_request_key, text_problems
from services.gateway.web import i18n
from services.gateway.web.render import render_page

log = get_logger("civic.gateway.web")

SESSION_COOKIE = "civic_session"
CSRF_COOKIE = "civic_csrf"
NOTICE_COOKIE = "civic_notice"
CSRF_FIELD = "csrf_token"
FORM_KEY_FIELD = "form_key"
_NOTICE_PURPOSE = b"civic-web-notice-v1:"
_CSRF_PURPOSE = b"civic-web-csrf-v1:"
WEB_AUTH_LEVELS = ("anyone", "optional", "resident", "staff")
# A repeated form waits this long for the first submission's answer.
FORM_KEY_WAIT_SECONDS = 30.0
FORM_KEY_TTL_SECONDS = 24 * 3600.0
FORM_KEY_ENTRIES = 20_000
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600


class Redirect(Exception):
    """Raised by a page to answer with a redirect (e.g. `page.require_signed_in()`)."""

    def __init__(self, location: str):
        super().__init__(location)
        self.location = location


@dataclass(frozen=True)
class Missing:
    """A part of a page whose service did not answer (`Page.gather`): the template shows
    that this part is unavailable, the rest of the page renders."""

    error: CivicError

    def __bool__(self):
        return False


# --- the visitor's session and the tokens of its forms --------------------------------


def secure_cookies() -> bool:
    return str(config.get("CIVIC_PUBLIC_URL", "")).startswith("https://")


def csrf_token_for(cookie_value: str) -> str:
    """The token a form must carry: bound to the visitor's CSRF cookie by HMAC, so a
    page elsewhere can neither read nor make it."""
    digest = hmac.new(signing.signing_key(), _CSRF_PURPOSE + cookie_value.encode(), "sha256")
    return digest.hexdigest()


def safe_next(value) -> str | None:
    """A path on this site to go back to after signing in; anything else is ignored."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or "\\" in value or len(value) > 500:
        return None
    return value


class FormKeys:
    """Which rendered forms were already submitted (per visitor and form key), and with
    what answer: a repeat gets that answer (a redirect) and does nothing again; a repeat
    that arrives while the first is still being handled waits for it. Kept in the
    gateway process for a day (bounded); a form that failed (its input was refused) is
    forgotten, so that the corrected form can be sent."""

    def __init__(self, ttl: float = FORM_KEY_TTL_SECONDS, entries: int = FORM_KEY_ENTRIES):
        self.ttl = ttl
        self.entries = entries
        self._done: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._pending: dict[str, Event] = {}
        self._lock = threading.Lock()

    def run(self, key: str, action):
        """`action()` once per key: returns its Response, or the first one's redirect."""
        while True:
            with self._lock:
                self._expire()
                if key in self._done:
                    return Response(status=303, headers={"Location": self._done[key][1]})
                waiting = self._pending.get(key)
                if waiting is None:
                    mine = self._pending[key] = Event()
                    break
            with eventlet.Timeout(FORM_KEY_WAIT_SECONDS, False):
                waiting.wait()
                continue
            raise Unavailable("the same form is still being handled")
        response = None
        try:
            response = action()
            return response
        finally:
            with self._lock:
                self._pending.pop(key, None)
                if response is not None and response.status_code in (302, 303):
                    self._done[key] = (time.monotonic(), response.headers["Location"])
                    while len(self._done) > self.entries:
                        self._done.popitem(last=False)
            mine.send(True)

    def _expire(self) -> None:
        cutoff = time.monotonic() - self.ttl
        while self._done:
            key, (at, _) = next(iter(self._done.items()))
            if at >= cutoff:
                break
            self._done.popitem(last=False)


class ProcessFormKeys(DependencyProvider):
    """`self.form_keys`: the gateway process's FormKeys."""

    def setup(self):
        self.keys = FormKeys()

    def get_dependency(self, worker_ctx):
        return self.keys


# --- the request as a page sees it -------------------------------------------------------


class Page:
    """One page request: who asks, in which language, and what answers them."""

    def __init__(self, service, request, auth_level: str):
        self.service = service
        self.services = service.services
        self.request = request
        self.auth_level = auth_level
        self.lang = i18n.negotiate(request)
        self._translations = i18n.translations(self.lang)
        self.principal: dict | None = None
        self.form = None  # a POST's form, once `check_form` has read it
        self.args = request.args
        self.unread_count: int | None = None
        self._unread_asked = False
        self._csrf_cookie = request.cookies.get(CSRF_COOKIE) or ""
        self._new_csrf_cookie = None
        self._has_form = False  # a page with a form is never cached (its tokens are its own)
        self._clear_session = False
        self._set_cookies: list[tuple] = []
        self.notice = self._read_notice()

    # --- language -------------------------------------------------------------------

    def gettext(self, message: str, **values) -> str:
        text = self._translations.gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values) -> str:
        text = self._translations.ngettext(singular, plural, n)
        return text % {"num": n, **values}

    def use_language(self, lang: str) -> None:
        """Answer in `lang` whatever the visitor's browser prefers (e.g. an emailed link's
        page, in the language of the account it was sent to)."""
        self.lang = lang
        self._translations = i18n.translations(lang)

    # --- who asks ---------------------------------------------------------------------

    @property
    def actor(self) -> dict | None:
        return actor_of(self.principal)

    @property
    def signed_in(self) -> bool:
        return self.principal is not None

    @property
    def is_staff(self) -> bool:
        return bool(self.principal and self.principal.get("is_staff"))

    @property
    def account_id(self) -> str | None:
        return self.principal["account_id"] if self.principal else None

    @property
    def session_token(self) -> str | None:
        return self.request.cookies.get(SESSION_COOKIE) or None

    def authenticate(self) -> None:
        token = self.session_token
        if token is not None and self.auth_level != "anyone":
            try:
                self.principal = self.service.auth.session(token, self.request.method)
            except Unauthenticated:
                self._clear_session = True  # signed out elsewhere, erased, or expired
            except Unavailable:
                if self.auth_level in ("resident", "staff"):
                    raise
                log.warning("web_auth_unavailable_serving_anonymously")
        if self.auth_level in ("resident", "staff") and self.principal is None:
            raise Redirect(self.sign_in_url())
        if self.auth_level == "staff" and not self.is_staff:
            raise Forbidden("only staff may see this page")

    def sign_in_url(self) -> str:
        here = self.request.full_path.rstrip("?") if self.request.method == "GET" else None
        back = safe_next(here) if here else None
        return "/signin" + (f"?next={quote(back, safe='/')}" if back else "")

    def start_session(self, token: str) -> None:
        self._set_cookies.append((SESSION_COOKIE, token, None))

    def end_session(self) -> None:
        self._clear_session = True

    def remember_language(self, lang: str) -> None:
        """Keep `lang` as the visitor's language, as the language switch does (e.g. the
        account's own language when it signs in)."""
        if i18n.is_language(lang):
            self._set_cookies.append((i18n.LANGUAGE_COOKIE, lang, LANGUAGE_COOKIE_SECONDS))

    # --- forms ------------------------------------------------------------------------

    @property
    def csrf_token(self) -> str:
        self._has_form = True
        if not self._csrf_cookie:
            self._csrf_cookie = self._new_csrf_cookie = secrets.token_urlsafe(32)
        return csrf_token_for(self._csrf_cookie)

    def new_form_key(self) -> str:
        self._has_form = True
        return uuid.uuid4().hex

    def check_form(self) -> None:
        """A POST's body: bounded, text only, from this site (CSRF)."""
        limit = int(config.get("CIVIC_MAX_BODY_BYTES", 65536))
        self.request.max_content_length = limit
        self.request.max_form_memory_size = limit
        try:
            form = self.request.form
        except RequestEntityTooLarge:
            raise TooLarge("the form is too large") from None
        cookie = self.request.cookies.get(CSRF_COOKIE) or ""
        given = form.get(CSRF_FIELD, "")
        if not cookie or not hmac.compare_digest(str(given), csrf_token_for(cookie)):
            refused = Forbidden("the form's CSRF token is missing or wrong")
            refused.visitor_message = self.gettext(
                "This form has expired or did not come from this site. "
                "Go back, reload the page and try again."
            )
            raise refused
        problems = text_problems(form.to_dict(flat=False))
        if problems:
            raise ValidationError(
                self.gettext("Some of what you wrote holds characters that are not allowed."),
                fields={
                    name: [self.gettext("Characters that are not allowed.")] for name in problems
                },
            )
        self.form = form

    def form_key_scope(self) -> str | None:
        key = self.form.get(FORM_KEY_FIELD, "") if self.form else ""
        if not (0 < len(key) <= 64 and key.isalnum()):
            return None
        visitor = self.session_token or self.request.cookies.get(CSRF_COOKIE, "")
        return hashlib.sha256(f"{visitor}|{key}".encode()).hexdigest()

    def load_args(self, schema_cls, **defaults) -> tuple[dict, dict]:
        """The query string (blank values left out) loaded by a service's query schema,
        and the errors of the values it refused (those fall back to their defaults), so
        a bad filter in a link shows as a message, not as a broken page."""
        given = {key: value for key, value in self.args.items() if value.strip()}
        data = {**defaults, **given}
        try:
            return load(schema_cls, data), {}
        except ValidationError as error:
            refused = error.fields or {}
            kept = {key: value for key, value in data.items() if key not in refused}
            return load(schema_cls, kept), refused

    # --- answers ----------------------------------------------------------------------

    def gather(self, **calls):
        """Run each call (a function of no arguments) concurrently, for one round of
        RPC calls per page; a call whose service fails with a Civic error gives
        `Missing(error)` instead of its value, so the page still renders the rest. The
        header's unread count is asked in the same round for a signed-in visitor."""
        if self.signed_in and not self._unread_asked:
            calls["_unread"] = self._unread_call
        threads = {name: eventlet.spawn(_capture, call) for name, call in calls.items()}
        results = {name: thread.wait() for name, thread in threads.items()}
        if "_unread" in results:
            self._take_unread(results.pop("_unread"))
        return results

    def render(self, template: str, status: int = 200, **context) -> Response:
        if self.signed_in and not self._unread_asked:
            self._take_unread(_capture(self._unread_call))
        return render_page(self, template, status=status, **context)

    def redirect(self, location: str, notice: str | None = None) -> Response:
        """POST → redirect → GET; `notice` (already translated) is shown once there."""
        if notice:
            self._set_cookies.append(
                (NOTICE_COOKIE, signing.sign(_NOTICE_PURPOSE, notice[:500]), None)
            )
        return Response(status=303, headers={"Location": location})

    def error_page(self, error: CivicError) -> Response:
        status = error.status if 400 <= error.status < 600 else 500
        if isinstance(error, Unavailable):
            status = 503
        return self.render(
            "error.html",
            status=status,
            error=error,
            error_status=status,
            visitor_message=getattr(error, "visitor_message", None),
        )

    def _unread_call(self):
        answer = self.services.notifications.list_notifications(
            self.actor, page=1, per_page=1, unread=True
        )
        return answer.get("unread_count", 0)

    def _take_unread(self, result) -> None:
        self._unread_asked = True
        self.unread_count = None if isinstance(result, Missing) else result

    def _read_notice(self) -> str | None:
        value = self.request.cookies.get(NOTICE_COOKIE)
        if not value:
            return None
        notice = signing.unsign(_NOTICE_PURPOSE, value)
        self._set_cookies.append((NOTICE_COOKIE, None, None))  # shown once
        return notice

    def finish(self, response: Response) -> Response:
        """The cookies this request set or ended, and how the answer may be cached."""
        secure = secure_cookies()
        for name, value, max_age in self._set_cookies:
            if value is None:
                if name in self.request.cookies:
                    response.delete_cookie(
                        name, path="/", secure=secure, httponly=True, samesite="Lax"
                    )
            else:
                response.set_cookie(
                    name,
                    value,
                    max_age=max_age,
                    path="/",
                    secure=secure,
                    httponly=True,
                    samesite="Lax",
                )
        if self._clear_session and not any(
            c[0] == SESSION_COOKIE and c[1] for c in self._set_cookies
        ):
            response.delete_cookie(
                SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="Lax"
            )
        if self._new_csrf_cookie:
            response.set_cookie(
                CSRF_COOKIE,
                self._new_csrf_cookie,
                path="/",
                secure=secure,
                httponly=True,
                samesite="Lax",
            )
        personal = (
            self.signed_in
            or self.session_token
            or self._set_cookies
            or self._new_csrf_cookie
            or self._has_form
        )
        if "Cache-Control" not in response.headers:
            if personal or self.request.method != "GET" or response.status_code != 200:
                response.headers["Cache-Control"] = "no-store"
            else:
                response.headers["Cache-Control"] = "public, max-age=60"
                response.headers["Vary"] = "Cookie, Accept-Language"
        return response


def _capture(call):
    try:
        return call()
    except CivicError as error:
        if isinstance(error, Unavailable):
            log.warning("web_part_unavailable", error=error.message)
        return Missing(error)


# --- the declaration -------------------------------------------------------------------


class WebHandler(ApiHandler):
    """`ApiHandler` for pages: the body is a form (read by the page, see `Page`), and any
    failure outside the page function is an HTML page too."""

    def __init__(self, method, url, auth: str = "optional", **kwargs):
        self.auth = auth
        super().__init__(method, url, doc=None, **kwargs)

    def check_request(self, request) -> None:
        """Nothing before the worker: the page reads its form itself (`Page`)."""

    def error_response(self, request, exc: BaseException):
        if not isinstance(exc, CivicError):
            log.exception("web_page_failed")
        return plain_error_page(request, exc)


def web(method: str, path: str, *, auth: str = "optional", form_key: bool | None = None):
    """Declare a page (GET) or a form's action (POST) at `path`.

    `auth`: `anyone` (the session is not looked at: static files), `optional` (signed in
    or not), `resident` (signed in, else the sign-in page), `staff`. A POST checks its
    CSRF token and, unless `form_key=False`, runs once per rendered form (`FormKeys`).
    The function is `(self, page, <path values>)` and returns a Response (`page.render`,
    `page.redirect`); a Civic error it raises becomes the error page (404, 403, 503, …).
    Method names start with `web_` (they share the gateway class with the API routes).
    """
    if auth not in WEB_AUTH_LEVELS:
        raise ValueError(f"auth must be one of {WEB_AUTH_LEVELS}")
    method = method.upper()
    once = method == "POST" if form_key is None else form_key
    register = WebHandler.decorator(method, path, auth=auth)

    def declare(function):
        if not function.__name__.startswith("web_"):
            raise TypeError(f"{function.__qualname__}: a page's method name starts with web_")

        @wraps(function)
        def handle(service, request, **path_values):
            page = Page(service, request, auth)
            try:
                if method == "POST":
                    page.check_form()
                page.authenticate()
                scope = page.form_key_scope() if once else None
                if scope is not None:
                    # The form's RPC calls get request ids from its key: sent again
                    # to another gateway process, it still acts once (civic.commands).
                    set_request_key(request, "form-key", scope)
                    response = service.form_keys.run(
                        scope, lambda: function(service, page, **path_values)
                    )
                else:
                    response = function(service, page, **path_values)
            except Redirect as redirect:
                response = Response(status=303, headers={"Location": redirect.location})
            except CivicError as error:
                response = page.error_page(error)
            return page.finish(response)

        return register(handle)

    return declare


def plain_error_page(request, error: Exception) -> Response:
    """An error page rendered without a worker (no session looked at)."""
    from services.gateway.web.render import render_error

    if not isinstance(error, CivicError):
        error = CivicError("internal error")
    return render_error(request, error)


def routing_error_page(request, exc) -> Response:
    """The site's page for a path no page or API route matches (404), or a method the
    path does not take (405), in the site's layout (see `ApiWsgiApp`)."""
    if exc.code == 404:
        return plain_error_page(request, NotFound("no such page"))
    error = CivicError(exc.description or "")
    error.status = exc.code or 500
    return plain_error_page(request, error)
