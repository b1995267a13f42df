"""The website's account pages: register, confirm the email address, sign in and out; my
page, my data as a download, erasing the account.

A mixin of `GatewayService`; see `handler.web` for what a page declaration does. Each
action calls the services exactly as its API route in `accounts_routes.py` does — the same
rate limits (sign-ins and registrations counted by the groups service,
`confirmation_email_limits`), the same forgetting of cached sessions — with the session
cookie in place of a bearer token.

Forms that start a session (registering, signing in) are sent with `auth="anyone"`: the
session cookie they may carry is not looked at, so an old one can neither refuse them
(an unconfirmed account past its grace period may still sign in again) nor change who
they act for. Confirming an email address is sent the same way, for the same reason.

The emailed confirmation link opens `/confirm/<token>` (services/notifications/email.py),
a page whose button confirms: opening a link must change nothing, as mail scanners open
them. The page reads the token first (`civic.signing`, with the key every service shares,
CIVIC_SECRET_KEY) only to say at once when it has expired or is not Civic's.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from werkzeug.wrappers import Response

from civic import signing
from civic.clock import utcnow
from civic.errors import (
    Conflict,
    NotFound,
    RateLimited,
    Unauthenticated,
    Unavailable,
    ValidationError,
)
from civic.validation import load
from services.gateway.auth import register, request_confirmation_email, sign_in
from services.gateway.web import i18n
from services.gateway.web.forms import empty_form, submitted_form
from services.gateway.web.handler import CSRF_COOKIE, FORM_KEY_FIELD, Missing, Page, safe_next, web
from services.groups.api import CONFIRMATION_TOKEN_MAX, AccountCreateSchema, SessionCreateSchema

EXPORT_FILENAME = "civic-my-data.json"
REGISTER_FIELDS = ("display_name", "email", "password", "locale")
SIGN_IN_FIELDS = ("email", "password")
ERASE_CONSENT = "understood"


def _(message: str) -> str:
    """Marks a message id for extraction; translated where it is shown."""
    return message


ACCOUNT_READY = _("Your account is ready. Sign in to go on.")
WELCOME = _(
    "Welcome to Civic, %(name)s! We have sent you an email: follow its link to confirm your "
    "email address."
)


class AccountPages:
    """Entrypoints of the account pages; mixed into GatewayService."""

    # --- registering --------------------------------------------------------------------

    @web("GET", "/register")
    def web_register_form(self, page: Page):
        if page.signed_in:
            return page.redirect("/me")
        form = empty_form(page, locale=page.lang)
        return _not_stored(page.render("account/register.html", form=form))

    # The form key is kept per browser (its CSRF cookie) rather than per session, as the
    # handler would: the first submission starts a session, and a repeat that carries it
    # must still be known as the same form — it gets the first one's redirect instead of
    # "this email address is taken".
    @web("POST", "/register", auth="anyone", form_key=False)
    def web_register(self, page: Page):
        scope = _browser_form_scope(page, "register")
        if scope is None:
            return self._register(page)
        return self.form_keys.run(scope, lambda: self._register(page))

    def _register(self, page: Page):
        payload = _filled(page, REGISTER_FIELDS)
        try:
            account = load(AccountCreateSchema, payload)
            register(self.services.groups, account, page.request.remote_addr)
        except ValidationError as error:
            return _register_again(page, error, 400)
        except Conflict:
            taken = page.gettext(
                "An account with this email address exists already. Sign in, or use "
                "another address."
            )
            return _register_again(page, ValidationError("", fields={"email": [taken]}), 409)
        except RateLimited as error:
            return _register_again(page, error, 429)
        except Unavailable as error:
            return _register_again(page, error, 503)
        locale = account["locale"]
        try:
            session = sign_in(
                self.services.groups,
                {"email": account["email"], "password": account["password"]},
                page.request.remote_addr,
            )
        except (Unauthenticated, RateLimited, Unavailable):
            # The account exists; only signing in at once failed (it hardly ever does).
            return page.redirect("/signin", notice=_in_language(locale, ACCOUNT_READY))
        page.start_session(session["token"])
        page.remember_language(locale)
        return page.redirect(
            "/me",
            notice=_in_language(locale, WELCOME, name=session["account"]["display_name"]),
        )

    # --- confirming the email address ---------------------------------------------------

    @web("GET", "/confirm/<token>")
    def web_confirm_form(self, page: Page, token):
        """The emailed link's page. Opening it changes nothing (mail scanners follow
        links): the button confirms. A link that cannot work says so at once."""
        found = _confirmation_of(token)
        if found is None:
            return page.render("account/confirm_failed.html", status=400, expired=False)
        if found.expired(utcnow()):
            return page.render("account/confirm_failed.html", status=400, expired=True)
        principal = page.principal or {}
        if principal.get("account_id") == found.account_id and principal.get("email_confirmed"):
            return page.render("account/confirmed.html")
        form = empty_form(page)
        return _not_stored(page.render("account/confirm.html", token=token, form=form))

    @web("POST", "/confirm/<token>", auth="anyone")
    def web_confirm_email(self, page: Page, token):
        try:
            self._confirm(token)  # as the API's route: confirm, forget cached sessions
        except ValidationError as error:
            expired = (error.fields or {}).get("token") == ["Expired."]
            return page.render("account/confirm_failed.html", status=400, expired=expired)
        return page.redirect("/confirmed")

    @web("GET", "/confirmed")
    def web_confirmed(self, page: Page):
        return page.render("account/confirmed.html")

    @web("POST", "/me/confirmation", auth="resident")
    def web_resend_confirmation(self, page: Page):
        try:
            request_confirmation_email(
                self.services.groups, self.confirmation_email_limits, page.actor
            )
        except Conflict:
            notice = page.gettext("Your email address is confirmed already.")
        except RateLimited:
            notice = page.gettext(
                "You have asked for several confirmation emails lately. Wait an hour and "
                "try again, or use the link in one of them."
            )
        else:
            notice = page.gettext(
                "We have sent you a new confirmation email. Follow its link to confirm "
                "your email address."
            )
        return page.redirect("/me", notice=notice)

    # --- signing in and out -------------------------------------------------------------

    @web("GET", "/signin")
    def web_sign_in_form(self, page: Page):
        next_path = safe_next(page.args.get("next"))
        if page.signed_in:
            return page.redirect(next_path or "/me")
        form = empty_form(page)
        return _not_stored(page.render("account/signin.html", form=form, next_path=next_path))

    # Signing in twice from one form does no harm (two sessions); kept out of the form
    # keys, each submission gets its own session cookie.
    @web("POST", "/signin", auth="anyone", form_key=False)
    def web_sign_in(self, page: Page):
        next_path = safe_next(page.form.get("next"))
        try:
            credentials = load(SessionCreateSchema, _filled(page, SIGN_IN_FIELDS))
            session = sign_in(self.services.groups, credentials, page.request.remote_addr)
        except ValidationError as error:
            return _sign_in_again(page, error, 400, next_path)
        except Unauthenticated:
            wrong = page.gettext("The email address or the password is wrong.")
            error = ValidationError("", fields={"password": [wrong]})
            return _sign_in_again(page, error, 400, next_path)
        except RateLimited as error:
            return _sign_in_again(page, error, 429, next_path)
        except Unavailable as error:
            return _sign_in_again(page, error, 503, next_path)
        page.start_session(session["token"])
        page.remember_language(session["account"].get("locale", page.lang))
        return page.redirect(next_path or "/me")

    # Optional, not resident: a cookie whose session has ended already still signs out
    # cleanly. No form key: the layout's form carries only its CSRF token.
    @web("POST", "/signout", form_key=False)
    def web_sign_out(self, page: Page):
        token = page.session_token
        if token:
            # Forgotten first: even if groups does not answer, this gateway stops trusting it.
            self.auth.forget(token)
            self.services.groups.sign_out(token)
        page.end_session()
        return page.redirect("/", notice=page.gettext("You are signed out."))

    # --- my page ------------------------------------------------------------------------

    @web("GET", "/me", auth="resident")
    def web_me(self, page: Page):
        actor, account_id = page.actor, page.account_id
        parts = page.gather(
            me=lambda: self.services.groups.get_me(actor),
            # What the account wrote and did: the services' exports are the lists of it.
            proposals=lambda: self.services.proposals.export_account(account_id),
            events=lambda: self.services.events.export_account(account_id),
            returnee=lambda: self.services.openings.get_profile(actor),
            preferences=lambda: self.services.notifications.get_preferences(actor),
        )
        me = parts["me"]
        confirmed = me["email_confirmed"] if me else page.principal.get("email_confirmed", True)
        returnee = parts["returnee"]
        if isinstance(returnee, Missing) and isinstance(returnee.error, NotFound):
            returnee = None  # no profile yet: not a failure
        return page.render(
            "account/me.html",
            me=me,
            email_confirmed=confirmed,
            proposals=parts["proposals"],
            registrations=_registrations(parts["events"]),
            returnee=returnee,
            preferences=parts["preferences"],
        )

    @web("GET", "/me/export", auth="resident")
    def web_export_account(self, page: Page):
        data = self._export_account(page.account_id)  # as the API's GET /me/export
        response = Response(
            json.dumps(data, ensure_ascii=False, indent=2),
            content_type="application/json; charset=utf-8",
        )
        response.headers["Content-Disposition"] = f'attachment; filename="{EXPORT_FILENAME}"'
        response.headers["Cache-Control"] = "no-store"
        return response

    # --- erasing the account ------------------------------------------------------------

    @web("GET", "/me/erase", auth="resident")
    def web_erase_form(self, page: Page):
        return page.render("account/erase.html", form=empty_form(page))

    @web("POST", "/me/erase", auth="resident")
    def web_erase_account(self, page: Page):
        if page.form.get(ERASE_CONSENT) != "yes":
            needed = page.gettext("Tick the box to say that you understand what is erased.")
            error = ValidationError("", fields={ERASE_CONSENT: [needed]})
            return page.render("account/erase.html", status=400, form=submitted_form(page, error))
        self.auth.forget(page.session_token, account_id=page.account_id)
        self.services.groups.erase_account(page.actor)
        page.end_session()
        return page.redirect(
            "/", notice=page.gettext("Your account is erased. Thank you for taking part.")
        )


# --- helpers ------------------------------------------------------------------------------


def _filled(page: Page, names) -> dict:
    """The form's fields that were filled in: a blank one is missing (\"Fill in this
    field\"), not too short."""
    values = {name: page.form.get(name, "") for name in names}
    return {name: value for name, value in values.items() if value.strip()}


