"""The gateway's Accounts and sessions routes (API.md), asked of the groups service.

A mixin of `GatewayService` (nameko finds entrypoints on base classes too): it uses the
service's `auth`, `services` and `confirmation_email_limits` dependencies. Each route's
declaration says who may call it and the schema of its body, which the handler enforces
(see `http`). Registering and signing in are rate-limited by the groups service, for
every gateway at once; asking for a confirmation email here, per gateway (see `auth`).
Signing out, erasing the account and confirming its email forget the account's cached
tokens here at once, and at every other gateway when the groups service's event reaches
it (`revocations`).

Extensions beyond API.md: the email confirmation (POST /accounts/confirmations, the
emailed link GET /accounts/confirmations/{token}, POST /me/confirmation-email) and
GET /me/export.
"""

from __future__ import annotations

from html import escape

from werkzeug.wrappers import Response

from civic.config import DOMAIN_SERVICES
from civic.errors import ValidationError
from civic.log import get_logger
from civic.validation import load
from services.gateway.auth import bearer_token, register, request_confirmation_email, sign_in
from services.gateway.fanout import fan_out
from services.gateway.http import api, no_content, ok
from services.gateway.schemas import (
    AccountExportSchema,
    ConfirmationEmailSchema,
    ConfirmedSchema,
    ErasureSchema,
)
from services.groups.api import (
    AccountCreateSchema,
    AccountSchema,
    ConfirmationSchema,
    MeSchema,
    SessionCreateSchema,
    SessionSchema,
)

log = get_logger(__name__)

TAGS = ("accounts",)
CONFIRMATION_PAGE = """<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>{title}</h1>
<p lang="sv">{sv}</p>
<p lang="en">{en}</p></main></body></html>
"""
CONFIRMED_WORDS = {
    "title": "E-postadressen bekräftad · Email address confirmed",
    "sv": "Tack! Din e-postadress är bekräftad.",
    "en": "Thank you! Your email address is confirmed.",
}
NOT_CONFIRMED_WORDS = {
    "title": "Länken fungerar inte · The link does not work",
    "sv": "Länken har gått ut eller är inte giltig. Logga in och be om ett nytt bekräftelsemejl.",
    "en": "The link has expired or is not valid. Sign in and ask for a new confirmation email.",
}


def wants_html(request) -> bool:
    """A person who clicked an emailed link, rather than a program."""
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


def confirmation_page(error: ValidationError | None = None) -> Response:
    words = CONFIRMED_WORDS if error is None else NOT_CONFIRMED_WORDS
    page = CONFIRMATION_PAGE.format(**{key: escape(value) for key, value in words.items()})
    return Response(
        page, status=200 if error is None else error.status, content_type="text/html; charset=utf-8"
    )


