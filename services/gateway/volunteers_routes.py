"""The gateway's Volunteers routes: the skill list, volunteer profiles, the search for
volunteers and invitations (asked of the groups service), and events' volunteer roles
and offers (asked of the events service).

A mixin of `GatewayService` (nameko finds entrypoints on base classes too): it uses the
service's `auth` and `services` dependencies. The owning services decide who may do
what (403), what exists (404) and what the state allows (409).

An invitation to an event or a joint project names the inviting group: before groups
records it, the gateway asks the events (or proposals) service for the target and
checks that the group organises (or leads) it, that a role named is one of the event's,
and passes the target's title on (404 when any of this does not hold). The helpers of
an event carry names: the events service keeps none, the groups service gives them.
"""

from __future__ import annotations

from civic.errors import NotFound, Unavailable
from civic.log import get_logger
from services.events.api import (
    HelperListSchema,
    HelperQuerySchema,
    OfferResultSchema,
    RoleListSchema,
    RolesSetSchema,
)
from services.gateway.http import api, no_content, ok
from services.groups.api import (
    InvitationListQuerySchema,
    SkillCreateSchema,
    SkillListSchema,
    SkillSchema,
    VolunteerInvitationCreateSchema,
    VolunteerInvitationListSchema,
    VolunteerInvitationSchema,
    VolunteerListSchema,
    VolunteerProfileSaveSchema,
    VolunteerProfileSchema,
    VolunteerSearchQuerySchema,
)
from services.groups.api import PageQuerySchema as GroupPageQuerySchema

log = get_logger(__name__)

PROFILE = "/me/volunteer-profile"
MY_INVITATIONS = "/me/volunteer-invitations"
EVENT = "/events/<uuid:event_id>"
TAGS = ("volunteers",)


