"""The staff console's proposal screens: the drop-in desk, the proposals board and the
moderation queue. Staff only. A mixin of `GatewayService`.

- `/staff/desk`: file a visitor's proposal (drop-in office or town-hall meeting) in one
  form, then `/staff/desk/receipt/<id>`: a printable receipt with the proposal's short
  reference, by which the visitor finds it on the public site (`/proposals/ref/…`).
- `/staff/proposals`: the board, one section per status, the oldest first in the open
  ones; each card links to `/staff/proposals/<id>`, whose forms move the proposal on
  (with the official answer), assign it to a working group, or merge it into another.
- `/staff/moderation`: reported and hidden proposals and comments with their reports;
  hide, restore (or, a proposal, remove) with a reason (the author is told by the
  notifications service, from the proposals service's events).

What may be done is decided by the proposals service (its lifecycle answers 409); the
pages only choose which buttons to show, and show a refusal beside the form.
"""

from __future__ import annotations

from datetime import datetime

from civic import clock, config
from civic.errors import Conflict, Forbidden, NotFound, ValidationError
from services.gateway.web.forms import all_messages, empty_form, error_message, submitted_form
from services.gateway.web.handler import Missing, Page, web
from services.gateway.web.proposal_pages import proposal_payload

STAFF_PROPOSAL = "/staff/proposals/<uuid:proposal_id>"
# The board's columns, in the order a proposal moves through them.
BOARD_COLUMNS = ("submitted", "under_review", "accepted", "rejected", "in_progress", "done")
# Where a proposal is still waiting for staff, the oldest first; the final ones newest.
FINAL_COLUMNS = frozenset({"rejected", "done"})
BOARD_PER_COLUMN = 25
MODERATION_PAGE_SIZE = 20
VISITOR_CHANNELS = ("drop_in", "town_hall")
# Mirror of the proposals service's lifecycle (services/proposals/lifecycle.py, staff
# steps), only to offer the right choices; the service decides and answers 409.
STAFF_STEPS = {
    "submitted": ("under_review",),
    "under_review": ("accepted", "rejected"),
    "accepted": ("in_progress",),
    "in_progress": ("done",),
}
NEEDS_ANSWER = frozenset({"accepted", "rejected"})
ASSIGNABLE = frozenset({"submitted", "under_review", "accepted", "in_progress"})
WORKING_GROUPS_LOOKED_AT = 100
# A service's field name → the desk form's.
DESK_FORM_FIELDS = {"location": "place", "location.name": "place"}


def _(message: str) -> str:
    return message


def age_in_days(created_at, now: datetime) -> int:
    """Whole days since `created_at` (an ISO string from the service)."""
    if isinstance(created_at, str):
        created_at = datetime.fromisoformat(created_at)
    return max(0, (now - created_at).days)