def _without_password(form):
    form.values.pop("password", None)  # a password is never sent back to the browser
    return form


def _not_stored(response: Response) -> Response:
    """A page whose form carries this browser's CSRF token and a form key of its own is
    never kept by a cache, not even for a visitor who is signed out."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _register_again(page: Page, error, status: int) -> Response:
    form = _without_password(submitted_form(page, error))
    if not form.value("locale"):
        form.values["locale"] = page.lang
    return page.render("account/register.html", status=status, form=form)


def _sign_in_again(page: Page, error, status: int, next_path: str | None) -> Response:
    form = _without_password(submitted_form(page, error))
    form.values.pop("next", None)
    return page.render("account/signin.html", status=status, form=form, next_path=next_path)


def _browser_form_scope(page: Page, form_name: str) -> str | None:
    """The form key of this browser's rendered form (see `web_register`)."""
    key = page.form.get(FORM_KEY_FIELD, "")
    if not (0 < len(key) <= 64 and key.isalnum()):
        return None
    browser = page.request.cookies.get(CSRF_COOKIE, "")
    return hashlib.sha256(f"{form_name}|{browser}|{key}".encode()).hexdigest()


def _in_language(lang: str, message: str, **values) -> str:
    """A message in `lang` rather than the page's: after registering or signing in the
    next page is in the account's own language."""
    text = i18n.translations(lang).gettext(message)
    return text % values if values else text


def _confirmation_of(token: str):
    """What a confirmation link's token says, read without changing anything; None for
    a token Civic did not sign."""
    if not token or len(token) > CONFIRMATION_TOKEN_MAX:
        return None
    return signing.email_confirmation_of(token)


def _registrations(export):
    """The account's event registrations (from the events service's export), coming
    ones first by start, then past ones, latest first; `Missing` stays missing."""
    if isinstance(export, Missing):
        return export
    now = utcnow()
    by_start = sorted(
        export.get("registrations", []),
        key=lambda registration: datetime.fromisoformat(registration["event_starts_at"]),
    )
    coming = [r for r in by_start if datetime.fromisoformat(r["event_starts_at"]) >= now]
    past = [r for r in reversed(by_start) if r not in coming]
    return {"coming": coming, "past": past}
