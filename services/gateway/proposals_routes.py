"""The gateway's Proposals and Joint projects routes (API.md), asked of the proposals
service.

A mixin of `GatewayService` (nameko finds entrypoints on base classes too): it uses the
service's `auth` and `services` dependencies. Each route's declaration says who may call
it and the schemas of its input, which the handler enforces (see `http`); the route hands
the proposals service the actor `{account_id, is_staff, display_name}` (None for an
anonymous reader). The proposals service decides what the actor may do (403), what
exists (404) and what the lifecycle allows (409); a proposals service that does not
answer in time is a 503.

Public reads (`auth="optional"`) use `auth.reader`: a signed-in reader also learns
`supported_by_me`, and reading goes on as for anyone while the groups service cannot
check tokens.
"""

from __future__ import annotations

from services.gateway.http import api, no_content, ok
from services.proposals.api import (
    CATEGORIES,
    AssignmentSchema,
    CategoryListSchema,
    CommentCreateSchema,
    CommentModerationSchema,
    CommentReportResultSchema,
    CommentSchema,
    MergeSchema,
    ModerationQueueQuerySchema,
    ModerationSchema,
    PartnerAddSchema,
    ProjectCreateSchema,
    ProjectListQuerySchema,
    ProjectListSchema,
    ProjectSchema,
    ProjectTransitionSchema,
    ProposalCreateSchema,
    ProposalListQuerySchema,
    ProposalListSchema,
    ProposalSchema,
    ReportedCommentListSchema,
    ReportResultSchema,
    ReportSchema,
    SupportResultSchema,
    TransitionSchema,
)

PROPOSAL = "/proposals/<uuid:proposal_id>"
COMMENT = PROPOSAL + "/comments/<uuid:comment_id>"
PROJECT = "/projects/<uuid:project_id>"
TAGS = ("proposals",)
PROJECT_TAGS = ("projects",)


