"""The proposals service: proposals and joint projects, over RPC; read models of accounts,
groups and memberships, from the groups service's events.

Entrypoints only check what they were given (nothing the gateway sends is trusted
beyond who the actor is), open one unit of work, let the domain decide, and dump its
answer with api.py's schemas; see domain.py for the rules and lifecycle.py for the
lifecycles. Nothing here calls the
groups service: names and group admins come from the read models, so proposals keeps
answering while groups is down.
"""

from civic.db import Database
from civic.messaging import event_handler
from civic.readmodels import KeepsGroupFacts
from civic.service import ReportsProgrammeFigures, ServiceBase, rpc
from civic.validation import clean_id, dump, load, load_actor
from services.proposals import api, domain, figures, models
from services.proposals.models import metadata

__all__ = ["ProposalsService", "metadata"]


class ProposalsService(KeepsGroupFacts, ServiceBase, ReportsProgrammeFigures):
    name = "proposals"
    # Its part of the programme report (civic.service.ReportsProgrammeFigures).
    monthly_figures = staticmethod(figures.programme_figures)
    group_facts = models.group_facts
    db = Database(metadata)

    # --- proposals: reading -------------------------------------------------------------

    @rpc
    def list_proposals(
        self, actor, status=None, category=None, q=None, sort="newest", page=1, per_page=20
    ):
        actor = load_actor(actor, required=False)
        query = load(
            api.ProposalListQuerySchema,
            {
                "status": status,
                "category": category,
                "q": q,
                "sort": sort,
                "page": page,
                "per_page": per_page,
            },
        )
        with self.db as uow:
            page = domain.list_proposals(uow, actor, **query)
        return dump(api.ProposalListSchema, page)

    @rpc
    def get_proposal(self, actor, proposal_id):
        actor = load_actor(actor, required=False)
        proposal_id = clean_id("proposal_id", proposal_id)
        with self.db as uow:
            proposal = domain.get_proposal(uow, actor, proposal_id)
        return dump(api.ProposalSchema, proposal)

    @rpc
    def find_proposal(self, actor, reference):
        """The proposal with this short reference (e.g. JKM-7F3K2)."""
        actor = load_actor(actor, required=False)
        data = load(api.ReferenceSchema, {"reference": reference})
        with self.db as uow:
            proposal = domain.find_proposal(uow, actor, data["reference"])
        return dump(api.ProposalSchema, proposal)

    @rpc
    def moderation_queue(self, actor, page=1, per_page=20):
        """Reported and hidden proposals with their reports (staff)."""
        actor = load_actor(actor)
        query = load(api.ModerationQueueQuerySchema, {"page": page, "per_page": per_page})
        with self.db as uow:
            answer = domain.moderation_queue(uow, actor, **query)
        return dump(api.ProposalListSchema, answer)

    @rpc
    def comment_moderation_queue(self, actor, page=1, per_page=20):
        """Reported and hidden comments with their reports and proposals (staff)."""
        actor = load_actor(actor)
        query = load(api.ModerationQueueQuerySchema, {"page": page, "per_page": per_page})
        with self.db as uow:
            answer = domain.comment_moderation_queue(uow, actor, **query)
        return dump(api.ReportedCommentListSchema, answer)

    # --- proposals: residents -----------------------------------------------------------

    @rpc(command=True)
    def submit_proposal(self, actor, payload):
        actor = load_actor(actor)
        data = load(api.ProposalCreateSchema, payload)
        with self.db as uow:
            proposal = domain.submit_proposal(uow, actor, **data)
        return dump(api.ProposalSchema, proposal)

    @rpc(command=True)
    def support(self, actor, proposal_id):
        actor = load_actor(actor)
        proposal_id = clean_id("proposal_id", proposal_id)
        with self.db as uow:
            return domain.support(uow, actor, proposal_id)

    @rpc(command=True)
    def withdraw_support(self, actor, proposal_id):
        actor = load_actor(actor)
        proposal_id = clean_id("proposal_id", proposal_id)
        with self.db as uow:
            return domain.withdraw_support(uow, actor, proposal_id)

    @rpc(command=True)
    def add_comment(self, actor, proposal_id, payload):
        actor = load_actor(actor)
        proposal_id = clean_id("proposal_id", proposal_id)
        data = load(api.CommentCreateSchema, payload)
        with self.db as uow:
            comment = domain.add_comment(uow, actor, proposal_id, **data)
        return dump(api.CommentSchema, comment)

    @rpc(command=True)
    def withdraw(self, actor, proposal_id):
        actor = load_actor(actor)
        proposal_id = clean_id("proposal_id", proposal_id)
        with self.db as uow:
            proposal = domain.withdraw(uow, actor, proposal_id)
        return dump(api.ProposalSchema, proposal)

    @rpc(command=True)
    def report(self, actor, proposal_id, payload):
        actor = load_actor(actor)
        proposal_id = clean_id("proposal_id", proposal_id)
        data = load(api.ReportSchema, payload)
        with self.db as uow:
            return domain.report(uow, actor, proposal_id, **data)

    @rpc(command=True)
    def report_comment(self, actor, proposal_id, comment_id, payload):
        actor = load_actor(actor)
        proposal_id = clean_id("proposal_id", proposal_id)
        comment_id = clean_id("comment_id", comment_id)
        data = load(api.ReportSchema, payload)
        with self.db as uow:
            result = domain.report_comment(uow, actor, proposal_id, comment_id, **data)
        return dump(api.CommentReportResultSchema, result)

    # --- proposals: staff ---------------------------------------------------------------

    @rpc(command=True)
    def moderate_comment(self, actor, proposal_id, comment_id, payload):
        actor = load_actor(actor)
        proposal_id = clean_id("proposal_id", proposal_id)
        comment_id = clean_id("comment_id", comment_id)
        data = load(api.CommentModerationSchema, payload)
        with self.db as uow:
            comment = domain.moderate_comment(uow, actor, proposal_id, comment_id, **data)
        return dump(api.CommentSchema, comment)

    @rpc(command=True)
    def transition(self, actor, proposal_id, payload):
        actor = load_actor(actor)
        proposal_id = clean_id("proposal_id", proposal_id)
        data = load(api.TransitionSchema, payload)
        with self.db as uow:
            proposal = domain.transition(uow, actor, proposal_id, **data)
        return dump(api.ProposalSchema, proposal)

    @rpc(command=True)
    def assign(self, actor, proposal_id, payload):
        actor = load_actor(actor)
        proposal_id = clean_id("proposal_id", proposal_id)
        data = load(api.AssignmentSchema, payload)
        with self.db as uow:
            proposal = domain.assign(uow, actor, proposal_id, **data)
        return dump(api.ProposalSchema, proposal)

    @rpc(command=True)
    def moderate(self, actor, proposal_id, payload):
        actor = load_actor(actor)
        proposal_id = clean_id("proposal_id", proposal_id)
        data = load(api.ModerationSchema, payload)
        with self.db as uow:
            proposal = domain.moderate(uow, actor, proposal_id, **data)
        return dump(api.ProposalSchema, proposal)

    @rpc(command=True)
    def merge(self, actor, proposal_id, payload):
        actor = load_actor(actor)
        proposal_id = clean_id("proposal_id", proposal_id)
        data = load(api.MergeSchema, payload)
        with self.db as uow:
            proposal = domain.merge(uow, actor, proposal_id, **data)
        return dump(api.ProposalSchema, proposal)

    # --- joint projects -----------------------------------------------------------------

    @rpc
    def list_projects(self, actor, status=None, group_id=None, page=1, per_page=20):
        actor = load_actor(actor, required=False)
        query = load(
            api.ProjectListQuerySchema,
            {"status": status, "group_id": group_id, "page": page, "per_page": per_page},
        )
        with self.db as uow:
            page = domain.list_projects(uow, actor, **query)
        return dump(api.ProjectListSchema, page)

    @rpc
    def get_project(self, actor, project_id):
        actor = load_actor(actor, required=False)
        project_id = clean_id("project_id", project_id)
        with self.db as uow:
            project = domain.get_project(uow, actor, project_id)
        return dump(api.ProjectSchema, project)

    @rpc(command=True)
    def register_project(self, actor, payload):
        actor = load_actor(actor)
        data = load(api.ProjectCreateSchema, payload)
        with self.db as uow:
            project = domain.register_project(uow, actor, **data)
        return dump(api.ProjectSchema, project)

    @rpc(command=True)
    def add_partner(self, actor, project_id, payload):
        actor = load_actor(actor)
        project_id = clean_id("project_id", project_id)
        data = load(api.PartnerAddSchema, payload)
        with self.db as uow:
            project = domain.add_partner(uow, actor, project_id, **data)
        return dump(api.ProjectSchema, project)

    @rpc(command=True)
    def transition_project(self, actor, project_id, payload):
        actor = load_actor(actor)
        project_id = clean_id("project_id", project_id)
        data = load(api.ProjectTransitionSchema, payload)
        with self.db as uow:
            project = domain.transition_project(uow, actor, project_id, **data)
        return dump(api.ProjectSchema, project)

    # --- personal data ------------------------------------------------------------------

    @rpc
    def export_account(self, account_id):
        account_id = clean_id("account_id", account_id)
        with self.db as uow:
            return domain.export_account(uow, account_id)

    # --- erasure (the read models of groups' facts: civic.readmodels.KeepsGroupFacts) --

    @event_handler("groups", "account_erased", name="on_account_erased")
    def on_account_erased(self, envelope, uow):
        domain.erase_account(uow.session, envelope.data["account_id"])