class VolunteerRoutes:
    """Entrypoints for volunteering; mixed into GatewayService."""

    # --- the skill list -----------------------------------------------------------------

    @api(
        "GET",
        "/volunteer-skills",
        summary="The skills volunteers choose from (kept by staff)",
        responses={200: SkillListSchema},
        tags=TAGS,
        description="Each with its Swedish and English name; retired skills are left out.",
    )
    def list_volunteer_skills(self, request):
        return ok(self.services.groups.list_volunteer_skills())

    @api(
        "POST",
        "/volunteer-skills",
        summary="Add a skill to the list (staff)",
        auth="staff",
        body=SkillCreateSchema,
        responses={201: SkillSchema},
        errors=(409,),
        tags=TAGS,
        description="409 when a skill with this key is on the list; a retired skill's "
        "key brings it back with the names given.",
    )
    def add_volunteer_skill(self, request, *, actor, body):
        return ok(self.services.groups.add_volunteer_skill(actor, body), 201)

    @api(
        "DELETE",
        "/volunteer-skills/<key>",
        summary="Retire a skill (staff)",
        auth="staff",
        responses={204: None},
        tags=TAGS,
        description="It is offered no more; profiles that chose it keep it until saved "
        "again. 404 when no such skill is on the list.",
    )
    def retire_volunteer_skill(self, request, key, *, actor):
        self.services.groups.retire_volunteer_skill(actor, key)
        return no_content()

    # --- one's profile ------------------------------------------------------------------

    @api(
        "GET",
        PROFILE,
        summary="One's volunteer profile",
        auth="resident",
        responses={200: VolunteerProfileSchema},
        errors=(404,),
        tags=TAGS,
        description="404 when the caller has none.",
    )
    def get_volunteer_profile(self, request, *, actor):
        return ok(self.services.groups.get_volunteer_profile(actor))

    @api(
        "PUT",
        PROFILE,
        summary="Offer help: create or replace one's volunteer profile",
        auth="resident",
        body=VolunteerProfileSaveSchema,
        responses={200: VolunteerProfileSchema},
        tags=TAGS,
        description="Skills are keys of GET /volunteer-skills (400 for others); at "
        "least one availability and one season. With `contact_ok` the admins "
        "of groups and staff may find one (never one's email address) and "
        "invite one through Civic.",
    )
    def save_volunteer_profile(self, request, *, actor, body):
        return ok(self.services.groups.save_volunteer_profile(actor, body))

    @api(
        "DELETE",
        PROFILE,
        summary="Remove one's volunteer profile",
        auth="resident",
        responses={204: None},
        errors=(404,),
        tags=TAGS,
        description="404 when the caller has none.",
    )
    def delete_volunteer_profile(self, request, *, actor):
        self.services.groups.delete_volunteer_profile(actor)
        return no_content()

    # --- search and invitations ---------------------------------------------------------

    @api(
        "GET",
        "/volunteers",
        summary="Search volunteers who agreed to be contacted (group admins, staff)",
        auth="resident",
        query=VolunteerSearchQuerySchema,
        responses={200: VolunteerListSchema},
        errors=(403,),
        tags=TAGS,
        description="By skill, availability, season and interest (each optional), by "
        "name. Only volunteers who agreed to be contacted; never an email "
        "address. 403 for anyone but staff and the admins of a group.",
    )
    def search_volunteers(self, request, *, actor, query):
        return ok(self.services.groups.search_volunteers(actor, **query))

    @api(
        "POST",
        "/volunteers/<uuid:account_id>/invitations",
        summary="Invite a volunteer to a group, an event or a joint project",
        auth="resident",
        body=VolunteerInvitationCreateSchema,
        responses={201: VolunteerInvitationSchema},
        errors=(403, 409),
        tags=TAGS,
        description="From an admin of `group_id` (or staff). The target is the group "
        "itself, an event it organises (optionally with one of the event's "
        "volunteer roles) or a joint project it leads. 404 when the volunteer "
        "did not agree to be contacted, or the target is not the group's; 409 "
        "when an invitation to the same target and role is pending, or the "
        "volunteer is a member of the group already. The volunteer is told.",
    )
    def invite_volunteer(self, request, account_id, *, actor, body):
        payload = dict(body)
        payload["target_title"] = self._invitation_target_title(actor, payload)
        return ok(self.services.groups.invite_volunteer(actor, str(account_id), payload), 201)

    def _invitation_target_title(self, actor, body) -> str | None:
        """The event's or project's title, once it is certain the group organises or
        leads it (and that a role named is the event's); None for a group."""
        target_type, target_id = body["target_type"], body["target_id"]
        if target_type == "group":
            return None
        if target_type == "event":
            event = self.services.events.get_event(actor, target_id)
            if event["organiser_group_id"] != body["group_id"]:
                raise NotFound("the group organises no such event")
            role_id = body.get("role_id")
            if role_id is not None and role_id not in {r["id"] for r in event.get("roles", [])}:
                raise NotFound("no such role at this event")
            return event["title"]
        project = self.services.proposals.get_project(actor, target_id)
        if project.get("lead_group_id") != body["group_id"]:
            raise NotFound("the group leads no such project")
        return project["title"]

    @api(
        "GET",
        MY_INVITATIONS,
        summary="One's invitations to volunteer, pending first",
        auth="resident",
        query=InvitationListQuerySchema,
        responses={200: VolunteerInvitationListSchema},
        tags=TAGS,
    )
    def list_my_volunteer_invitations(self, request, *, actor, query):
        return ok(self.services.groups.list_my_volunteer_invitations(actor, **query))

    @api(
        "POST",
        MY_INVITATIONS + "/<uuid:invitation_id>/accept",
        summary="Accept an invitation to volunteer",
        auth="resident",
        responses={200: VolunteerInvitationSchema},
        errors=(409,),
        tags=TAGS,
        description="A group's invitation makes one a member at once; an event's with a "
        "role gives one the role if a place is left. 404 for another's "
        "invitation; 409 when it was answered already.",
    )
    def accept_volunteer_invitation(self, request, invitation_id, *, actor):
        return ok(
            self.services.groups.answer_volunteer_invitation(actor, str(invitation_id), "accepted")
        )

    @api(
        "POST",
        MY_INVITATIONS + "/<uuid:invitation_id>/decline",
        summary="Decline an invitation to volunteer",
        auth="resident",
        responses={200: VolunteerInvitationSchema},
        errors=(409,),
        tags=TAGS,
        description="404 for another's invitation; 409 when it was answered already.",
    )
    def decline_volunteer_invitation(self, request, invitation_id, *, actor):
        return ok(
            self.services.groups.answer_volunteer_invitation(actor, str(invitation_id), "declined")
        )

    @api(
        "GET",
        "/groups/<uuid:group_id>/volunteer-invitations",
        summary="The invitations a group sent, with the answers (its admins, staff)",
        auth="resident",
        query=GroupPageQuerySchema,
        responses={200: VolunteerInvitationListSchema},
        errors=(403,),
        tags=TAGS,
        description="Newest first. 403 for anyone but the group's admins and staff.",
    )
    def list_group_volunteer_invitations(self, request, group_id, *, actor, query):
        return ok(
            self.services.groups.list_group_volunteer_invitations(actor, str(group_id), **query)
        )

    # --- an event's volunteer roles -----------------------------------------------------

    @api(
        "PUT",
        EVENT + "/roles",
        summary="Set an event's volunteer roles (organiser-group admin, staff)",
        auth="resident",
        body=RolesSetSchema,
        responses={200: RoleListSchema},
        errors=(403, 409),
        tags=TAGS,
        description="Replaces them all: a role is kept when named by its `id` (or its "
        "name), roles left out are removed. 409 when a role with offers "
        "would be removed or need fewer than it has, and for a cancelled or "
        "finished event.",
    )
    def set_event_roles(self, request, event_id, *, actor, body):
        return ok(self.services.events.set_roles(actor, str(event_id), body))

    @api(
        "GET",
        EVENT + "/helpers",
        summary="Who comes to help, by role (organiser-group admin, staff)",
        auth="resident",
        query=HelperQuerySchema,
        responses={200: HelperListSchema},
        errors=(403,),
        tags=TAGS,
    )
    def list_event_helpers(self, request, event_id, *, actor, query):
        page = self.services.events.list_helpers(actor, str(event_id), **query)
        ids = sorted({item["account_id"] for item in page["items"]})
        if ids:
            try:
                names = self.services.groups.get_accounts(ids)
            except Unavailable:
                log.warning("helper_names_unanswered")
                names = {}
            for item in page["items"]:
                item["display_name"] = (names.get(item["account_id"]) or {}).get("display_name")
        return ok(page)

    @api(
        "POST",
        EVENT + "/roles/<uuid:role_id>/offers",
        summary="Offer to help in a volunteer role",
        auth="resident",
        responses={201: OfferResultSchema},
        errors=(409,),
        tags=TAGS,
        description="409 when the role is full, when one offered already, and for a "
        "cancelled or finished event.",
    )
    def offer_help(self, request, event_id, role_id, *, actor):
        return ok(self.services.events.offer_help(actor, str(event_id), str(role_id)), 201)

    @api(
        "DELETE",
        EVENT + "/roles/<uuid:role_id>/offers/mine",
        summary="Withdraw one's offer to help",
        auth="resident",
        responses={204: None},
        tags=TAGS,
        description="404 when one has not offered for this role.",
    )
    def withdraw_offer(self, request, event_id, role_id, *, actor):
        self.services.events.withdraw_offer(actor, str(event_id), str(role_id))
        return no_content()