class ProposalRoutes:
    """Entrypoints for /proposals and /projects; mixed into GatewayService."""

    # --- proposals: reading -------------------------------------------------------------

    @api(
        "GET",
        "/proposals",
        summary="Proposals, filtered, searched and paginated",
        auth="optional",
        query=ProposalListQuerySchema,
        responses={200: ProposalListSchema},
        tags=TAGS,
        description="`q` searches title and body (case-insensitive); `sort` is `newest` "
        "(default), `supports`, or `waiting` (the oldest first: the staff board's "
        "order). Hidden proposals and merged duplicates are "
        "not listed. With a token, `supported_by_me` is the caller's; "
        "without one (or while tokens cannot be checked) it is false.",
    )
    def list_proposals(self, request, *, actor, query):
        return ok(self.services.proposals.list_proposals(actor, **query))

    @api(
        "GET",
        "/proposals/categories",
        summary="The fixed list of proposal categories",
        responses={200: CategoryListSchema},
        tags=TAGS,
        local=True,
        description="Answered by the gateway itself: the categories are part of the API, not data.",
    )
    def list_proposal_categories(self, request):
        return ok(
            {
                "items": list(CATEGORIES),
                "total": len(CATEGORIES),
                "page": 1,
                "per_page": len(CATEGORIES),
            }
        )

    @api(
        "GET",
        PROPOSAL,
        summary="A proposal with its support count, comments, answer and assigned group",
        auth="optional",
        responses={200: ProposalSchema},
        tags=TAGS,
        description="A proposal hidden for review is 404 to all but staff, who also "
        "see `hidden`, `report_count` and `contact`.",
    )
    def get_proposal(self, request, proposal_id, *, actor):
        return ok(self.services.proposals.get_proposal(actor, proposal_id))

    @api(
        "GET",
        "/proposals/ref/<reference>",
        summary="The proposal with this short reference (e.g. JKM-7F3K2)",
        auth="optional",
        responses={200: ProposalSchema},
        errors=(400,),
        tags=TAGS,
        description="Extension of API.md. The reference is the one on a drop-in "
        "visitor's receipt (every proposal has one, `reference`); any case, "
        "with or without the `JKM-` prefix. 400 when it cannot be a reference, "
        "404 when no proposal (that the caller may see) has it.",
    )
    def find_proposal_by_reference(self, request, reference, *, actor):
        return ok(self.services.proposals.find_proposal(actor, reference))

    @api(
        "GET",
        "/proposals/moderation",
        summary="Reported and hidden proposals with their reports (staff)",
        auth="staff",
        query=ModerationQueueQuerySchema,
        responses={200: ProposalListSchema},
        tags=TAGS,
        description="Extension of API.md. The moderation queue: hidden proposals first, "
        "then the most reported, then the longest waiting; removed proposals and "
        "merged duplicates are not in it.",
    )
    def moderation_queue(self, request, *, actor, query):
        return ok(self.services.proposals.moderation_queue(actor, **query))

    @api(
        "GET",
        "/proposals/moderation/comments",
        summary="Reported and hidden comments with their reports (staff)",
        auth="staff",
        query=ModerationQueueQuerySchema,
        responses={200: ReportedCommentListSchema},
        tags=TAGS,
        description="Extension of API.md. The comments' moderation queue: hidden "
        "comments first, then the most reported, then the oldest; each with its "
        "reports and the proposal it is on. Comments on removed proposals are not in it.",
    )
    def comment_moderation_queue(self, request, *, actor, query):
        return ok(self.services.proposals.comment_moderation_queue(actor, **query))

    # --- proposals: residents -----------------------------------------------------------

    @api(
        "POST",
        "/proposals",
        summary="Submit a proposal",
        auth="resident",
        body=ProposalCreateSchema,
        responses={201: ProposalSchema},
        errors=(403,),
        tags=TAGS,
        description="Starts as `submitted`. `channel` is `online` (default); staff file "
        "a visitor's proposal with `drop_in` or `town_hall` (and may add a "
        "`contact` only staff see) — 403 for anyone else.",
    )
    def submit_proposal(self, request, *, actor, body):
        return ok(self.services.proposals.submit_proposal(actor, body), 201)

    @api(
        "POST",
        PROPOSAL + "/supports",
        summary="Support a proposal",
        auth="resident",
        responses={201: SupportResultSchema},
        errors=(409,),
        tags=TAGS,
        description="409 when the caller supports it already, or when it no longer "
        "takes support (rejected, done, withdrawn).",
    )
    def support_proposal(self, request, proposal_id, *, actor):
        return ok(self.services.proposals.support(actor, proposal_id), 201)

    @api(
        "DELETE",
        PROPOSAL + "/supports/mine",
        summary="Withdraw one's support",
        auth="resident",
        responses={204: None},
        tags=TAGS,
        description="404 when the caller does not support it.",
    )
    def withdraw_support(self, request, proposal_id, *, actor):
        self.services.proposals.withdraw_support(actor, proposal_id)
        return no_content()

    @api(
        "POST",
        PROPOSAL + "/comments",
        summary="Comment on a proposal",
        auth="resident",
        body=CommentCreateSchema,
        responses={201: CommentSchema},
        errors=(409,),
        tags=TAGS,
        description="409 when the proposal was merged into another or removed.",
    )
    def comment_on_proposal(self, request, proposal_id, *, actor, body):
        return ok(self.services.proposals.add_comment(actor, proposal_id, body), 201)

    @api(
        "POST",
        PROPOSAL + "/withdraw",
        summary="Withdraw one's own proposal (author)",
        auth="resident",
        responses={200: ProposalSchema},
        errors=(403, 409),
        tags=TAGS,
        description="Only its author; only while `submitted` or `under_review` (else 409).",
    )
    def withdraw_proposal(self, request, proposal_id, *, actor):
        return ok(self.services.proposals.withdraw(actor, proposal_id))

    @api(
        "POST",
        PROPOSAL + "/reports",
        summary="Report a proposal for review",
        auth="resident",
        body=ReportSchema,
        responses={201: ReportResultSchema},
        errors=(409,),
        tags=TAGS,
        description="After reports from 3 different accounts the proposal is hidden "
        "until staff review it. 409 when the caller reported it already.",
    )
    def report_proposal(self, request, proposal_id, *, actor, body):
        return ok(self.services.proposals.report(actor, proposal_id, body), 201)

    @api(
        "POST",
        COMMENT + "/reports",
        summary="Report a comment for review",
        auth="resident",
        body=ReportSchema,
        responses={201: CommentReportResultSchema},
        errors=(409,),
        tags=TAGS,
        description="Extension of API.md. After reports from 3 different accounts the "
        "comment is hidden until staff review it; its author is told. 404 when the "
        "comment is not on that proposal (or is hidden); 409 when the caller reported "
        "it already, or the proposal was removed.",
    )
    def report_comment(self, request, proposal_id, comment_id, *, actor, body):
        return ok(self.services.proposals.report_comment(actor, proposal_id, comment_id, body), 201)

    # --- proposals: staff ---------------------------------------------------------------

    @api(
        "POST",
        PROPOSAL + "/transitions",
        summary="Move a proposal on (staff)",
        auth="staff",
        body=TransitionSchema,
        responses={200: ProposalSchema},
        errors=(409,),
        tags=TAGS,
        description="`submitted → under_review → accepted | rejected`, `accepted → "
        "in_progress → done`; `accepted` and `rejected` need an `answer` "
        "(400 without). 409 when the lifecycle forbids the step.",
    )
    def transition_proposal(self, request, proposal_id, *, actor, body):
        return ok(self.services.proposals.transition(actor, proposal_id, body))

    @api(
        "POST",
        PROPOSAL + "/assignment",
        summary="A working group takes the proposal on (staff)",
        auth="staff",
        body=AssignmentSchema,
        responses={200: ProposalSchema},
        errors=(409,),
        tags=TAGS,
        description="400 when `group_id` is not a working group; 409 when the "
        "proposal is final, or already assigned to that group.",
    )
    def assign_proposal(self, request, proposal_id, *, actor, body):
        return ok(self.services.proposals.assign(actor, proposal_id, body))

    @api(
        "POST",
        PROPOSAL + "/moderation",
        summary="Review a reported proposal: hide, restore or remove it (staff)",
        auth="staff",
        body=ModerationSchema,
        responses={200: ProposalSchema},
        errors=(409,),
        tags=TAGS,
        description="Extension of API.md. `hide` hides a proposal until staff decide; "
        "`restore` shows a hidden proposal again and clears its reports; `remove` "
        "hides it for good (its status unchanged); an optional `reason` is kept "
        "for staff. 409 when hiding one hidden already, restoring one that is "
        "not hidden, or acting on one removed already.",
    )
    def moderate_proposal(self, request, proposal_id, *, actor, body):
        return ok(self.services.proposals.moderate(actor, proposal_id, body))

    @api(
        "POST",
        COMMENT + "/moderation",
        summary="Review a reported comment: hide or restore it (staff)",
        auth="staff",
        body=CommentModerationSchema,
        responses={200: CommentSchema},
        errors=(409,),
        tags=TAGS,
        description="Extension of API.md. `hide` hides a comment from residents; "
        "`restore` shows a hidden comment again and clears its reports; an optional "
        "`reason` is kept for staff. The comment's author is told. 409 when hiding "
        "one hidden already or restoring one that is not hidden.",
    )
    def moderate_comment(self, request, proposal_id, comment_id, *, actor, body):
        return ok(self.services.proposals.moderate_comment(actor, proposal_id, comment_id, body))

    @api(
        "POST",
        PROPOSAL + "/merge",
        summary="Merge a duplicate into another proposal (staff)",
        auth="staff",
        body=MergeSchema,
        responses={200: ProposalSchema},
        errors=(409,),
        tags=TAGS,
        description="Extension of API.md. Answers the surviving proposal (`into_id`): "
        "supports move over without counting anyone twice; the duplicate "
        "points to it (`merged_into_id`) and leaves the lists. 400 when "
        "`into_id` names no proposal or the duplicate itself; 409 when "
        "either was merged or removed already.",
    )
    def merge_proposal(self, request, proposal_id, *, actor, body):
        return ok(self.services.proposals.merge(actor, proposal_id, body))

    # --- joint projects -----------------------------------------------------------------

    @api(
        "GET",
        "/projects",
        summary="Joint projects",
        auth="optional",
        query=ProjectListQuerySchema,
        responses={200: ProjectListSchema},
        tags=PROJECT_TAGS,
    )
    def list_projects(self, request, *, actor, query):
        return ok(self.services.proposals.list_projects(actor, **query))

    @api(
        "GET",
        PROJECT,
        summary="A joint project",
        auth="optional",
        responses={200: ProjectSchema},
        tags=PROJECT_TAGS,
    )
    def get_project(self, request, project_id, *, actor):
        return ok(self.services.proposals.get_project(actor, project_id))

    @api(
        "POST",
        "/projects",
        summary="Register a joint project (admin of the lead group)",
        auth="resident",
        body=ProjectCreateSchema,
        responses={201: ProjectSchema},
        errors=(403,),
        tags=PROJECT_TAGS,
        description="Starts `planned`. The caller must be an admin of `lead_group_id` "
        "(or staff). 400 when a group is unknown, a partner is the lead or "
        "named twice, or `origin_proposal_id` names no proposal.",
    )
    def register_project(self, request, *, actor, body):
        return ok(self.services.proposals.register_project(actor, body), 201)

    @api(
        "POST",
        PROJECT + "/partners",
        summary="Add a partner group (admin of the lead group)",
        auth="resident",
        body=PartnerAddSchema,
        responses={201: ProjectSchema},
        errors=(403, 409),
        tags=PROJECT_TAGS,
        description="409 when the group is a partner already.",
    )
    def add_project_partner(self, request, project_id, *, actor, body):
        return ok(self.services.proposals.add_partner(actor, project_id, body), 201)

    @api(
        "POST",
        PROJECT + "/transitions",
        summary="Move a project on (admin of the lead group, staff)",
        auth="resident",
        body=ProjectTransitionSchema,
        responses={200: ProjectSchema},
        errors=(403, 409),
        tags=PROJECT_TAGS,
        description="`planned → active → completed`; `planned | active → cancelled`. "
        "409 for any other step.",
    )
    def transition_project(self, request, project_id, *, actor, body):
        return ok(self.services.proposals.transition_project(actor, project_id, body))
