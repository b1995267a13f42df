"""The openings service: openings for returnees, returnee profiles and expressions of
interest, over RPC; an expiry timer; read models of accounts, groups and memberships,
from the groups service's events.

Entrypoints only check what they were given (nothing the gateway sends is trusted
beyond who the caller is), open one unit of work, let the domain decide, and dump its
answer with api.py's schemas; see domain.py for the rules and matching.py for who an
opening is for. Like every service's RPCs, they take the actor through `load_actor`;
the domain is told only its account id (None for an anonymous reader), since no rule
here asks whether the caller is staff. Nothing here calls the groups service: whether a
business is verified and who administers it come from the read models, so openings
keeps answering while groups is down.
"""

from __future__ import annotations

from civic.db import Database, utcnow
from civic.log import get_logger
from civic.messaging import event_handler
from civic.readmodels import KeepsGroupFacts
from civic.service import ReportsProgrammeFigures, ServiceBase, rpc, timer
from civic.validation import clean_id, dump, load, load_actor
from services.openings import api, domain, figures, models
from services.openings.models import metadata

__all__ = ["OpeningsService", "metadata"]

log = get_logger(__name__)


class OpeningsService(KeepsGroupFacts, ServiceBase, ReportsProgrammeFigures):
    name = "openings"
    # Its part of the programme report (civic.service.ReportsProgrammeFigures).
    monthly_figures = staticmethod(figures.programme_figures)
    group_facts = models.group_facts
    db = Database(metadata)

    # --- openings -----------------------------------------------------------------------

    @rpc
    def list_openings(self, actor, sector=None, employment_type=None, page=1, per_page=20):
        actor = load_actor(actor, required=False)
        viewer_id = actor["account_id"] if actor else None
        query = load(
            api.OpeningListQuerySchema,
            {
                "sector": sector,
                "employment_type": employment_type,
                "page": page,
                "per_page": per_page,
            },
        )
        with self.db as uow:
            page = domain.list_openings(uow, viewer_id, **query)
        return dump(api.OpeningListSchema, page)

    @rpc
    def list_group_openings(self, actor, group_id, page=1, per_page=20):
        actor = load_actor(actor, required=False)
        viewer_id = actor["account_id"] if actor else None
        group_id = clean_id("group_id", group_id)
        query = load(api.OpeningPageQuerySchema, {"page": page, "per_page": per_page})
        with self.db as uow:
            page = domain.list_group_openings(uow, viewer_id, group_id, **query)
        return dump(api.OpeningListSchema, page)

    @rpc
    def get_opening(self, actor, opening_id):
        actor = load_actor(actor, required=False)
        viewer_id = actor["account_id"] if actor else None
        opening_id = clean_id("opening_id", opening_id)
        with self.db as uow:
            opening = domain.get_opening(uow, viewer_id, opening_id)
        return dump(api.OpeningSchema, opening)

    @rpc(command=True)
    def post_opening(self, actor, payload):
        actor = load_actor(actor)
        data = load(api.OpeningCreateSchema, payload)
        with self.db as uow:
            opening = domain.post_opening(uow, actor["account_id"], **data)
        return dump(api.OpeningSchema, opening)

    @rpc(command=True)
    def close_opening(self, actor, opening_id):
        actor = load_actor(actor)
        opening_id = clean_id("opening_id", opening_id)
        with self.db as uow:
            opening = domain.close_opening(uow, actor["account_id"], opening_id)
        return dump(api.OpeningSchema, opening)

    # --- interest -----------------------------------------------------------------------

    @rpc(command=True)
    def register_interest(self, actor, opening_id, payload=None):
        actor = load_actor(actor)
        opening_id = clean_id("opening_id", opening_id)
        data = load(api.InterestCreateSchema, payload if payload is not None else {})
        with self.db as uow:
            interest = domain.register_interest(uow, actor["account_id"], opening_id, **data)
        return dump(api.InterestSchema, interest)

    @rpc
    def list_interest(self, actor, opening_id, page=1, per_page=20):
        actor = load_actor(actor)
        opening_id = clean_id("opening_id", opening_id)
        query = load(api.OpeningPageQuerySchema, {"page": page, "per_page": per_page})
        with self.db as uow:
            page = domain.list_interest(uow, actor["account_id"], opening_id, **query)
        return dump(api.InterestListSchema, page)

    # --- returnee profiles --------------------------------------------------------------

    @rpc
    def get_profile(self, actor):
        actor = load_actor(actor)
        with self.db as uow:
            profile = domain.get_profile(uow, actor["account_id"])
        return dump(api.ReturneeProfileSchema, profile)

    @rpc(command=True)
    def save_profile(self, actor, payload):
        actor = load_actor(actor)
        data = load(api.ReturneeProfileSaveSchema, payload)
        with self.db as uow:
            profile = domain.save_profile(uow, actor["account_id"], **data)
        return dump(api.ReturneeProfileSchema, profile)

    @rpc(command=True)
    def delete_profile(self, actor):
        actor = load_actor(actor)
        with self.db as uow:
            return domain.delete_profile(uow, actor["account_id"])

    # --- expiry -------------------------------------------------------------------------

    @timer("CIVIC_EXPIRY_INTERVAL")
    def expire_openings(self):
        """Expire the open openings whose apply-by day has ended: each in its own short
        transaction, so one instance never holds many rows while another waits."""
        now = utcnow()
        with self.db as uow:
            due = domain.due_for_expiry(uow, now)
        expired = 0
        for opening_id in due:
            with self.db as uow:
                expired += domain.expire_opening(uow, opening_id, now)
        if due:
            log.info("openings_expired", due=len(due), expired=expired)

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
