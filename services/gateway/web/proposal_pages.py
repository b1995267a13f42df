"""The website's pages: Proposals: the list, a proposal, handing one in, supporting,
commenting, following, reporting.

A mixin of `GatewayService`; see `handler.web` for what a page declaration does. Every
call asks the proposals service (and the notifications service for following) exactly as
the API's routes do (`proposals_routes.py`, `notifications_routes.py`); what a resident
may do is decided there, the page only shows the buttons that make sense.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from civic.errors import Conflict, EmailUnconfirmed, Forbidden, NotFound, ValidationError
from services.gateway.web.forms import all_messages, empty_form, error_message, submitted_form
from services.gateway.web.handler import Missing, Page, web
from services.gateway.web.notification_pages import following, follows_known
from services.proposals.api import ProposalListQuerySchema

PROPOSAL = "/proposals/<uuid:proposal_id>"
LIST_PAGE_SIZE = 10
# One page of the account's follows is enough to tell whether it follows a proposal: the
# newest hundred (the service's largest page). Following again is answered kindly anyway.
FOLLOWS_LOOKED_AT = 100
FOLLOW_TARGET = "proposal"
# Mirrors of the proposals service's lifecycle, only to choose which buttons to show
# (the service decides, and answers a 409 when the page was out of date).
TAKES_SUPPORT = frozenset({"submitted", "under_review", "accepted", "in_progress"})
AUTHOR_MAY_WITHDRAW = frozenset({"submitted", "under_review"})
# The list's filters, in the order of the form; `page` is added by the pagination.
FILTERS = ("q", "category", "status", "sort")
DEFAULT_SORT = "newest"
# A service's field name → the form's, where they differ.
NEW_FORM_FIELDS = {"location": "place", "location.name": "place", "channel": "_form"}


def proposal_payload(form, channel: str) -> dict:
    """What a proposal form (a resident's, or the drop-in desk's) asks the proposals
    service to file."""
    place = form.get("place", "").strip()
    return {
        "title": form.get("title", ""),
        "body": form.get("body", ""),
        "category": form.get("category", ""),
        "location": {"name": place} if place else None,
        "channel": channel,
    }


class ProposalPages:
    """Pages of this area; mixed into GatewayService."""

    # --- the list ----------------------------------------------------------------------

    @web("GET", "/proposals")
    def web_proposal_list(self, page: Page):
        query, refused = page.load_args(ProposalListQuerySchema, per_page=LIST_PAGE_SIZE)
        actor = page.actor
        parts = page.gather(
            proposals=lambda: self.services.proposals.list_proposals(actor, **query),
        )
        # The pagination's links keep the filters (and a page size given in the address).
        kept = {name: query[name] for name in FILTERS if query.get(name)}
        if kept.get("sort") == DEFAULT_SORT:
            del kept["sort"]
        per_page_kept = query["per_page"] != LIST_PAGE_SIZE
        if per_page_kept:
            kept["per_page"] = query["per_page"]
        return page.render(
            "proposals/list.html",
            query=query,
            refused=refused,
            filtered=any(query.get(name) for name in ("q", "category", "status")),
            per_page_kept=per_page_kept,
            page_base="/proposals?" + urlencode(kept) + ("&" if kept else ""),
            **parts,
        )

    # --- finding one by its reference (a drop-in visitor's receipt) --------------------

    @web("GET", "/proposals/ref")
    def web_proposal_find(self, page: Page):
        return self._find_by_reference(page, page.args.get("reference", ""))

    @web("GET", "/proposals/ref/<reference>")
    def web_proposal_by_reference(self, page: Page, reference):
        return self._find_by_reference(page, reference)

    def _find_by_reference(self, page: Page, reference: str):
        """To the proposal with this reference, or a 404 page that says what to check."""
        reference = (reference or "").strip()
        try:
            if not reference:
                raise ValidationError("no reference")
            proposal = self.services.proposals.find_proposal(page.actor, reference)
        except (ValidationError, NotFound):
            missing = NotFound("no proposal has this reference")
            missing.visitor_message = page.gettext(
                "No proposal has the reference “%(reference)s”. Check it against your "
                "receipt: it looks like JKM-7F3K2.",
                reference=reference[:40],
            )
            raise missing from None
        return page.redirect(f"/proposals/{proposal['id']}")

    # --- handing one in ---------------------------------------------------------------

    @web("GET", "/proposals/new", auth="resident")
    def web_proposal_new(self, page: Page):
        return page.render("proposals/new.html", form=empty_form(page))

    @web("POST", "/proposals/new", auth="resident")
    def web_proposal_submit(self, page: Page):
        payload = proposal_payload(page.form, channel="online")
        try:
            proposal = self.services.proposals.submit_proposal(page.actor, payload)
        except (ValidationError, Forbidden) as error:
            state = submitted_form(page, error, names=NEW_FORM_FIELDS)
            status = 403 if isinstance(error, Forbidden) else 400
            return page.render("proposals/new.html", status=status, form=state)
        return page.redirect(
            f"/proposals/{proposal['id']}",
            notice=page.gettext(
                "Thank you! Your proposal was handed in. "
                "You will hear when something happens to it."
            ),
        )

    # --- a proposal -------------------------------------------------------------------

    @web("GET", PROPOSAL)
    def web_proposal(self, page: Page, proposal_id):
        return self._proposal_page(page, proposal_id)

    def _proposal_page(
        self,
        page: Page,
        proposal_id,
        status: int = 200,
        comment_form=None,
        report_form=None,
        comment_report=None,
    ):
        """The proposal's page; after a refused comment or report, with that form's input
        and errors (`status` 400/409); `comment_report` is a refused comment report:
        `{id, reason, message}`."""
        actor = page.actor
        calls = {"proposal": lambda: self.services.proposals.get_proposal(actor, proposal_id)}
        if page.signed_in:
            calls["follows"] = lambda: self.services.notifications.list_follows(
                actor, page=1, per_page=FOLLOWS_LOOKED_AT
            )
        parts = page.gather(**calls)
        proposal = parts["proposal"]
        if isinstance(proposal, Missing):
            raise proposal.error
        # What the proposal only names by id: a second round, only when there is any.
        related = {}
        for index, project_id in enumerate(proposal.get("project_ids") or ()):
            related[f"project{index}"] = partial_call(
                self.services.proposals.get_project, actor, project_id
            )
        if proposal.get("merged_into_id"):
            related["merged_into"] = partial_call(
                self.services.proposals.get_proposal, actor, proposal["merged_into_id"]
            )
        found = page.gather(**related) if related else {}
        projects = [
            {"id": project_id, "found": found.get(f"project{index}")}
            for index, project_id in enumerate(proposal.get("project_ids") or ())
        ]
        follows = parts.get("follows")
        sign_in_here = "/signin?next=" + quote(f"/proposals/{proposal['id']}", safe="/")
        return page.render(
            "proposals/detail.html",
            status=status,
            proposal=proposal,
            projects=projects,
            merged_into=found.get("merged_into"),
            follows_known=follows_known(follows),
            following=following(follows, FOLLOW_TARGET, proposal["id"]),
            is_author=page.signed_in and proposal.get("author_id") == page.account_id,
            takes_support=proposal["status"] in TAKES_SUPPORT
            and not proposal.get("merged_into_id"),
            author_may_withdraw=proposal["status"] in AUTHOR_MAY_WITHDRAW,
            open_for_comments=not proposal.get("merged_into_id") and not proposal.get("removed"),
            sign_in_here=sign_in_here,
            comment_form=comment_form or empty_form(page),
            report_form=report_form or empty_form(page),
            comment_report=comment_report or {},
        )

    # --- what a resident does with it --------------------------------------------------

    @web("POST", PROPOSAL + "/support", auth="resident")
    def web_proposal_support(self, page: Page, proposal_id):
        here = f"/proposals/{proposal_id}"
        try:
            self.services.proposals.support(page.actor, proposal_id)
        except Conflict:
            return page.redirect(
                here,
                notice=page.gettext(
                    "You support this proposal already, or it no longer takes support."
                ),
            )
        except EmailUnconfirmed as error:
            return page.redirect(here, notice=error_message(page, error))
        return page.redirect(here, notice=page.gettext("Thank you for your support!"))

    @web("POST", PROPOSAL + "/unsupport", auth="resident")
    def web_proposal_unsupport(self, page: Page, proposal_id):
        here = f"/proposals/{proposal_id}"
        try:
            self.services.proposals.withdraw_support(page.actor, proposal_id)
        except NotFound:
            # Either the proposal is gone (the error page says so) or there was no support.
            self.services.proposals.get_proposal(page.actor, proposal_id)
            return page.redirect(here, notice=page.gettext("You do not support this proposal."))
        return page.redirect(here, notice=page.gettext("Your support was withdrawn."))

    @web("POST", PROPOSAL + "/comments", auth="resident")
    def web_proposal_comment(self, page: Page, proposal_id):
        try:
            self.services.proposals.add_comment(
                page.actor, proposal_id, {"body": page.form.get("body", "")}
            )
        except (ValidationError, Conflict, Forbidden) as error:
            return self._proposal_page(
                page, proposal_id, status=error.status, comment_form=submitted_form(page, error)
            )
        return page.redirect(
            f"/proposals/{proposal_id}#comments", notice=page.gettext("Your comment was added.")
        )

    @web("POST", PROPOSAL + "/follow", auth="resident")
    def web_proposal_follow(self, page: Page, proposal_id):
        here = f"/proposals/{proposal_id}"
        payload = {"target_type": FOLLOW_TARGET, "target_id": proposal_id}
        try:
            self.services.notifications.follow(page.actor, payload)
        except Conflict:
            return page.redirect(here, notice=page.gettext("You follow this proposal already."))
        except NotFound:
            # The notifications service learns of a new proposal a moment after it is made.
            return page.redirect(
                here,
                notice=page.gettext("This proposal cannot be followed yet. Try again in a minute."),
            )
        return page.redirect(
            here,
            notice=page.gettext(
                "You follow this proposal: you will be told when something happens to it."
            ),
        )

    @web("POST", PROPOSAL + "/unfollow", auth="resident")
    def web_proposal_unfollow(self, page: Page, proposal_id):
        here = f"/proposals/{proposal_id}"
        try:
            self.services.notifications.unfollow(page.actor, FOLLOW_TARGET, proposal_id)
        except NotFound:
            return page.redirect(here, notice=page.gettext("You do not follow this proposal."))
        return page.redirect(here, notice=page.gettext("You no longer follow this proposal."))

    @web("POST", PROPOSAL + "/report", auth="resident")
    def web_proposal_report(self, page: Page, proposal_id):
        try:
            result = self.services.proposals.report(
                page.actor, proposal_id, {"reason": page.form.get("reason", "")}
            )
        except Conflict:
            return page.redirect(
                f"/proposals/{proposal_id}",
                notice=page.gettext("You have reported this proposal already."),
            )
        except (ValidationError, Forbidden) as error:
            return self._proposal_page(
                page, proposal_id, status=error.status, report_form=submitted_form(page, error)
            )
        if result.get("hidden"):
            return page.redirect(
                "/proposals",
                notice=page.gettext(
                    "Thank you. The proposal is hidden until staff have reviewed it."
                ),
            )
        return page.redirect(
            f"/proposals/{proposal_id}",
            notice=page.gettext("Thank you. Staff will look at the proposal."),
        )

    @web("POST", PROPOSAL + "/comments/<uuid:comment_id>/report", auth="resident")
    def web_comment_report(self, page: Page, proposal_id, comment_id):
        here = f"/proposals/{proposal_id}#comments"
        try:
            result = self.services.proposals.report_comment(
                page.actor, proposal_id, comment_id, {"reason": page.form.get("reason", "")}
            )
        except Conflict:
            return page.redirect(
                here, notice=page.gettext("You have reported this comment already.")
            )
        except (ValidationError, Forbidden) as error:
            refused = {
                "id": str(comment_id),
                "reason": page.form.get("reason", ""),
                "message": all_messages(page, error),
            }
            return self._proposal_page(
                page, proposal_id, status=error.status, comment_report=refused
            )
        if result.get("hidden"):
            return page.redirect(
                here,
                notice=page.gettext(
                    "Thank you. The comment is hidden until staff have reviewed it."
                ),
            )
        return page.redirect(
            here, notice=page.gettext("Thank you. Staff will look at the comment.")
        )

    @web("POST", PROPOSAL + "/withdraw", auth="resident")
    def web_proposal_withdraw(self, page: Page, proposal_id):
        here = f"/proposals/{proposal_id}"
        try:
            self.services.proposals.withdraw(page.actor, proposal_id)
        except Conflict:
            return page.redirect(
                here, notice=page.gettext("This proposal can no longer be withdrawn.")
            )
        return page.redirect(here, notice=page.gettext("Your proposal was withdrawn."))


def partial_call(function, *args):
    """`function(*args)` for later (`page.gather` takes calls of no arguments)."""
    return lambda: function(*args)
