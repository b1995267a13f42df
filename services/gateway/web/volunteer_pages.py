"""The website's pages: Volunteers ("Ställer du upp?", issue 16): one's offer of help
(the volunteer profile) and one's invitations, and the search for volunteers with the
invitation form, for the admins of groups (event organisers are admins of the
organising group) and staff. An invitation is to the group itself, to one of its upcoming
events (as a whole or in one of the event's volunteer roles) or to a joint project it
leads; one's own invitations name the event's role, which the events service keeps (the
groups service records only its id).

A mixin of `GatewayService`; see `handler.web` for what a page declaration does. Every
call asks the groups service (the events service for the events a group organises, the
proposals service for the joint projects it leads) exactly as the API's routes do
(`volunteers_routes.py`, whose target check the invitation form shares); who may search
and invite is decided there — the page only chooses what to offer. An event's volunteer roles, the
offers and the helpers are on the event's page (`event_pages.py`).

Privacy as in the groups service: the search shows only volunteers who agreed to be
contacted, never an email address; contact is an invitation through Civic.
"""

from __future__ import annotations

from urllib.parse import urlencode

from civic.clock import utcnow
from civic.contracts import VOLUNTEER_AVAILABILITY, VOLUNTEER_INTERESTS, VOLUNTEER_SEASONS
from civic.errors import Conflict, Forbidden, NotFound, ValidationError
from services.gateway.web.forms import FormState, empty_form, error_message, submitted_form
from services.gateway.web.handler import Missing, Page, web
from services.groups.api import VolunteerSearchQuerySchema

SEARCH_PAGE_SIZE = 20
INVITATIONS_SHOWN = 50
# Upcoming events and joint projects of each administered group offered as an
# invitation's target.
EVENT_CHOICES = 50
PROJECT_CHOICES = 50
# A joint project still to be done or under way; a finished one asks for nobody.
OPEN_PROJECT_STATUSES = ("planned", "active")
# Events whose roles are looked up to name the role of one's invitations, at most.
ROLE_LOOKUPS = 20
CHOICE_FIELDS = ("skills", "availability", "seasons", "interests")
SEARCH_FILTERS = ("skill", "availability", "season", "interest")
# The invitation's fields the form shows as one choice ("target").
TARGET_FIELDS = {"group_id": "target", "target_type": "target", "target_id": "target"}
TARGET_FIELDS["role_id"] = "target"


def _(message: str) -> str:
    """Marks a message id for extraction; translated where it is shown."""
    return message


# A list of checkboxes that the groups service refused (none ticked, or not a choice).
CHOICE_MESSAGES = {
    "skills": _("Choose skills from the list."),
    "availability": _("Choose at least one time when you can help."),
    "seasons": _("Choose at least one season."),
    "interests": _("Choose from the areas on the list."),
    "contact_ok": _("Choose yes or no."),
}
# Why the groups service refused an invitation or an answer, in the visitor's words.
REFUSALS = {
    "an invitation to this is pending already": _(
        "This volunteer has an unanswered invitation to this already."
    ),
    "the volunteer is a member of the group already": _(
        "This volunteer is a member of the group already."
    ),
    "no such volunteer who agreed to be contacted": _(
        "This volunteer can no longer be contacted through Civic."
    ),
    "the group organises no such event": _("Choose one of your groups' events."),
    "the group leads no such project": _("Choose a joint project that your group leads."),
    "no such role at this event": _("That role is no longer at the event."),
    "only an admin of the group, or staff, may invite for it": _(
        "Only the admins of a group invite volunteers for it."
    ),
    "the invitation was accepted already": _("You have accepted this invitation already."),
    "the invitation was declined already": _("You have declined this invitation already."),
    "the invitation was answered already": _("This invitation is answered already."),
    "no such invitation": _("There is no such invitation for you."),
}


