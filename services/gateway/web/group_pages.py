"""The website's pages: Groups (working groups, associations, businesses, networks) and
joint projects.

A mixin of `GatewayService`; see `handler.web` for what a page declaration does. Every
call asks the services exactly as the API's routes do (`groups_routes.py`,
`proposals_routes.py`, `events_routes.py`, `openings_routes.py`); what a resident may do
is decided there (who administers a group, who may approve, remove or register), the
page only shows the buttons that make sense for the visitor.

Who is a member or an admin of what comes from the groups service's `get_me` (the
visitor's memberships with their roles and statuses). A group's member list comes from
its `list_members`, which answers only the group's members (and staff), and also the
requests to join for its admins: anyone else sees the member count and the admins.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from civic.clock import iso, utcnow
from civic.errors import Conflict, EmailUnconfirmed, Forbidden, NotFound, ValidationError
from services.gateway.web.forms import FormState, empty_form, error_message, submitted_form
from services.gateway.web.handler import Missing, Page, web
from services.gateway.web.labels import label
from services.groups.api import GroupListQuerySchema
from services.proposals.api import ProjectListQuerySchema

GROUP = "/groups/<uuid:group_id>"
PROJECT = "/projects/<uuid:project_id>"
GROUP_KINDS = ("working_group", "association", "business", "network")
# Kinds whose groups Civic's staff verify (the others are trusted from the start).
VERIFIED_KINDS = frozenset({"association", "business"})
LIST_PAGE_SIZE = 20
# What a group's page shows of its events, openings and projects (with a link to all).
GROUP_PAGE_ITEMS = 5
# The service's largest page: every group of a small town, to name a project's partners
# and to offer partner groups in a form.
ALL_GROUPS = 100
MEMBERS_SHOWN = 100
# Mirror of the proposals service's project lifecycle, only to choose which steps to
# offer (the service decides, and answers a 409 when the page was out of date).
PROJECT_NEXT = {
    "planned": ("active", "cancelled"),
    "active": ("completed", "cancelled"),
}
PROJECT_OPEN = frozenset(PROJECT_NEXT)


def _call(function, *args, **kwargs):
    """A call for `page.gather`, its arguments bound now (not when it runs)."""
    return lambda: function(*args, **kwargs)


def _memberships(me) -> dict[str, dict]:
    """The visitor's memberships by group id (empty when signed out or unknown)."""
    if not me:
        return {}
    return {item["group_id"]: item for item in me.get("memberships") or ()}


def _administers(me, group_id: str) -> bool:
    mine = _memberships(me).get(group_id)
    return bool(mine and mine["status"] == "active" and mine["role"] == "admin")


def _admin_groups(me) -> list[dict]:
    """The groups the visitor administers: [{group_id, group_name, kind}]."""
    return [
        item
        for item in _memberships(me).values()
        if item["status"] == "active" and item["role"] == "admin"
    ]


def _sign_in_link(path: str) -> str:
    return "/signin?next=" + quote(path, safe="/")