class StaffDeskPages:
    """Entrypoints of the drop-in desk, the proposals board and moderation."""

    # --- the drop-in desk -----------------------------------------------------------

    @web("GET", "/staff/desk", auth="staff")
    def web_staff_desk(self, page: Page):
        return page.render("staff/desk.html", form=empty_form(page, channel="drop_in"))

    @web("POST", "/staff/desk", auth="staff")
    def web_staff_desk_file(self, page: Page):
        form = page.form
        payload = {
            **proposal_payload(form, channel=form.get("channel", "")),
            "visitor_name": form.get("visitor_name", ""),
            "contact": form.get("contact", ""),
        }
        if payload["channel"] not in VISITOR_CHANNELS:
            error = ValidationError(
                "the input is not valid",
                fields={"channel": [f"Must be one of: {', '.join(VISITOR_CHANNELS)}."]},
            )
            state = submitted_form(page, error)
            return page.render("staff/desk.html", status=400, form=state)
        try:
            proposal = self.services.proposals.submit_proposal(page.actor, payload)
        except (ValidationError, Forbidden, Conflict) as error:
            state = submitted_form(page, error, names=DESK_FORM_FIELDS)
            return page.render("staff/desk.html", status=error.status, form=state)
        return page.redirect(
            f"/staff/desk/receipt/{proposal['id']}",
            notice=page.gettext(
                "The proposal was filed with the reference %(reference)s.",
                reference=proposal["reference"],
            ),
        )

    @web("GET", "/staff/desk/receipt/<uuid:proposal_id>", auth="staff")
    def web_staff_desk_receipt(self, page: Page, proposal_id):
        proposal = self.services.proposals.get_proposal(page.actor, proposal_id)
        public_url = self._public_url(page)
        return page.render(
            "staff/receipt.html",
            proposal=proposal,
            find_url=f"{public_url}/proposals/ref/{proposal['reference']}",
            find_page=f"{public_url}/proposals",
        )

    @staticmethod
    def _public_url(page: Page) -> str:
        configured = str(config.get("CIVIC_PUBLIC_URL", "") or "").rstrip("/")
        return configured or page.request.host_url.rstrip("/")

    # --- the proposals board ----------------------------------------------------------

    @web("GET", "/staff/proposals", auth="staff")
    def web_staff_board(self, page: Page):
        """Every column (the first BOARD_PER_COLUMN of each), or with `?status=` one
        column, paged (`?page=`)."""
        actor = page.actor
        only = page.args.get("status")
        shown = (only,) if only in BOARD_COLUMNS else BOARD_COLUMNS
        try:
            number = max(1, int(page.args.get("page", "1"))) if len(shown) == 1 else 1
        except ValueError:
            number = 1
        calls = {
            status: _list_call(
                self.services.proposals.list_proposals,
                actor,
                status,
                "newest" if status in FINAL_COLUMNS else "waiting",
                number,
            )
            for status in shown
        }
        found = page.gather(**calls)
        now = clock.utcnow()
        columns = []
        for status in shown:
            listed = found[status]
            if not isinstance(listed, Missing):
                for item in listed["items"]:
                    item["age_days"] = age_in_days(item["created_at"], now)
            columns.append({"status": status, "listed": listed})
        return page.render(
            "staff/board.html",
            columns=columns,
            one_column=len(shown) == 1,
            page_base=f"/staff/proposals?status={shown[0]}&",
        )

    @web("GET", STAFF_PROPOSAL, auth="staff")
    def web_staff_board_proposal(self, page: Page, proposal_id):
        return self._board_proposal_page(page, proposal_id)

    def _board_proposal_page(self, page: Page, proposal_id, status: int = 200, **forms):
        actor = page.actor
        parts = page.gather(
            proposal=lambda: self.services.proposals.get_proposal(actor, proposal_id),
            groups=lambda: self.services.groups.list_groups(
                kind="working_group", page=1, per_page=WORKING_GROUPS_LOOKED_AT
            ),
        )
        proposal = parts["proposal"]
        if isinstance(proposal, Missing):
            raise proposal.error
        proposal["age_days"] = age_in_days(proposal["created_at"], clock.utcnow())
        final = bool(proposal.get("merged_into_id") or proposal.get("removed"))
        groups = parts["groups"]
        return page.render(
            "staff/board_proposal.html",
            status=status,
            proposal=proposal,
            groups=groups,
            next_steps=() if final else STAFF_STEPS.get(proposal["status"], ()),
            needs_answer=NEEDS_ANSWER,
            assignable=not final and proposal["status"] in ASSIGNABLE,
            mergeable=not final,
            transition_form=forms.get("transition_form") or empty_form(page),
            assign_form=forms.get("assign_form")
            or empty_form(page, group_id=proposal.get("assigned_group_id") or ""),
            merge_form=forms.get("merge_form") or empty_form(page),
        )

    @web("POST", STAFF_PROPOSAL + "/transition", auth="staff")
    def web_staff_board_transition(self, page: Page, proposal_id):
        answer = page.form.get("answer", "").strip()
        payload = {"status": page.form.get("status", ""), "answer": answer or None}
        try:
            self.services.proposals.transition(page.actor, proposal_id, payload)
        except (ValidationError, Conflict, Forbidden) as error:
            return self._board_proposal_page(
                page,
                proposal_id,
                status=error.status,
                transition_form=_refused(page, error),
            )
        return page.redirect(
            f"/staff/proposals/{proposal_id}", notice=page.gettext("The proposal was moved on.")
        )

    @web("POST", STAFF_PROPOSAL + "/assign", auth="staff")
    def web_staff_board_assign(self, page: Page, proposal_id):
        payload = {"group_id": page.form.get("group_id", "")}
        try:
            self.services.proposals.assign(page.actor, proposal_id, payload)
        except (ValidationError, Conflict, Forbidden) as error:
            return self._board_proposal_page(
                page, proposal_id, status=error.status, assign_form=_refused(page, error)
            )
        return page.redirect(
            f"/staff/proposals/{proposal_id}",
            notice=page.gettext("The proposal was given to the working group."),
        )

    @web("POST", STAFF_PROPOSAL + "/merge", auth="staff")
    def web_staff_board_merge(self, page: Page, proposal_id):
        reference = page.form.get("into", "").strip()
        try:
            if not reference:
                raise ValidationError(
                    "the input is not valid", fields={"into": ["Missing data for required field."]}
                )
            try:
                survivor = self.services.proposals.find_proposal(page.actor, reference)
            except ValidationError:
                raise ValidationError(
                    "the input is not valid",
                    fields={"into": [page.gettext("Not a proposal reference (like JKM-7F3K2).")]},
                ) from None
            except NotFound:
                raise ValidationError(
                    "the input is not valid",
                    fields={"into": [page.gettext("No proposal has this reference.")]},
                ) from None
            self.services.proposals.merge(page.actor, proposal_id, {"into_id": survivor["id"]})
        except ValidationError as error:
            if error.fields and "into_id" in error.fields:
                error = ValidationError(error.message, fields={"into": error.fields["into_id"]})
            return self._board_proposal_page(
                page, proposal_id, status=400, merge_form=_refused(page, error)
            )
        except (Conflict, Forbidden) as error:
            return self._board_proposal_page(
                page, proposal_id, status=error.status, merge_form=_refused(page, error)
            )
        return page.redirect(
            f"/staff/proposals/{survivor['id']}",
            notice=page.gettext(
                "The duplicate was merged into this proposal; its supports moved over."
            ),
        )

    # --- moderation ---------------------------------------------------------------------

    @web("GET", "/staff/moderation", auth="staff")
    def web_staff_moderation(self, page: Page):
        return self._moderation_page(page)

    def _moderation_page(self, page: Page, status: int = 200, refused=None):
        """Both queues, proposals and comments (each paginated by its own parameter);
        after a refused review, with that item's reason and error."""
        number = _page_number(page.args.get("page"))
        comments_number = _page_number(page.args.get("comments_page"))
        actor = page.actor
        parts = page.gather(
            queue=lambda: self.services.proposals.moderation_queue(
                actor, page=number, per_page=MODERATION_PAGE_SIZE
            ),
            comments=lambda: self.services.proposals.comment_moderation_queue(
                actor, page=comments_number, per_page=MODERATION_PAGE_SIZE
            ),
        )
        return page.render(
            "staff/moderation.html",
            status=status,
            queue=parts["queue"],
            comments=parts["comments"],
            refused=refused or {},
            page_base=f"/staff/moderation?comments_page={comments_number}&",
            comments_page_base=f"/staff/moderation?page={number}&comments_",
        )

    @web("POST", "/staff/moderation/<uuid:proposal_id>", auth="staff")
    def web_staff_moderate(self, page: Page, proposal_id):
        return self._decide(
            page,
            proposal_id,
            lambda payload: self.services.proposals.moderate(page.actor, proposal_id, payload),
            {
                "hide": _("The proposal is hidden; its author was told."),
                "restore": _("The proposal is shown again; its author was told."),
                "remove": _("The proposal was removed; its author was told."),
            },
            "/staff/moderation",
        )

    @web(
        "POST",
        "/staff/moderation/<uuid:proposal_id>/comments/<uuid:comment_id>",
        auth="staff",
    )
    def web_staff_moderate_comment(self, page: Page, proposal_id, comment_id):
        return self._decide(
            page,
            comment_id,
            lambda payload: self.services.proposals.moderate_comment(
                page.actor, proposal_id, comment_id, payload
            ),
            {
                "hide": _("The comment is hidden; its author was told."),
                "restore": _("The comment is shown again; its author was told."),
            },
            "/staff/moderation#comments",
        )

    def _decide(self, page: Page, item_id, moderate, done: dict, back: str):
        """One moderation decision from the queue's form: a reason is required here (the
        service takes one optionally); a refusal is shown beside that item."""
        action = page.form.get("action", "")
        reason = page.form.get("reason", "").strip()
        try:
            if not reason:
                raise ValidationError(
                    "the input is not valid",
                    fields={"reason": [page.gettext("Write the reason for your decision.")]},
                )
            moderate({"action": action, "reason": reason})
        except (ValidationError, Conflict, Forbidden, NotFound) as error:
            refused = {
                "id": str(item_id),
                "reason": page.form.get("reason", ""),
                "message": all_messages(page, error),
            }
            return self._moderation_page(page, status=error.status, refused=refused)
        return page.redirect(back, notice=page.gettext(done[action]))


def _page_number(value) -> int:
    try:
        return max(1, int(value or "1"))
    except ValueError:
        return 1


def _list_call(list_proposals, actor, status: str, sort: str, number: int = 1):
    return lambda: list_proposals(
        actor, status=status, sort=sort, page=number, per_page=BOARD_PER_COLUMN
    )


def _refused(page: Page, error) -> object:
    state = submitted_form(page, error)
    if isinstance(error, Conflict):
        state.errors = {"_form": [error_message(page, error)]}
    return state