class VolunteerPages:
    """Pages of this area; mixed into GatewayService."""

    # --- one's offer of help and one's invitations ----------------------------------

    @web("GET", "/volunteer", auth="resident")
    def web_volunteer(self, page: Page):
        parts = self._volunteer_parts(page)
        profile = parts["profile"]
        values = {"contact_ok": "yes"}
        if profile:
            values = {
                "skills": profile["skills"],
                "other_skills": profile.get("other_skills") or "",
                "availability": profile["availability"],
                "seasons": profile["seasons"],
                "interests": profile["interests"],
                "contact_ok": "yes" if profile["contact_ok"] else "no",
            }
        return self._volunteer_page(page, parts, empty_form(page, **values))

    @web("POST", "/volunteer", auth="resident")
    def web_volunteer_save(self, page: Page):
        form = page.form
        payload = {name: form.getlist(name) for name in CHOICE_FIELDS}
        payload["other_skills"] = form.get("other_skills", "")
        contact = form.get("contact_ok", "")
        if contact in ("yes", "no"):
            payload["contact_ok"] = contact == "yes"
        try:
            self.services.groups.save_volunteer_profile(page.actor, payload)
        except ValidationError as error:
            state = submitted_form(page, _in_site_words(page, error))
            for name in CHOICE_FIELDS:
                state.values[name] = form.getlist(name)
            parts = self._volunteer_parts(page)
            return self._volunteer_page(page, parts, state, status=400)
        if payload.get("contact_ok"):
            notice = page.gettext(
                "Thank you for offering to help! Working groups and organisers may now "
                "invite you through Civic; you answer each invitation here."
            )
        else:
            notice = page.gettext(
                "Thank you for offering to help! Nobody can find you in the search until "
                "you allow working groups to contact you."
            )
        return page.redirect("/volunteer", notice=notice)

    @web("POST", "/volunteer/delete", auth="resident")
    def web_volunteer_delete(self, page: Page):
        try:
            self.services.groups.delete_volunteer_profile(page.actor)
        except NotFound:
            pass  # gone already: what was asked for is so
        return page.redirect(
            "/volunteer",
            notice=page.gettext(
                "Your offer to help is removed. Nobody can find you in the search any longer."
            ),
        )

    @web("POST", "/volunteer/invitations/<uuid:invitation_id>/accept", auth="resident")
    def web_volunteer_accept(self, page: Page, invitation_id):
        return self._answer(page, invitation_id, "accepted")

    @web("POST", "/volunteer/invitations/<uuid:invitation_id>/decline", auth="resident")
    def web_volunteer_decline(self, page: Page, invitation_id):
        return self._answer(page, invitation_id, "declined")

    def _answer(self, page: Page, invitation_id, answer: str):
        back = "/volunteer#invitations"
        try:
            invitation = self.services.groups.answer_volunteer_invitation(
                page.actor, str(invitation_id), answer
            )
        except (Conflict, NotFound) as error:
            return page.redirect(back, notice=_refusal(page, error))
        if answer == "declined":
            notice = page.gettext("You declined the invitation. The group is told.")
        elif invitation["target_type"] == "group":
            notice = page.gettext(
                "You accepted the invitation: you are a member of %(group)s now.",
                group=invitation.get("group_name") or invitation["target_title"],
            )
        else:
            role = self._invitation_roles(page, {"items": [invitation]}).get(invitation["id"])
            if role:
                notice = page.gettext(
                    "You accepted the invitation to %(title)s as %(role)s. The group is told.",
                    title=invitation["target_title"],
                    role=role,
                )
            else:
                notice = page.gettext(
                    "You accepted the invitation to %(title)s. The group is told.",
                    title=invitation["target_title"],
                )
        return page.redirect(back, notice=notice)

    def _volunteer_parts(self, page: Page) -> dict:
        actor = page.actor
        calls = {
            "profile": lambda: self.services.groups.get_volunteer_profile(actor),
            "skills": lambda: self.services.groups.list_volunteer_skills(),
            "invitations": lambda: self.services.groups.list_my_volunteer_invitations(
                actor, per_page=INVITATIONS_SHOWN
            ),
        }
        parts = page.gather(**calls)
        profile = parts["profile"]
        if isinstance(profile, Missing):
            if not isinstance(profile.error, NotFound):
                raise profile.error  # not known whether one has a profile: no form
            parts["profile"] = None
        if isinstance(parts["skills"], Missing):
            raise parts["skills"].error  # the form cannot be shown without its list
        parts["roles"] = self._invitation_roles(page, parts["invitations"])
        return parts

    def _invitation_roles(self, page: Page, invitations) -> dict[str, str]:
        """The name of the role each invitation to an event's role is for (invitation
        id → name), asked of the events service in one round: the groups service keeps
        only the role's id. A role that is gone, or an event that cannot be asked now,
        leaves its invitation without a role's name."""
        if not invitations:  # none, or not answered (a Missing is false)
            return {}
        with_role = [
            invitation
            for invitation in invitations["items"]
            if invitation["target_type"] == "event" and invitation.get("role_id")
        ]
        # Pending invitations come first in the list: their roles are the ones asked for.
        event_ids = list(dict.fromkeys(invitation["target_id"] for invitation in with_role))
        if not event_ids:
            return {}
        actor, events = page.actor, self.services.events
        found = page.gather(
            **{
                event_id: (lambda event_id=event_id: events.get_event(actor, event_id))
                for event_id in event_ids[:ROLE_LOOKUPS]
            }
        )
        names = {
            role["id"]: role["name"]
            for event in found.values()
            if not isinstance(event, Missing)
            for role in event.get("roles") or ()
        }
        return {
            invitation["id"]: names[invitation["role_id"]]
            for invitation in with_role
            if invitation["role_id"] in names
        }

    def _volunteer_page(self, page: Page, parts: dict, form: FormState, status: int = 200):
        return page.render(
            "volunteers/profile.html",
            status=status,
            form=form,
            profile=parts["profile"],
            skill_options=_skill_options(page, parts["skills"]),
            invitations=parts["invitations"],
            invitation_roles=parts["roles"],
            availability_values=VOLUNTEER_AVAILABILITY,
            season_values=VOLUNTEER_SEASONS,
            interest_values=VOLUNTEER_INTERESTS,
        )

    # --- the search (group admins, staff) -------------------------------------------

    @web("GET", "/volunteers", auth="resident")
    def web_volunteers(self, page: Page):
        return self._search_page(page)

    @web("POST", "/volunteers/<uuid:account_id>/invite", auth="resident")
    def web_volunteer_invite(self, page: Page, account_id):
        form = page.form
        target = _parse_target(form.get("target", ""))
        back = "/volunteers" + _query_string(form.get("back", ""))
        if target is None:
            error = ValidationError(
                "the input is not valid",
                fields={"target": [page.gettext("Choose what you invite the volunteer to.")]},
            )
            return self._search_page(page, refused=(str(account_id), error))
        payload = {**target, "message": form.get("message", "")}
        try:
            # An event's or project's title, once it is certain the group organises or
            # leads it (and that a role is the event's): the API route's own check
            # (volunteers_routes.py).
            payload["target_title"] = self._invitation_target_title(page.actor, payload)
            answer = self.services.groups.invite_volunteer(page.actor, str(account_id), payload)
        except (ValidationError, Conflict, NotFound, Forbidden) as error:
            return self._search_page(page, refused=(str(account_id), error))
        return page.redirect(
            back,
            notice=page.gettext(
                "The invitation to %(title)s is sent to %(name)s. You are told of the answer.",
                title=answer["target_title"],
                name=answer.get("volunteer_name") or "",
            ),
        )

    def _search_page(self, page: Page, refused: tuple[str, Exception] | None = None):
        if refused is None:
            query, bad_filters = page.load_args(
                VolunteerSearchQuerySchema, per_page=SEARCH_PAGE_SIZE
            )
        else:  # the search as it was when the invitation form was sent
            query, bad_filters = _query_from_back(page)
        actor = page.actor
        parts = page.gather(
            found=lambda: self.services.groups.search_volunteers(actor, **query),
            # Retired skills too: a volunteer keeps one until they save their offer again,
            # and their card names it (the filter offers only the list's).
            skills=lambda: self.services.groups.list_volunteer_skills(include_retired=True),
            me=lambda: self.services.groups.get_me(actor),
        )
        found = parts["found"]
        if isinstance(found, Missing):
            if isinstance(found.error, Forbidden):
                refusal = Forbidden("only staff and group admins search for volunteers")
                refusal.visitor_message = page.gettext(
                    "Only the admins of a working group or another group, event organisers "
                    "and staff search for volunteers. Would you like to help yourself? "
                    "Offer your help on the page Will you help?"
                )
                raise refusal
            raise found.error
        groups = _administered_groups(parts["me"])
        events, projects, targets_missing = self._targets_of(page, groups)
        skills = parts["skills"] if not isinstance(parts["skills"], Missing) else None
        invite_forms = {}
        status = 200
        if refused is not None:
            account_id, error = refused
            state = submitted_form(page, error, names=TARGET_FIELDS)
            if not isinstance(error, ValidationError):
                state.errors = {"_form": [_refusal(page, error)]}
            invite_forms[account_id] = state
            status = error.status if 400 <= error.status < 500 else 400
        kept = {name: query[name] for name in SEARCH_FILTERS if query.get(name)}
        return page.render(
            "volunteers/search.html",
            status=status,
            query=query,
            refused=bad_filters,
            found=found,
            filtered=bool(kept),
            back=urlencode({**kept, "page": query["page"]}),
            page_base="/volunteers?" + urlencode(kept) + ("&" if kept else ""),
            skill_options=_skill_options(page, skills, active_only=True),
            skill_names=dict(_skill_options(page, skills)),
            availability_values=VOLUNTEER_AVAILABILITY,
            season_values=VOLUNTEER_SEASONS,
            interest_values=VOLUNTEER_INTERESTS,
            target_options=_target_options(page, groups, events, projects),
            groups_missing=isinstance(parts["me"], Missing),
            targets_missing=targets_missing,
            invite_forms=invite_forms,
        )

    def _targets_of(self, page: Page, groups: list[dict]) -> tuple[dict, dict, bool]:
        """The upcoming events and the open joint projects each administered group
        organises or leads (group id → list of each), in one round of calls; and
        whether any of those calls went unanswered (its choices are then left out)."""
        if not groups:
            return {}, {}, False
        actor, now = page.actor, utcnow()
        calls = {}
        for group in groups:
            gid = group["group_id"]
            calls[f"events:{gid}"] = lambda gid=gid: self.services.events.list_events(
                actor, starts_from=now, group_id=gid, per_page=EVENT_CHOICES
            )
            calls[f"projects:{gid}"] = lambda gid=gid: self.services.proposals.list_projects(
                actor, group_id=gid, per_page=PROJECT_CHOICES
            )
        found = page.gather(**calls)
        events, projects, missing = {}, {}, False
        for name, answer in found.items():
            kind, gid = name.split(":", 1)
            if isinstance(answer, Missing):
                missing = True
            elif kind == "events":
                events[gid] = answer["items"]
            else:
                # The listing also has the projects the group is only a partner of.
                projects[gid] = [
                    project
                    for project in answer["items"]
                    if project.get("lead_group_id") == gid
                    and project.get("status") in OPEN_PROJECT_STATUSES
                ]
        return events, projects, missing


