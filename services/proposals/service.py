"""The proposals service: proposals and joint projects, over RPC; read models of accounts,
groups and memberships, from the groups service's events.

Entrypoints only check what they were given (nothing the gateway sends is trusted
beyond who the actor is), open one unit of work, and let the domain decide; see
domain.py for the rules and lifecycle.py for the lifecycles. Nothing here calls the
groups service: names and group admins come from the read models, so proposals keeps
answering while groups is down.
"""
from civic.db import Database
from civic.messaging import event_handler
from civic.readmodels import KeepsGroupFacts
from civic.service import ServiceBase, rpc
from civic.validation import clean_id, load, load_actor
from services.proposals import domain, readmodels, schemas
from services.proposals.models import metadata

__all__ = ["ProposalsService", "metadata"]


class ProposalsService(KeepsGroupFacts, ServiceBase):
    name = "proposals"
    group_facts = readmodels.FACTS
    db = Database(metadata)

    # --- proposals: reading -------------------------------------------------------------

    @rpc
    def list_proposals(self, actor, status=None, category=None, q=None, sort="newest",
                       page=1, per_page=20):
        actor = load_actor(actor, required=False)
        query = load(schemas.ProposalListQuerySchema, {
            "status": status, "category": category, "q": q, "sort": sort, "page": page,
            "per_page": per_page})
        with self.db as uow:
            return domain.list_proposals(uow, actor, **query)

    @rpc
    def get_proposal(self, actor, proposal_id):
        actor = load_actor(actor, required=False)
        proposal_id = clean_id("proposal_id", proposal_id)
        with self.db as uow:
            return domain.get_proposal(uow, actor, proposal_id)

    # --- proposals: residents -----------------------------------------------------------

    @rpc
    def submit_proposal(self, actor, payload):
        actor = load_actor(actor)
        data = load(schemas.ProposalCreateSchema, payload)
        with self.db as uow:
            return domain.submit_proposal(uow, actor, **data)

    @rpc
    def support(self, actor, proposal_id):
        actor = load_actor(actor)
        proposal_id = clean_id("proposal_id", proposal_id)
        with self.db as uow:
            return domain.support(uow, actor, proposal_id)

    @rpc
    def withdraw_support(self, actor, proposal_id):
        actor = load_actor(actor)
        proposal_id = clean_id("proposal_id", proposal_id)
        with self.db as uow:
            return domain.withdraw_support(uow, actor, proposal_id)

    @rpc
    def add_comment(self, actor, proposal_id, payload):
        actor = load_actor(actor)
        proposal_id = clean_id("proposal_id", proposal_id)
        data = load(schemas.CommentCreateSchema, payload)
        with self.db as uow:
            return domain.add_comment(uow, actor, proposal_id, **data)

    @rpc
    def withdraw(self, actor, proposal_id):
        actor = load_actor(actor)
        proposal_id = clean_id("proposal_id", proposal_id)
        with self.db as uow:
            return domain.withdraw(uow, actor, proposal_id)

    @rpc
    def report(self, actor, proposal_id, payload):
        actor = load_actor(actor)
        proposal_id = clean_id("proposal_id", proposal_id)
        data = load(schemas.ReportSchema, payload)
        with self.db as uow:
            return domain.report(uow, actor, proposal_id, **data)

    # --- proposals: staff ---------------------------------------------------------------

    @rpc
    def transition(self, actor, proposal_id, payload):
        actor = load_actor(actor)
        proposal_id = clean_id("proposal_id", proposal_id)
        data = load(schemas.TransitionSchema, payload)
        with self.db as uow:
            return domain.transition(uow, actor, proposal_id, **data)

    @rpc
    def assign(self, actor, proposal_id, payload):
        actor = load_actor(actor)
        proposal_id = clean_id("proposal_id", proposal_id)
        data = load(schemas.AssignmentSchema, payload)
        with self.db as uow:
            return domain.assign(uow, actor, proposal_id, **data)

    @rpc
    def moderate(self, actor, proposal_id, payload):
        actor = load_actor(actor)
        proposal_id = clean_id("proposal_id", proposal_id)
        data = load(schemas.ModerationSchema, payload)
        with self.db as uow:
            return domain.moderate(uow, actor, proposal_id, **data)

    @rpc
    def merge(self, actor, proposal_id, payload):
        actor = load_actor(actor)
        proposal_id = clean_id("proposal_id", proposal_id)
        data = load(schemas.MergeSchema, payload)
        with self.db as uow:
            return domain.merge(uow, actor, proposal_id, **data)

    # --- joint projects -----------------------------------------------------------------

    @rpc
    def list_projects(self, actor, status=None, group_id=None, page=1, per_page=20):
        actor = load_actor(actor, required=False)
        query = load(schemas.ProjectListQuerySchema, {
            "status": status, "group_id": group_id, "page": page, "per_page": per_page})
        with self.db as uow:
            return domain.list_projects(uow, actor, **query)

    @rpc
    def get_project(self, actor, project_id):
        actor = load_actor(actor, required=False)
        project_id = clean_id("project_id", project_id)
        with self.db as uow:
            return domain.get_project(uow, actor, project_id)

    @rpc
    def register_project(self, actor, payload):
        actor = load_actor(actor)
        data = load(schemas.ProjectCreateSchema, payload)
        with self.db as uow:
            return domain.register_project(uow, actor, **data)

    @rpc
    def add_partner(self, actor, project_id, payload):
        actor = load_actor(actor)
        project_id = clean_id("project_id", project_id)
        data = load(schemas.PartnerAddSchema, payload)
        with self.db as uow:
            return domain.add_partner(uow, actor, project_id, **data)

    @rpc
    def transition_project(self, actor, project_id, payload):
        actor = load_actor(actor)
        project_id = clean_id("project_id", project_id)
        data = load(schemas.ProjectTransitionSchema, payload)
        with self.db as uow:
            return domain.transition_project(uow, actor, project_id, **data)

    # --- personal data ------------------------------------------------------------------

    @rpc
    def export_account(self, account_id):
        account_id = clean_id("account_id", account_id)
        with self.db as uow:
            return domain.export_account(uow, account_id)

    # --- erasure (the read models of groups' facts: civic.readmodels.KeepsGroupFacts) --

    @event_handler("groups", "account_erased")
    def on_account_erased(self, envelope):
        domain.erase_account(self.db.session, envelope.data["account_id"])
