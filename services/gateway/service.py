"""The gateway: Civic's HTTP edge, and the only service with HTTP entrypoints.

It owns nothing durable. Each entrypoint is declared once (`http.api`): the handler checks
who is calling (`auth`) and validates the input with the schemas that also document it
(`openapi`), then the route asks the owning service over RPC (which gives up after
CIVIC_RPC_TIMEOUT: 503, never a hang) and shapes the answer; errors become Civic's error
format (`errors`), every request gets a correlation id and an access line (`http`). The
gateway knows the other services only by their contracts (`services.<name>.api`).

The contract of the HTTP API is the OpenAPI document it serves (GET /api/v1/openapi.json),
built from the routes themselves; the README says what it adds to shared/API.md.

`GatewayService` is composed of one routes mixin per area (`*_routes.py`), with the
dependencies they share; the operations routes (health, metrics, this document) are here.
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from civic import config
from civic.errors import Forbidden
from civic.log import Tracing
from civic.rpc import Services
from civic.service import InstanceAnswers
from services.gateway import metrics, openapi
from services.gateway.accounts_routes import AccountRoutes
from services.gateway.auth import Authentication, ProcessLimits, confirmation_email_window
from services.gateway.consultations_routes import ConsultationRoutes
from services.gateway.events_routes import EventRoutes
from services.gateway.groups_routes import GroupRoutes
from services.gateway.http import api, ok, route
from services.gateway.notifications_routes import NotificationRoutes
from services.gateway.openings_routes import OpeningRoutes
from services.gateway.proposals_routes import ProposalRoutes
from services.gateway.revocations import Revocations
from services.gateway.schemas import ANY_OBJECT, LivenessSchema
from services.gateway.staff_routes import StaffRoutes
from services.gateway.volunteers_routes import VolunteerRoutes
from services.gateway.web.account_pages import AccountPages
from services.gateway.web.consultation_pages import ConsultationPages
from services.gateway.web.event_pages import EventPages
from services.gateway.web.group_pages import GroupPages
from services.gateway.web.handler import ProcessFormKeys, routing_error_page
from services.gateway.web.notification_pages import NotificationPages
from services.gateway.web.open_data_pages import OpenDataPages
from services.gateway.web.opening_pages import OpeningPages
from services.gateway.web.proposal_pages import ProposalPages
from services.gateway.web.site_pages import SitePages
from services.gateway.web.staff_consultation_pages import StaffConsultationPages
from services.gateway.web.staff_desk_pages import StaffDeskPages
from services.gateway.web.staff_org_pages import StaffOrgPages
from services.gateway.web.staff_pages import StaffConsolePages
from services.gateway.web.staff_report_pages import StaffReportPages
from services.gateway.web.staff_trace_pages import StaffTracePages
from services.gateway.web.staff_volunteer_pages import StaffVolunteerPages
from services.gateway.web.volunteer_pages import VolunteerPages


class GatewayService(
    AccountRoutes,
    GroupRoutes,
    ProposalRoutes,
    EventRoutes,
    OpeningRoutes,
    ConsultationRoutes,
    NotificationRoutes,
    StaffRoutes,
    VolunteerRoutes,
    SitePages,
    AccountPages,
    ProposalPages,
    GroupPages,
    EventPages,
    OpeningPages,
    ConsultationPages,
    NotificationPages,
    StaffConsolePages,
    StaffDeskPages,
    StaffOrgPages,
    StaffTracePages,
    StaffReportPages,
    StaffConsultationPages,
    OpenDataPages,
    VolunteerPages,
    StaffVolunteerPages,
):
    """The operations routes are here; every other route is in a mixin of its own module
    (`*_routes.py`), which uses the dependencies declared here."""

    name = "gateway"

    tracing = Tracing()
    # Answers civic.instances' questions: who runs, and its own log lines (the requests).
    instance = InstanceAnswers()
    services = Services()
    auth = Authentication()
    # Forgets cached sessions the groups service revoked, whichever gateway it was asked
    # through (its events, on a queue of this instance's own).
    revocations = Revocations()
    # Sign-ins and registrations are limited by the groups service, for every gateway.
    confirmation_email_limits = ProcessLimits(confirmation_email_window)
    form_keys = ProcessFormKeys()
    # Paths outside the API that no page matches: the website's 404 (see http.ApiWsgiApp).
    routing_error_page = staticmethod(routing_error_page)

    # --- operations ---------------------------------------------------------------------

    @route(
        "GET",
        "/healthz",
        summary="The gateway is alive (asks no other service)",
        responses={200: LivenessSchema},
        tags=("operations",),
        local=True,
    )
    def healthz(self, request):
        return ok({"status": "ok", "service": self.name})

    # own_auth: who may scrape depends on the client's address first — an allowed
    # network needs no token (and a bad one is not looked at), elsewhere only staff —
    # which no single auth level says; "optional" documents that a token may come.
    @route(
        "GET",
        "/metrics",
        summary="Prometheus metrics of the gateway",
        auth="optional",
        own_auth=True,
        responses={200: {"type": "string"}},
        content_type="text/plain",
        errors=(403, 503),
        tags=("operations",),
        local=True,
        description="For clients in CIVIC_METRICS_ALLOW (by default this machine: "
        "127.0.0.0/8 and ::1) and for staff (a bearer token) from "
        "anywhere; 403 for anyone else.",
    )
    def prometheus_metrics(self, request):
        if not metrics.may_scrape(
            request.remote_addr, config.get("CIVIC_METRICS_ALLOW", metrics.LOOPBACK)
        ):
            if "Authorization" not in request.headers:
                raise Forbidden("metrics are for staff and the networks in CIVIC_METRICS_ALLOW")
            self.auth.staff(request)
        body, content_type = metrics.exposition()
        return Response(body, status=200, content_type=content_type)

    @api(
        "GET",
        "/openapi.json",
        summary="This API, described in OpenAPI 3",
        responses={200: ANY_OBJECT},
        tags=("operations",),
        local=True,
    )
    def openapi_document(self, request):
        return ok(openapi.document(type(self)))