class GroupPages:
    """Pages of this area; mixed into GatewayService."""

    # --- the lists -------------------------------------------------------------------

    @web("GET", "/groups")
    def web_group_list(self, page: Page):
        query, refused = page.load_args(GroupListQuerySchema, per_page=LIST_PAGE_SIZE)
        # Staff's questions (the console's), not the public list's.
        for staff_filter in ("needs_admin", "awaiting_verification", "verification_refused"):
            query.pop(staff_filter, None)
        actor = page.actor
        calls = {"groups": _call(self.services.groups.list_groups, **query)}
        if page.signed_in:
            calls["me"] = _call(self.services.groups.get_me, actor)
        parts = page.gather(**calls)
        kept = {"kind": query["kind"]} if query.get("kind") else {}
        if query["per_page"] != LIST_PAGE_SIZE:
            kept["per_page"] = query["per_page"]
        return page.render(
            "groups/list.html",
            query=query,
            refused=refused,
            kinds=GROUP_KINDS,
            verified_kinds=VERIFIED_KINDS,
            groups=parts["groups"],
            memberships=_memberships(parts.get("me")),
            page_base="/groups?" + urlencode(kept) + ("&" if kept else ""),
        )

    # --- a group ---------------------------------------------------------------------

    @web("GET", GROUP)
    def web_group(self, page: Page, group_id):
        actor = page.actor
        upcoming = iso(utcnow())
        calls = {
            "group": _call(self.services.groups.get_group, group_id),
            "events": _call(
                self.services.events.list_events,
                actor,
                starts_from=upcoming,
                group_id=group_id,
                per_page=GROUP_PAGE_ITEMS,
            ),
            "openings": _call(
                self.services.openings.list_group_openings,
                actor,
                group_id,
                per_page=GROUP_PAGE_ITEMS,
            ),
            "projects": _call(
                self.services.proposals.list_projects,
                actor,
                group_id=group_id,
                per_page=GROUP_PAGE_ITEMS,
            ),
        }
        if page.signed_in:
            calls["me"] = _call(self.services.groups.get_me, actor)
            calls["members"] = _call(
                self.services.groups.list_members, actor, group_id, per_page=MEMBERS_SHOWN
            )
        parts = page.gather(**calls)
        group = parts["group"]
        if isinstance(group, Missing):
            raise group.error
        me = parts.get("me")
        mine = _memberships(me).get(group["id"])
        members = parts.get("members")
        # Not a member: the service keeps the names to the group's members (not an outage).
        members_private = isinstance(members, Missing) and isinstance(members.error, Forbidden)
        is_admin = bool(mine and mine["status"] == "active" and mine["role"] == "admin")
        member_items = members["items"] if members else []
        return page.render(
            "groups/detail.html",
            group=group,
            me=me,
            mine=mine,
            is_admin=is_admin,
            members=members,
            members_private=members_private or not page.signed_in,
            active_members=[m for m in member_items if m["status"] == "active"],
            requests=[m for m in member_items if m["status"] == "pending"],
            events=parts["events"],
            openings=parts["openings"],
            projects=parts["projects"],
            verified_kinds=VERIFIED_KINDS,
            sign_in_here=_sign_in_link(f"/groups/{group['id']}"),
        )

    # --- joining and leaving ---------------------------------------------------------

    @web("POST", GROUP + "/join", auth="resident")
    def web_group_join(self, page: Page, group_id):
        here = f"/groups/{group_id}"
        try:
            joined = self.services.groups.join_group(page.actor, group_id)
        except (Conflict, EmailUnconfirmed) as error:
            return page.redirect(here, notice=error_message(page, error))
        if joined["status"] == "member":
            notice = page.gettext("Welcome! You are now a member of the group.")
        else:
            notice = page.gettext(
                "Your request to join was sent to the group's admins. You will hear when "
                "they have approved it."
            )
        return page.redirect(here, notice=notice)

    @web("POST", GROUP + "/leave", auth="resident")
    def web_group_leave(self, page: Page, group_id):
        """Leave the group, or withdraw one's request to join (the same call)."""
        here = f"/groups/{group_id}"
        withdrawing = page.form.get("request") == "withdraw"
        try:
            self.services.groups.remove_member(page.actor, group_id, page.account_id)
        except NotFound:
            self.services.groups.get_group(group_id)  # the group itself gone: 404 page
            return page.redirect(here, notice=page.gettext("You are not a member of this group."))
        if withdrawing:
            return page.redirect(here, notice=page.gettext("Your request to join was withdrawn."))
        return page.redirect(here, notice=page.gettext("You have left the group."))

    # --- admins: requests to join and members ----------------------------------------

    @web("POST", GROUP + "/members/<uuid:account_id>/approve", auth="resident")
    def web_group_member_approve(self, page: Page, group_id, account_id):
        here = f"/groups/{group_id}#requests"
        try:
            self.services.groups.approve_member(page.actor, group_id, account_id)
        except NotFound:
            self.services.groups.get_group(group_id)
            return page.redirect(
                here,
                notice=page.gettext(
                    "That request was already answered or withdrawn: nothing was changed."
                ),
            )
        return page.redirect(
            here, notice=page.gettext("The request was approved: they are now a member.")
        )

    @web("POST", GROUP + "/members/<uuid:account_id>/refuse", auth="resident")
    def web_group_member_refuse(self, page: Page, group_id, account_id):
        """Decline a request to join: the pending membership is removed."""
        here = f"/groups/{group_id}#requests"
        if not self._is_pending(page, group_id, account_id):
            return page.redirect(
                here,
                notice=page.gettext(
                    "That request was already answered or withdrawn: nothing was changed."
                ),
            )
        self._remove(page, group_id, account_id)
        return page.redirect(here, notice=page.gettext("The request to join was declined."))

    @web("POST", GROUP + "/members/<uuid:account_id>/remove", auth="resident")
    def web_group_member_remove(self, page: Page, group_id, account_id):
        here = f"/groups/{group_id}#members"
        if not self._remove(page, group_id, account_id):
            return page.redirect(
                here, notice=page.gettext("They were no longer a member: nothing was changed.")
            )
        return page.redirect(here, notice=page.gettext("The member was removed from the group."))

    def _remove(self, page: Page, group_id, account_id) -> bool:
        """remove_member as the API's DELETE does; False when there was nothing to remove."""
        try:
            self.services.groups.remove_member(page.actor, group_id, account_id)
        except NotFound:
            self.services.groups.get_group(group_id)
            return False
        return True

    def _is_pending(self, page: Page, group_id, account_id) -> bool:
        """Whether the account's membership is a request (so "decline" never removes a
        member who was approved meanwhile). Only admins may ask: anyone else is refused
        by the service (403 page), as the removal itself would be."""
        members = self.services.groups.list_members(page.actor, group_id, per_page=MEMBERS_SHOWN)
        return any(
            m["account_id"] == account_id and m["status"] == "pending" for m in members["items"]
        )

    # --- creating a group ------------------------------------------------------------

    @web("GET", "/groups/new", auth="resident")
    def web_group_new(self, page: Page):
        kind = page.args.get("kind")
        form = empty_form(page, kind=kind if kind in GROUP_KINDS else "", open="true")
        return page.render("groups/new.html", form=form, kinds=GROUP_KINDS)

    @web("POST", "/groups/new", auth="resident")
    def web_group_create(self, page: Page):
        form = page.form
        payload = {
            "name": form.get("name", ""),
            "kind": form.get("kind", ""),
            "description": form.get("description", ""),
            "open": form.get("open", "true"),
        }
        try:
            group = self.services.groups.create_group(page.actor, payload)
        except (ValidationError, Forbidden) as error:
            status = 403 if isinstance(error, Forbidden) else 400
            return page.render(
                "groups/new.html",
                status=status,
                form=submitted_form(page, error),
                kinds=GROUP_KINDS,
            )
        except Conflict:
            taken = ValidationError(
                "a group with this name already exists",
                fields={
                    "name": [
                        page.gettext(
                            "There is a group with this name already. Choose another name, "
                            "or join that group."
                        )
                    ]
                },
            )
            return page.render(
                "groups/new.html", status=409, form=submitted_form(page, taken), kinds=GROUP_KINDS
            )
        if group["kind"] in VERIFIED_KINDS:
            notice = page.gettext(
                "Your group was created and you are its admin. Civic's staff will verify it."
            )
        else:
            notice = page.gettext("Your group was created and you are its admin.")
        return page.redirect(f"/groups/{group['id']}", notice=notice)

    # --- joint projects: the list ----------------------------------------------------

    @web("GET", "/projects")
    def web_project_list(self, page: Page):
        query, refused = page.load_args(ProjectListQuerySchema, per_page=LIST_PAGE_SIZE)
        actor = page.actor
        calls = {"projects": _call(self.services.proposals.list_projects, actor, **query)}
        if query.get("group_id"):
            calls["group"] = _call(self.services.groups.get_group, query["group_id"])
        parts = page.gather(**calls)
        kept = {name: query[name] for name in ("status", "group_id") if query.get(name)}
        if query["per_page"] != LIST_PAGE_SIZE:
            kept["per_page"] = query["per_page"]
        return page.render(
            "projects/list.html",
            query=query,
            refused=refused,
            projects=parts["projects"],
            group=parts.get("group"),
            page_base="/projects?" + urlencode(kept) + ("&" if kept else ""),
        )

    # --- a joint project -------------------------------------------------------------

    @web("GET", PROJECT)
    def web_project(self, page: Page, project_id):
        return self._project_page(page, project_id)

    def _project_page(
        self, page: Page, project_id, status: int = 200, partner_form=None, status_form=None
    ):
        """The project's page; after a refused partner or status change, with that form's
        input and errors (`status` 400/403/409)."""
        actor = page.actor
        calls = {
            "project": _call(self.services.proposals.get_project, actor, project_id),
            "groups": _call(self.services.groups.list_groups, per_page=ALL_GROUPS),
        }
        if page.signed_in:
            calls["me"] = _call(self.services.groups.get_me, actor)
        parts = page.gather(**calls)
        project = parts["project"]
        if isinstance(project, Missing):
            raise project.error
        groups = parts["groups"]
        names = {group["id"]: group["name"] for group in groups["items"]} if groups else {}
        # What the project only names by id: a second round, only when there is any.
        related = {}
        if project.get("origin_proposal_id"):
            related["origin"] = _call(
                self.services.proposals.get_proposal, actor, project["origin_proposal_id"]
            )
        if groups:
            for group_id in project["partner_group_ids"]:
                if group_id not in names:
                    related[group_id] = _call(self.services.groups.get_group, group_id)
        found = page.gather(**related) if related else {}
        for group_id in project["partner_group_ids"]:
            if found.get(group_id):
                names[group_id] = found[group_id]["name"]
        partners = [
            {"id": group_id, "name": names.get(group_id)}
            for group_id in project["partner_group_ids"]
        ]
        me = parts.get("me")
        runs_it = page.is_staff or _administers(me, project["lead_group_id"])
        taken = {project["lead_group_id"], *project["partner_group_ids"]}
        partner_choices = (
            [(group["id"], group["name"]) for group in groups["items"] if group["id"] not in taken]
            if groups
            else []
        )
        return page.render(
            "projects/detail.html",
            status=status,
            project=project,
            partners=partners,
            origin=found.get("origin"),
            runs_it=runs_it,
            is_open=project["status"] in PROJECT_OPEN,
            next_statuses=PROJECT_NEXT.get(project["status"], ()),
            partner_choices=partner_choices,
            groups_known=bool(groups),
            partner_form=partner_form or empty_form(page),
            status_form=status_form or empty_form(page),
        )

    @web("POST", PROJECT + "/partners", auth="resident")
    def web_project_partner_add(self, page: Page, project_id):
        try:
            self.services.proposals.add_partner(
                page.actor, project_id, {"group_id": page.form.get("group_id", "")}
            )
        except (ValidationError, Conflict, Forbidden) as error:
            return self._project_page(
                page,
                project_id,
                status=error.status,
                partner_form=submitted_form(page, error),
            )
        return page.redirect(
            f"/projects/{project_id}#partners",
            notice=page.gettext("The partner group was added to the project."),
        )

    @web("POST", PROJECT + "/status", auth="resident")
    def web_project_status(self, page: Page, project_id):
        try:
            self.services.proposals.transition_project(
                page.actor, project_id, {"status": page.form.get("status", "")}
            )
        except (ValidationError, Conflict, Forbidden) as error:
            return self._project_page(
                page, project_id, status=error.status, status_form=submitted_form(page, error)
            )
        return page.redirect(
            f"/projects/{project_id}",
            notice=page.gettext("The project's status was changed."),
        )

    # --- registering a joint project -------------------------------------------------

    @web("GET", "/projects/new", auth="resident")
    def web_project_new(self, page: Page):
        proposal_id = page.args.get("proposal") or None
        values = {
            "origin_proposal_id": proposal_id or "",
            "lead_group_id": page.args.get("group", ""),
        }
        return self._project_form(page, empty_form(page, **values))

    @web("POST", "/projects/new", auth="resident")
    def web_project_register(self, page: Page):
        form = page.form
        payload = {
            "title": form.get("title", ""),
            "description": form.get("description", ""),
            "lead_group_id": form.get("lead_group_id", ""),
            "partner_group_ids": form.getlist("partner_group_ids"),
            "origin_proposal_id": form.get("origin_proposal_id") or None,
        }
        try:
            project = self.services.proposals.register_project(page.actor, payload)
        except (ValidationError, Forbidden) as error:
            state = submitted_form(page, error)
            state.values["partner_group_ids"] = form.getlist("partner_group_ids")
            return self._project_form(page, state, status=error.status)
        return page.redirect(
            f"/projects/{project['id']}",
            notice=page.gettext(
                "The joint project was registered. Its partner groups' members are told."
            ),
        )

    def _project_form(self, page: Page, form: FormState, status: int = 200):
        actor = page.actor
        calls = {
            "me": _call(self.services.groups.get_me, actor),
            "groups": _call(self.services.groups.list_groups, per_page=ALL_GROUPS),
        }
        proposal_id = form.value("origin_proposal_id")
        if proposal_id:
            calls["proposal"] = _call(self.services.proposals.get_proposal, actor, proposal_id)
        parts = page.gather(**calls)
        me, groups = parts["me"], parts["groups"]
        proposal = parts.get("proposal")
        if isinstance(proposal, Missing) and proposal.error.status in (400, 404):
            form.values["origin_proposal_id"] = ""  # a link to no proposal (or one gone)
            proposal = None
        if page.is_staff and groups:
            leads = [(group["id"], group["name"]) for group in groups["items"]]
        else:
            leads = sorted(
                ((item["group_id"], item["group_name"]) for item in _admin_groups(me)),
                key=lambda choice: choice[1].casefold(),
            )
        if len(leads) == 1 and not form.value("lead_group_id"):
            form.values["lead_group_id"] = leads[0][0]
        partners = [
            (group["id"], f"{group['name']} ({label(page.gettext, 'group_kind', group['kind'])})")
            for group in (groups["items"] if groups else ())
        ]
        return page.render(
            "projects/new.html",
            status=status,
            form=form,
            me=me,
            groups=groups,
            leads=leads,
            partners=partners,
            proposal=proposal,
        )
