"""The gateway: Civic's HTTP edge, and the only service with HTTP entrypoints.

It owns nothing durable. Each entrypoint checks who is calling (auth), validates the
input with the schemas that also document it (OpenAPI), asks the owning service over RPC
(which gives up after CIVIC_RPC_TIMEOUT: 503, never a hang) and shapes the answer;
errors become the API.md error format (errors), every request gets a correlation id
and an access line (http). The contract is /work/shared/API.md.
"""
from __future__ import annotations

from html import escape

from werkzeug.wrappers import Response

from civic import config
from civic.config import DOMAIN_SERVICES
from civic.errors import Forbidden, NotFound, ValidationError
from civic.log import Tracing, get_logger
from civic.rpc import Services
from civic.validation import load
from services.gateway import metrics, openapi, staff
from services.gateway.auth import (Authentication, ConfirmationEmailLimits, SignInLimits,
                                   SignUpLimits, bearer_token, register,
                                   request_confirmation_email, sign_in)
from services.gateway.events_routes import EventRoutes
from services.gateway.fanout import fan_out
from services.gateway.http import api, load_body, load_query, no_body, no_content, ok, route
from services.gateway.notifications_routes import NotificationRoutes
from services.gateway.openings_routes import OpeningRoutes
from services.gateway.proposals_routes import ProposalRoutes
from services.gateway.schemas import (AccountExportSchema, ConfirmationEmailSchema,
                                      ConfirmedSchema, DeadLetterListSchema,
                                      DeadLetterQuerySchema, ErasureSchema, LivenessSchema,
                                      StaffHealthSchema)
from services.groups.schemas import (AccountCreateSchema, AccountSchema, AdminAppointSchema,
                                     ConfirmationSchema, GroupCreateSchema,
                                     GroupListQuerySchema, GroupListSchema, GroupSchema,
                                     JoinResultSchema, MembershipSchema, MeSchema,
                                     NetworkJoinSchema, SessionCreateSchema, SessionSchema)

log = get_logger(__name__)

ANY_OBJECT = {"type": "object", "additionalProperties": True}
_DEAD_LETTER_ID_MAX = 200

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
    "en": "Thank you! Your email address is confirmed."}
NOT_CONFIRMED_WORDS = {
    "title": "Länken fungerar inte · The link does not work",
    "sv": "Länken har gått ut eller är inte giltig. Logga in och be om ett nytt "
          "bekräftelsemejl.",
    "en": "The link has expired or is not valid. Sign in and ask for a new "
          "confirmation email."}


def wants_html(request) -> bool:
    """A person who clicked an emailed link, rather than a program."""
    return request.accept_mimetypes.best_match(["application/json",
                                                "text/html"]) == "text/html"


def confirmation_page(error: ValidationError | None = None) -> Response:
    words = CONFIRMED_WORDS if error is None else NOT_CONFIRMED_WORDS
    page = CONFIRMATION_PAGE.format(**{key: escape(value) for key, value in words.items()})
    return Response(page, status=200 if error is None else error.status,
                    content_type="text/html; charset=utf-8")