# --- helpers ------------------------------------------------------------------------------


def _skill_options(page: Page, skills, active_only: bool = False) -> list[tuple[str, str]]:
    """(key, name) of the skills listed, in the page's language, by name; `active_only`:
    leave out those taken off the list."""
    if not skills:
        return []
    name = "name_sv" if page.lang == "sv" else "name_en"
    return sorted(
        (
            (skill["key"], skill[name])
            for skill in skills["items"]
            if not active_only or skill["active"]
        ),
        key=lambda item: item[1].casefold(),
    )


def _administered_groups(me) -> list[dict]:
    if not me:
        return []
    return sorted(
        (
            membership
            for membership in me.get("memberships", ())
            if membership.get("role") == "admin" and membership.get("status") == "active"
        ),
        key=lambda membership: (membership.get("group_name") or "").casefold(),
    )


def _target_options(
    page: Page, groups: list[dict], events: dict, projects: dict
) -> list[tuple[str, list]]:
    """The invitation form's choices, grouped by the inviting group: the group itself,
    each of its upcoming events (as a whole, and each of its volunteer roles) and each
    open joint project it leads. A value is `group:<group>`, `event:<group>:<event>`,
    `event:<group>:<event>:<role>` or `project:<group>:<project>`."""
    grouped = []
    for group in groups:
        gid, name = group["group_id"], group.get("group_name") or ""
        choices = [(f"group:{gid}", page.gettext("Join %(group)s", group=name))]
        for event in events.get(gid, ()):
            if event.get("status") != "scheduled":
                continue
            choices.append((f"event:{gid}:{event['id']}", event["title"]))
            for role in event.get("roles") or ():
                choices.append(
                    (
                        f"event:{gid}:{event['id']}:{role['id']}",
                        page.gettext(
                            "%(event)s, as %(role)s", event=event["title"], role=role["name"]
                        ),
                    )
                )
        for project in projects.get(gid, ()):
            choices.append(
                (
                    f"project:{gid}:{project['id']}",
                    page.gettext("Joint project: %(project)s", project=project["title"]),
                )
            )
        grouped.append((name, choices))
    return grouped


