"""The gateway's Openings for returnees routes (API.md), asked of the openings service.

A mixin of `GatewayService` (nameko finds entrypoints on base classes too): it uses the
service's `auth` and `services` dependencies. Each route's declaration says who may
call it and the schemas of its input, which the handler enforces (see `http`); the route
hands the openings service the actor (None for an anonymous reader). The
openings service decides who may do what (403: only admins of a verified business post,
only its admins close and read the interest list), what exists (404) and what the state
allows (409); an openings service that does not answer in time is a 503.

Public reads (`auth="optional"`) use `auth.reader`: a signed-in reader also learns
`interested_by_me` and, on their own business's openings, `is_admin` and
`interest_count`; while tokens cannot be checked, reading goes on as for anyone.
"""

from __future__ import annotations

from services.gateway.http import api, no_content, ok
from services.openings.api import (
    EMPLOYMENT_TYPES,
    SECTORS,
    ChoiceListSchema,
    InterestCreateSchema,
    InterestListSchema,
    InterestSchema,
    OpeningCreateSchema,
    OpeningListQuerySchema,
    OpeningListSchema,
    OpeningPageQuerySchema,
    OpeningSchema,
    ReturneeProfileSaveSchema,
    ReturneeProfileSchema,
)

OPENING = "/openings/<uuid:opening_id>"
PROFILE = "/me/returnee-profile"
TAGS = ("openings",)


def _choices(values) -> dict:
    return {"items": list(values), "total": len(values), "page": 1, "per_page": len(values)}


class OpeningRoutes:
    """Entrypoints for /openings and /me/returnee-profile; mixed into GatewayService."""

    # --- the fixed lists ----------------------------------------------------------------

    @api(
        "GET",
        "/openings/sectors",
        summary="The fixed list of sectors of openings",
        responses={200: ChoiceListSchema},
        tags=TAGS,
        local=True,
        description="Answered by the gateway itself: the sectors are part of the API.",
    )
    def list_opening_sectors(self, request):
        return ok(_choices(SECTORS))

    @api(
        "GET",
        "/openings/employment-types",
        summary="The fixed list of employment types of openings",
        responses={200: ChoiceListSchema},
        tags=TAGS,
        local=True,
    )
    def list_employment_types(self, request):
        return ok(_choices(EMPLOYMENT_TYPES))

    # --- openings -----------------------------------------------------------------------

    @api(
        "GET",
        "/openings",
        summary="Open openings, newest first, paginated",
        auth="optional",
        query=OpeningListQuerySchema,
        responses={200: OpeningListSchema},
        tags=TAGS,
        description="Only openings still open (not closed, apply-by day not over); "
        "filtered by `sector` and `employment_type`.",
    )
    def list_openings(self, request, *, actor, query):
        return ok(self.services.openings.list_openings(actor, **query))

    @api(
        "POST",
        "/openings",
        summary="Post an opening (admin of a verified business)",
        auth="resident",
        body=OpeningCreateSchema,
        responses={201: OpeningSchema},
        errors=(403,),
        tags=TAGS,
        description="403 when the business is not verified yet, or the caller is not "
        "one of its admins; 400 (with `fields`) for bad input, an unknown "
        "group or one that is not a business, and an `apply_by` before "
        "today. Every returnee whose profile matches is told.",
    )
    def post_opening(self, request, *, actor, body):
        return ok(self.services.openings.post_opening(actor, body), 201)

    @api(
        "GET",
        OPENING,
        summary="One opening, whatever its status",
        auth="optional",
        responses={200: OpeningSchema},
        tags=TAGS,
    )
    def get_opening(self, request, opening_id, *, actor):
        return ok(self.services.openings.get_opening(actor, opening_id))

    @api(
        "POST",
        OPENING + "/close",
        summary="Close an opening (admin of its business)",
        auth="resident",
        responses={200: OpeningSchema},
        errors=(403, 409),
        tags=TAGS,
        description="409 when it is closed or expired already.",
    )
    def close_opening(self, request, opening_id, *, actor):
        return ok(self.services.openings.close_opening(actor, opening_id))

    @api(
        "GET",
        "/groups/<uuid:group_id>/openings",
        summary="A business's openings, newest first",
        auth="optional",
        query=OpeningPageQuerySchema,
        responses={200: OpeningListSchema},
        tags=TAGS,
        description="Every opening, whatever its status, for the business's admins; "
        "the open ones for everyone else.",
    )
    def list_group_openings(self, request, group_id, *, actor, query):
        return ok(self.services.openings.list_group_openings(actor, group_id, **query))

    # --- interest -----------------------------------------------------------------------

    @api(
        "POST",
        OPENING + "/interest",
        summary="Express interest in an opening",
        auth="resident",
        body=InterestCreateSchema,
        responses={201: InterestSchema},
        errors=(409,),
        tags=TAGS,
        description="Once per opening (409 the second time), while it is open (409 "
        "once closed or expired). The business's admins are told; only "
        "they read the message.",
    )
    def register_interest(self, request, opening_id, *, actor, body):
        return ok(self.services.openings.register_interest(actor, opening_id, body), 201)

    @api(
        "GET",
        OPENING + "/interest",
        summary="Who expressed interest, with their messages (the business's admins)",
        auth="resident",
        query=OpeningPageQuerySchema,
        responses={200: InterestListSchema},
        errors=(403,),
        tags=TAGS,
        description="Newest first. 403 for everyone but the business's admins.",
    )
    def list_interest(self, request, opening_id, *, actor, query):
        return ok(self.services.openings.list_interest(actor, opening_id, **query))

    # --- returnee profile ---------------------------------------------------------------

    @api(
        "GET",
        PROFILE,
        summary="One's returnee profile",
        auth="resident",
        responses={200: ReturneeProfileSchema},
        errors=(404,),
        tags=TAGS,
        description="404 when the caller has none.",
    )
    def get_returnee_profile(self, request, *, actor):
        return ok(self.services.openings.get_profile(actor))

    @api(
        "PUT",
        PROFILE,
        summary="Create or replace one's returnee profile",
        auth="resident",
        body=ReturneeProfileSaveSchema,
        responses={200: ReturneeProfileSchema},
        tags=TAGS,
        description="From then on the returnee is told of every new opening that "
        "matches (sector, employment type, available by its start date), "
        "and at once of matching openings already open.",
    )
    def save_returnee_profile(self, request, *, actor, body):
        return ok(self.services.openings.save_profile(actor, body))

    @api(
        "DELETE",
        PROFILE,
        summary="Remove one's returnee profile",
        auth="resident",
        responses={204: None},
        errors=(404,),
        tags=TAGS,
        description="No more matches are announced. 404 when the caller has none.",
    )
    def delete_returnee_profile(self, request, *, actor):
        self.services.openings.delete_profile(actor)
        return no_content()