class AccountRoutes:
    """Entrypoints for /accounts, /sessions and /me; mixed into GatewayService."""

    # --- registering and confirming -----------------------------------------------------

    @api(
        "POST",
        "/accounts",
        summary="Register an account",
        body=AccountCreateSchema,
        responses={201: AccountSchema},
        errors=(409, 429),
        tags=TAGS,
        description="409 when the email is already registered; 429 after too many "
        "registrations from one address (CIVIC_SIGNUP_LIMIT per "
        "CIVIC_SIGNUP_WINDOW: 10 per hour). A confirmation email, in the "
        "account's language, follows: the account may write for "
        "CIVIC_CONFIRMATION_GRACE (7 days) before its email is confirmed.",
    )
    def create_account(self, request, *, body):
        return ok(register(self.services.groups, body, request.remote_addr), 201)

    @api(
        "POST",
        "/accounts/confirmations",
        summary="Confirm an account's email address (the emailed link's token)",
        body=ConfirmationSchema,
        responses={204: None},
        tags=TAGS,
        description="Needs no sign-in: the token is the proof. Confirming again is "
        "fine (204). 400 for an expired token (links are valid for "
        "CIVIC_CONFIRMATION_TTL, 72 h), an erased account's token, or "
        "anything else not signed by Civic.",
    )
    def confirm_email(self, request, *, body):
        self._confirm(body["token"])
        return no_content()

    @api(
        "GET",
        "/accounts/confirmations/<token>",
        summary="The emailed confirmation link: confirms, and says so",
        responses={200: ConfirmedSchema},
        errors=(400,),
        tags=TAGS,
        description="What the link in the confirmation email opens. A short page for "
        "a browser (`Accept: text/html`), JSON otherwise; errors as for "
        "POST /accounts/confirmations.",
    )
    def follow_confirmation_link(self, request, token):
        # The token is a path value, not a body: validated here, and a person who
        # clicked the link gets a page for a bad one too, where others get the 400.
        try:
            self._confirm(load(ConfirmationSchema, {"token": token})["token"])
        except ValidationError as exc:
            if wants_html(request):
                return confirmation_page(exc)
            raise
        if wants_html(request):
            return confirmation_page()
        return ok({"email_confirmed": True})

    @api(
        "POST",
        "/me/confirmation-email",
        summary="Send the account a new confirmation email",
        auth="resident",
        responses={202: ConfirmationEmailSchema},
        errors=(409, 429),
        tags=TAGS,
        description="409 when the email is confirmed already; 429 after three in an "
        "hour. Earlier links stay valid until they expire.",
    )
    def resend_confirmation_email(self, request, *, actor):
        request_confirmation_email(self.services.groups, self.confirmation_email_limits, actor)
        return ok({"status": "confirmation_email_requested"}, 202)

    # --- sessions -----------------------------------------------------------------------

    @api(
        "POST",
        "/sessions",
        summary="Sign in: a bearer token for the account",
        body=SessionCreateSchema,
        responses={201: SessionSchema},
        errors=(401, 429),
        tags=TAGS,
        description="401 for a wrong password or an unknown email alike; 429 after "
        "too many failed attempts for an email or from an address.",
    )
    def create_session(self, request, *, body):
        return ok(sign_in(self.services.groups, body, request.remote_addr), 201)

    @api(
        "DELETE",
        "/sessions/current",
        summary="Sign out: the token stops working",
        auth="resident",
        responses={204: None},
        tags=TAGS,
        description="At once at this gateway, and at every other gateway process a "
        "moment later (the groups service announces it: `signed_out`). A gateway "
        "that has lost its broker connection may accept a token it cached for up "
        "to CIVIC_AUTH_CACHE_SECONDS (60 s).",
    )
    def delete_session(self, request):
        token = bearer_token(request)
        # Forgotten first: even if groups does not answer, this gateway stops trusting it.
        self.auth.forget(token)
        self.services.groups.sign_out(token)
        return no_content()

    # --- the account itself -------------------------------------------------------------

    @api(
        "GET",
        "/me",
        summary="The signed-in account, its roles and memberships",
        auth="resident",
        responses={200: MeSchema},
        tags=TAGS,
        description="`email_confirmed` says whether the emailed confirmation link was "
        "followed. Past CIVIC_CONFIRMATION_GRACE (7 days) after registering, "
        "an unconfirmed account's writes get 403 `email_unconfirmed` (but for "
        "signing out, asking for a new confirmation email and erasing the "
        "account); reads go on working.",
    )
    def get_me(self, request, *, actor):
        return ok(self.services.groups.get_me(actor))

    @api(
        "GET",
        "/me/export",
        summary="Everything every service holds about the account",
        auth="resident",
        responses={200: AccountExportSchema},
        tags=TAGS,
        description="Keyed by service; a service that does not answer in time is "
        'reported as `{"unavailable": true}`.',
    )
    def export_me(self, request, *, actor):
        return ok(self._export_account(actor["account_id"]))

    @api(
        "DELETE",
        "/me",
        summary="Erase the account across all services",
        auth="resident",
        responses={202: ErasureSchema},
        tags=TAGS,
        description="The groups service erases the account and announces it; every "
        "other service erases what it holds when it hears of it.",
    )
    def erase_me(self, request, *, actor):
        self.auth.forget(bearer_token(request), account_id=actor["account_id"])
        self.services.groups.erase_account(actor)
        return ok({"status": "erasure_requested", "account_id": actor["account_id"]}, 202)

    # --- helpers ------------------------------------------------------------------------

    def _confirm(self, token: str) -> None:
        confirmed = self.services.groups.confirm_email(token)
        # The account's cached principals still say "unconfirmed": forget them here.
        self.auth.forget(None, account_id=confirmed["account_id"])

    def _export_account(self, account_id: str) -> dict:
        """Every domain service's `export_account`, asked all at once."""

        def export_from(service):
            try:
                return service, self.services[service].export_account(account_id)
            except Exception as exc:  # one silent service must not sink the export
                log.warning("export_unanswered", target=service, error=type(exc).__name__)
                return service, {"unavailable": True}

        return dict(fan_out(export_from, DOMAIN_SERVICES))
