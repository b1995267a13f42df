"""The gateway's Groups routes (API.md), asked of the groups service.

A mixin of `GatewayService` (nameko finds entrypoints on base classes too): it uses the
service's `auth` and `services` dependencies. Each route's declaration says who may call
it and the schemas of its input, which the handler enforces (see `http`); the route hands
the groups service the actor `{account_id, is_staff, display_name}`. The groups service
decides what the caller may do (403: a group's admins approve and remove members, and
join networks), what exists (404) and what the group's state allows (409); a groups
service that does not answer in time is a 503.

Extensions beyond API.md: POST /groups/{id}/admins (staff appoint an admin of a group
left without one), GET /groups?needs_admin=true (the groups waiting for one) and
GET /groups/{id}/members (who is in it; its admins also see the requests to join),
GET /groups?awaiting_verification=true (the organisations waiting for staff) and
POST /groups/{id}/verification-refusal (staff refuse to verify one, with a reason).
"""

from __future__ import annotations

from services.gateway.http import api, no_content, ok
from services.groups.api import (
    AdminAppointSchema,
    GroupCreateSchema,
    GroupListQuerySchema,
    GroupListSchema,
    GroupSchema,
    JoinResultSchema,
    MemberListQuerySchema,
    MemberListSchema,
    MembershipSchema,
    NetworkJoinSchema,
    VerificationRefusalSchema,
)

GROUP = "/groups/<uuid:group_id>"
TAGS = ("groups",)


class GroupRoutes:
    """Entrypoints for /groups (but for a group's events and openings, which are in
    `events_routes` and `openings_routes`); mixed into GatewayService."""

    # --- reading ------------------------------------------------------------------------

    @api(
        "GET",
        "/groups",
        summary="Groups, by kind",
        query=GroupListQuerySchema,
        responses={200: GroupListSchema},
        tags=TAGS,
        description="`needs_admin=true`: the groups left without a member, for staff "
        "to appoint an admin (POST /groups/{id}/admins). `awaiting_verification=true`: "
        "the associations and businesses staff have neither verified nor refused, the "
        "longest waiting first; `verification_refused=true`: those staff refused.",
    )
    def list_groups(self, request, *, query):
        return ok(self.services.groups.list_groups(**query))

    @api(
        "GET",
        GROUP,
        summary="A group with its member count, admins and networks",
        responses={200: GroupSchema},
        tags=TAGS,
    )
    def get_group(self, request, group_id):
        return ok(self.services.groups.get_group(group_id))

    @api(
        "GET",
        GROUP + "/members",
        summary="A group's members with their roles (members and staff)",
        auth="resident",
        query=MemberListQuerySchema,
        responses={200: MemberListSchema},
        errors=(403,),
        tags=TAGS,
        description="The group's admins and staff also see the requests to join "
        "(`status: pending`), first. 403 for anyone who is not an active member.",
    )
    def list_members(self, request, group_id, *, actor, query):
        return ok(self.services.groups.list_members(actor, group_id, **query))

    # --- creating and joining -----------------------------------------------------------

    @api(
        "POST",
        "/groups",
        summary="Create a group; its creator is its admin",
        auth="resident",
        body=GroupCreateSchema,
        responses={201: GroupSchema},
        errors=(409,),
        tags=TAGS,
        description="Associations and businesses start unverified. 409 when a group "
        "of that name exists.",
    )
    def create_group(self, request, *, actor, body):
        return ok(self.services.groups.create_group(actor, body), 201)

    @api(
        "POST",
        GROUP + "/members",
        summary="Join a group",
        auth="resident",
        responses={201: JoinResultSchema, 202: JoinResultSchema},
        errors=(400, 409),
        tags=TAGS,
        description="201 with status `member` for an open group; 202 with status "
        "`pending` (a request its admins approve) for a closed one. 409 when "
        "already a member or already waiting.",
    )
    def join_group(self, request, group_id, *, actor):
        result = self.services.groups.join_group(actor, group_id)
        return ok(result, 201 if result["status"] == "member" else 202)

    @api(
        "POST",
        GROUP + "/members/<uuid:account_id>/approve",
        summary="Approve a pending join request (group admin)",
        auth="resident",
        responses={200: MembershipSchema},
        errors=(400, 403),
        tags=TAGS,
    )
    def approve_member(self, request, group_id, account_id, *, actor):
        return ok(self.services.groups.approve_member(actor, group_id, account_id))

    @api(
        "DELETE",
        GROUP + "/members/<uuid:account_id>",
        summary="Leave a group, or remove a member or request (group admin)",
        auth="resident",
        responses={204: None},
        errors=(403,),
        tags=TAGS,
        description="When the last admin leaves, the longest-standing member becomes "
        "admin (and is told: `admin_appointed`); when nobody is left, the "
        "group gets `needs_admin: true` until staff appoint an admin.",
    )
    def remove_member(self, request, group_id, account_id, *, actor):
        self.services.groups.remove_member(actor, group_id, account_id)
        return no_content()

    @api(
        "POST",
        GROUP + "/networks",
        summary="The group joins a network (group admin)",
        auth="resident",
        body=NetworkJoinSchema,
        responses={200: GroupSchema},
        errors=(403, 409),
        tags=TAGS,
        description="Answers 200 with the group, now listing the network. 400 when "
        "`network_id` is not a network; 409 when already in it.",
    )
    def join_network(self, request, group_id, *, actor, body):
        return ok(self.services.groups.join_network(actor, group_id, body["network_id"]))

    # --- staff --------------------------------------------------------------------------

    @api(
        "POST",
        GROUP + "/verify",
        summary="Verify an association or business (staff)",
        auth="staff",
        responses={200: GroupSchema},
        errors=(400, 409),
        tags=TAGS,
        description="409 when the group is not an association or business, or is verified already.",
    )
    def verify_group(self, request, group_id, *, actor):
        return ok(self.services.groups.verify_group(actor, group_id))

    @api(
        "POST",
        GROUP + "/verification-refusal",
        summary="Refuse to verify an association or business, with a reason (staff)",
        auth="staff",
        body=VerificationRefusalSchema,
        responses={200: GroupSchema},
        errors=(409,),
        tags=TAGS,
        description="The group's admins are told the reason "
        "(`group_verification_refused`); the group leaves "
        "`GET /groups?awaiting_verification=true` and may still be verified later. "
        "409 when the group is not an association or business, is verified already, "
        "or was refused already.",
    )
    def refuse_group_verification(self, request, group_id, *, actor, body):
        return ok(self.services.groups.refuse_group_verification(actor, group_id, body["reason"]))

    @api(
        "POST",
        GROUP + "/admins",
        summary="Appoint an admin of a group (staff)",
        auth="staff",
        body=AdminAppointSchema,
        responses={200: GroupSchema},
        errors=(409,),
        tags=TAGS,
        description="The account becomes an active member with the admin role (and is "
        "told); the group's `needs_admin` is cleared. Staff find the groups "
        "waiting for one with `GET /groups?needs_admin=true`. 404 for an "
        "unknown group or account; 409 when the account is erased or is an "
        "admin of the group already.",
    )
    def appoint_admin(self, request, group_id, *, actor, body):
        return ok(self.services.groups.appoint_admin(actor, group_id, body["account_id"]))