class GatewayService(ProposalRoutes, EventRoutes, OpeningRoutes, NotificationRoutes):
    """Accounts, sessions, groups and staff routes are here; each other domain's routes
    are a mixin in its own module (`*_routes.py`)."""

    name = "gateway"

    tracing = Tracing()
    services = Services()
    auth = Authentication()
    signin_limits = SignInLimits()
    signup_limits = SignUpLimits()
    confirmation_email_limits = ConfirmationEmailLimits()

    # --- operations ---------------------------------------------------------------------

    @route("GET", "/healthz", summary="The gateway is alive (asks no other service)",
           responses={200: LivenessSchema}, tags=("operations",), local=True)
    def healthz(self, request):
        return ok({"status": "ok", "service": self.name})

    @route("GET", "/metrics", summary="Prometheus metrics of the gateway",
           auth="optional", responses={200: {"type": "string"}}, content_type="text/plain",
           errors=(403, 503), tags=("operations",), local=True,
           description="For clients in CIVIC_METRICS_ALLOW (by default this machine: "
                       "127.0.0.0/8 and ::1) and for staff (a bearer token) from "
                       "anywhere; 403 for anyone else.")
    def prometheus_metrics(self, request):
        if not metrics.may_scrape(request.remote_addr, config.get("CIVIC_METRICS_ALLOW",
                                                                  metrics.LOOPBACK)):
            if "Authorization" not in request.headers:
                raise Forbidden("metrics are for staff and the networks in "
                                "CIVIC_METRICS_ALLOW")
            self.auth.staff(request)
        body, content_type = metrics.exposition()
        return Response(body, status=200, content_type=content_type)

    @api("GET", "/openapi.json", summary="This API, described in OpenAPI 3",
         responses={200: ANY_OBJECT}, tags=("operations",), local=True)
    def openapi_document(self, request):
        return ok(openapi.document(type(self)))

    # --- accounts and sessions ----------------------------------------------------------

    @api("POST", "/accounts", summary="Register an account", body=AccountCreateSchema,
         responses={201: AccountSchema}, errors=(409, 429), tags=("accounts",),
         description="409 when the email is already registered; 429 after too many "
                     "registrations from one address (CIVIC_SIGNUP_LIMIT per "
                     "CIVIC_SIGNUP_WINDOW: 10 per hour). A confirmation email, in the "
                     "account's language, follows: the account may write for "
                     "CIVIC_CONFIRMATION_GRACE (7 days) before its email is confirmed.")
    def create_account(self, request):
        payload = load_body(request, AccountCreateSchema)
        return ok(register(self.services.groups, self.signup_limits, payload,
                           request.remote_addr), 201)

    @api("POST", "/accounts/confirmations",
         summary="Confirm an account's email address (the emailed link's token)",
         body=ConfirmationSchema, responses={204: None}, tags=("accounts",),
         description="Needs no sign-in: the token is the proof. Confirming again is "
                     "fine (204). 400 for an expired token (links are valid for "
                     "CIVIC_CONFIRMATION_TTL, 72 h), an erased account's token, or "
                     "anything else not signed by Civic.")
    def confirm_email(self, request):
        payload = load_body(request, ConfirmationSchema)
        self._confirm(payload["token"])
        return no_content()

    @api("GET", "/accounts/confirmations/<token>",
         summary="The emailed confirmation link: confirms, and says so",
         responses={200: ConfirmedSchema}, errors=(400,), tags=("accounts",),
         description="What the link in the confirmation email opens. A short page for "
                     "a browser (`Accept: text/html`), JSON otherwise; errors as for "
                     "POST /accounts/confirmations.")
    def follow_confirmation_link(self, request, token):
        try:
            self._confirm(load(ConfirmationSchema, {"token": token})["token"])
        except ValidationError as exc:
            if wants_html(request):
                return confirmation_page(exc)
            raise
        if wants_html(request):
            return confirmation_page()
        return ok({"email_confirmed": True})

    @api("POST", "/me/confirmation-email",
         summary="Send the account a new confirmation email", auth="resident",
         responses={202: ConfirmationEmailSchema}, errors=(409, 429), tags=("accounts",),
         description="409 when the email is confirmed already; 429 after three in an "
                     "hour. Earlier links stay valid until they expire.")
    def resend_confirmation_email(self, request):
        principal = self.auth.resident(request)
        no_body(request)
        request_confirmation_email(self.services.groups, self.confirmation_email_limits,
                                   principal["account_id"])
        return ok({"status": "confirmation_email_requested"}, 202)

    @api("POST", "/sessions", summary="Sign in: a bearer token for the account",
         body=SessionCreateSchema, responses={201: SessionSchema}, errors=(401, 429),
         tags=("accounts",),
         description="401 for a wrong password or an unknown email alike; 429 after "
                     "too many failed attempts for an email or from an address.")
    def create_session(self, request):
        credentials = load_body(request, SessionCreateSchema)
        session = sign_in(self.services.groups, self.signin_limits, credentials,
                          request.remote_addr)
        return ok(session, 201)

    @api("DELETE", "/sessions/current", summary="Sign out: the token stops working",
         auth="resident", responses={204: None}, tags=("accounts",),
         description="At once at this gateway. Gateways cache a checked token for up to "
                     "CIVIC_AUTH_CACHE_SECONDS (60 s), so another gateway process may "
                     "still accept it for at most that long.")
    def delete_session(self, request):
        self.auth.resident(request)
        token = bearer_token(request)
        # Forgotten first: even if groups does not answer, this gateway stops trusting it.
        self.auth.forget(token)
        self.services.groups.sign_out(token)
        return no_content()

    @api("GET", "/me", summary="The signed-in account, its roles and memberships",
         auth="resident", responses={200: MeSchema}, tags=("accounts",),
         description="`email_confirmed` says whether the emailed confirmation link was "
                     "followed. Past CIVIC_CONFIRMATION_GRACE (7 days) after registering, "
                     "an unconfirmed account's writes get 403 `email_unconfirmed` (but for "
                     "signing out, asking for a new confirmation email and erasing the "
                     "account); reads go on working.")
    def get_me(self, request):
        principal = self.auth.resident(request)
        return ok(self.services.groups.get_me(principal["account_id"]))

    @api("GET", "/me/export", summary="Everything every service holds about the account",
         auth="resident", responses={200: AccountExportSchema}, tags=("accounts",),
         description="Keyed by service; a service that does not answer in time is "
                     "reported as `{\"unavailable\": true}`.")
    def export_me(self, request):
        principal = self.auth.resident(request)
        return ok(self._export_account(principal["account_id"]))

    @api("DELETE", "/me", summary="Erase the account across all services",
         auth="resident", responses={202: ErasureSchema}, tags=("accounts",),
         description="The groups service erases the account and announces it; every "
                     "other service erases what it holds when it hears of it.")
    def erase_me(self, request):
        principal = self.auth.resident(request)
        self.auth.forget(bearer_token(request), account_id=principal["account_id"])
        self.services.groups.erase_account(principal["account_id"])
        return ok({"status": "erasure_requested", "account_id": principal["account_id"]},
                  202)

    # --- groups -------------------------------------------------------------------------

    @api("GET", "/groups", summary="Groups, by kind", query=GroupListQuerySchema,
         responses={200: GroupListSchema}, tags=("groups",),
         description="`needs_admin=true`: the groups left without a member, for staff "
                     "to appoint an admin (POST /groups/{id}/admins).")
    def list_groups(self, request):
        query = load_query(request, GroupListQuerySchema)
        return ok(self.services.groups.list_groups(**query))

    @api("POST", "/groups", summary="Create a group; its creator is its admin",
         auth="resident", body=GroupCreateSchema, responses={201: GroupSchema},
         errors=(409,), tags=("groups",),
         description="Associations and businesses start unverified. 409 when a group "
                     "of that name exists.")
    def create_group(self, request):
        principal = self.auth.resident(request)
        payload = load_body(request, GroupCreateSchema)
        return ok(self.services.groups.create_group(principal["account_id"], payload), 201)

    @api("GET", "/groups/<uuid:group_id>",
         summary="A group with its member count, admins and networks",
         responses={200: GroupSchema}, tags=("groups",))
    def get_group(self, request, group_id):
        return ok(self.services.groups.get_group(group_id))

    @api("POST", "/groups/<uuid:group_id>/members", summary="Join a group",
         auth="resident", responses={201: JoinResultSchema, 202: JoinResultSchema},
         errors=(400, 409), tags=("groups",),
         description="201 with status `member` for an open group; 202 with status "
                     "`pending` (a request its admins approve) for a closed one. 409 when "
                     "already a member or already waiting.")
    def join_group(self, request, group_id):
        principal = self.auth.resident(request)
        no_body(request)
        result = self.services.groups.join_group(principal["account_id"], group_id)
        return ok(result, 201 if result["status"] == "member" else 202)

    @api("POST", "/groups/<uuid:group_id>/members/<uuid:account_id>/approve",
         summary="Approve a pending join request (group admin)", auth="resident",
         responses={200: MembershipSchema}, errors=(400, 403), tags=("groups",))
    def approve_member(self, request, group_id, account_id):
        principal = self.auth.resident(request)
        no_body(request)
        return ok(self.services.groups.approve_member(principal["account_id"], group_id,
                                                      account_id))

    @api("DELETE", "/groups/<uuid:group_id>/members/<uuid:account_id>",
         summary="Leave a group, or remove a member or request (group admin)",
         auth="resident", responses={204: None}, errors=(403,), tags=("groups",),
         description="When the last admin leaves, the longest-standing member becomes "
                     "admin (and is told: `admin_appointed`); when nobody is left, the "
                     "group gets `needs_admin: true` until staff appoint an admin.")
    def remove_member(self, request, group_id, account_id):
        principal = self.auth.resident(request)
        self.services.groups.remove_member(principal["account_id"], group_id, account_id)
        return no_content()

    @api("POST", "/groups/<uuid:group_id>/verify",
         summary="Verify an association or business (staff)", auth="staff",
         responses={200: GroupSchema}, errors=(400, 409), tags=("groups",),
         description="409 when the group is not an association or business, or is "
                     "verified already.")
    def verify_group(self, request, group_id):
        principal = self.auth.staff(request)
        no_body(request)
        return ok(self.services.groups.verify_group(principal["account_id"], group_id))

    @api("POST", "/groups/<uuid:group_id>/admins",
         summary="Appoint an admin of a group (staff)", auth="staff",
         body=AdminAppointSchema, responses={200: GroupSchema}, errors=(409,),
         tags=("groups",),
         description="The account becomes an active member with the admin role (and is "
                     "told); the group's `needs_admin` is cleared. Staff find the groups "
                     "waiting for one with `GET /groups?needs_admin=true`. 404 for an "
                     "unknown group or account; 409 when the account is erased or is an "
                     "admin of the group already.")
    def appoint_admin(self, request, group_id):
        principal = self.auth.staff(request)
        payload = load_body(request, AdminAppointSchema)
        return ok(self.services.groups.appoint_admin(principal["account_id"], group_id,
                                                     payload["account_id"]))

    @api("POST", "/groups/<uuid:group_id>/networks",
         summary="The group joins a network (group admin)", auth="resident",
         body=NetworkJoinSchema, responses={200: GroupSchema}, errors=(403, 409),
         tags=("groups",),
         description="Answers 200 with the group, now listing the network. 400 when "
                     "`network_id` is not a network; 409 when already in it.")
    def join_network(self, request, group_id):
        principal = self.auth.resident(request)
        payload = load_body(request, NetworkJoinSchema)
        return ok(self.services.groups.join_network(principal["account_id"], group_id,
                                                    payload["network_id"]))

    # --- staff --------------------------------------------------------------------------

    @api("GET", "/staff/health",
         summary="Each service: health, version, queue depth and consumers (staff)",
         auth="staff", responses={200: StaffHealthSchema}, tags=("staff",),
         description="A service that does not answer is `{\"status\": \"down\"}`; when "
                     "the RabbitMQ management API cannot be asked, `queues` is null and "
                     "`management.error` says why.")
    def staff_health(self, request):
        self.auth.staff(request)
        return ok(staff.system_health(self.services, DOMAIN_SERVICES,
                                      config.get("RABBIT_MANAGEMENT_URI"),
                                      config.get("AMQP_URI")))

    @api("GET", "/staff/dead-letters", summary="Messages no handler could handle (staff)",
         auth="staff", query=DeadLetterQuerySchema, responses={200: DeadLetterListSchema},
         tags=("staff",))
    def list_dead_letters(self, request):
        self.auth.staff(request)
        query = load_query(request, DeadLetterQuerySchema)
        from civic import deadletters  # imported when used: an optional kernel part
        items = deadletters.list_dead_letters(config.get("AMQP_URI"),
                                              limit=query["per_page"])
        return ok({"items": items, "total": len(items), "page": 1,
                   "per_page": query["per_page"]})

    @api("POST", "/staff/dead-letters/<dead_letter_id>/replay",
         summary="Send a dead letter back to its queue (staff)", auth="staff",
         responses={200: ANY_OBJECT}, errors=(400, 409), tags=("staff",),
         description="409 when the queue it failed on no longer exists.")
    def replay_dead_letter(self, request, dead_letter_id):
        self.auth.staff(request)
        no_body(request)
        if len(dead_letter_id) > _DEAD_LETTER_ID_MAX:
            raise NotFound("no such dead letter")
        from civic import deadletters
        return ok(deadletters.replay(config.get("AMQP_URI"), dead_letter_id))

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
