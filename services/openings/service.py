"""The openings service: openings for returnees, returnee profiles and expressions of
interest, over RPC; an expiry timer; read models of accounts, groups and memberships,
from the groups service's events.

Entrypoints only check what they were given (nothing the gateway sends is trusted
beyond who the caller is), open one unit of work, and let the domain decide; see
domain.py for the rules and matching.py for who an opening is for. Nothing here calls
the groups service: whether a business is verified and who administers it come from the
read models, so openings keeps answering while groups is down.
"""
from __future__ import annotations



from civic.db import Database, utcnow
from civic.log import get_logger
from civic.messaging import event_handler
from civic.readmodels import KeepsGroupFacts
from civic.service import ServiceBase, rpc, timer
from civic.validation import clean_id, load
from services.openings import domain, readmodels, schemas
from services.openings.models import metadata

__all__ = ["OpeningsService", "metadata"]

log = get_logger(__name__)



def _actor_id(actor_id, required: bool = True) -> str | None:
    """The caller's account id (the gateway's word); None for an anonymous reader."""
    if actor_id is None and not required:
        return None
    if actor_id is None:
        from civic.errors import Unauthenticated
        raise Unauthenticated("sign in first")
    return clean_id("actor_id", actor_id)


class OpeningsService(KeepsGroupFacts, ServiceBase):
    name = "openings"
    group_facts = readmodels.FACTS
    db = Database(metadata)

    # --- openings -----------------------------------------------------------------------

    @rpc
    def list_openings(self, actor_id=None, sector=None, employment_type=None, page=1,
                      per_page=20):
        actor_id = _actor_id(actor_id, required=False)
        query = load(schemas.OpeningListQuerySchema, {
            "sector": sector, "employment_type": employment_type, "page": page,
            "per_page": per_page})
        with self.db as uow:
            return domain.list_openings(uow, actor_id, **query)

    @rpc
    def list_group_openings(self, actor_id, group_id, page=1, per_page=20):
        actor_id = _actor_id(actor_id, required=False)
        group_id = clean_id("group_id", group_id)
        query = load(schemas.OpeningPageQuerySchema, {"page": page, "per_page": per_page})
        with self.db as uow:
            return domain.list_group_openings(uow, actor_id, group_id, **query)

    @rpc
    def get_opening(self, actor_id, opening_id):
        actor_id = _actor_id(actor_id, required=False)
        opening_id = clean_id("opening_id", opening_id)
        with self.db as uow:
            return domain.get_opening(uow, actor_id, opening_id)

    @rpc
    def post_opening(self, actor_id, payload):
        actor_id = _actor_id(actor_id)
        data = load(schemas.OpeningCreateSchema, payload)
        with self.db as uow:
            return domain.post_opening(uow, actor_id, **data)

    @rpc
    def close_opening(self, actor_id, opening_id):
        actor_id = _actor_id(actor_id)
        opening_id = clean_id("opening_id", opening_id)
        with self.db as uow:
            return domain.close_opening(uow, actor_id, opening_id)

    # --- interest -----------------------------------------------------------------------

    @rpc
    def register_interest(self, actor_id, opening_id, payload=None):
        actor_id = _actor_id(actor_id)
        opening_id = clean_id("opening_id", opening_id)
        data = load(schemas.InterestCreateSchema, payload if payload is not None else {})
        with self.db as uow:
            return domain.register_interest(uow, actor_id, opening_id, **data)

    @rpc
    def list_interest(self, actor_id, opening_id, page=1, per_page=20):
        actor_id = _actor_id(actor_id)
        opening_id = clean_id("opening_id", opening_id)
        query = load(schemas.OpeningPageQuerySchema, {"page": page, "per_page": per_page})
        with self.db as uow:
            return domain.list_interest(uow, actor_id, opening_id, **query)

    # --- returnee profiles --------------------------------------------------------------

    @rpc
    def get_profile(self, actor_id):
        actor_id = _actor_id(actor_id)
        with self.db as uow:
            return domain.get_profile(uow, actor_id)

    @rpc
    def save_profile(self, actor_id, payload):
        actor_id = _actor_id(actor_id)
        data = load(schemas.ReturneeProfileSaveSchema, payload)
        with self.db as uow:
            return domain.save_profile(uow, actor_id, **data)

    @rpc
    def delete_profile(self, actor_id):
        actor_id = _actor_id(actor_id)
        with self.db as uow:
            return domain.delete_profile(uow, actor_id)

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

    @event_handler("groups", "account_erased")
    def on_account_erased(self, envelope):
        domain.erase_account(self.db.session, envelope.data["account_id"])