def _parse_target(value: str) -> dict | None:
    parts = value.split(":")
    if len(parts) == 2 and parts[0] == "group" and parts[1]:
        return {"group_id": parts[1], "target_type": "group", "target_id": parts[1]}
    if len(parts) in (3, 4) and parts[0] == "event" and all(parts[1:]):
        target = {"group_id": parts[1], "target_type": "event", "target_id": parts[2]}
        if len(parts) == 4:
            target["role_id"] = parts[3]
        return target
    if len(parts) == 3 and parts[0] == "project" and all(parts[1:]):
        return {"group_id": parts[1], "target_type": "project", "target_id": parts[2]}
    return None


def _query_string(back: str) -> str:
    """The search's own query string, carried through the invitation form (only its
    known filters and page are kept)."""
    from urllib.parse import parse_qsl

    kept = [(k, v) for k, v in parse_qsl(back) if k in (*SEARCH_FILTERS, "page") and v]
    return ("?" + urlencode(kept)) if kept else ""


def _query_from_back(page: Page) -> tuple[dict, dict]:
    """The search as it was when the invitation form was sent (its `back` field)."""
    from urllib.parse import parse_qsl

    from civic.validation import load

    given = {
        k: v
        for k, v in parse_qsl(page.form.get("back", "") if page.form else "")
        if k in (*SEARCH_FILTERS, "page") and v
    }
    data = {"per_page": SEARCH_PAGE_SIZE, **given}
    try:
        return load(VolunteerSearchQuerySchema, data), {}
    except ValidationError:
        return load(VolunteerSearchQuerySchema, {"per_page": SEARCH_PAGE_SIZE}), {}


def _in_site_words(page: Page, error):
    """The groups service's refusal of a profile with the checkbox lists' messages in
    the site's words (marshmallow's general ones are translated by `forms`)."""
    if not isinstance(error, ValidationError) or not error.fields:
        return error
    fields = {}
    for name, messages in error.fields.items():
        if name in CHOICE_MESSAGES:
            fields[name] = [page.gettext(CHOICE_MESSAGES[name])]
        else:
            fields[name] = messages
    return ValidationError(error.message, fields=fields)


def _refusal(page: Page, error) -> str:
    for known, message in REFUSALS.items():
        if error.message == known:
            return page.gettext(message)
    return error_message(page, error)
